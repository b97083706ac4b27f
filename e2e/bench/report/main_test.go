package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const sample = `goos: linux
goarch: amd64
pkg: github.com/partnersupport/api/e2e/bench
cpu: AMD EPYC 7B13
BenchmarkSupportPlansHTTP/clients=1-2         	       8	         2.461 baseline-p50-ms	         2.654 graphql-p50-ms	         1.078 p50-ratio	         0.9286 req/s-ratio
BenchmarkSupportPlansRoundTrips/graphql-2     	     699	         1.000 aggregate:claims/op	         4.000 find:links/op	         5.000 roundtrips/op
--- SKIP: BenchmarkSupportPlansLoad
    supportplans_test.go:160: profiling only: make bench-profile
PASS
ok  	github.com/partnersupport/api/e2e/bench	12.078s
pkg: github.com/partnersupport/api/server
BenchmarkFanout/subscribers=10000-2
    bench_test.go:12: a log line between the name and the figures
       1	 149053957 ns/op	        71.75 KiB/sub-heap+stack	       143.9 p99-ms
BenchmarkStartToFirstAnswer-2   	       1	 464117685 ns/op	         1.6 s/first-answer
--- FAIL: BenchmarkCreatesAcross1000Plans/processes=1
FAIL	github.com/partnersupport/api/server	42.185s
`

func TestParseReadsEveryFigure(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	assert.Equal(t, "AMD EPYC 7B13", r.CPU)
	require.Len(t, r.Results, 4)
	assert.Equal(t, "SupportPlansHTTP/clients=1", r.Results[0].Name)
	assert.Equal(t, 2, r.Results[0].Procs)
	assert.Equal(t, Metric{0.9286, "req/s-ratio"}, r.Results[0].Metrics[3])
	assert.Equal(t, "github.com/partnersupport/api/server", r.Results[2].Pkg)
	assert.Equal(t, "Fanout/subscribers=10000", r.Results[2].Name)
	assert.Equal(t, Metric{143.9, "p99-ms"}, r.Results[2].Metrics[2])
	assert.Equal(t, []string{"BenchmarkSupportPlansLoad: profiling only: make bench-profile"}, r.Skipped)
	assert.Equal(t, []string{"BenchmarkCreatesAcross1000Plans/processes=1 failed", "package github.com/partnersupport/api/server failed"}, r.Failures)
}

func TestTableJudgesTargets(t *testing.T) {
	r, err := Parse(strings.NewReader(sample))
	require.NoError(t, err)
	md := renderTable(r, Machine{CPU: "x", Logical: 2, MaxProcs: 2, MemGiB: 4, Go: "go1.26", Date: "today"}, "make bench", newDocs())
	assert.Contains(t, md, "| SupportPlansHTTP/clients=1 | p50-ratio | 1.078 | ≤ 1.1 | yes |")
	assert.Contains(t, md, "| SupportPlansHTTP/clients=1 | req/s-ratio | 0.9286 | ≥ 0.9091 | yes |")
	assert.Contains(t, md, "| SupportPlansRoundTrips/graphql | roundtrips/op | 5 | ≤ 2 | **no** |")
	assert.Contains(t, md, "| Fanout/subscribers=10000 | p99-ms | 143.9 | ≤ 250 | yes |")
	assert.Contains(t, md, "| StartToFirstAnswer | s/first-answer | 1.6 | ≤ 1.5 | **no** |")
	assert.Contains(t, md, "| CreatesAcross1000Plans | creates/s | not measured | ≥ 1000 | **not run** |")
	assert.Contains(t, md, "| SupportPlansRoundTrips/graphql | find | links | 4 |", "the breakdown has its own table")
	assert.NotContains(t, md, "| find:links/op |", "not in the main table")
	assert.Contains(t, md, "BenchmarkCreatesAcross1000Plans/processes=1 failed")
	// How it is measured: the doc comment, found in the package's test files.
	assert.Contains(t, md, "| measures supportPlans latency and throughput over HTTP")
}

func TestFormatValue(t *testing.T) {
	for v, want := range map[float64]string{5: "5", 2.4614: "2.461", 0.92861: "0.9286", 402.44: "402.4", 12345.6: "12350", 1.1: "1.1", 0: "0"} {
		assert.Equal(t, want, formatValue(v), "%v", v)
	}
}

func TestReportKeepsTheHandWrittenText(t *testing.T) {
	dir := t.TempDir()
	in, out := filepath.Join(dir, "bench.out"), filepath.Join(dir, "BENCHMARKS.md")
	require.NoError(t, os.WriteFile(in, []byte(sample), 0o644))
	require.NoError(t, os.WriteFile(out, []byte("# Intro\n\nhand-written\n\n"+tableBegin+"\nold\n"+tableEnd+"\n\n## Notes\n\nmore hand-written\n"), 0o644))
	var stdout strings.Builder
	err := run(in, out, "make bench", "", &stdout)
	assert.ErrorContains(t, err, "failure", "a failed benchmark in the input fails the report")
	b, rerr := os.ReadFile(out)
	require.NoError(t, rerr)
	s := string(b)
	assert.True(t, strings.HasPrefix(s, "# Intro\n\nhand-written\n\n"+tableBegin+"\n## Results"), s)
	assert.True(t, strings.HasSuffix(s, tableEnd+"\n\n## Notes\n\nmore hand-written\n"), s)
	assert.NotContains(t, s, "\nold\n")
	assert.Contains(t, stdout.String(), "| SupportPlansHTTP/clients=1 | p50-ratio |")
}
