package bench_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
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
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// storeTimer adds up, per command and collection, the time from sending each store
// command to its answer (under concurrency this includes waiting behind other commands).
type storeTimer struct {
	on    atomic.Bool
	mu    sync.Mutex
	sent  map[int64]time.Time
	name  map[int64]string
	total map[string]time.Duration
	count map[string]int
}

func newStoreTimer() *storeTimer {
	return &storeTimer{sent: map[int64]time.Time{}, name: map[int64]string{}, total: map[string]time.Duration{}, count: map[string]int{}}
}

func (st *storeTimer) monitor() *event.CommandMonitor {
	done := func(id int64) {
		st.mu.Lock()
		defer st.mu.Unlock()
		if st.on.Load() {
			st.total[st.name[id]] += time.Since(st.sent[id])
			st.count[st.name[id]]++
		}
		delete(st.sent, id)
		delete(st.name, id)
	}
	return &event.CommandMonitor{
		Started: func(_ context.Context, e *event.CommandStartedEvent) {
			col, _ := e.Command.Lookup(e.CommandName).StringValueOK()
			st.mu.Lock()
			st.sent[e.RequestID], st.name[e.RequestID] = time.Now(), e.CommandName+":"+col
			st.mu.Unlock()
		},
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) { done(e.RequestID) },
		Failed:    func(_ context.Context, e *event.CommandFailedEvent) { done(e.RequestID) },
	}
}

// BenchmarkCreatesStoreTime shows where the time of a create goes on the embedded store,
// for the creates/s target: 1,000 tenants, each with one activated plan of 50 incidents
// and one admin, as in BenchmarkCreatesAcross1000Plans, and 50 concurrent goroutines
// calling Service.CreateRequest (no HTTP, no GraphQL) 1,000 times, each plan once, on a
// fresh service (cold caches, as for the first request of each tenant after a start).
// It reports creates/s and, per store command and collection, the milliseconds per
// create from sending the command to its answer (units ms/create:<command>:<collection>;
// they add up to more than the wall time, as 50 creates wait at once). Commands that
// scan whole collections on FerretDB (queries other than one _id) stand out. With
// PSAPI_CREATES_CPUPROFILE=<file> it writes a CPU profile of the creates (not the setup).
func BenchmarkCreatesStoreTime(b *testing.B) {
	ctx := context.Background()
	timer := newStoreTimer()
	database := testenv.NewDatabaseName()
	st, err := mongodb.Open(ctx, testenv.StoreURI(b), database, mongodb.Options{Monitor: timer.monitor()})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	const n = 1000
	f, admins, plans := testenv.ManyTenants(n)
	_, err = seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(b, err)
	now := func() time.Time { return testenv.DemoNow }
	svc := service.New(st, service.Options{Now: now})
	accts := make([]domain.Account, n)
	for i := range n {
		accts[i], err = st.Account(ctx, domain.AccountID(config.DevIssuer, admins[i]))
		require.NoError(b, err)
		_, err = svc.Activate(ctx, accts[i], plans[i])
		require.NoError(b, err)
	}
	var k atomic.Int64
	var creates int
	var wall time.Duration
	timer.on.Store(true)
	if path := os.Getenv("PSAPI_CREATES_CPUPROFILE"); path != "" {
		// A CPU profile of the creates alone: -cpuprofile would be mostly the setup.
		f, err := os.Create(path)
		require.NoError(b, err)
		require.NoError(b, pprof.StartCPUProfile(f))
		defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
	}
	for b.Loop() {
		// As the server wires it (internal/app), on a fresh service: caches start cold.
		svc := service.New(cache.New(st, 30*time.Second, 30*time.Second), service.Options{Now: now})
		start := time.Now()
		var wg sync.WaitGroup
		for range 50 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for range n / 50 {
					i := int(k.Add(1))
					_, err := svc.CreateRequest(ctx, accts[i%n], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("store-time-%08d", i), PlanID: plans[i%n],
						ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "throughput"})
					if err != nil {
						b.Error(err)
						return
					}
				}
			}()
		}
		wg.Wait()
		wall += time.Since(start)
		creates += n
	}
	timer.on.Store(false)
	b.ReportMetric(float64(creates)/wall.Seconds(), "creates/s")
	for _, k := range slices.Sorted(maps.Keys(timer.total)) {
		b.ReportMetric(float64(timer.total[k])/float64(time.Millisecond)/float64(creates), "ms/create:"+k)
	}
	b.ReportMetric(0, "ns/op")
}

