package main

import (
	"fmt"
	"regexp"
)

// target is one of the targets, for the figures of the benchmarks whose names
// match Bench (without "Benchmark" and the -N suffix) in Unit.
type target struct {
	Bench string // regular expression on the benchmark name
	Name  string // how to call it when no benchmark reported it
	Unit  string
	Op    string // "<=", ">=" or "=="
	Value float64
	Text  string // the target as the issue words it

	re *regexp.Regexp
}

// targets are issue 8's and issue 13's targets. Add a row here when a benchmark gains one.
var targets = append([]target{
	{Bench: `^SupportPlansHTTP/clients=\d+$`, Name: "SupportPlansHTTP/clients=…", Unit: "p50-ratio", Op: "<=", Value: 1.10,
		Text: "supportPlans GraphQL/baseline ratio ≤ 1.10 (and < 1.0 once batched/cached)"},
	{Bench: `^SupportPlansHTTP/clients=\d+$`, Name: "SupportPlansHTTP/clients=…", Unit: "req/s-ratio", Op: ">=", Value: 1 / 1.10,
		Text: "the same ratio for throughput: GraphQL serves at least 1/1.10 of the baseline's requests per second"},
	{Bench: `^SupportPlansRoundTrips/graphql$`, Name: "SupportPlansRoundTrips/graphql", Unit: "roundtrips/op", Op: "<=", Value: 2,
		Text: "round trips per supportPlans (3 linked plans) ≤ 2"},
	{Bench: `^CreatesAcross1000Plans(/|$)`, Name: "CreatesAcross1000Plans", Unit: "creates/s", Op: ">=", Value: 1000,
		Text: "creates/s across 1,000 plans ≥ 1000 on the embedded store"},
	{Bench: `^Fanout/subscribers=10000$`, Name: "Fanout/subscribers=10000", Unit: "p99-ms", Op: "<=", Value: 250,
		Text: "fan-out p99 at 10,000 subscribers ≤ 250 ms"},
	{Bench: `^Fanout/cross-instance(/|$)`, Name: "Fanout/cross-instance", Unit: "p99-ms", Op: "<=", Value: 500,
		Text: "cross-instance p99 ≤ 500 ms"},
	{Bench: `^Fanout/subscribers=\d+$`, Name: "Fanout/subscribers=…", Unit: "KiB/sub-heap+stack", Op: "<=", Value: 20,
		Text: "memory per idle subscription ≤ 20 KiB (Go heap and stacks), each subscription on a websocket of its own"},
	{Bench: `^Fanout/subscribers=\d+$`, Name: "Fanout/subscribers=…", Unit: "KiB/sub-rss", Op: "<=", Value: 20,
		Text: "memory per idle subscription ≤ 20 KiB (resident set), each subscription on a websocket of its own"},
	{Bench: `^SubscriptionMemory$`, Name: "SubscriptionMemory", Unit: "KiB/connection+sub", Op: "<=", Value: 20,
		Text: "memory per idle subscription ≤ 20 KiB (Go heap and stacks), for a websocket holding one subscription"},
	{Bench: `^SubscriptionMemory$`, Name: "SubscriptionMemory", Unit: "KiB/extra-sub", Op: "<=", Value: 20,
		Text: "memory per idle subscription ≤ 20 KiB (Go heap and stacks), for each further subscription on a websocket (graphql-ws clients carry a page's subscriptions on one)"},
	{Bench: `^Contention500On50$`, Name: "Contention500On50", Unit: "successes", Op: "==", Value: 50,
		Text: "500 concurrent creates on a plan of 50 incidents: exactly 50 succeed (R15)"},
	{Bench: `^StartToFirstAnswer$`, Name: "StartToFirstAnswer", Unit: "s/first-answer", Op: "<=", Value: 1.5,
		Text: "start-to-first-answer ≤ 1.5 s"},
	{Bench: `^Burst$`, Name: "Burst", Unit: "successes", Op: "==", Value: 50,
		Text: "a burst of 2,000 creates on one plan of 50 over two processes (100 in flight): exactly 50 succeed"},
	{Bench: `^Burst$`, Name: "Burst", Unit: "ledger-consumptions", Op: "==", Value: 50,
		Text: "the ledger holds all 50 consumptions"},
	{Bench: `^Burst$`, Name: "Burst", Unit: "ledger-lag-ms", Op: "<=", Value: 1000,
		Text: "within 1 s of the last answer (5 s waited at most)"},
	{Bench: `^Burst$`, Name: "Burst", Unit: "out-of-order-pairs", Op: "==", Value: 0,
		Text: "in commit order: no create answered before another was sent comes after it in the ledger"},
	{Bench: `^Burst$`, Name: "Burst", Unit: "internal-errors", Op: "==", Value: 0,
		Text: "the rest are refused with a code (R15, or a retryable UNAVAILABLE), never INTERNAL"},
}, growthTargets()...)

