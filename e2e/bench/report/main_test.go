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

// growthSample is BenchmarkGrowth's line (a few of its figures) at 1k, 10k and 100k.
const growthSample = `pkg: github.com/partnersupport/api/e2e/bench
BenchmarkGrowth-2   	       1	       330.0 tenants/s:activate	        81.00 creates/s:to-1000	        91.00 MiB-rss:1000	        22.00 MiB-data:1000	` +
	`0.9800 s-first-answer:first:1000	        3.700 ms-p50:supportPlans:1000:c1	        52.00 ms-p50:supportPlans:1000:c20	        72.00 ms-p99:supportPlans:1000:c20	` +
	`12.00 cmds:createSupportRequest:1000	        7.300 ms-p50:createSupportRequest:1000:c1	        90.00 creates/s:spread:1000	        3.000 ms-p50:supportPlans:10000:c1	` +
	`1.600 ratio-p50:supportPlans:c1:10000/first	        1.040 ratio-cmds:createSupportRequest:10000/first	        1.100 ratio-creates/s:spread:10000/first	` +
	`1.090 ratio-p50:supportPlans:c1:100000/first	        1.000 ratio-cmds:createSupportRequest:100000/first	        0.9200 ratio-creates/s:spread:100000/first	` +
	`1.020 s-first-answer:first:100000	        1.040 ratio-s-first-answer:first:100000/first	        57.00 ms-p50:supportPlans:100000:c20	        109.0 MiB-rss:100000	        0 ns/op
ok  	github.com/partnersupport/api/e2e/bench	1508s
`

func TestTableJudgesEveryGrowthTarget(t *testing.T) {
	r, err := Parse(strings.NewReader(growthSample))
	require.NoError(t, err)
	md := renderTable(r, Machine{}, "", newDocs())
	summary, figures, ok := strings.Cut(md, "### Every figure")
	require.True(t, ok, md)
	// Every target once in the summary, judged at 100k; one not run is said so.
	for _, tgt := range targets {
		if tgt.Bench == `^Growth$` {
			assert.Contains(t, summary, "| "+escape(tgt.Text)+" | Growth | "+escape(tgt.Unit)+" | ", "one row per target, at 100k")
		}
	}
	assert.Contains(t, summary, "| Growth | ratio-p50:supportPlans:c1:100000/first | 1.09 | ≤ 1.5 | yes |", "judged at 100k, not at 10k (1.6)")
	assert.Contains(t, summary, "| Growth | ratio-cmds:createSupportRequest:100000/first | 1 | ≤ 1.05 | yes |")
	assert.Contains(t, summary, "| Growth | ratio-creates/s:spread:100000/first | 0.92 | ≥ 1 | **no** |", "creates at 100k slower than at 1k")
	assert.Contains(t, summary, "| Growth | ms-p50:supportPlans:100000:c20 | 57 | ≤ 2 | **no** |")
	assert.Contains(t, summary, "| Growth | ms-p99:supportPlans:100000:c20 | not measured | ≤ 25 | **not run** |")
	assert.Contains(t, summary, "| Growth | MiB-rss:100000 | 109 | reported | reported |")
	assert.Contains(t, summary, "| Growth | tenants/s:activate | 330 | ≥ 200 | yes |")
	assert.Contains(t, summary, "| Growth | s-first-answer:first:100000 | 1.02 | ≤ 1.5 | yes |")
	assert.Contains(t, summary, "| Burst | ledger-lag-ms | not measured | ≤ 1000 | **not run** |")
	// Every figure, with the target of its unit at any size where the target is a ratio
	// or the starts' bound, and none for an absolute latency below 100k.
	assert.Contains(t, figures, "| Growth | ratio-p50:supportPlans:c1:10000/first | 1.6 | ≤ 1.5 | **no** |")
	assert.Contains(t, figures, "| Growth | ratio-cmds:createSupportRequest:10000/first | 1.04 | ≤ 1.05 | yes |")
	assert.Contains(t, figures, "| Growth | s-first-answer:first:1000 | 0.98 | ≤ 1.5 | yes |")
	assert.Contains(t, figures, "| Growth | ms-p50:supportPlans:1000:c20 | 52 |  |  |")
	assert.Contains(t, figures, "| Growth | MiB-rss:1000 | 91 |  |  |")
	// The growth table: an operation a row, a size a column, the ratios judged.
	assert.Contains(t, summary, "| Operation | 1000 | 10000 | 100000 | p50 100000 ÷ 1000, 1 client |")
	assert.Contains(t, summary, "| supportPlans | 3.7 (—) · 52 (72) | 3 (—) · — (—) | — (—) · 57 (—) | 1.09 (≤ 1.5: yes) | — | — / — / — | — |")
	assert.Contains(t, summary, "| createSupportRequest |", "an operation with a figure at the first size")
	assert.NotContains(t, summary, "| incidentLedger |", "none of its figures in the sample")
	assert.Contains(t, summary, "| creates spread over tenants, 16 clients (creates/s) | 90 | — | — | 0.92 (≥ 1: **no**) |")
	assert.Contains(t, summary, "Activations: 330 (≥ 200: yes) tenants/s.")
}

func TestTableJudgesAShortGrowthRunAtItsLargestSize(t *testing.T) {
	short := strings.NewReplacer(":100000", ":3000", ":10000", ":2000").Replace(growthSample)
	r, err := Parse(strings.NewReader(short))
	require.NoError(t, err)
	md := renderTable(r, Machine{}, "", newDocs())
	assert.Contains(t, md, "| Growth | ratio-p50:supportPlans:c1:3000/first (the largest size run; the target is at 100000) | 1.09 | ≤ 1.5 | yes |")
	assert.Contains(t, md, "| Growth | ms-p50:supportPlans:100000:c20 | not measured | ≤ 2 | **not run** |", "an absolute target at 100k only")
}
