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
// (PSAPI_GROWTH_SIZES, comma separated; default 1000,10000,100000, the sizes of issue 13).
func growthSizes() []int {
	s := os.Getenv("PSAPI_GROWTH_SIZES")
	if s == "" {
		s = "1000,10000,100000"
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
// SPD plan of 50 incidents, built through the domain service as the server wires it (the
// cache in front of the store, no HTTP), the store grown to each size of growthSizes with
// creates spread over the growing tenants by 16 clients (one in three resolved as a
// duplicate and refunded, so refunds and their ledger entries grow too; its rate is
// creates/s:to-<size>, which also includes those tenants' own plans filling), and at each
// size p50 and p99 of each operation at 1 and 20 clients. Units: ms-p50:<op>:<size>:c<clients>,
// ms-p99:…, ratio-p50:<op>:c<clients>:<size>/first (over the first size), and store
// commands per operation at one client, cmds:<op>:<size>, with ratio-cmds:<op>:<size>/first.
//
// The reads (supportPlans, supportRequests(first: 20), incidentLedger(first: 20), tenant
// benefits with reminders) and the findOne-by-_id floor run on random growing tenants,
// whose own data grows with the store (a fifth of a request each at 1k, about 55 at
// 100k), and the reads again on 21 fixed tenants (<op>@fixed) that hold 30 requests from
// the start and get none later: only other tenants' data differs between their sizes.
// resolveSupportRequest resolves open requests of growing tenants (RESOLVED: no refund).
//
// Creates are measured on reserved tenants, a fresh set of up to 60 per size that got no
// request before (layOut), each set taking the same sequence of calls, so their
// plans are in the same state at every size and only other tenants' data differs:
// createSupportRequest (no resolution mixed in; the first 60 calls, at one client, each on
// another tenant's empty plan), then creates spread over the set by 16 clients
// (creates/s:spread:<size> and ratio-creates/s:spread:<size>/first: the issue's "creates
// spread over tenants no slower at 100k than at 1k"), then
// resolveSupportRequest-duplicate: the provider resolving those creates as duplicates,
// each refunding its incident (R16, R25).
//
// At each size it also reports the process's RSS and data files, its idle CPU with 100
// live subscriptions, and starts the built server on the grown database (first start,
// restart, restart after a SIGKILL under load: starts) and reports the time to its first
// answer.
func BenchmarkGrowth(b *testing.B) {
	ctx := context.Background()
	ntenants := 2000
	if n, err := strconv.Atoi(os.Getenv("PSAPI_GROWTH_TENANTS")); err == nil && n > 0 {
		ntenants = n
	}
	sizes := growthSizes()
	lay := layOut(b, ntenants, sizes)
	var cmds atomic.Int64
	timer := newStoreTimer()
	mon := timer.monitor()
	started := mon.Started
	mon.Started = func(c context.Context, e *event.CommandStartedEvent) { cmds.Add(1); started(c, e) }
	t := newTenants(b, ntenants, mon)
	// The server's creates under load (the start after a SIGKILL) go to growing tenants
	// only: the fixed and reserved tenants' own data must not change.
	starts := newStarts(b, t.st, t.fixture, t.admins[:lay.growing], t.plans[:lay.growing], t.now)
	for b.Loop() {
		growth(b, ctx, t, lay, sizes, &cmds, starts)
	}
}

// layout is how BenchmarkGrowth divides its tenants: growing tenants [0, growing) take
// the creates that grow the store; reserved[k] are the tenants whose creates are measured
// at the k-th size; the last fixedTenants are the fixed ones.
type layout struct {
	growing  int
	reserved [][]int
	fixed    int // the first fixed tenant
}

// reservedPerSize is how many fresh tenants the creates of one size are measured on: the
// first call of createSupportRequest at one client (createCalls1) each on a tenant of its
// own, on an empty plan.
const reservedPerSize = createCalls1

// The calls of the create measurement, in this order, on each size's reserved tenants:
// at one client, at 20 clients, and the spread rate at 16 clients; then the same
// requests of the first two resolved as duplicates (refunded) at 1 and 20 clients.
const (
	createCalls1      = 60
	createCalls20     = 200
	createSpreadCalls = 400
	spreadClients     = 16
)

func layOut(b *testing.B, ntenants int, sizes []int) layout {
	rest := ntenants - fixedTenants
	// At most a third of the tenants that are not fixed are reserved, so that the growing
	// ones hold the largest size; fewer tenants than 60 a size take more calls each.
	per := min(reservedPerSize, rest/(3*len(sizes)))
	require.Positive(b, per, "too few tenants (PSAPI_GROWTH_TENANTS) for %d sizes", len(sizes))
	lay := layout{fixed: rest, growing: rest - per*len(sizes)}
	for k := range sizes {
		set := make([]int, per)
		for j := range set {
			set[j] = lay.growing + k*per + j
		}
		lay.reserved = append(lay.reserved, set)
	}
	// Every third create of the growing tenants is refunded, the creates going round
	// them: a count that is a multiple of 3 would refund the same tenants every time and
	// fill the others' plans (one tenant is then left out).
	if lay.growing%3 == 0 {
		lay.growing--
	}
	// A growing tenant's plan of 50 holds up to 75 requests when a third are refunded; 70
	// leaves room for the uneven rounds and the server's creates under load.
	need := slices.Max(sizes) - fixedTenants*fixedRequests
	require.LessOrEqual(b, need, 70*lay.growing, "%d growing tenants cannot hold %d requests (PSAPI_GROWTH_TENANTS)", lay.growing, slices.Max(sizes))
	return lay
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

// growthProvider is the support provider that records resolutions (R25); a partner
// cannot refund its own request.
var growthProvider = domain.Account{ID: "provider:growth", Kind: domain.KindSupportProvider}

func growth(b *testing.B, ctx context.Context, t tenants, lay layout, sizes []int, cmds *atomic.Int64, starts *starts) {
	st, svc, accts, plans := t.st, t.svc, t.accts, t.plans
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

	var stored atomic.Int64  // the requests this benchmark created
	var created atomic.Int64 // the creates that grow the store
	var mu sync.Mutex
	var open []string // open requests of growing tenants, for the provider to resolve
	newRequest := func(i int, key string) (domain.SupportRequest, error) {
		stored.Add(1)
		return svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: key, PlanID: plans[i],
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "growth"})
	}
	grow := func(i int) error {
		k := created.Add(1)
		r, err := newRequest(i, fmt.Sprintf("growth-%09d", k))
		if err != nil {
			return err
		}
		// One in three refunded, by a count coprime with the growing tenants the creates
		// go round (layOut), so that every plan gets refunds.
		if k%3 == 0 {
			_, err = svc.ResolveRequest(ctx, growthProvider, r.ID, domain.CloseDuplicate) // refunded (R16, R25)
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
		_, err := svc.ResolveRequest(ctx, growthProvider, id, domain.CloseResolved)
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
		{"resolveSupportRequest", closeOne, false},
	}
	// The fixed tenants get their requests now and none later: their pages are full and
	// their data the same at every size, so their figures show what other tenants' data
	// costs them.
	fillFixedTenants(b, ctx, svc, accts[lay.fixed:], plans[lay.fixed:])
	stored.Add(fixedTenants * fixedRequests)
	fixed := func(j int) int { return lay.fixed + j%fixedTenants }
	m := &growthFigures{b: b, cmds: cmds, first: map[string]float64{}}
	for k, size := range sizes {
		start := time.Now()
		before := created.Load()
		// The store holds size requests when the size's measurements start (the fixed
		// tenants' and the earlier sizes' reserved tenants' count in it).
		if n := size - int(stored.Load()); n > 0 {
			parallel(b, spreadClients, n, func(j int) error { return grow(int(before+int64(j)) % lay.growing) })
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
					if clients == 1 {
						// Untimed, as below: the fixed tenants in the cache.
						parallel(b, 1, fixedTenants, func(j int) error { return op.do(fixed(j)) })
					}
					c0 := cmds.Load()
					lat := timed(b, clients, n, fixed, op.do)
					if clients == 1 {
						m.commands(op.name+"@fixed", size, cmds.Load()-c0, n)
					}
					m.latency(op.name+"@fixed", size, clients, lat)
				}
				pick := func(j int) int { return (j*7919 + 13) % lay.growing }
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
					m.commands(op.name, size, cmds.Load()-c0, n)
				}
				m.latency(op.name, size, clients, lat)
			}
		}
		measureCreates(b, ctx, svc, accts, lay.reserved[k], size, m, newRequest)
	}
	b.ReportMetric(0, "ns/op")
}

