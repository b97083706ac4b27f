// Package bench holds the benchmarks of issue 8 that compare the GraphQL API with a
// hand-written baseline (e2e/bench/baseline), and count store round trips per
// request. The benchmarks are in the test files; `make bench` runs every benchmark of the
// module and renders BENCHMARKS.md through e2e/bench/report.
//
// Conventions: figures are reported with b.ReportMetric (units such as p50-ms, req/s,
// ratio, roundtrips/op); every ratio is measured side by side in one run, the two
// systems alternating (A B B A …) on one server, one store and one service.
package bench
