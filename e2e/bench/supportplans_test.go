package bench_test

import (
	"fmt"
	"net/http"
	"os"
	"runtime"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/e2e/bench/benchenv"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
	"github.com/partnersupport/api/internal/testenv/storeproxy"
)

func TestMain(m *testing.M) { os.Exit(testenv.MainInProcess(m)) }

// system is one way of answering supportPlans.
type system struct {
	name string
	req  *benchenv.Request
}

func systems(e *benchenv.Env) []system {
	tok := e.Token(benchenv.Lee)
	return []system{{"graphql", e.GraphQL(tok, benchenv.Azure)}, {"baseline", e.Baseline(tok, benchenv.Azure)}}
}

// BenchmarkSupportPlansHTTP measures supportPlans latency and throughput over HTTP, the
// real GraphQL handler against the hand-written baseline, alternating in one run on one
// server, one store and one service. The question is lee@contoso.com's for azure in the
// AZURE portal: three linked plans plus Contoso's CSP plan (two available, two not). Each
// b.Loop iteration is one round: a GraphQL phase and a baseline phase, the order swapped
// every round (A B, B A, …); in a phase, `clients` concurrent keep-alive clients send
// requests back to back for 250 ms (the requests in flight then complete and count).
// Latency is each request's client-side round trip, p50 and p99 over every phase of the
// run; throughput is a system's requests over the wall time of its phases. The ratios are
// GraphQL over baseline from the same run (p50-ratio above 1: GraphQL slower;
// req/s-ratio below 1: GraphQL serves fewer). Client, server and the embedded store share
// the process and its CPUs.
func BenchmarkSupportPlansHTTP(b *testing.B) {
	e := benchenv.New(b)
	sys := systems(e)
	for _, clients := range []int{1, 50} {
		b.Run(fmt.Sprintf("clients=%d", clients), func(b *testing.B) {
			c := benchenv.Client(clients)
			stats := make([]phaseStats, len(sys))
			for i := range sys { // warm up: connections, caches, the query cache
				_, err := runPhase(c, clients, phaseLength, sys[i].req)
				require.NoError(b, err)
			}
			round := 0
			for b.Loop() {
				for k := range sys {
					i := k
					if round%2 == 1 {
						i = len(sys) - 1 - k
					}
					p, err := runPhase(c, clients, phaseLength, sys[i].req)
					require.NoError(b, err)
					stats[i].add(p)
				}
				round++
			}
			g, base := &stats[0], &stats[1]
			for i, s := range sys {
				st := &stats[i]
				b.ReportMetric(st.percentile(50), s.name+"-p50-ms")
				b.ReportMetric(st.percentile(99), s.name+"-p99-ms")
				b.ReportMetric(st.throughput(), s.name+"-req/s")
			}
			b.ReportMetric(g.percentile(50)/base.percentile(50), "p50-ratio")
			b.ReportMetric(g.percentile(99)/base.percentile(99), "p99-ratio")
			b.ReportMetric(g.throughput()/base.throughput(), "req/s-ratio")
			b.ReportMetric(float64(len(g.lat)), "requests-each")
			b.ReportMetric(0, "ns/op") // an iteration is a round of both systems: not a figure
		})
	}
}

// phase is one system's share of a round.
type phase struct {
	lat  []time.Duration
	wall time.Duration
}

// phaseLength is how long one system has the server to itself in a round: short, so that
// many rounds alternate within a run and a burst of other work on the machine lands on
// both systems alike.
const phaseLength = 250 * time.Millisecond

// runPhase has `clients` goroutines send requests back to back, all starting together,
// each until d has passed since the start (a request in flight then completes and counts).
// It returns every request's latency and the wall time until the last one completed.
func runPhase(c *http.Client, clients int, d time.Duration, r *benchenv.Request) (phase, error) {
	lat := make([][]time.Duration, clients)
	errs := make([]error, clients)
	var ready, done sync.WaitGroup
	start := make(chan struct{})
	var deadline time.Time
	for k := range clients {
		ready.Add(1)
		done.Add(1)
		go func() {
			defer done.Done()
			own := make([]time.Duration, 0, 256)
			ready.Done()
			<-start
			for time.Now().Before(deadline) {
				took, err := r.Check(c)
				if err != nil {
					errs[k] = err
					return
				}
				own = append(own, took)
			}
			lat[k] = own
		}()
	}
	ready.Wait()
	t0 := time.Now()
	deadline = t0.Add(d)
	close(start)
	done.Wait()
	p := phase{wall: time.Since(t0)}
	for k := range clients {
		if errs[k] != nil {
			return p, errs[k]
		}
		p.lat = append(p.lat, lat[k]...)
	}
	return p, nil
}

