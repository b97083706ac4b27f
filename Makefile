# The front door. `make run` and `make test` are the two commands of the README.
GO        ?= go
DATA_DIR  ?= ./data
LISTEN    ?= 127.0.0.1:8080
PKGS      := ./...
FUZZTIME  ?= 30s
# Builds and tests do not depend on where the clone is (no absolute paths in binaries or
# in the build cache's keys), so a fresh clone reuses the packages compiled for another.
export GOFLAGS ?= -trimpath

.PHONY: run test example generate lint build token bench bench-profile bench-profiles fuzz tidy clean

## run: the server on the embedded store in $(DATA_DIR), with the demo data and the dev signer
run: build
	./bin/server --data-dir $(DATA_DIR) --listen $(LISTEN) --demo --dev-auth $(ARGS)

## build: the server binary in ./bin
build:
	$(GO) build -trimpath -o bin/server ./server

## token: a development token for EMAIL (KIND=ENTRA_ID or MSA for an account outside the
## fixtures), or for the support provider PROVIDER=NAME (R25), signed with the key of the server `make run` started on $(DATA_DIR). Only the
## token is printed: TOKEN=$$(make token EMAIL=megan@contoso.com)
token:
	@test -n "$(EMAIL)$(PROVIDER)" || { echo "usage: make token EMAIL=megan@contoso.com, or make token PROVIDER=acme-support" >&2; exit 2; }
	@$(GO) build -trimpath -o bin/server ./server
	@./bin/server token --data-dir $(DATA_DIR) $(if $(EMAIL),--email $(EMAIL)) $(if $(PROVIDER),--provider $(PROVIDER)) $(if $(KIND),--kind $(KIND))

## test: every test, with the race detector (see README "Testing" for why -race is on),
## all at once: the product's (./...); the end-to-end module's (e2e/: browser, client,
## deployment tests and the benchmarks' own tests, a module of its own so the product's
## go.mod holds none of their dependencies); the patched FerretDB's (third_party/ferretdb,
## also a module of its own: its pushdown against a full scan on random data, and its
## query plans, and its statement cache under the race detector); every fuzz target for
## 5 s; and the example. The browser tests need
## Debian's Chromium, and the client tests (e2e/clients) Node.js and their npm packages,
## installed here when missing. The server binaries the tests start are built once, into
## bin/test: the server, and the shared test store (`server store` with FerretDB's debug
## build, see internal/testenv).
TESTBIN  := $(CURDIR)/bin/test
TEST_ENV := PSAPI_TEST_SERVER_BIN=$(TESTBIN)/server PSAPI_TEST_STORE_BIN=$(TESTBIN)/store
test:
	bash scripts/ensure-chromium.sh
	bash scripts/ensure-node-deps.sh
	$(GO) vet $(PKGS)
	cd e2e && $(GO) vet ./...
	cd third_party/ferretdb && $(GO) vet ./internal/backends/sqlite/... ./internal/handler/... ./internal/util/fsql/ ./ferretdb/
	$(GO) build -o $(TESTBIN)/server ./server
	$(GO) build -tags ferretdb_debug -o $(TESTBIN)/store ./server
	$(MAKE) --no-print-directory -j5 --output-sync=target test-product test-e2e test-ferretdb test-fuzz example

.PHONY: test-product test-e2e test-ferretdb test-fuzz
test-product:
	$(TEST_ENV) $(GO) test -race -count=1 -timeout 20m $(PKGS)
test-e2e:
	cd e2e && $(TEST_ENV) $(GO) test -race -count=1 -timeout 20m ./...
test-ferretdb:
	cd third_party/ferretdb && $(GO) test -count=1 -timeout 10m ./internal/backends/sqlite/... ./internal/handler/... ./ferretdb/
	cd third_party/ferretdb && $(GO) test -race -count=1 -timeout 10m ./internal/util/fsql/
test-fuzz:
	$(TEST_ENV) ./scripts/fuzz-all.sh 5s

## example: the typed Go client of examples/genqlient (a module of its own), generated
## from the current schema and built: a schema change that breaks it fails here
example:
	cd examples/genqlient && $(GO) tool genqlient && $(GO) vet ./... && $(GO) build -o /dev/null .

## generate: regenerate the GraphQL code from schema.graphqls and the rules catalog from
## docs/rules.md (must leave no diff); internal/gqlgen is gqlgen generate with the plugin
## behind the schema's @sequential
generate:
	$(GO) run ./internal/gqlgen
	$(GO) generate ./internal/domain

