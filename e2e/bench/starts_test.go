package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/goccy/go-yaml"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/testenv"
)

// starts measures, at one size of BenchmarkGrowth, a built server process started on the
// grown database (issue 13: start to first answer, first start and restart), from the
// process's start to its first answer to a query that reads the store (the viewer's
// memberships and tenants), each reported as s-first-answer:<kind>:<size>:
//   - first: the database as no server ever started on it: no fixture marker, no repair
//     checkpoint (deleted before), so the server loads the 2,000-tenant fixture file and
//     repairs the whole store (beside the API);
//   - restart: the same server started again (stopped with SIGTERM; the median of three);
//   - after-kill: started again after a SIGKILL while 8 clients created requests.
//
// The repair runs beside the API (app.Maintain): the time the restart's took, when it was
// done before the kill, is reported as s-repair:restart:<size>.
type starts struct {
	st       *mongodb.Store
	dir      string // the server's data directory: the development signer's key
	seedFile string // the fixture, as a file
	signer   *auth.DevSigner
	admins   []string
	plans    []string
	now      func() time.Time // the benchmark's business clock, which the server continues
	first    map[string]float64
}

func newStarts(b *testing.B, st *mongodb.Store, f *fixture.File, admins, plans []string, now func() time.Time) *starts {
	dir := b.TempDir()
	text, err := yaml.Marshal(f)
	require.NoError(b, err)
	text = midnightRE.ReplaceAll(text, []byte("$1")) // the fixture's dates are days
	_, err = fixture.Parse(bytes.NewReader(text))
	require.NoError(b, err, "the fixture written for the server reads back")
	seedFile := filepath.Join(dir, "fixture.yaml")
	require.NoError(b, os.WriteFile(seedFile, text, 0o600))
	signer, err := auth.LoadOrCreateDevSigner(dir, config.DevIssuer, "partnersupport-api", time.Now)
	require.NoError(b, err)
	return &starts{st: st, dir: dir, seedFile: seedFile, signer: signer, admins: admins, plans: plans, now: now, first: map[string]float64{}}
}

var midnightRE = regexp.MustCompile(`"?(\d{4}-\d{2}-\d{2})T00:00:00Z"?`)

var repairDoneRE = regexp.MustCompile(`msg="repair done" took=(\S+)`)

// server is one started server process.
type server struct {
	cmd  *exec.Cmd
	addr string
	out  *syncBuffer
}

func (s *starts) start(b *testing.B) (*server, time.Duration) {
	addr := testenv.FreeAddr(b)
	out := &syncBuffer{}
	cmd := exec.Command(testenv.ServerBinary(b), "--mongodb-uri", testenv.StoreURI(b), "--database", growthDatabase,
		"--data-dir", s.dir, "--listen", addr, "--seed", s.seedFile, "--dev-auth", "--now", s.now().Format(time.RFC3339),
		"--activation-delay", "0s", "--log-level", "info")
	cmd.Stdout, cmd.Stderr = out, out
	tok := s.token(b, 0)
	poll := time.NewTicker(2 * time.Millisecond) // the client's polling interval while the process starts
	defer poll.Stop()
	deadline := time.After(5 * time.Minute)
	start := time.Now()
	require.NoError(b, cmd.Start())
	for {
		if st, _ := post(addr, tok, `{ viewer { memberships { tenant { id name } roles } } }`, nil); st == http.StatusOK {
			break
		}
		select {
		case <-poll.C:
		case <-deadline:
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			b.Fatalf("no answer 5 min after the start:\n%s", out.String())
		}
	}
	return &server{cmd: cmd, addr: addr, out: out}, time.Since(start)
}

func (s *starts) token(b *testing.B, i int) string {
	tok, err := s.signer.Issue(s.admins[i], s.admins[i], auth.KindEntraID, time.Hour)
	require.NoError(b, err)
	return tok
}

// repairTook is how long the server's first repair took, if it logged one: the repair
// runs beside the API (app.Maintain) and reads what was written since the last completed
// one, so it is reported, not waited for.
func (srv *server) repairTook() (float64, bool) {
	m := repairDoneRE.FindStringSubmatch(srv.out.String())
	if m == nil {
		return 0, false
	}
	d, err := time.ParseDuration(m[1])
	return d.Seconds(), err == nil
}

