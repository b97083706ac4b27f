#!/usr/bin/env bash
# Runs every Go fuzz target in the module for a bounded time each: ./scripts/fuzz-all.sh 5s
# Each package with fuzz targets is compiled once, instrumented for fuzzing (go test -c
# -fuzz), and that binary fuzzes each of its targets in turn, as `go test -fuzz` would run
# it: in the package's directory (its testdata/fuzz corpus), with Go's fuzz cache.
set -euo pipefail
t="${1:-5s}"
cd "$(dirname "$0")/.."
bin=$(mktemp -d)
trap 'rm -rf "$bin"' EXIT
cache="$(go env GOCACHE)/fuzz"
for pkg in $(go list ./...); do
  dir=$(go list -f '{{.Dir}}' "$pkg")
  targets=$(grep -hoE '^func (Fuzz[A-Za-z0-9_]+)\(' "$dir"/*_test.go 2>/dev/null | sed -E 's/^func (Fuzz[A-Za-z0-9_]+)\(/\1/' | sort -u || true)
  [ -n "$targets" ] || continue
  test="$bin/$(basename "$dir").test"
  go test -c -fuzz=. -o "$test" "$pkg"
  for target in $targets; do
    echo "fuzz $pkg $target for $t"
    (cd "$dir" && "$test" -test.paniconexit0 -test.run='^$' -test.fuzz="^${target}\$" -test.fuzztime="$t" -test.fuzzcachedir="$cache/$pkg")
  done
done
