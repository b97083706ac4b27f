package bench_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
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
