// Package testenv starts the real service for tests: one embedded store per test binary
// (or TEST_MONGODB_URI), a fresh database per test with the demo data, the dev signer, a
// controllable clock, and an httptest server in front of the real HTTP handler.
package testenv

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/app"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/embedded"
)

var shared struct {
	main      bool // Main ran: set before the tests run, read only then
	uri       string
	dir       string
	inProcess bool
	once      sync.Once
	err       error
	stop      func() error
}

// Main runs a test binary's tests around one shared store: TEST_MONGODB_URI when set,
// otherwise the embedded store in a process of its own (`server store` built without
// -race, with FerretDB's debug build: see startStoreProcess) on a temporary directory,
// removed afterwards. The store starts with the first test that asks for it, so that a
// run of tests or fuzz targets that need none (and every fuzzing worker of those) starts
// none. Use it from TestMain: os.Exit(testenv.Main(m)).
//
// The store runs outside the test binary because under -race every operation of the
// in-process FerretDB and its SQLite is instrumented: an environment's setup took about
// 2 s instead of 0.7 s. The race detector still covers the service, its store adapter
// and the driver, which run in the test binary; MainInProcess keeps the store in process
// too, under the race detector with the tests.
func Main(m *testing.M) int {
	return run(m, false)
}

// MainInProcess is Main with the embedded store in the test binary: for the store
// adapter's own tests (internal/mongodb), and for the benchmarks, whose figures count
// the store's memory and CPU in the process as `make run` has it.
func MainInProcess(m *testing.M) int {
	return run(m, true)
}

func run(m *testing.M, inProcess bool) int {
	shared.main = true
	if uri := os.Getenv("TEST_MONGODB_URI"); uri != "" {
		shared.uri = uri
		shared.once.Do(func() {})
		return m.Run()
	}
	root, err := os.MkdirTemp("", "psapi-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "testenv:", err)
		return 1
	}
	defer os.RemoveAll(root)
	shared.dir, shared.inProcess = filepath.Join(root, "store"), inProcess
	code := m.Run()
	if shared.stop != nil {
		if err := shared.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "testenv:", err)
			if code == 0 {
				code = 1
			}
		}
	}
	return code
}

// startStore starts the shared store (once, from StoreURI).
func startStore() {
	if shared.inProcess {
		es, err := embedded.Start(context.Background(), embedded.Config{DataDir: shared.dir, Addr: "127.0.0.1:0"})
		if err != nil {
			shared.err = err
			return
		}
		shared.uri = es.URI()
		shared.stop = func() error {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = es.Close(ctx)
			return nil
		}
		return
	}
	shared.uri, shared.stop, shared.err = startStoreProcess(filepath.Dir(shared.dir), shared.dir)
}

// StoreURI is the shared store's URI; the first call starts the store.
func StoreURI(t testing.TB) string {
	t.Helper()
	if !shared.main {
		t.Fatal("testenv: no store; call testenv.Main from TestMain")
	}
	shared.once.Do(startStore)
	if shared.err != nil {
		t.Fatalf("testenv: starting the store: %v", shared.err)
	}
	return shared.uri
}

// StoreDir is the shared embedded store's data directory, or "" on TEST_MONGODB_URI.
func StoreDir() string { return shared.dir }

// NewDatabaseName returns a database name no other test uses.
func NewDatabaseName() string {
	b := make([]byte, 8)
	_, _ = rand.Read(b)
	return "t" + hex.EncodeToString(b)
}

// Clock is a clock the test moves by hand.
type Clock struct {
	mu sync.Mutex
	t  time.Time
}

// NewClock starts a clock at t.
func NewClock(t time.Time) *Clock { return &Clock{t: t.UTC()} }

// Now is the current time of the clock.
func (c *Clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

// Set moves the clock to t.
func (c *Clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t.UTC()
}

// Advance moves the clock forward by d.
func (c *Clock) Advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

// DemoNow is the moment the demo data is written for.
var DemoNow = time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)

// Env is one running service.
type Env struct {
	t      testing.TB
	App    *app.App
	Server *httptest.Server
	Clock  *Clock
	Logs   *bytes.Buffer
	logMu  *sync.Mutex
}

// Option adjusts an Env's configuration before it starts.
type Option func(*config.Config)

type sndbufListener struct{ net.Listener }

func (l sndbufListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if tc, ok := c.(*net.TCPConn); ok {
		_ = tc.SetWriteBuffer(4096)
	}
	return c, err
}

// WithFeed sets how many events may wait for a live subscriber, and how long it may stall.
func WithFeed(buffer int, stall time.Duration) Option {
	return func(c *config.Config) { c.FeedBuffer, c.FeedStall = buffer, stall }
}

// WithStoreWait sets how long an operation waits for a pooled connection (--store-wait).
func WithStoreWait(d time.Duration) Option {
	return func(c *config.Config) { c.StoreWait = d }
}

// WithStoreURI runs the service on uri (a proxy in front of the shared store, say)
// instead of the shared store's URI; the database is still a fresh one.
func WithStoreURI(uri string) Option {
	return func(c *config.Config) { c.MongoURI = uri }
}

// WithDatabase runs the service on the named database (another Env's, for a restart)
// instead of a fresh one.
func WithDatabase(name string) Option {
	return func(c *config.Config) { c.Database = name }
}

// WithActivationDelay sets the activation delay (R4); the default in tests is zero.
func WithActivationDelay(d time.Duration) Option {
	return func(c *config.Config) { c.ActivationDelay = d }
}

