# The front door. `make run` and `make test` are the two commands of the README.
GO        ?= go
DATA_DIR  ?= ./data
LISTEN    ?= 127.0.0.1:8080
PKGS      := ./...
FUZZTIME  ?= 30s

.PHONY: run test generate lint build bench fuzz tidy clean

## run: the server on the embedded store in $(DATA_DIR), with the demo data and the dev signer
run: build
	./bin/server --data-dir $(DATA_DIR) --listen $(LISTEN) --demo --dev-auth $(ARGS)

## build: the server binary in ./bin
build:
	$(GO) build -trimpath -o bin/server ./server

## test: every test, with the race detector (see README "Testing" for why -race is on)
test:
	$(GO) vet $(PKGS)
	$(GO) test -race -count=1 -timeout 20m $(PKGS)
	./scripts/fuzz-all.sh 5s

## generate: regenerate the GraphQL code from schema.graphqls (must leave no diff)
generate:
	$(GO) tool gqlgen generate

## lint: vet and a gofmt check
lint:
	$(GO) vet $(PKGS)
	@out=$$(gofmt -l $$(git ls-files '*.go')); if [ -n "$$out" ]; then echo "gofmt needed:"; echo "$$out"; exit 1; fi

## bench: the benchmarks (see BENCHMARKS.md)
bench:
	$(GO) test -run='^$$' -bench=. -benchmem -count=1 -timeout 60m $(PKGS)

## fuzz: every fuzz target for $(FUZZTIME) each
fuzz:
	./scripts/fuzz-all.sh $(FUZZTIME)

clean:
	rm -rf bin