// growthSize is the largest store BenchmarkGrowth builds by default (PSAPI_GROWTH_SIZES);
// issue 13 states its targets at 100,000 requests, which a run with
// PSAPI_GROWTH_SIZES=1000,10000,100000 measures (its units then name 100000).
const growthSize = 10000

// growthTargets are issue 13's: every operation's p50 at the largest size ÷ its p50 at
// the smallest ≤ 1.5, at 1 and 20 clients; supportPlans and incidentLedger latencies at 20
// clients; activations per second.
func growthTargets() []target {
	var out []target
	for _, op := range []string{"supportPlans", "supportRequests", "incidentLedger", "tenantBenefits", "createSupportRequest", "resolveSupportRequest", "floor-findOne-id"} {
		for _, c := range []int{1, 20} {
			out = append(out, target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ratio-p50:%s:c%d:%d/first", op, c, growthSize), Op: "<=", Value: 1.5,
				Text: fmt.Sprintf("%s p50 at %d requests ÷ p50 at 1,000 ≤ 1.5, %d client(s), 2,000 tenants", op, growthSize, c)})
		}
	}
	// The same reads on the tenants whose own data does not grow (fixedTenants): what
	// other tenants' data costs.
	for _, op := range []string{"supportPlans", "supportRequests", "incidentLedger", "tenantBenefits"} {
		for _, c := range []int{1, 20} {
			out = append(out, target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ratio-p50:%s@fixed:c%d:%d/first", op, c, growthSize), Op: "<=", Value: 1.5,
				Text: fmt.Sprintf("%s p50 at %d requests ÷ p50 at 1,000 ≤ 1.5, %d client(s), on 21 tenants whose own 30 requests stay the same while the others' grow", op, growthSize, c)})
		}
	}
	out = append(out,
		target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ms-p50:supportPlans:%d:c20", growthSize), Op: "<=", Value: 2,
			Text: fmt.Sprintf("supportPlans p50 ≤ 2 ms at 20 clients (issue: at 100k; here at %d, service level)", growthSize)},
		target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ms-p99:supportPlans:%d:c20", growthSize), Op: "<=", Value: 25,
			Text: fmt.Sprintf("supportPlans p99 ≤ 25 ms at 20 clients (issue: at 100k; here at %d)", growthSize)},
		target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ms-p50:incidentLedger:%d:c20", growthSize), Op: "<=", Value: 10,
			Text: fmt.Sprintf("incidentLedger first page p50 ≤ 10 ms at 20 clients (issue: at 100k; here at %d)", growthSize)},
		target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ratio-cpu%%-idle-100subs:%d/first", growthSize), Op: "<=", Value: 1.5,
			Text: fmt.Sprintf("idle CPU of a server holding 100 subscriptions at %d requests ÷ at 1,000 ≤ 1.5 (the issue also asks for no measurable CPU: cpu%%-idle-100subs against cpu%%-idle-0subs)", growthSize)},
		target{Bench: `^Growth$`, Name: "Growth", Unit: "tenants/s:activate", Op: ">=", Value: 200,
			Text: "activations ≥ 200 tenants/s (4 at a time, through the service)"},
	)
	for _, kind := range []string{"first", "restart", "after-kill"} {
		out = append(out,
			target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("ratio-s-first-answer:%s:%d/first", kind, growthSize), Op: "<=", Value: 1.5,
				Text: fmt.Sprintf("start to first answer (%s) at %d requests ÷ at 1,000 ≤ 1.5 (a server process on the grown database)", kind, growthSize)},
			target{Bench: `^Growth$`, Name: "Growth", Unit: fmt.Sprintf("s-first-answer:%s:%d", kind, growthSize), Op: "<=", Value: 1.5,
				Text: fmt.Sprintf("start to first answer (%s) ≤ 1.5 s at %d requests", kind, growthSize)})
	}
	return out
}

func init() {
	for i := range targets {
		targets[i].re = regexp.MustCompile(targets[i].Bench)
	}
}

func (t target) applies(bench, unit string) bool { return unit == t.Unit && t.re.MatchString(bench) }

func (t target) holds(v float64) bool {
	switch t.Op {
	case "<=":
		return v <= t.Value
	case ">=":
		return v >= t.Value
	case "==":
		return v == t.Value
	}
	panic("report: unknown operator " + t.Op)
}

func (t target) String() string {
	op := map[string]string{"<=": "≤", ">=": "≥", "==": "="}[t.Op]
	return op + " " + formatValue(t.Value)
}