// New starts the service on a fresh database of the shared store, with the demo data.
func New(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return newEnv(t, false, opts)
}

// NewWithSmallSendBuffers is New with the server's socket send buffers capped at 4 KiB, so
// that a client that stops reading blocks the server's writes after kilobytes instead of
// megabytes (for the stalled-client test).
func NewWithSmallSendBuffers(t testing.TB, opts ...Option) *Env {
	t.Helper()
	return newEnv(t, true, opts)
}

func newEnv(t testing.TB, smallSendBuffers bool, opts []Option) *Env {
	t.Helper()
	cfg := config.Config{
		MongoURI: StoreURI(t), Database: NewDatabaseName(), DataDir: t.TempDir(),
		CORSOrigins: []string{"http://localhost:8080"}, LogLevel: slog.LevelDebug,
		SeedDemo: true, DevAuth: true, Issuer: config.DevIssuer, Audience: "partnersupport-api",
		ShutdownTimeout: 5 * time.Second, ReminderWindow: 30 * 24 * time.Hour, LowBalance: 2, Introspection: true,
		FeedPoll: 50 * time.Millisecond, FeedBuffer: 4, FeedStall: 10 * time.Second,
		// The shared store runs in the test binary, under the race detector, several times
		// slower than the server: the races of many requests in flight wait longer for a
		// connection than a server would (WithStoreWait for the saturation tests).
		StoreWait: 10 * time.Second,
	}
	for _, o := range opts {
		o(&cfg)
	}
	clock := NewClock(DemoNow)
	logs, mu := &bytes.Buffer{}, &sync.Mutex{}
	log := slog.New(slog.NewTextHandler(&lockedWriter{w: logs, mu: mu}, &slog.HandlerOptions{Level: slog.LevelDebug}))
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg, err := fromTemplate(ctx, cfg)
	require.NoError(t, err)
	a, err := app.Open(ctx, cfg, log, app.Options{Now: clock.Now})
	require.NoError(t, err)
	// The server's Maintain starts with the repair (which sweeps and sequences the
	// fixture's grants) while it already serves; a test starts once it is done.
	require.NoError(t, a.Service.Repair(ctx))
	srv := httptest.NewUnstartedServer(a.HTTP.Handler())
	if smallSendBuffers {
		srv.Listener = sndbufListener{srv.Listener}
	}
	srv.Start()
	t.Cleanup(func() {
		a.HTTP.CloseWebsockets()
		srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = a.Store.Database().Drop(ctx)
		_ = a.Close(ctx)
	})
	return &Env{t: t, App: a, Server: srv, Clock: clock, Logs: logs, logMu: mu}
}

// LogText returns what the service logged so far.
func (e *Env) LogText() string {
	e.logMu.Lock()
	defer e.logMu.Unlock()
	return e.Logs.String()
}

type lockedWriter struct {
	w  *bytes.Buffer
	mu *sync.Mutex
}

func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// Token issues a development token for an account of the demo data (or any email with
// the given kind).
func (e *Env) Token(email string, kind ...auth.Kind) string {
	e.t.Helper()
	k := auth.KindEntraID
	if len(kind) > 0 {
		k = kind[0]
	} else if a, ok := demoKinds()[email]; ok {
		k = a
	}
	tok, err := e.App.Signer.Issue(email, email, k, time.Hour)
	require.NoError(e.t, err)
	return tok
}

// Result is a GraphQL response.
type Result struct {
	Status int
	Data   json.RawMessage
	Errors []Error
}

// Error is one GraphQL error.
type Error struct {
	Message    string         `json:"message"`
	Path       []any          `json:"path"`
	Extensions map[string]any `json:"extensions"`
}

// Code is the error's extensions.code.
func (e Error) Code() string { s, _ := e.Extensions["code"].(string); return s }

// Rule is the error's extensions.rule.
func (e Error) Rule() string { s, _ := e.Extensions["rule"].(string); return s }

// Do posts a GraphQL request with the token (none when empty).
func (e *Env) Do(token, query string, vars map[string]any) Result {
	e.t.Helper()
	return Post(e.t, e.Server.URL+"/query", token, query, vars)
}

// Post posts a GraphQL request to url.
func Post(t testing.TB, url, token, query string, vars map[string]any) Result {
	t.Helper()
	body, err := json.Marshal(map[string]any{"query": query, "variables": vars})
	require.NoError(t, err)
	req, err := http.NewRequest(http.MethodPost, url, bytes.NewReader(body))
	require.NoError(t, err)
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	var r struct {
		Data   json.RawMessage `json:"data"`
		Errors []Error         `json:"errors"`
	}
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&r), "response is not JSON")
	return Result{Status: resp.StatusCode, Data: r.Data, Errors: r.Errors}
}

// MustData fails the test on any error and decodes data into v.
func (r Result) MustData(t testing.TB, v any) {
	t.Helper()
	require.Empty(t, r.Errors, "unexpected GraphQL errors")
	require.NoError(t, json.Unmarshal(r.Data, v))
}

// ProviderToken issues a development token for a support provider principal (R25), as
// `server token --provider NAME` does.
func (e *Env) ProviderToken(name string) string {
	e.t.Helper()
	tok, err := e.App.Signer.Issue("provider:"+name, "", auth.KindSupportProvider, time.Hour)
	require.NoError(e.t, err)
	return tok
}
