package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	coderws "github.com/coder/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
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
// event after it), perConn of them on each connection; each delivered event's seq is
// passed to got, from the connection's reader goroutine. The readers are kept cheap
// (no regular expression, no shared lock) because they share the CPUs with the server
// they measure.
func subscribers(b *testing.B, addr, token, after string, n, perConn int, got func(seq int64)) []*coderws.Conn {
	conns := make([]*coderws.Conn, (n+perConn-1)/perConn)
	// The first subscription the server refuses fails the benchmark, which then ends at
	// once (its waits also stop on b.Failed) instead of waiting out their deadlines for
	// subscriptions that will never open. The client does not retry: 10,000 opens at once
	// must all succeed (feed.Hub.Admit).
	var refused sync.Once
	var wg sync.WaitGroup
	work := make(chan int)
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
				_ = c.Write(context.Background(), coderws.MessageText, init)
				for id := range min(perConn, n-i*perConn) {
					sub, _ := json.Marshal(map[string]any{"type": "subscribe", "id": strconv.Itoa(id + 1), "payload": map[string]any{
						"query":     `subscription($after: String) { incidentBalanceChanged(tenantId: "fabrikam", after: $after) { seq } }`,
						"variables": map[string]any{"after": after}}})
					_ = c.Write(context.Background(), coderws.MessageText, sub)
				}
				go func() {
					for {
						_, msg, err := c.Read(context.Background())
						if err != nil {
							return
						}
						if seq, ok := seqOf(msg); ok {
							got(seq)
						} else if bytes.Contains(msg, []byte(`"errors"`)) || bytes.Contains(msg, []byte(`"type":"error"`)) {
							refused.Do(func() { b.Errorf("a subscription was refused: %s", msg) })
						}
					}
				}()
			}
		}()
	}
	for i := range conns {
		work <- i
	}
	close(work)
	wg.Wait()
	return conns
}