## lint: vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	cd e2e && $(GO) vet ./...
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: every benchmark, one package at a time (-p 1: packages never run side by side), raw
## output in bench.out, then one table of every figure against its target, printed and
## written into BENCHMARKS.md with the machine. PROFILE=1 also profiles supportPlans.
## BENCHTIME is each timed benchmark's run: 3 s gives every latency figure well over a
## thousand samples and keeps the whole run, with BenchmarkGrowth's 100k requests (most of
## it), within 30 minutes on 2 cores (issue 13).
BENCHTIME         ?= 3s
PROFILE_BENCHTIME ?= 15s
BENCH_FLAGS        = -p 1 -run='^$$' -bench=. -benchtime=$(BENCHTIME) -count=1 -timeout 60m
BENCH_CMD          = $(GO) test $(BENCH_FLAGS) $(PKGS) && cd e2e && $(GO) test $(BENCH_FLAGS) ./...
bench:
	( $(BENCH_CMD) ) 2>&1 | tee bench.out
	$(if $(PROFILE),$(MAKE) --no-print-directory bench-profiles)
	cd e2e && $(GO) run ./bench/report -in ../bench.out -out ../BENCHMARKS.md -cmd "$(BENCH_CMD)" $(if $(PROFILE),-profiles ../profiles)

## bench-profile: CPU and allocation profiles of supportPlans under 50 clients (GraphQL, and
## the baseline to compare), a CPU profile of creates across 1,000 plans, and the heap and
## goroutines of a server holding 10,000 idle subscriptions, into ./profiles, and their
## pprof -top into BENCHMARKS.md
bench-profile: bench-profiles
	cd e2e && $(GO) run ./bench/report -profiles ../profiles -out ../BENCHMARKS.md

bench-profiles:
	@mkdir -p profiles && rm -f profiles/*.txt
	@set -e; for s in graphql baseline; do \
	  echo "profiling supportPlans ($$s) for $(PROFILE_BENCHTIME)"; \
	  (cd e2e && PSAPI_BENCH_PROFILE=1 $(GO) test -run='^$$' -bench="^BenchmarkSupportPlansLoad$$/^$$s$$" -benchtime=$(PROFILE_BENCHTIME) -count=1 -timeout 30m \
	    -o $(CURDIR)/profiles/bench.test -outputdir $(CURDIR)/profiles -cpuprofile cpu-$$s.prof -memprofile mem-$$s.prof ./bench); \
	done
	@(echo "# CPU, GraphQL: pprof -top (flat)"; $(GO) tool pprof -top -nodecount=30 profiles/cpu-graphql.prof) > profiles/1-cpu-graphql.txt
	@(echo "# CPU, GraphQL: pprof -top -cum"; $(GO) tool pprof -top -cum -nodecount=45 profiles/cpu-graphql.prof) > profiles/2-cpu-graphql-cum.txt
	@(echo "# Allocations, GraphQL: pprof -top -sample_index=alloc_space"; $(GO) tool pprof -top -sample_index=alloc_space -nodecount=25 profiles/mem-graphql.prof) > profiles/3-alloc-graphql.txt
	@(echo "# CPU, baseline: pprof -top (flat)"; $(GO) tool pprof -top -nodecount=30 profiles/cpu-baseline.prof) > profiles/4-cpu-baseline.txt
	@(echo "# Allocations, baseline: pprof -top -sample_index=alloc_space"; $(GO) tool pprof -top -sample_index=alloc_space -nodecount=25 profiles/mem-baseline.prof) > profiles/5-alloc-baseline.txt
	@echo "profiling creates across 1,000 plans (BenchmarkCreatesStoreTime, one pass)"
	@cd e2e && PSAPI_CREATES_CPUPROFILE=$(CURDIR)/profiles/cpu-creates.prof $(GO) test -run='^$$' -bench='^BenchmarkCreatesStoreTime$$' -benchtime=1x -count=1 -timeout 30m \
	  -o $(CURDIR)/profiles/bench.test ./bench
	@(echo "# CPU, creates across 1,000 plans (service, no HTTP): pprof -top -cum"; $(GO) tool pprof -top -cum -nodecount=40 profiles/cpu-creates.prof) > profiles/6-cpu-creates-cum.txt
	@echo "profiling idle subscriptions (BenchmarkSubscriptionMemory, one pass)"
	@PSAPI_FANOUT_PROFILES=$(CURDIR)/profiles $(GO) test -run='^$$' -bench='^BenchmarkSubscriptionMemory$$' -benchtime=1x -count=1 -timeout 30m ./server
	@(echo "# Heap in use of a server holding 1,000 websockets with 10 idle subscriptions each, after a collection: pprof -top -sample_index=inuse_space"; $(GO) tool pprof -top -sample_index=inuse_space -nodecount=30 profiles/subscription-memory-heap.pb.gz) > profiles/7-heap-subscriptions.txt
	@(echo "# Goroutines of that server, by the function they wait in: pprof -top"; $(GO) tool pprof -top -nodecount=15 profiles/subscription-memory-goroutines.pb.gz) > profiles/8-goroutines-subscriptions.txt
	@cat profiles/1-cpu-graphql.txt profiles/3-alloc-graphql.txt

## fuzz: every fuzz target for $(FUZZTIME) each
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

clean:
	rm -rf bin
