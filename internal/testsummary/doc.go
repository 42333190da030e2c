// Command testsummary runs `go test -json` with the given arguments and prints what a person
// watching `make test` needs: one line per package as it finishes, every skipped test with its
// reason, and the whole output of every failed test, then exits with go test's status.
//
//	go run ./internal/testsummary -- go test -race ./...
//
// The Makefile's unit phase runs through it, so skips (a missing MariaDB, a missing peer) are
// seen instead of hidden behind "ok".
package main