// BenchmarkCreateCommands counts the store commands of one create, by command and
// collection, as the store grows (issue 13's "commands per operation constant across
// sizes", for createSupportRequest): PSAPI_CREATE_TENANTS tenants (default 50), each
// with one admin and one activated plan of 50 incidents, built as BenchmarkGrowth builds
// them (the service over the cache, no HTTP), the store grown with creates spread over
// the tenants by 16 workers (one in three resolved as a duplicate, so refunds free slots
// and the plans fill as in the growth benchmark) to each size of PSAPI_CREATE_SIZES
// (default 250,2500: 5 and 50 requests a tenant, as BenchmarkGrowth's 2,000 tenants hold
// at 10,000 and 100,000, its plans then two thirds used). At each size it reports
// creates/s while growing (creates/s:to-<size>) and, for 60 creates at one client on
// tenants picked as the growth benchmark picks them (no resolution), the commands per
// create in all
// (cmds:create:<size>) and by command and collection (cmds:<size>:<command>:<collection>),
// with the wall time (ms/create:c1:<size>). The CPU the process used per create, in both
// phases (cpu-ms/create:...), counts the embedded store too, which runs in the process:
// on a shared machine it moves far less with the load than the wall time does.
func BenchmarkCreateCommands(b *testing.B) {
	ctx := context.Background()
	ntenants := 50
	if n, err := strconv.Atoi(os.Getenv("PSAPI_CREATE_TENANTS")); err == nil && n > 0 {
		ntenants = n
	}
	sizes := []int{250, 2500}
	if s := os.Getenv("PSAPI_CREATE_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			if n, err := strconv.Atoi(strings.TrimSpace(f)); err == nil && n > 0 {
				sizes = append(sizes, n)
			}
		}
	}
	timer := newStoreTimer()
	t := newTenants(b, ntenants, timer.monitor())
	svc, accts, plans := t.svc, t.accts, t.plans
	for b.Loop() {
		parallel(b, 4, ntenants, func(i int) error {
			_, err := svc.Activate(ctx, accts[i], plans[i])
			return err
		})
		provider := domain.Account{ID: "provider:creates", Kind: domain.KindSupportProvider}
		var created atomic.Int64
		create := func(i int, resolve bool) error {
			k := created.Add(1)
			r, err := svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("cmds-%09d", k), PlanID: plans[i],
				ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "commands"})
			if err != nil || !resolve || k%3 != 0 {
				return err
			}
			_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
			return err
		}
		for _, size := range sizes {
			start, cpu, before := time.Now(), selfCPU(), created.Load()
			if n := size - int(before); n > 0 {
				parallel(b, 16, n, func(j int) error { return create(int(before+int64(j))%ntenants, true) })
			}
			b.ReportMetric(float64(created.Load()-before)/time.Since(start).Seconds(), fmt.Sprintf("creates/s:to-%d", size))
			b.ReportMetric(float64(selfCPU()-cpu)/float64(time.Millisecond)/float64(created.Load()-before), fmt.Sprintf("cpu-ms/create:to-%d", size))
			timer.mu.Lock()
			clear(timer.count)
			clear(timer.total)
			timer.mu.Unlock()
			const n = 60
			timer.on.Store(true)
			start, cpu = time.Now(), selfCPU()
			parallel(b, 1, n, func(j int) error { return create((j*7919+13)%ntenants, false) })
			b.ReportMetric(float64(time.Since(start))/float64(time.Millisecond)/n, fmt.Sprintf("ms/create:c1:%d", size))
			b.ReportMetric(float64(selfCPU()-cpu)/float64(time.Millisecond)/n, fmt.Sprintf("cpu-ms/create:c1:%d", size))
			timer.on.Store(false)
			timer.mu.Lock()
			all := 0
			for _, k := range slices.Sorted(maps.Keys(timer.count)) {
				all += timer.count[k]
				b.ReportMetric(float64(timer.count[k])/n, fmt.Sprintf("cmds:%d:%s", size, k))
			}
			timer.mu.Unlock()
			b.ReportMetric(float64(all)/n, fmt.Sprintf("cmds:create:%d", size))
		}
	}
	b.ReportMetric(0, "ns/op")
}
