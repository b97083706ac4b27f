package main

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"os/exec"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/bench/benchenv"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/testenv"
)

// Benchmarks of the live feed, contention and throughput, on server processes sharing one
// embedded store (as in production: instances behind a load balancer). See BENCHMARKS.md.

const goldFabrikam = "fabrikam.legacy_gold_competency.20260301.cloud_support" // unlimited

func raiseFileLimit(b *testing.B) {
	var l syscall.Rlimit
	if syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l) == nil && l.Cur < l.Max {
		l.Cur = l.Max
		_ = syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l)
	}
}

// setupUnlimited activates and links Fabrikam's unlimited Gold plan for patti.
func (c *cluster) setupUnlimited() string {
	patti := c.token("patti@fabrikam.com")
	var act struct {
		ActivateBenefit struct {
			Benefit struct{ Contract map[string]string }
		}
	}
	testenv.Post(c.t, c.url(0), patti, `mutation($b: ID!) { activateBenefit(benefitId: $b) { benefit { contract { accessId contractId } } } }`, map[string]any{"b": goldFabrikam}).MustData(c.t, &act)
	var l struct{ LinkSupportPlan struct{ UserErrors []any } }
	testenv.Post(c.t, c.url(0), patti, `mutation($a: String!, $c: String!) { linkSupportPlan(input: {accessId: $a, contractId: $c, portal: AZURE}) { userErrors { code } } }`,
		map[string]any{"a": act.ActivateBenefit.Benefit.Contract["accessId"], "c": act.ActivateBenefit.Benefit.Contract["contractId"]}).MustData(c.t, &l)
	require.Empty(c.t, l.LinkSupportPlan.UserErrors)
	return patti
}

// subscribers opens n idle websocket subscriptions to Fabrikam's balances on addr, from
// the ledger cursor after (so a subscription whose resolver runs late still gets every
// event after it); each delivered event's seq is passed to got.
func subscribers(b *testing.B, addr, token, after string, n int, got func(seq int)) []*coderws.Conn {
	conns := make([]*coderws.Conn, n)
	var wg sync.WaitGroup
	work := make(chan int)
	seqRE := regexp.MustCompile(`"seq":(\d+)`)
	for range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range work {
				ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
				c, _, err := coderws.Dial(ctx, "ws://"+addr+"/query", &coderws.DialOptions{Subprotocols: []string{testenv.TransportWS}})
				cancel()
				if err != nil {
					b.Errorf("dial %d: %v", i, err)
					continue
				}
				conns[i] = c
				init, _ := json.Marshal(map[string]any{"type": "connection_init", "payload": map[string]any{"Authorization": "Bearer " + token}})
				sub, _ := json.Marshal(map[string]any{"type": "subscribe", "id": "1", "payload": map[string]any{
					"query":     `subscription($after: String) { incidentBalanceChanged(tenantId: "fabrikam", after: $after) { seq } }`,
					"variables": map[string]any{"after": after}}})
				_ = c.Write(context.Background(), coderws.MessageText, init)
				_ = c.Write(context.Background(), coderws.MessageText, sub)
				go func() {
					for {
						_, msg, err := c.Read(context.Background())
						if err != nil {
							return
						}
						if m := seqRE.FindSubmatch(msg); m != nil {
							s, _ := strconv.Atoi(string(m[1]))
							got(s)
						}
					}
				}()
			}
		}()
	}
	for i := range n {
		work <- i
	}
	close(work)
	wg.Wait()
	return conns
}

// metric reads one value of a server's /metrics.
func metric(b *testing.B, addr, name string) float64 {
	resp, err := http.Get("http://" + addr + "/metrics")
	require.NoError(b, err)
	defer resp.Body.Close()
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 1<<20), 1<<20)
	for sc.Scan() {
		if f := strings.Fields(sc.Text()); len(f) == 2 && f[0] == name {
			v, _ := strconv.ParseFloat(f[1], 64)
			return v
		}
	}
	b.Fatalf("metric %s not found", name)
	return 0
}

func percentile(ds []time.Duration, p float64) float64 {
	if len(ds) == 0 {
		return math.NaN()
	}
	slices.Sort(ds)
	i := int(math.Ceil(p/100*float64(len(ds)))) - 1
	return float64(ds[max(i, 0)]) / float64(time.Millisecond)
}

