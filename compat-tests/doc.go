// Package compattests runs real engines (Spark, Trino, PyIceberg) against a real Propolis
// server and checks their results row by row. The peers are installed outside the checkout by
// compat-tests/setup.sh (`make deps`); see compat-tests/README.md.
//
//	go test ./compat-tests/ -v -timeout 60m
//
// Each test builds nothing itself: TestMain builds ./cmd/propolis once, and every test starts its
// own Propolis on 127.0.0.1:0 with a fresh data directory, then reports the engine's version and
// the metastore calls the engine made (from Propolis's /metrics).
package compattests
