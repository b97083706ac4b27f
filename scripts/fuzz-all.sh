#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a bounded time each: ./scripts/fuzz-all.sh 5s
# Each package with fuzz targets is compiled once, instrumented for fuzzing (go test -c
# -fuzz), and that binary fuzzes each of its targets in turn, as `go test -fuzz` would run
# it: in the package's directory (its testdata/fuzz corpus), with Go's fuzz cache.
# Each target is fuzzed by one worker process (-parallel=1; go test's default is one per
# CPU): the targets are fuzzed one after another for a fixed time each, so more workers
# would only take CPU from the tests `make test` runs beside them. FUZZ_PARALLEL=N
# (make fuzz FUZZ_PARALLEL=N) gives a longer, dedicated fuzzing run N workers.
#
# Go 1.26's fuzzing coordinator can fail a target with a bare "context deadline exceeded"
# when -fuzztime runs out while a worker is busy, on a loaded machine (go.dev/issue/75804,
# fixed in Go 1.27). Such a failure writes no failing input; it is reported and the target
# fuzzed once more. A failure that writes an input into testdata/fuzz always fails.
set -euo pipefail
t="${1:-5s}"
workers="${FUZZ_PARALLEL:-1}"
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache="$(go env GOCACHE)/fuzz"
files() { if [ -d "$1" ]; then find "$1" -type f | wc -l; else echo 0; fi; }
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u || true)
  [ -n "$targets" ] || continue
  test="$bin/$(basename "$dir").test"
  go test -c -fuzz=. -o "$test" "$pkg"
  for target in $targets; do
    for attempt in 1 2; do
      echo "fuzz $pkg $target for $t"
      corpus="$dir/testdata/fuzz/$target"
      before=$(files "$corpus")
      if (cd "$dir" && "$test" -test.paniconexit0 -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$t" -test.parallel="$workers" -test.fuzzcachedir="$cache/$pkg") 2>&1 | tee "$bin/out"; then
        break
      fi
      after=$(files "$corpus")
      if [ "$attempt" = 1 ] && [ "$after" = "$before" ] && grep -qx '    context deadline exceeded' "$bin/out"; then
        echo "fuzz $pkg $target: the coordinator's deadline race (go.dev/issue/75804), no failing input; fuzzing it again"
        continue
      fi
      exit 1
    done
  done
done