// measureCreates measures, at one size, creates and their refunds on that size's reserved
// tenants (set), which got no request before: the same calls in the same order at every
// size, so that each plan is in the same state at the same call and only other tenants'
// data differs. Each tenant's plan stays under half used (at most 23 of 50 with 29 tenants
// or more), where a claim is one blind slot insert (ClaimIncident).
func measureCreates(b *testing.B, ctx context.Context, svc *service.Service, accts []domain.Account, set []int, size int, m *growthFigures,
	newRequest func(i int, key string) (domain.SupportRequest, error)) {
	tenant := func(j int) int { return set[j%len(set)] }
	// Each tenant's account, memberships and tenant in the cache (30 s), as the reads'
	// untimed calls do: the first create of a tenant then costs what the others do.
	parallel(b, 1, len(set), func(j int) error {
		_, err := svc.SupportPlans(ctx, accts[tenant(j)], "microsoft-365", "", domain.PortalMicrosoft365)
		return err
	})
	creates := func(phase string, clients, n int) ([]string, []float64) {
		ids := make([]string, n)
		lat := timed(b, clients, n, func(j int) int { return j }, func(j int) error {
			r, err := newRequest(tenant(j), fmt.Sprintf("reserved-%d-%s-%d", size, phase, j))
			ids[j] = r.ID
			return err
		})
		return ids, lat
	}
	c0 := m.cmds.Load()
	ids1, lat := creates("c1", 1, createCalls1)
	m.commands("createSupportRequest", size, m.cmds.Load()-c0, createCalls1)
	m.latency("createSupportRequest", size, 1, lat)
	ids20, lat := creates("c20", 20, createCalls20)
	m.latency("createSupportRequest", size, 20, lat)

	start := time.Now()
	creates("spread", spreadClients, createSpreadCalls)
	rate := float64(createSpreadCalls) / time.Since(start).Seconds()
	b.ReportMetric(rate, fmt.Sprintf("creates/s:spread:%d", size))
	m.ratio("creates/s:spread", size, rate)

	// The provider finds them duplicates: each resolution refunds the incident (R16, R25).
	refund := func(ids []string, clients int) []float64 {
		return timed(b, clients, len(ids), func(j int) int { return j }, func(j int) error {
			_, err := svc.ResolveRequest(ctx, growthProvider, ids[j], domain.CloseDuplicate)
			return err
		})
	}
	const op = "resolveSupportRequest-duplicate"
	c0 = m.cmds.Load()
	lat = refund(ids1, 1)
	m.commands(op, size, m.cmds.Load()-c0, len(ids1))
	m.latency(op, size, 1, lat)
	m.latency(op, size, 20, refund(ids20, 20))
}

