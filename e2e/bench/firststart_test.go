package bench_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"regexp"
	"strconv"
	"strings"
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
// the two took, from the server's log (s-fixture:first, s-grants:first), and the CPU time
// the server process and the store (the shared test store, in this process) used until
// the first answer (s-server-cpu:first, s-store-cpu:first): on a shared machine they
// compare two versions better than the time does. Without the
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
		store := selfCPU()
		srv, took := s.start(b)
		b.StopTimer()
		b.ReportMetric((selfCPU() - store).Seconds(), "s-store-cpu:first")
		if cpu, ok := processCPU(srv.cmd.Process.Pid); ok {
			b.ReportMetric(cpu.Seconds(), "s-server-cpu:first")
		}
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

// selfCPU is the CPU time this process has used so far (user and system).
func selfCPU() time.Duration {
	var ru syscall.Rusage
	_ = syscall.Getrusage(syscall.RUSAGE_SELF, &ru)
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// processCPU is the CPU time a process has used so far (user and system), from
// /proc/<pid>/stat on Linux: the server's share of a first start, the store's being
// this process's.
func processCPU(pid int) (time.Duration, bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, false
	}
	f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:])) // after the command's name
	if len(f) < 13 {
		return 0, false
	}
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		return 0, false
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond, true // clock ticks of 1/100 s
}
