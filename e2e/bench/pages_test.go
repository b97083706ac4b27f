package bench_test

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
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

// BenchmarkPagesByTenantSize times the first page (20) of supportRequests and
// incidentLedger, and supportPlans, on tenants holding 1, 20 and 200 requests
// (PSAPI_PAGES_SIZES, comma separated; four in five of them refunded, so the ledger holds
// a consumption and most a refund for each), through the service as the server wires it
// (the cache in front of the store, no HTTP), with the process's CPU time and the store
// commands per call. A page holds at most 20 rows, so its cost must not grow past 20
// (issue 13). PSAPI_PAGES_DETAIL=1 adds each command's time and count per call and
// supportPlans with a cold cache; PSAPI_PAGES_CPUPROFILE and PSAPI_PAGES_MEMPROFILE
// (directories) profile each case.
func BenchmarkPagesByTenantSize(b *testing.B) {
	ctx := context.Background()
	sizes := []int{1, 20, 200}
	if s := os.Getenv("PSAPI_PAGES_SIZES"); s != "" {
		sizes = nil
		for _, f := range strings.Split(s, ",") {
			n, err := strconv.Atoi(strings.TrimSpace(f))
			require.NoError(b, err)
			sizes = append(sizes, n)
		}
	}
	detail := os.Getenv("PSAPI_PAGES_DETAIL") != ""
	var cmds atomic.Int64
	timer := newStoreTimer()
	mon := timer.monitor()
	started := mon.Started
	mon.Started = func(c context.Context, e *event.CommandStartedEvent) { cmds.Add(1); started(c, e) }
	st, err := mongodb.Open(ctx, testenv.StoreURI(b), testenv.NewDatabaseName(), mongodb.Options{Monitor: mon, MaxPoolSize: 8})
	require.NoError(b, err)
	b.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	f, admins, plans := testenv.ManyTenants(len(sizes))
	_, err = seed.Load(ctx, st, f, config.DevIssuer)
	require.NoError(b, err)
	clockStart := time.Now()
	now := func() time.Time { return testenv.DemoNow.Add(time.Since(clockStart)) }
	svc := service.New(cache.New(st, 30*time.Second, 0), service.Options{Now: now})
	provider := domain.Account{ID: "provider:pages", Kind: domain.KindSupportProvider}
	accts := make([]domain.Account, len(sizes))
	for i, n := range sizes {
		accts[i], err = st.Account(ctx, domain.AccountID(config.DevIssuer, admins[i]))
		require.NoError(b, err)
		_, err = svc.Activate(ctx, accts[i], plans[i])
		require.NoError(b, err)
		for k := range n {
			r, err := svc.CreateRequest(ctx, accts[i], domain.CreateRequestInput{IdempotencyKey: fmt.Sprintf("pages-%d-%06d", i, k), PlanID: plans[i],
				ProductID: "microsoft-365", Portal: domain.PortalMicrosoft365, Type: domain.RequestTechnical, Title: "pages"})
			require.NoError(b, err)
			if k%5 != 0 {
				_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseDuplicate)
				require.NoError(b, err)
			}
		}
	}
	tenant := func(i int) string {
		return plans[i][:len("bench0000")]
	}
	ops := []struct {
		name string
		do   func(i int) error
	}{
		{"supportRequests", func(i int) error {
			p, err := svc.Requests(ctx, accts[i], domain.PortalServicesHub, 20, nil)
			if err == nil && len(p.Requests) != min(sizes[i], 20) {
				err = fmt.Errorf("%d requests on the page, want %d", len(p.Requests), min(sizes[i], 20))
			}
			return err
		}},
		{"incidentLedger", func(i int) error { _, err := svc.Ledger(ctx, accts[i], tenant(i), 20, 0); return err }},
		{"supportPlansCold", func(i int) error {
			cold := service.New(cache.New(st, 30*time.Second, 0), service.Options{Now: now})
			_, err := cold.SupportPlans(ctx, accts[i], "azure", "", domain.PortalAzure)
			return err
		}},
		{"supportPlans", func(i int) error {
			_, err := svc.SupportPlans(ctx, accts[i], "azure", "", domain.PortalAzure)
			return err
		}},
	}
	for _, op := range ops {
		if op.name == "supportPlansCold" && !detail {
			continue
		}
		for i, n := range sizes {
			b.Run(fmt.Sprintf("%s/requests=%d", op.name, n), func(b *testing.B) {
				b.ReportAllocs()
				c0, k := cmds.Load(), 0
				timer.mu.Lock()
				clear(timer.total)
				clear(timer.count)
				timer.mu.Unlock()
				timer.on.Store(true)
				cpu0 := cpuTime()
				if dir := os.Getenv("PSAPI_PAGES_CPUPROFILE"); dir != "" {
					f, err := os.Create(filepath.Join(dir, fmt.Sprintf("%s-%d.prof", op.name, n)))
					require.NoError(b, err)
					require.NoError(b, pprof.StartCPUProfile(f))
					defer func() { pprof.StopCPUProfile(); _ = f.Close() }()
				}
				memDir := os.Getenv("PSAPI_PAGES_MEMPROFILE")
				writeAllocs := func(suffix string) {
					f, err := os.Create(filepath.Join(memDir, fmt.Sprintf("%s-%d-%s.prof", op.name, n, suffix)))
					require.NoError(b, err)
					require.NoError(b, pprof.Lookup("allocs").WriteTo(f, 0))
					require.NoError(b, f.Close())
				}
				if memDir != "" {
					runtime.GC()
					writeAllocs("before")
				}
				for b.Loop() {
					if err := op.do(i); err != nil {
						b.Fatal(err)
					}
					k++
				}
				timer.on.Store(false)
				if memDir != "" {
					runtime.GC()
					writeAllocs("after")
				}
				b.ReportMetric(float64(cpuTime()-cpu0)/float64(time.Millisecond)/float64(k), "cpu-ms/op")
				b.ReportMetric(float64(cmds.Load()-c0)/float64(k), "cmds/op")
				for _, name := range slices.Sorted(maps.Keys(timer.total)) {
					if !detail {
						break
					}
					b.ReportMetric(float64(timer.total[name])/float64(time.Millisecond)/float64(k), "ms/op:"+name)
					b.ReportMetric(float64(timer.count[name])/float64(k), "n/op:"+name)
				}
			})
		}
	}
}

// cpuTime is the CPU time (user and system) this process has used: the service, the
// driver and the embedded store, which runs in the benchmark's process.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