// benchFanout measures the delivery latency of one change to n subscribers: from the
// moment the mutation is sent until each subscriber has the event. With cross set, the
// change is made on instance A and the subscribers are on instance B (the feed polls).
func benchFanout(b *testing.B, n int, cross bool) {
	raiseFileLimit(b)
	apis := 1
	if cross {
		apis = 2
	}
	c := newCluster(b, apis)
	patti := c.setupUnlimited()
	subAddr := c.apis[apis-1].Addr
	heap0 := metric(b, subAddr, "go_memstats_heap_inuse_bytes") + metric(b, subAddr, "go_memstats_stack_inuse_bytes")
	rss0 := metric(b, subAddr, "process_resident_memory_bytes")

	// The gauge of open subscriptions counts a subscription as soon as its operation
	// starts, before its resolver has joined the feed: subscribing "from now" would let a
	// late resolver start after the warm-up event and never see it. From the ledger
	// cursor, a late one catches up instead.
	var cur struct{ Tenant struct{ LedgerCursor string } }
	testenv.Post(b, c.url(apis-1), patti, `{ tenant(id: "fabrikam") { ledgerCursor } }`, nil).MustData(b, &cur)

	var mu sync.Mutex
	var want int
	var start time.Time
	var received atomic.Int64
	var lat []time.Duration
	done := make(chan struct{}, 1)
	conns := subscribers(b, subAddr, patti, cur.Tenant.LedgerCursor, n, func(seq int) {
		mu.Lock()
		if seq != want {
			mu.Unlock()
			return
		}
		lat = append(lat, time.Since(start))
		mu.Unlock()
		if received.Add(1) == int64(n) {
			done <- struct{}{}
		}
	})
	defer func() {
		for _, c := range conns {
			if c != nil {
				_ = c.CloseNow()
			}
		}
	}()
	testenv.WaitFor(b, 120*time.Second, "every subscription to open", func() bool {
		return int(metric(b, subAddr, "graphql_subscriptions_open")) == n
	})
	heap1 := metric(b, subAddr, "go_memstats_heap_inuse_bytes") + metric(b, subAddr, "go_memstats_stack_inuse_bytes")
	rss1 := metric(b, subAddr, "process_resident_memory_bytes")

	db := c.db()
	change := func(i int) {
		// The next event's seq: one past the tenant's last.
		var last struct {
			Seq int `bson:"seq"`
		}
		_ = db.Collection("events").FindOne(context.Background(), map[string]any{"tenantId": "fabrikam"},
			mongodbSortSeqDesc()).Decode(&last)
		mu.Lock()
		want, start = last.Seq+1, time.Now()
		mu.Unlock()
		received.Store(0)
		var r createResult
		testenv.Post(b, c.url(0), patti, createMutation, createInput(fmt.Sprintf("fanout-%d-%d", n, i), goldFabrikam)).MustData(b, &r)
		require.NotNil(b, r.CreateSupportRequest.Request)
		select {
		case <-done:
		case <-time.After(60 * time.Second):
			b.Fatalf("only %d of %d subscribers got event %d", received.Load(), n, want)
		}
	}
	// Warm up: one change every subscriber receives, so all have caught up and joined
	// their tailer before anything is measured.
	change(-1)
	mu.Lock()
	lat = lat[:0]
	mu.Unlock()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		change(i)
	}
	b.StopTimer()
	mu.Lock()
	defer mu.Unlock()
	b.ReportMetric(percentile(lat, 50), "p50-ms")
	b.ReportMetric(percentile(lat, 99), "p99-ms")
	b.ReportMetric((heap1-heap0)/float64(n)/1024, "KiB/sub-heap+stack")
	b.ReportMetric((rss1-rss0)/float64(n)/1024, "KiB/sub-rss")
}

func BenchmarkFanout(b *testing.B) {
	for _, n := range []int{1000, 10000} {
		b.Run(fmt.Sprintf("subscribers=%d", n), func(b *testing.B) { benchFanout(b, n, false) })
	}
	b.Run("cross-instance/subscribers=100", func(b *testing.B) { benchFanout(b, 100, true) })
}