func (srv *server) stop(b *testing.B, sig syscall.Signal) {
	require.NoError(b, srv.cmd.Process.Signal(sig))
	_ = srv.cmd.Wait()
}

func (s *starts) report(b *testing.B, kind string, size int, took time.Duration) {
	v := took.Seconds()
	b.ReportMetric(v, fmt.Sprintf("s-first-answer:%s:%d", kind, size))
	if first, ok := s.first[kind]; ok && first > 0 {
		b.ReportMetric(v/first, fmt.Sprintf("ratio-s-first-answer:%s:%d/first", kind, size))
	} else {
		s.first[kind] = v
	}
}

func (s *starts) measure(b *testing.B, size int) {
	ctx := context.Background()
	// A database no server started on: the fixture is loaded (before the first answer) and
	// the whole store repaired (beside the API).
	_, err := s.st.Database().Collection("checkpoints").DeleteMany(ctx, bson.D{})
	require.NoError(b, err)
	srv, took := s.start(b)
	s.report(b, "first", size, took)
	srv.stop(b, syscall.SIGTERM)
	srv = nil
	// The benchmark's service wrote the store and never crashed, so everything it stamped
	// is complete: the repair checkpoint its server's periodic repair would have saved.
	require.NoError(b, s.st.SaveCheckpoint(ctx, "repair", s.now()))

	// The restart's figure is the median of three (each well under a second, so one
	// scheduling hiccup on the shared cores would otherwise decide the ratio).
	var restarts []time.Duration
	for range 3 {
		if srv != nil {
			srv.stop(b, syscall.SIGTERM)
		}
		srv, took = s.start(b)
		restarts = append(restarts, took)
	}
	slices.Sort(restarts)
	s.report(b, "restart", size, restarts[1])

	// Under load: 8 clients create requests on their tenants' plans, and the process is
	// killed after 200 answers.
	var answered atomic.Int64
	var wg sync.WaitGroup
	stop := make(chan struct{})
	for c := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for k := 0; ; k++ {
				select {
				case <-stop:
					return
				default:
				}
				i := (c*251 + k*8) % len(s.admins)
				in := map[string]any{"in": map[string]any{"idempotencyKey": fmt.Sprintf("start-%d-%d-%d", size, c, k), "planId": s.plans[i],
					"productId": "microsoft-365", "portal": "MICROSOFT_365", "type": "TECHNICAL", "title": "under load"}}
				if _, err := post(srv.addr, s.token(b, i), `mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { request { id } } }`, in); err != nil {
					return // the process is gone
				}
				answered.Add(1)
			}
		}()
	}
	testenv.WaitFor(b, 2*time.Minute, "200 answers under load", func() bool { return answered.Load() >= 200 })
	if d, ok := srv.repairTook(); ok {
		b.ReportMetric(d, fmt.Sprintf("s-repair:restart:%d", size))
	}
	srv.stop(b, syscall.SIGKILL)
	close(stop)
	wg.Wait()
	srv, took = s.start(b)
	s.report(b, "after-kill", size, took)
	srv.stop(b, syscall.SIGTERM)
}

// post sends a GraphQL request and returns its HTTP status.
func post(addr, token, query string, vars map[string]any) (int, error) {
	body, _ := json.Marshal(map[string]any{"query": query, "variables": vars})
	req, _ := http.NewRequest(http.MethodPost, "http://"+addr+"/query", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	req.Header.Set("Authorization", "Bearer "+token)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	var out struct {
		Errors []json.RawMessage `json:"errors"`
	}
	_ = json.NewDecoder(resp.Body).Decode(&out)
	if resp.StatusCode == http.StatusOK && len(out.Errors) > 0 {
		return 0, fmt.Errorf("errors: %s", out.Errors[0])
	}
	return resp.StatusCode, nil
}

// syncBuffer is a bytes.Buffer safe for a process's output and a reader.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.buf.String()
}
