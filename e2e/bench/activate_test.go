package bench_test

import (
	"context"
	"maps"
	"os"
	"runtime/pprof"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/cache"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// BenchmarkActivate is BenchmarkGrowth's activation on its own (issue 13: activation ≥
// 200 tenants/s), for working on it without building the growth sizes: a fresh database
// with PSAPI_ACTIVATE_TENANTS tenants (say 400; each one SPD year and one admin, as
// testenv.ManyTenants and seed.Load build them), a service wired as the server wires it
// (the cache in front of the store), and each tenant's cloud plan activated through
// Service.Activate, 4 at a time, as growth does. It reports tenants/s:activate, the store
// commands per activation (cmds/activation), the CPU time of the process per activation
// (ms-cpu/activation: the service and the embedded store run in it; a figure less
// sensitive than the rate to what else the machine runs) and, by command and collection, the commands
// per activation and the milliseconds from sending them to their answers
// (cmds/activation:<command>:<collection>, ms/activation:<command>:<collection>; the
// latter add up to more than the wall time, as 4 activations wait at once). With
// PSAPI_ACTIVATE_CPUPROFILE=<file> it writes a CPU profile of the activations (not the
// setup). Without PSAPI_ACTIVATE_TENANTS it does nothing: `make bench` measures the same
// activations in BenchmarkGrowth.
func BenchmarkActivate(b *testing.B) {
	ctx := context.Background()
	ntenants, err := strconv.Atoi(os.Getenv("PSAPI_ACTIVATE_TENANTS"))
	if err != nil || ntenants <= 0 {
		b.Skip("PSAPI_ACTIVATE_TENANTS is not set: BenchmarkGrowth measures activation")
	}
	timer := newStoreTimer()
	mon := timer.monitor()
	f, admins, plans := testenv.ManyTenants(ntenants)
	var activations int
	var wall, cpu time.Duration
	for b.Loop() {
		b.StopTimer()
		st, err := mongodb.Open(ctx, testenv.StoreURI(b), testenv.NewDatabaseName(), mongodb.Options{Monitor: mon, MaxPoolSize: 8})
		require.NoError(b, err)
		_, err = seed.Load(ctx, st, f, config.DevIssuer)
		require.NoError(b, err)
		accts := make([]domain.Account, ntenants)
		for i := range ntenants {
			accts[i], err = st.Account(ctx, domain.AccountID(config.DevIssuer, admins[i]))
			require.NoError(b, err)
		}
		clockStart := time.Now()
		now := func() time.Time { return testenv.DemoNow.Add(time.Since(clockStart)) }
		svc := service.New(cache.New(st, 30*time.Second, 0), service.Options{Now: now})
		var stopProfile func()
		if path := os.Getenv("PSAPI_ACTIVATE_CPUPROFILE"); path != "" && activations == 0 {
			f, err := os.Create(path)
			require.NoError(b, err)
			require.NoError(b, pprof.StartCPUProfile(f))
			stopProfile = func() { pprof.StopCPUProfile(); _ = f.Close() }
		}
		timer.on.Store(true)
		b.StartTimer()
		start, cpu0 := time.Now(), selfCPU()
		parallel(b, 4, ntenants, func(i int) error {
			_, err := svc.Activate(ctx, accts[i], plans[i])
			return err
		})
		wall += time.Since(start)
		cpu += selfCPU() - cpu0
		b.StopTimer()
		timer.on.Store(false)
		if stopProfile != nil {
			stopProfile()
		}
		activations += ntenants
		// Every activation made its contract and its ledger event (R4, R15).
		for _, i := range []int{0, ntenants - 1} {
			c, err := st.Contract(ctx, plans[i])
			require.NoError(b, err)
			require.NotEmpty(b, c.AccessID)
			evs, err := st.Events(ctx, c.TenantID, 0, 0, 10, true)
			require.NoError(b, err)
			require.True(b, slices.ContainsFunc(evs, func(e domain.Event) bool { return e.ID == "activate/"+plans[i] }), "the activation's ledger event")
		}
		_ = st.Database().Drop(ctx)
		_ = st.Close(ctx)
		b.StartTimer()
	}
	b.ReportMetric(float64(activations)/wall.Seconds(), "tenants/s:activate")
	b.ReportMetric(float64(cpu)/float64(time.Millisecond)/float64(activations), "ms-cpu/activation")
	total := 0
	for _, k := range slices.Sorted(maps.Keys(timer.count)) {
		total += timer.count[k]
		b.ReportMetric(float64(timer.count[k])/float64(activations), "cmds/activation:"+k)
		b.ReportMetric(float64(timer.total[k])/float64(time.Millisecond)/float64(activations), "ms/activation:"+k)
	}
	b.ReportMetric(float64(total)/float64(activations), "cmds/activation")
	b.ReportMetric(0, "ns/op")
}
