package bench_test

import (
	"context"
	"os"
	"regexp"
	"strconv"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/testenv"
)

// BenchmarkFirstStart is BenchmarkGrowth's first start on its own (issue 13: start to
// first answer), for working on it without building the growth sizes: the built server
// started on an empty database with a fixture of PSAPI_FIRST_START_TENANTS tenants (say
// 2000), timed from the process's start to its first answer, which comes after the
// fixture is loaded and its grants are in the ledger. It also reports how long each of
// the two took, from the server's log (s-fixture:first, s-grants:first). Without the
// variable it does nothing: `make bench` measures the same start in BenchmarkGrowth.
func BenchmarkFirstStart(b *testing.B) {
	ctx := context.Background()
	ntenants, err := strconv.Atoi(os.Getenv("PSAPI_FIRST_START_TENANTS"))
	if err != nil || ntenants <= 0 {
		b.Skip("PSAPI_FIRST_START_TENANTS is not set: BenchmarkGrowth measures the first start")
	}
	f, admins, plans := testenv.ManyTenants(ntenants)
	for b.Loop() {
		b.StopTimer()
		st, err := mongodb.Open(ctx, testenv.StoreURI(b), testenv.NewDatabaseName(), mongodb.Options{})
		require.NoError(b, err)
		growthDatabase = st.Database().Name()
		s := newStarts(b, st, f, admins, plans, func() time.Time { return testenv.DemoNow })
		b.StartTimer()
		srv, took := s.start(b)
		b.StopTimer()
		b.ReportMetric(took.Seconds(), "s-first-answer:first")
		for _, m := range []struct {
			re   *regexp.Regexp
			unit string
		}{{fixtureTookRE, "s-fixture:first"}, {grantsTookRE, "s-grants:first"}} {
			if v := m.re.FindStringSubmatch(srv.out.String()); v != nil {
				if d, err := time.ParseDuration(v[1]); err == nil {
					b.ReportMetric(d.Seconds(), m.unit)
				}
			}
		}
		srv.stop(b, syscall.SIGTERM)
		_ = st.Database().Drop(ctx)
		_ = st.Close(ctx)
		b.StartTimer()
	}
}

var (
	fixtureTookRE = regexp.MustCompile(`msg="fixture loaded".* took=(\S+)`)
	grantsTookRE  = regexp.MustCompile(`msg="grants recorded".* took=(\S+)`)
)