// seqOf finds the first "seq":N in a message.
func seqOf(msg []byte) (int64, bool) {
	i := bytes.Index(msg, []byte(`"seq":`))
	if i < 0 {
		return 0, false
	}
	var v int64
	j := i + len(`"seq":`)
	for ; j < len(msg) && msg[j] >= '0' && msg[j] <= '9'; j++ {
		v = v*10 + int64(msg[j]-'0')
	}
	return v, j > i+len(`"seq":`)
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

// idleMemory is what a server holds: its Go heap in use plus goroutine stacks, and its
// resident set, read right after a garbage collection (the profiler's heap endpoint
// with gc=1 collects first), so garbage left by what came before is not counted.
func idleMemory(b *testing.B, addr, debugAddr string) (heapStack, rss float64) {
	b.Helper()
	resp, err := http.Get("http://" + debugAddr + "/debug/pprof/heap?gc=1")
	require.NoError(b, err)
	_, _ = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	require.Equal(b, http.StatusOK, resp.StatusCode)
	heapStack = metric(b, addr, "go_memstats_heap_inuse_bytes") + metric(b, addr, "go_memstats_stack_inuse_bytes")
	return heapStack, metric(b, addr, "process_resident_memory_bytes")
}

// saveProfiles writes a server's heap (after a collection) and goroutine profiles into
// dir, named after what was measured.
func saveProfiles(b *testing.B, debugAddr, dir, name string) {
	b.Helper()
	require.NoError(b, os.MkdirAll(dir, 0o755))
	for file, path := range map[string]string{name + "-heap.pb.gz": "heap?gc=1", name + "-goroutines.pb.gz": "goroutine"} {
		resp, err := http.Get("http://" + debugAddr + "/debug/pprof/" + path)
		require.NoError(b, err)
		body, err := io.ReadAll(resp.Body)
		_ = resp.Body.Close()
		require.NoError(b, err)
		require.NoError(b, os.WriteFile(filepath.Join(dir, file), body, 0o644))
	}
}

// processCPU is the CPU time this process has used, in seconds.
func processCPU() float64 {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano()).Seconds()
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
	c := newCluster(b, apis, "DEBUG_LISTEN=127.0.0.1:0")
	patti := c.setupUnlimited()
	subAddr := c.apis[apis-1].Addr
	debugAddr, err := c.apis[apis-1].WaitOutput(debugRE, 10*time.Second)
	require.NoError(b, err)
	heap0, rss0 := idleMemory(b, subAddr, debugAddr)

	// The gauge of open subscriptions counts a subscription as soon as its operation
	// starts, before its resolver has joined the feed: subscribing "from now" would let a
	// late resolver start after the warm-up event and never see it. From the ledger
	// cursor, a late one catches up instead.
	var cursor struct{ Tenant struct{ LedgerCursor string } }
	testenv.Post(b, c.url(apis-1), patti, `{ tenant(id: "fabrikam") { ledgerCursor } }`, nil).MustData(b, &cursor)

	// One round: the seq every subscriber waits for, when its mutation was sent (since
	// t0, monotonic), and each subscriber's latency, filled in without a shared lock.
	type round struct {
		want   int64
		start  time.Duration
		got    atomic.Int64 // subscribers that have the event: the next free slot of lat
		filled atomic.Int64 // slots of lat written
		lat    []time.Duration
		done   chan struct{}
	}
	t0 := time.Now()
	var cur atomic.Pointer[round]
	cur.Store(&round{want: -1})
	conns := subscribers(b, subAddr, patti, cursor.Tenant.LedgerCursor, n, 1, func(seq int64) {
		r := cur.Load()
		if seq != r.want {
			return
		}
		d := time.Since(t0) - r.start
		if i := r.got.Add(1) - 1; i < int64(len(r.lat)) {
			r.lat[i] = d
			if r.filled.Add(1) == int64(n) { // every slot written: the round may be read
				close(r.done)
			}
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
		return b.Failed() || int(metric(b, subAddr, "graphql_subscriptions_open")) == n
	})
	if b.Failed() {
		b.FailNow()
	}

	db := c.db()
	var lat []time.Duration
	change := func(i int) {
		// The next event's seq: one past the tenant's last.
		var last struct {
			Seq int64 `bson:"seq"`
		}
		_ = db.Collection("events").FindOne(context.Background(), map[string]any{"tenantId": "fabrikam"},
			mongodbSortSeqDesc()).Decode(&last)
		r := &round{want: last.Seq + 1, lat: make([]time.Duration, n), done: make(chan struct{})}
		r.start = time.Since(t0)
		cur.Store(r)
		var res createResult
		testenv.Post(b, c.url(0), patti, createMutation, createInput(fmt.Sprintf("fanout-%d-%d", n, i), goldFabrikam)).MustData(b, &res)
		require.NotNil(b, res.CreateSupportRequest.Request)
		select {
		case <-r.done:
		case <-time.After(60 * time.Second):
			b.Fatalf("only %d of %d subscribers got event %d", r.got.Load(), n, r.want)
		}
		lat = append(lat, r.lat...)
	}
	// Warm up: one change every subscriber receives, so all have caught up and joined
	// their tailer before anything is measured.
	change(-1)
	lat = lat[:0]
	// Every subscription is idle now: joined to its tailer, waiting for the next event.
	heap1, rss1 := idleMemory(b, subAddr, debugAddr)
	if dir := os.Getenv("PSAPI_FANOUT_PROFILES"); dir != "" {
		saveProfiles(b, debugAddr, dir, fmt.Sprintf("fanout-%d", n))
	}
	// CPU per delivery, of the subscriber instance and of this process (its 10,000
	// readers), which share the machine's CPUs: the latency can be no lower than all
	// the deliveries' CPU over the CPUs.
	serverCPU0, clientCPU0 := metric(b, subAddr, "process_cpu_seconds_total"), processCPU()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		change(i)
	}
	b.StopTimer()
	deliveries := float64(b.N * n)
	b.ReportMetric((metric(b, subAddr, "process_cpu_seconds_total")-serverCPU0)/deliveries*1e6, "server-µs/delivery")
	b.ReportMetric((processCPU()-clientCPU0)/deliveries*1e6, "client-µs/delivery")
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

// BenchmarkSubscriptionMemory splits the memory of idle subscriptions between what a
// websocket connection holds and what one more subscription on it adds (graphql-ws
// clients, the dashboard's among them, carry all of a page's subscriptions on one
// connection). 1,000 connections each open one subscription, then nine more; each step
// is measured once every subscription has received an event (so it has joined the feed
// and waits), after a collection, on the subscriber instance (heap in use plus stacks).
func BenchmarkSubscriptionMemory(b *testing.B) {
	raiseFileLimit(b)
	const conns, extra = 1000, 9
	for range b.N {
		c := newCluster(b, 1, "DEBUG_LISTEN=127.0.0.1:0")
		patti := c.setupUnlimited()
		addr := c.apis[0].Addr
		debugAddr, err := c.apis[0].WaitOutput(debugRE, 10*time.Second)
		require.NoError(b, err)
		var cursor struct{ Tenant struct{ LedgerCursor string } }
		testenv.Post(b, c.url(0), patti, `{ tenant(id: "fabrikam") { ledgerCursor } }`, nil).MustData(b, &cursor)
		var want, got atomic.Int64
		count := func(seq int64) {
			if seq == want.Load() {
				got.Add(1)
			}
		}
		// settle sends one change and waits until all n subscriptions have it.
		db := c.db()
		settle := func(n int, key string) {
			var last struct {
				Seq int64 `bson:"seq"`
			}
			require.NoError(b, db.Collection("events").FindOne(context.Background(), map[string]any{"tenantId": "fabrikam"}, mongodbSortSeqDesc()).Decode(&last))
			got.Store(0)
			want.Store(last.Seq + 1)
			var r createResult
			testenv.Post(b, c.url(0), patti, createMutation, createInput(key, goldFabrikam)).MustData(b, &r)
			require.NotNil(b, r.CreateSupportRequest.Request, "%+v", r.CreateSupportRequest.UserErrors)
			testenv.WaitFor(b, 60*time.Second, fmt.Sprintf("%d subscriptions to get the event", n), func() bool { return b.Failed() || got.Load() == int64(n) })
			if b.Failed() {
				b.FailNow()
			}
		}
		base, _ := idleMemory(b, addr, debugAddr)
		first := subscribers(b, addr, patti, cursor.Tenant.LedgerCursor, conns, 1, count)
		settle(conns, "memory-first")
		one, _ := idleMemory(b, addr, debugAddr)
		for _, conn := range first {
			for id := range extra {
				sub, _ := json.Marshal(map[string]any{"type": "subscribe", "id": strconv.Itoa(id + 2), "payload": map[string]any{
					"query":     `subscription($after: String) { incidentBalanceChanged(tenantId: "fabrikam", after: $after) { seq } }`,
					"variables": map[string]any{"after": cursor.Tenant.LedgerCursor}}})
				require.NoError(b, conn.Write(context.Background(), coderws.MessageText, sub))
			}
		}
		settle(conns*(1+extra), "memory-extra")
		many, _ := idleMemory(b, addr, debugAddr)
		if dir := os.Getenv("PSAPI_FANOUT_PROFILES"); dir != "" {
			saveProfiles(b, debugAddr, dir, "subscription-memory")
		}
		b.ReportMetric((one-base)/conns/1024, "KiB/connection+sub")
		b.ReportMetric((many-one)/(conns*extra)/1024, "KiB/extra-sub")
		for _, conn := range first {
			_ = conn.CloseNow()
		}
	}
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
	f, admins, plans := testenv.ManyTenants(n)
	_, err = seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(c.t, err)
	svc := service.New(st, service.Options{Now: func() time.Time { return testenv.DemoNow }})
	// The tokens are what `server token --email <admin> --kind ENTRA_ID` prints (the admins
	// are in no fixture the command reads, so the email is the subject), signed here with
	// the cluster's development key: one exec per tenant took most of the set-up's 2 minutes.
	signer, err := auth.LoadOrCreateDevSigner(c.keys, config.DevIssuer, "partnersupport-api", time.Now)
	require.NoError(c.t, err)
	tokens = make([]string, n)
	var next atomic.Int64
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := int(next.Add(1)) - 1; i < n; i = int(next.Add(1)) - 1 {
				acct, err := st.Account(ctx, domain.AccountID(config.DevIssuer, admins[i]))
				if !assert.NoError(c.t, err) {
					return
				}
				if _, err = svc.Activate(ctx, acct, plans[i]); !assert.NoError(c.t, err) {
					return
				}
				tokens[i], err = signer.Issue(admins[i], admins[i], auth.KindEntraID, 12*time.Hour)
				if !assert.NoError(c.t, err) {
					return
				}
			}
		}()
	}
	wg.Wait()
	require.False(c.t, c.t.Failed(), "setting up %d plans", n)
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