// BenchmarkContention500On50 sends 500 concurrent creates at one plan of 50 incidents
// through one server process: wall time, and the exact number of successes (must be 50).
func BenchmarkContention500On50(b *testing.B) {
	for i := 0; i < b.N; i++ {
		b.StopTimer()
		c := newCluster(b, 1)
		lee := c.setup(spdCloud)
		b.StartTimer()
		start := time.Now()
		var ok atomic.Int64
		var wg sync.WaitGroup
		for j := range 500 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				var r createResult
				testenv.Post(b, c.url(j), lee, createMutation, createInput(fmt.Sprintf("cont-%d-%d", i, j), spdCloud)).MustData(b, &r)
				if r.CreateSupportRequest.Request != nil {
					ok.Add(1)
				}
			}()
		}
		wg.Wait()
		b.ReportMetric(time.Since(start).Seconds(), "s/wall")
		b.ReportMetric(float64(ok.Load()), "successes")
		require.EqualValues(b, 50, ok.Load())
	}
}

// manyPlans seeds n extra tenants, each with one admin and a current SPD (50 cloud
// incidents), directly into the cluster's store, and activates each plan. Members use
// their tenant's cloud plan for Microsoft 365 with no link (R10), so each tenant's admin
// can create requests at once.
func (c *cluster) manyPlans(n int) (tokens, plans []string) {
	ctx := context.Background()
	st, err := mongodb.Open(ctx, c.uri, "partnersupport", mongodb.Options{})
	require.NoError(c.t, err)
	defer st.Close(ctx)
	f, admins, plans := benchenv.ManyTenants(n)
	_, err = seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(c.t, err)
	svc := domain.NewService(st, domain.Options{Now: func() time.Time { return testenv.DemoNow }})
	for i := range n {
		acct, err := st.Account(ctx, domain.AccountID(config.DevIssuer, admins[i]))
		require.NoError(c.t, err)
		_, err = svc.Activate(ctx, acct, plans[i])
		require.NoError(c.t, err)
		out, err := exec.Command(testenv.ServerBinary(c.t), "token", "--data-dir", c.keys, "--email", admins[i], "--kind", "ENTRA_ID").Output()
		require.NoError(c.t, err)
		tokens = append(tokens, strings.TrimSpace(string(out)))
	}
	return tokens, plans
}

// benchCreatesAcrossPlans: 50 concurrent clients create requests spread over 1,000 plans;
// one b.Loop iteration is 1,000 creates, each plan once (so the first iteration meets
// every tenant for the first time in the server process, with cold caches). The setup,
// seeding 1,000 tenants and activating their plans, runs once, before the loop.
func benchCreatesAcrossPlans(b *testing.B, apis int) {
	c := newCluster(b, apis)
	tokens, plans := c.manyPlans(1000)
	var next atomic.Int64
	var wall time.Duration
	var total atomic.Int64
	for b.Loop() {
		start := time.Now()
		var wg sync.WaitGroup
		for w := range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range len(plans) / 50 {
					k := int(next.Add(1))
					p := k % len(plans)
					var r createResult
					testenv.Post(b, c.url(w), tokens[p], createMutation, map[string]any{"in": map[string]any{"idempotencyKey": fmt.Sprintf("many-%08d", k),
						"planId": plans[p], "productId": "microsoft-365", "portal": "MICROSOFT_365", "type": "TECHNICAL", "title": "throughput"}}).MustData(b, &r)
					if r.CreateSupportRequest.Request == nil {
						b.Errorf("create refused: %+v", r.CreateSupportRequest.UserErrors)
						return
					}
					total.Add(1)
				}
			}()
		}
		wg.Wait()
		wall += time.Since(start)
	}
	b.ReportMetric(float64(total.Load())/wall.Seconds(), "creates/s")
}

func BenchmarkCreatesAcross1000Plans(b *testing.B) {
	b.Run("processes=1", func(b *testing.B) { benchCreatesAcrossPlans(b, 1) })
	b.Run("processes=2", func(b *testing.B) { benchCreatesAcrossPlans(b, 2) })
}
