# Propolis: `make help` lists the targets.
#
# Peers (pyspark, pyiceberg, Trino, the reference Hive Metastore) are installed by `make deps`
# into $(PROPOLIS_CACHE) (default ~/.cache/propolis), outside the checkout.

GO            ?= go
BIN           ?= bin/propolis
UNIT_PKGS      = $(shell $(GO) list ./... | grep -v '/compat-tests')
COMPAT_TIMEOUT ?= 60m
UNIT_FLAGS    ?=
# -p 1: go test streams -v output only when it runs one package at a time, and the compat
# packages each start JVMs, so they gain little from running side by side on small machines.
COMPAT_FLAGS  ?= -v -p 1
RUN_ARGS      ?=

.DEFAULT_GOAL := help
.PHONY: help run build test test-unit test-compat deps fmt vet mariadb mariadb-stop clean bench fuzz

help: ## show this help
	@awk 'BEGIN {FS = ":.*## "} /^[a-zA-Z_-]+:.*## / {printf "  \033[1m%-12s\033[0m %s\n", $$1, $$2}' $(MAKEFILE_LIST)

run: build ## build bin/propolis and exec it: serve on 127.0.0.1:9083, embedded catalog in ./.propolis (RUN_ARGS=... for flags; the server is make's child, so kill -HUP reaches it)
	exec $(BIN) serve $(RUN_ARGS)

build: ## build the propolis binary into bin/
	$(GO) build -o $(BIN) ./cmd/propolis

test: deps ## everything CI runs: unit tests (with -race), then the real-engine compat tests (starts MariaDB for the MySQL-store tests)
	compat-tests/with-mariadb.sh $(MAKE) --no-print-directory -k test-unit test-compat-only UNIT_FLAGS="-race -count=1 -timeout 30m"

test-unit: ## unit and server tests of the Go packages (fast inner loop; MySQL-store tests need PROPOLIS_TEST_MYSQL_DSN, see `make mariadb`); prints each package, each skip with its reason, each failure
	$(GO) run ./internal/testsummary -- $(GO) test $(UNIT_FLAGS) $(UNIT_PKGS)

test-compat: deps test-compat-only ## real Spark, Trino and PyIceberg (and a real Hive Metastore) against Propolis; installs them first

.PHONY: test-compat-only
test-compat-only:
	$(GO) test $(COMPAT_FLAGS) -count=1 -timeout $(COMPAT_TIMEOUT) ./compat-tests/...

deps: ## download and cache the real peers: pyspark, pyiceberg, Trino, Hive Metastore (compat-tests/setup.sh)
	compat-tests/setup.sh

BENCH_ARGS ?=
POLICY_BENCH_ARGS ?=
# The migration bench fills a real metastore with 1,000 tables and 100,000 partitions (5-10 min
# through its API on 2 cores); MIGRATE_BENCH_ARGS="--tables 100 --partitions 5000" for a quick run.
MIGRATE_BENCH_ARGS ?=
bench: build ## Propolis vs the real Hive Metastore, side by side, ratios into BENCHMARKS.md (~10 min)
	compat-tests/hms/hms.sh setup
	$(GO) run ./cmd/propolis-bench --propolis-bin $(BIN) --out BENCHMARKS.md $(BENCH_ARGS)
	$(GO) run ./cmd/propolis-policy-bench --propolis-bin $(BIN) --out BENCHMARKS.md $(POLICY_BENCH_ARGS)
	$(GO) run ./cmd/propolis-worker-bench --out BENCHMARKS.md $(WORKER_BENCH_ARGS)
	$(GO) run ./cmd/propolis-migrate-bench --propolis-bin $(BIN) --out BENCHMARKS.md $(MIGRATE_BENCH_ARGS)

FUZZTIME ?= 10s
fuzz: ## run every fuzz target for FUZZTIME each (default 10s); a crasher is saved in its package's testdata/fuzz, where `make test` replays it from then on
	@set -e; grep -rl --include='*_test.go' '^func Fuzz' . | grep -v '^./compat-tests/' | xargs -n1 dirname | sort -u | while read -r dir; do \
		for target in $$(grep -h '^func Fuzz' $$dir/*_test.go | sed 's/^func \(Fuzz[A-Za-z0-9_]*\).*/\1/'); do \
			echo "== $$dir $$target ($(FUZZTIME))"; \
			$(GO) test -run '^$$' -fuzz "^$$target$$" -fuzztime $(FUZZTIME) $$dir; \
		done; \
	done

fmt: ## gofmt every Go file
	$(GO) fmt ./...

vet: ## go vet every package
	$(GO) vet ./...

mariadb: ## start a local MariaDB on 127.0.0.1:3306 and print the DSN to export as PROPOLIS_TEST_MYSQL_DSN
	@compat-tests/mariadb.sh start

mariadb-stop: ## stop the MariaDB started by `make mariadb`
	@compat-tests/mariadb.sh stop

clean: ## remove build output (not the peer cache)
	rm -rf bin
