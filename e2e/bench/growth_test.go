package bench_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/partnersupport/api/internal/cache"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/feed"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// growthSizes are the numbers of support requests the store is grown to
// (PSAPI_GROWTH_SIZES, comma separated; default 1000,10000).
func growthSizes() []int {
	s := os.Getenv("PSAPI_GROWTH_SIZES")
	if s == "" {
		s = "1000,10000"
	}
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err == nil && n > 0 {
			out = append(out, n)
		}
	}
	return out
}

// BenchmarkGrowth measures whether an operation's cost depends on other tenants' data
// (issue 13): 2,000 tenants (PSAPI_GROWTH_TENANTS), each with one admin and one activated
// SPD plan, built through the domain service as the server wires it (the cache in front of
// the store, no HTTP), the store grown to each size of growthSizes with creates spread over
// the tenants (every tenth closed as a duplicate, so refunds and their ledger entries grow
// too), and at each size p50 and p99 of each operation at 1 and 20 clients, each call on a
// random tenant. Units: ms-p50:<op>:<size>:c<clients>, and store commands per operation
// (cmds:<op>:<size>) at one client. At each size it also starts the built server on the
// grown database (first start, restart, restart after a SIGKILL under load: starts) and
// reports the time to its first answer.
func BenchmarkGrowth(b *testing.B) {
	ctx := context.Background()
	ntenants := 2000
	if n, err := strconv.Atoi(os.Getenv("PSAPI_GROWTH_TENANTS")); err == nil && n > 0 {
		ntenants = n
	}
	var cmds atomic.Int64
	timer := newStoreTimer()
	mon := timer.monitor()
	started := mon.Started
	mon.Started = func(c context.Context, e *event.CommandStartedEvent) { cmds.Add(1); started(c, e) }
	t := newTenants(b, ntenants, mon)
	starts := newStarts(b, t.st, t.fixture, t.admins, t.plans, t.now)
	for b.Loop() {
		growth(b, ctx, t.svc, t.st, t.accts, t.plans, &cmds, starts)
	}
}

// tenants is the setup of BenchmarkGrowth and BenchmarkCreateCommands: a fresh database
// of the test store (its commands seen by mon) holding ManyTenants(n), and the service
// over it as the server wires it (the cache in front of the store, no HTTP).
type tenants struct {
	st      *mongodb.Store
	svc     *service.Service
	fixture *fixture.File
	admins  []string
	plans   []string
	accts   []domain.Account
	now     func() time.Time
}

func newTenants(b *testing.B, n int, mon *event.CommandMonitor) tenants {
	ctx := context.Background()
	st, err := mongodb.Open(ctx, testenv.StoreURI(b), testenv.NewDatabaseName(), mongodb.Options{Monitor: mon, MaxPoolSize: 8})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	t := tenants{st: st}
	t.fixture, t.admins, t.plans = testenv.ManyTenants(n)
	stats, err := seed.Load(ctx, st, t.fixture, config.DevIssuer)
	require.NoError(b, err)
	// The business clock runs forward from DemoNow, as a server's does: what the repair of
	// a restart reads is what was written in the minutes before it, not the whole store.
	clockStart := time.Now()
	t.now = func() time.Time { return testenv.DemoNow.Add(time.Since(clockStart)) }
	t.svc = service.New(cache.New(st, 30*time.Second, 0), service.Options{Now: t.now})
	// The fixture's grants, as the server that loads a fixture records them: otherwise the
	// first server start of the growth benchmark (its first size) would record 2,000
	// tenants' grants into ledgers that already hold their activations, and time that
	// instead of the start the later sizes time.
	require.NoError(b, t.svc.RecordHeldGrants(ctx, stats.Held...))
	t.accts = make([]domain.Account, n)
	for i := range n {
		t.accts[i], err = st.Account(ctx, domain.AccountID(config.DevIssuer, t.admins[i]))
		require.NoError(b, err)
	}
	return t
}

// growthDatabase is the database BenchmarkGrowth builds (its embedded store's file).
var growthDatabase string