type phaseStats struct {
	lat    []time.Duration
	wall   time.Duration
	sorted bool
}

func (s *phaseStats) add(p phase) {
	s.lat = append(s.lat, p.lat...)
	s.wall += p.wall
	s.sorted = false
}

// percentile is the nearest-rank percentile of the latencies, in milliseconds.
func (s *phaseStats) percentile(p float64) float64 {
	if len(s.lat) == 0 {
		return 0
	}
	if !s.sorted {
		slices.Sort(s.lat)
		s.sorted = true
	}
	i := int(p/100*float64(len(s.lat))+0.5) - 1
	i = min(max(i, 0), len(s.lat)-1)
	return float64(s.lat[i]) / float64(time.Millisecond)
}

func (s *phaseStats) throughput() float64 { return float64(len(s.lat)) / s.wall.Seconds() }

// BenchmarkSupportPlansRoundTrips counts the store commands one supportPlans request
// sends (lee@contoso.com, azure in AZURE, three linked plans), through GraphQL and through
// the baseline. b.Loop sends requests one after another; the figure is the commands sent
// during the loop over the requests sent. The total (roundtrips/op) is the application's
// own store_roundtrips_total (its mongo CommandMonitor); the breakdown by command and
// collection (units such as find:links/op) is counted by a wire-protocol proxy the
// application's store client is pointed at, and must add up to the same total. Handshakes
// and server monitoring are not commands and are not counted.
func BenchmarkSupportPlansRoundTrips(b *testing.B) {
	proxy, err := storeproxy.Start(testenv.StoreURI(b))
	if err != nil {
		b.Fatalf("cannot proxy the store: %v", err)
	}
	b.Cleanup(func() { _ = proxy.Close() })
	e := benchenv.New(b, func(c *config.Config) { c.MongoURI = proxy.URI() })
	for _, s := range systems(e) {
		b.Run(s.name, func(b *testing.B) {
			c := benchenv.Client(1)
			_, err := s.req.Check(c) // warm: the account exists, connections are open
			require.NoError(b, err)
			before, trips := proxy.Counts(), storeTrips(b, e)
			n := 0
			for b.Loop() {
				_, err := s.req.Check(c)
				require.NoError(b, err)
				n++
			}
			total := storeTrips(b, e) - trips
			delta := storeproxy.Delta(before, proxy.Counts())
			var seen int64
			for _, cmd := range storeproxy.Sorted(delta) {
				seen += delta[cmd]
				b.ReportMetric(float64(delta[cmd])/float64(n), strings.ReplaceAll(cmd.String(), " ", ":")+"/op")
			}
			if float64(seen) != total {
				b.Errorf("the proxy saw %d commands, the application's monitor %.0f: the breakdown is not the whole story", seen, total)
			}
			b.ReportMetric(total/float64(n), "roundtrips/op")
			b.ReportMetric(0, "ns/op") // sequential latency through the proxy: not a figure
		})
	}
}

// storeTrips is the application's store_roundtrips_total, all commands and outcomes.
func storeTrips(b *testing.B, e *benchenv.Env) float64 {
	b.Helper()
	mfs, err := e.App.Metrics.Registry.Gather()
	require.NoError(b, err)
	var n float64
	for _, mf := range mfs {
		if mf.GetName() == "store_roundtrips_total" {
			for _, m := range mf.GetMetric() {
				n += m.GetCounter().GetValue()
			}
		}
	}
	return n
}

// BenchmarkSupportPlansLoad is for profiling only (make bench-profile sets
// PSAPI_BENCH_PROFILE=1; otherwise it is skipped): one system alone, 50 concurrent
// keep-alive clients, each b.RunParallel iteration one supportPlans request, so that a
// CPU or allocation profile of the test binary shows where one system's time goes.
func BenchmarkSupportPlansLoad(b *testing.B) {
	if os.Getenv("PSAPI_BENCH_PROFILE") == "" {
		b.Skip("profiling only: make bench-profile")
	}
	e := benchenv.New(b)
	for _, s := range systems(e) {
		b.Run(s.name, func(b *testing.B) {
			const clients = 50
			c := benchenv.Client(clients)
			_, err := runPhase(c, clients, phaseLength, s.req)
			require.NoError(b, err)
			b.SetParallelism((clients + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
			start := time.Now()
			b.RunParallel(func(pb *testing.PB) {
				for pb.Next() {
					if _, err := s.req.Check(c); err != nil {
						b.Error(err)
						return
					}
				}
			})
			b.ReportMetric(float64(b.N)/time.Since(start).Seconds(), "req/s")
		})
	}
}