// growthFigures reports BenchmarkGrowth's figures, and each one's ratio to its value at
// the first size (first, by unit without the size).
type growthFigures struct {
	b     *testing.B
	cmds  *atomic.Int64
	first map[string]float64
}

// ratio reports v over the first size's v of the same key, as ratio-<key>:<size>/first,
// from the second size on.
func (m *growthFigures) ratio(key string, size int, v float64) {
	if first, ok := m.first[key]; ok {
		if first > 0 {
			m.b.ReportMetric(v/first, fmt.Sprintf("ratio-%s:%d/first", key, size))
		}
		return
	}
	m.first[key] = v
}

// commands reports the store commands of n calls of an operation at one client, per call.
func (m *growthFigures) commands(op string, size int, cmds int64, n int) {
	v := float64(cmds) / float64(n)
	m.b.ReportMetric(v, fmt.Sprintf("cmds:%s:%d", op, size))
	m.ratio("cmds:"+op, size, v)
}

// latency reports an operation's p50 and p99 at a size and, from the second size on, its
// p50 over the first size's.
func (m *growthFigures) latency(op string, size, clients int, lat []float64) {
	q50, q99 := lat[len(lat)/2], lat[len(lat)*99/100]
	m.b.ReportMetric(q50, fmt.Sprintf("ms-p50:%s:%d:c%d", op, size, clients))
	m.b.ReportMetric(q99, fmt.Sprintf("ms-p99:%s:%d:c%d", op, size, clients))
	key := fmt.Sprintf("%s:c%d", op, clients)
	if first, ok := m.first["p50:"+key]; ok {
		if first > 0 {
			m.b.ReportMetric(q50/first, fmt.Sprintf("ratio-p50:%s:%d/first", key, size))
		}
		return
	}
	m.first["p50:"+key] = q50
}

// fixedTenants is how many of BenchmarkGrowth's tenants hold fixedRequests requests each
// from the start and get no more.
const (
	fixedTenants  = 21
	fixedRequests = 30
)

// fillFixedTenants gives each of the fixed tenants fixedRequests requests, one in three
// resolved as a duplicate and refunded (R16, R25), so that a page of 20 requests or
// ledger entries is full and the tenant's plan has claims and refunds.
func fillFixedTenants(b *testing.B, ctx context.Context, svc *service.Service, accts []domain.Account, plans []string) {
	parallel(b, 4, len(accts)*fixedRequests, func(j int) error {
		i, k := j%len(accts), j/len(accts)
		r, err := svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("fixed-%d-%d", i, k), PlanID: plans[i],
			ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "fixed"})
		if err != nil || k%3 != 0 {
			return err
		}
		_, err = svc.ResolveRequest(ctx, growthProvider, r.ID, domain.CloseDuplicate)
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