func growth(b *testing.B, ctx context.Context, svc *service.Service, st *mongodb.Store, accts []domain.Account, plans []string, cmds *atomic.Int64, starts *starts) {
	growthDatabase = st.Database().Name()
	ntenants := len(accts)
	tenantOf := func(i int) string {
		return strings.TrimSuffix(plans[i], ".solutions_partner_designation.20260901.cloud_support")
	}
	start := time.Now()
	parallel(b, 4, ntenants, func(i int) error {
		_, err := svc.Activate(ctx, accts[i], plans[i])
		return err
	})
	b.ReportMetric(float64(ntenants)/time.Since(start).Seconds(), "tenants/s:activate")

	// The support provider records resolutions (R25); a partner cannot refund its own request.
	provider := domain.Account{ID: "provider:growth", Kind: domain.KindSupportProvider}
	var created atomic.Int64
	var mu sync.Mutex
	var open []string // open requests, for the provider to resolve
	create := func(i int) error {
		k := created.Add(1)
		r, err := svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("growth-%09d", k), PlanID: plans[i],
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "growth"})
		if err != nil {
			return err
		}
		// One in three refunded, by a count coprime with the 2,000 tenants the creates go
		// round, so that every plan gets refunds: 2,000 plans of 50 then hold 100,000
		// requests with room to spare.
		if k%3 == 0 {
			_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate) // refunded (R16, R25)
			return err
		}
		mu.Lock()
		open = append(open, r.ID)
		mu.Unlock()
		return nil
	}
	closeOne := func(i int) error {
		mu.Lock()
		if len(open) == 0 {
			mu.Unlock()
			return nil
		}
		id := open[len(open)-1]
		open = open[:len(open)-1]
		mu.Unlock()
		_, err := svc.ResolveRequest(ctx, provider, id, domain.CloseResolved)
		return err
	}
	ops := []struct {
		name  string
		do    func(i int) error
		fixed bool // also measured on the fixed tenants (reads only: they must not change)
	}{
		{"floor-findOne-id", func(i int) error { _, err := st.Account(ctx, accts[i].ID); return err }, false},
		{"supportPlans", func(i int) error {
			_, err := svc.SupportPlans(ctx, accts[i], "azure", "", domain.PortalAzure)
			return err
		}, true},
		{"supportRequests", func(i int) error {
			_, err := svc.Requests(ctx, accts[i], domain.PortalServicesHub, 20, nil)
			return err
		}, true},
		{"incidentLedger", func(i int) error { _, err := svc.Ledger(ctx, accts[i], tenantOf(i), 20, 0); return err }, true},
		{"tenantBenefits", func(i int) error {
			if _, err := svc.TenantBenefits(ctx, accts[i], tenantOf(i)); err != nil {
				return err
			}
			_, err := svc.Reminders(ctx, accts[i], tenantOf(i))
			return err
		}, true},
		{"createSupportRequest", create, false},
		{"resolveSupportRequest", closeOne, false},
	}
	// The last fixedTenants tenants get their requests now and none later: their pages are
	// full and their data the same at every size, so their figures show what other
	// tenants' data costs them. The creates that grow the store go round the others.
	growing := ntenants - fixedTenants
	fillFixedTenants(b, ctx, svc, accts[growing:], plans[growing:], provider)
	fixed := func(j int) int { return growing + j%fixedTenants }
	p50 := map[string]float64{}
	for _, size := range growthSizes() {
		start := time.Now()
		before := created.Load()
		if n := size - int(before) - fixedTenants*fixedRequests; n > 0 {
			parallel(b, 16, n, func(j int) error { return create(int(before+int64(j)) % growing) })
		}
		b.ReportMetric(float64(created.Load()-before)/time.Since(start).Seconds(), fmt.Sprintf("creates/s:to-%d", size))
		reportFootprint(b, size)
		reportIdleCPU(b, st, tenantOf, ntenants, size)
		starts.measure(b, size)
		for _, op := range ops {
			for _, clients := range []int{1, 20} {
				n := 60
				if clients > 1 {
					n = 200
				}
				if op.fixed {
					lat := timed(b, clients, n, fixed, op.do)
					reportLatency(b, p50, op.name+"@fixed", size, clients, lat)
				}
				pick := func(j int) int { return (j*7919 + 13) % growing }
				if op.fixed && clients == 1 {
					// One untimed call per tenant first: what the reads cost then does not
					// depend on whether the cache (accounts, memberships, tenants, for 30 s)
					// still held the tenant from the creates or the starts measured before,
					// which made supportPlans' commands vary (4 warm, 7 cold) with timing,
					// not with data (BenchmarkPagesByTenantSize: constant either way).
					parallel(b, 1, n, func(j int) error { return op.do(pick(j)) })
				}
				c0 := cmds.Load()
				lat := timed(b, clients, n, pick, op.do)
				if clients == 1 {
					b.ReportMetric(float64(cmds.Load()-c0)/float64(n), fmt.Sprintf("cmds:%s:%d", op.name, size))
				}
				reportLatency(b, p50, op.name, size, clients, lat)
			}
		}
	}
	b.ReportMetric(0, "ns/op")
}

// reportLatency reports an operation's p50 and p99 at a size and, from the second size
// on, its p50 over the first size's (p50 holds the first size's, by operation and clients).
func reportLatency(b *testing.B, p50 map[string]float64, name string, size, clients int, lat []float64) {
	q50, q99 := lat[len(lat)/2], lat[len(lat)*99/100]
	b.ReportMetric(q50, fmt.Sprintf("ms-p50:%s:%d:c%d", name, size, clients))
	b.ReportMetric(q99, fmt.Sprintf("ms-p99:%s:%d:c%d", name, size, clients))
	key := fmt.Sprintf("%s:c%d", name, clients)
	if first, ok := p50[key]; ok && first > 0 {
		b.ReportMetric(q50/first, fmt.Sprintf("ratio-p50:%s:%d/first", key, size))
	} else {
		p50[key] = q50
	}
}

