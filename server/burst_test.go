package main

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

// burstOutcome is what one create of a burst got, with when it was sent and answered (the
// test's monotonic clock).
type burstOutcome struct {
	id         string // the request's ID when it was created
	code       string // the refusal's code: a user error's or a GraphQL error's
	sent, done time.Time
}

// burstResult is what a burst measured.
type burstResult struct {
	outcomes []burstOutcome
	// lastAnswer is when the last create was answered; complete is when the ledger held
	// every consumption (a condition polled from then on, up to the deadline).
	lastAnswer, complete time.Time
	// ledger is the plan's consumptions in the tenant's ledger, in sequence order, as read
	// at complete.
	ledger []consumption
}

// runBurst fires n creates on the 50-incident plan over two API processes sharing one
// store, inFlight at a time, alternating between the processes, and then waits up to
// ledgerWait for the tenant's ledger to hold one consumption per create that succeeded.
//
// Meanwhile a steady client creates on the tenant's other plan (5 incidents) one request
// after another, alternating between the processes, until that plan is used up: its
// creates are ordered in time, with each other and with the burst's.
func runBurst(t testing.TB, n, inFlight int, ledgerWait time.Duration) burstResult {
	c := newCluster(t, 2)
	lee := c.setup(spdCloud)
	c.setup(expanded)
	out := make([]burstOutcome, n, n+steadyCreates)
	steady := make([]burstOutcome, steadyCreates)
	create := func(o *burstOutcome, api int, key, plan string) {
		o.sent = time.Now()
		r := testenv.Post(t, c.url(api), lee, createMutation, createInput(key, plan))
		o.done = time.Now()
		if len(r.Errors) > 0 {
			o.code = r.Errors[0].Code()
			return
		}
		var cr createResult
		r.MustData(t, &cr)
		if cr.CreateSupportRequest.Request != nil {
			_, o.id, _ = graph.ParseGlobalID(cr.CreateSupportRequest.Request.ID) // the ledger holds the request's key
		} else if len(cr.CreateSupportRequest.UserErrors) > 0 {
			o.code = cr.CreateSupportRequest.UserErrors[0].Code
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for i := range steady {
			create(&steady[i], i, fmt.Sprintf("steady-%02d", i), expanded)
		}
	}()
	sem := make(chan struct{}, inFlight)
	for i := range n {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			create(&out[i], i, fmt.Sprintf("burst-%05d", i), spdCloud)
		}()
	}
	wg.Wait()
	out = append(out, steady...)
	t.Cleanup(func() {
		if t.Failed() {
			for i, a := range c.apis {
				t.Logf("API %d logged:\n%s", i, a.Output())
			}
		}
	})
	res := burstResult{outcomes: out}
	for _, o := range out {
		if o.done.After(res.lastAnswer) {
			res.lastAnswer = o.done
		}
	}
	ok := 0
	for _, o := range out {
		if o.id != "" {
			ok++
		}
	}
	// From the last answer on, read the ledger until it holds a consumption per success,
	// or the deadline passes.
	events := c.db().Collection("events")
	filter := bson.D{{Key: "tenantId", Value: "contoso"}, {Key: "kind", Value: "CONSUME"}}
	deadline := time.NewTimer(time.Until(res.lastAnswer.Add(ledgerWait)))
	defer deadline.Stop()
	for {
		cur, err := events.Find(t.Context(), filter, options.Find().SetSort(bson.D{{Key: "seq", Value: 1}}))
		require.NoError(t, err)
		var rows []consumption
		require.NoError(t, cur.All(t.Context(), &rows))
		res.complete, res.ledger = time.Now(), rows
		if len(rows) >= ok {
			return res
		}
		select {
		case <-deadline.C:
			return res
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// steadyCreates is how many creates the steady client of a burst sends: twice what its
// plan (expanded) has.
const (
	steadyCreates       = 10
	steadyPlanIncidents = 5
)

// consumption is a CONSUME event of the ledger.
type consumption struct {
	RequestID string `bson:"requestId"`
	BenefitID string `bson:"benefitId"`
	Seq       int64  `bson:"seq"`
	Used      int    `bson:"used"`
	Remaining int    `bson:"remaining"`
}

// burstSize is how many creates TestR15_Burst fires: 1,000 in make test (the race detector
// and two CPUs; before the sequencer's rounds the ledger lagged at that size, not at 500),
// 2,000 as the issue states it in BenchmarkBurst (make bench), or PSAPI_BURST.
func burstSize(t testing.TB) int {
	if s := os.Getenv("PSAPI_BURST"); s != "" {
		n, err := strconv.Atoi(s)
		require.NoError(t, err, "PSAPI_BURST")
		return n
	}
	return 1000
}

// TestR15_Burst_TwoProcessesOnePlan is the burst of the issue: many creates on one plan of
// 50 incidents, 100 in flight, over two server processes on one store. Exactly 50
// succeed (R15); every other create is refused with the coded NO_INCIDENTS_LEFT, or
// answered with the coded, retryable UNAVAILABLE, never INTERNAL. Within 1 s of the last
// answer the tenant's ledger holds all 50 consumptions, in commit order: a create answered
// before another was sent has the lower sequence number (the order a client can observe;
// each create's event is sequenced before it answers), and the balances count 50 down to
// 0 in sequence order.
func TestR15_Burst_TwoProcessesOnePlan(t *testing.T) {
	res := runBurst(t, burstSize(t), 100, time.Second)
	checkBurst(t, res)
}

func checkBurst(t testing.TB, res burstResult) {
	t.Helper()
	var created []burstOutcome
	codes := map[string]int{}
	var lat []time.Duration
	for _, o := range res.outcomes {
		if o.id != "" {
			created = append(created, o)
		} else {
			codes[o.code]++
		}
		lat = append(lat, o.done.Sub(o.sent))
	}
	slices.Sort(lat)
	lag := res.complete.Sub(res.lastAnswer)
	t.Logf("burst of %d creates: %d created, refused %v; answers p50 %s, p99 %s, max %s; the ledger held every consumption %s after the last answer",
		len(res.outcomes), len(created), codes, lat[len(lat)/2].Round(time.Millisecond), lat[len(lat)*99/100].Round(time.Millisecond),
		lat[len(lat)-1].Round(time.Millisecond), lag.Round(time.Millisecond))
	require.Len(t, created, 50+steadyPlanIncidents, "exactly the plans' 50 and 5 incidents (R15)")
	for code := range codes {
		assert.Contains(t, []string{"NO_INCIDENTS_LEFT", "UNAVAILABLE"}, code, "a refusal is coded: no incidents left (R15), or the store is busy (retryable)")
	}
	require.Len(t, res.ledger, len(created), "the ledger holds every consumption within 1 s of the last answer")
	assert.LessOrEqual(t, lag, time.Second)
	seq := map[string]int64{}
	used := map[string]int{}
	for _, c := range res.ledger {
		seq[c.RequestID] = c.Seq
		used[c.BenefitID]++
		assert.Equal(t, used[c.BenefitID], c.Used, "in sequence order, each consumption counts every earlier one of its plan")
	}
	assert.Equal(t, map[string]int{spdCloud: 50, expanded: steadyPlanIncidents}, used)
	for _, a := range created {
		require.Contains(t, seq, a.id, "the consumption of %s is in the ledger", a.id)
	}
	// Commit order, as a client sees it: a create answered before another was sent
	// committed first, and its consumption comes first in the ledger.
	pairs := 0
	for _, a := range created {
		for _, b := range created {
			if a.done.Before(b.sent) {
				pairs++
				assert.Less(t, seq[a.id], seq[b.id], "%s answered before %s was sent: its consumption comes first", a.id, b.id)
			}
		}
	}
	t.Logf("%d pairs of creates ordered in time, each in that order in the ledger", pairs)
	assert.GreaterOrEqual(t, pairs, 10, "the steady client's creates are ordered in time")
}

// BenchmarkBurst is the burst at the size, once: 2,000 creates on the plan of 50,
// 100 in flight, over two processes (PSAPI_BURST sets another size). It reports what the
// test checks, for the targets of make bench: the creates that succeeded on the plan,
// how long after the last answer the ledger held every consumption (up to 5 s waited),
// the pairs of creates whose ledger order contradicts their order in time, and the
// answers coded INTERNAL.
func BenchmarkBurst(b *testing.B) {
	n := 2000
	if os.Getenv("PSAPI_BURST") != "" {
		n = burstSize(b)
	}
	for range b.N {
		res := runBurst(b, n, 100, 5*time.Second)
		seq := map[string]int64{}
		for _, c := range res.ledger {
			seq[c.RequestID] = c.Seq
		}
		var onPlan, created, internal, unavailable, disorder int
		for _, a := range res.outcomes {
			switch {
			case a.id != "":
				created++
			case a.code == "INTERNAL":
				internal++
			case a.code == "UNAVAILABLE":
				unavailable++
			}
			for _, c := range res.outcomes {
				if a.id != "" && c.id != "" && a.done.Before(c.sent) && seq[a.id] >= seq[c.id] {
					disorder++
				}
			}
		}
		for _, c := range res.ledger {
			if c.BenefitID == spdCloud {
				onPlan++
			}
		}
		lag := res.complete.Sub(res.lastAnswer) // the whole wait when the ledger never held them all
		b.ReportMetric(float64(created-steadyPlanIncidents), "successes")
		b.ReportMetric(float64(onPlan), "ledger-consumptions")
		b.ReportMetric(float64(lag.Milliseconds()), "ledger-lag-ms")
		b.ReportMetric(float64(disorder), "out-of-order-pairs")
		b.ReportMetric(float64(internal), "internal-errors")
		b.ReportMetric(float64(unavailable), "unavailable")
	}
}