// fixedTenants is how many of BenchmarkGrowth's tenants hold fixedRequests requests each
// from the start and get no more; 21, so that the others (1,979) are not a multiple of 3
// and every one of them gets refunds (one create in three is refunded).
const (
	fixedTenants  = 21
	fixedRequests = 30
)

// fillFixedTenants gives each of the fixed tenants fixedRequests requests, one in three
// resolved as a duplicate and refunded (R16, R25), so that a page of 20 requests or
// ledger entries is full and the tenant's plan has claims and refunds.
func fillFixedTenants(b *testing.B, ctx context.Context, svc *service.Service, accts []domain.Account, plans []string, provider domain.Account) {
	parallel(b, 4, len(accts)*fixedRequests, func(j int) error {
		i, k := j%len(accts), j/len(accts)
		r, err := svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("fixed-%d-%d", i, k), PlanID: plans[i],
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "fixed"})
		if err != nil || k%3 != 0 {
			return err
		}
		_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
		return err
	})
}

// reportFootprint reports, at a store size, the resident set of the benchmark's process
// (the service and the embedded store run in it: MiB-rss:<size>) and the size of the
// database's files in the embedded store's directory (MiB-data:<size>; not on
// TEST_MONGODB_URI).
func reportFootprint(b *testing.B, size int) {
	if status, err := os.ReadFile("/proc/self/status"); err == nil {
		for _, line := range strings.Split(string(status), "\n") {
			if f := strings.Fields(line); len(f) >= 2 && f[0] == "VmRSS:" {
				if kb, err := strconv.ParseFloat(f[1], 64); err == nil {
					b.ReportMetric(kb/1024, fmt.Sprintf("MiB-rss:%d", size))
				}
			}
		}
	}
	dir := testenv.StoreDir()
	if dir == "" {
		return
	}
	files, err := filepath.Glob(filepath.Join(dir, growthDatabase+".sqlite*"))
	require.NoError(b, err)
	var bytes int64
	for _, f := range files {
		if fi, err := os.Stat(f); err == nil {
			bytes += fi.Size()
		}
	}
	b.ReportMetric(float64(bytes)/(1<<20), fmt.Sprintf("MiB-data:%d", size))
}

// idleSubscriptions is how many live subscriptions reportIdleCPU holds open.
const idleSubscriptions = 100

// reportIdleCPU holds idleSubscriptions live subscriptions open, each to another tenant,
// through the feed as the server wires it (one tailer per tenant polling the ledger every
// 100 ms), while nothing happens, and reports the CPU the process used meanwhile, as a
// percentage of one core (cpu%-idle-100subs:<size>): the service and the embedded store
// run in this process, so it counts both sides of every poll.
func reportIdleCPU(b *testing.B, st *mongodb.Store, tenantOf func(int) string, ntenants, size int) {
	b.ReportMetric(idleCPU(b), fmt.Sprintf("cpu%%-idle-0subs:%d", size)) // the baseline: no subscription
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	hub := feed.NewHub(st, feed.Options{})
	defer hub.Close()
	for i := range idleSubscriptions {
		_, err := hub.Subscribe(ctx, tenantOf((i*7919)%ntenants), -1, nil, nil)
		require.NoError(b, err)
	}
	testenv.WaitFor(b, 30*time.Second, "the subscriptions to be live", func() bool { return hub.Subscribers() == idleSubscriptions })
	pct := idleCPU(b)
	b.ReportMetric(pct, fmt.Sprintf("cpu%%-idle-100subs:%d", size))
	if first, ok := firstIdleCPU[b.Name()]; ok && first > 0 {
		b.ReportMetric(pct/first, fmt.Sprintf("ratio-cpu%%-idle-100subs:%d/first", size))
	} else {
		firstIdleCPU[b.Name()] = pct
	}
}

// firstIdleCPU is the idle CPU of the first size, by benchmark.
var firstIdleCPU = map[string]float64{}

// idleCPU is the CPU the process uses over a few seconds, in percent of one core.
func idleCPU(b *testing.B) float64 {
	c0, t0 := selfCPU(), time.Now()
	<-time.After(3 * time.Second) // a window of idle time to measure over, not a wait for work
	return 100 * float64(selfCPU()-c0) / float64(time.Since(t0))
}

// parallel runs do(0..n-1) on workers goroutines and fails b on the first error.
func parallel(b *testing.B, workers, n int, do func(i int) error) {
	var next atomic.Int64
	var wg sync.WaitGroup
	var once sync.Once
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				if err := do(i); err != nil {
					once.Do(func() { b.Error(err) })
					return
				}
			}
		}()
	}
	wg.Wait()
}

// timed runs do n times on clients goroutines, call j on tenant pick(j), and returns the
// sorted latencies in milliseconds.
func timed(b *testing.B, clients, n int, pick func(j int) int, do func(i int) error) []float64 {
	lat := make([]float64, n)
	parallel(b, clients, n, func(j int) error {
		i := pick(j)
		t := time.Now()
		err := do(i)
		lat[j] = float64(time.Since(t)) / float64(time.Millisecond)
		return err
	})
	slices.Sort(lat)
	return lat
}
