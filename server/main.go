// Command server runs the Partner Support Benefits API.
//
//	server [flags]                 the API, on MONGODB_URI or on the embedded store
//	server store [flags]           only the embedded store, for several API processes to share
//	server token --email EMAIL     print a development token for an account
//	server token --provider NAME   print a development token for a support provider (R25)
//
// Run `server --help` for the flags and their environment variables. This package only
// wires the other packages together.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/pprof"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/partnersupport/api/internal/app"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/embedded"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Getenv, os.Stdout, os.Stderr))
}

// commands is the help's list of the binary's commands.
const commands = `
Commands:
  server [serve] [flags]   the API (the default command)
  server store [flags]     only the embedded store, for several API processes to share
  server token [flags]     a development token signed with the data directory's key
                           (server token --help)
`

// run is main with its world passed in, so tests can drive it. It returns the exit code:
// 0 on a clean stop, 1 on a failure, 2 on a configuration error.
func run(ctx context.Context, args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	cmd := "serve"
	if len(args) > 0 && (args[0] == "serve" || args[0] == "store" || args[0] == "token") {
		cmd, args = args[0], args[1:]
	}
	if cmd == "token" {
		return token(args, getenv, stdout, stderr)
	}
	name := "server " + cmd
	if cmd == "serve" {
		name = "server [serve]"
	}
	cfg, err := config.Parse(name, args, getenv, stdout)
	if errors.Is(err, flag.ErrHelp) {
		fmt.Fprint(stdout, commands)
		return 0
	} else if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 2
	}
	log := newLogger(cfg, stderr)
	if cmd == "store" {
		return storeOnly(ctx, cfg, log, stdout, stderr)
	}
	if err := serve(ctx, cfg, log, stdout); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	}
	return 0
}

func newLogger(cfg config.Config, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.LogLevel}
	if cfg.LogFormat == "json" {
		return slog.New(slog.NewJSONHandler(w, opts))
	}
	return slog.New(slog.NewTextHandler(w, opts))
}

// storeOnly runs just the embedded store until interrupted.
func storeOnly(ctx context.Context, cfg config.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	if cfg.MongoURI != "" {
		fmt.Fprintln(stderr, "server store: MONGODB_URI is set; the store command runs the embedded store only")
		return 2
	}
	es, err := embedded.Start(ctx, embedded.Config{DataDir: cfg.DataDir, Addr: cfg.StoreAddr})
	if err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	}
	// Create the service's collections and indexes now, so that the servers that connect
	// find them from their first request.
	if err := prepareSchema(ctx, es, cfg); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		_ = es.Close(cctx)
		return 1
	}
	fmt.Fprintf(stdout, "embedded store listening; connect with MONGODB_URI=%s\n", es.URI())
	log.Info("embedded store running", "uri", es.URI(), "dataDir", cfg.DataDir)
	select {
	case <-ctx.Done():
	case err := <-es.Done():
		fmt.Fprintf(stderr, "server: embedded store stopped: %v\n", err)
		return 1
	}
	cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := es.Close(cctx); err != nil {
		fmt.Fprintf(stderr, "server: %v\n", err)
		return 1
	}
	return 0
}

// prepareSchema creates the database's collections and indexes on the embedded store, as
// every server does when it opens the store, and drops the _id indexes earlier versions
// added (embedded.Store.DropLegacyIDIndexes).
func prepareSchema(ctx context.Context, es *embedded.Store, cfg config.Config) error {
	st, err := mongodb.Open(ctx, es.URI(), cfg.Database, mongodb.Options{ConnectTimeout: cfg.ConnectTimeout})
	if err != nil {
		return err
	}
	if err := st.Close(ctx); err != nil {
		return err
	}
	return es.DropLegacyIDIndexes(ctx, cfg.Database)
}

// serve runs the API until ctx ends, then shuts down gracefully.
func serve(ctx context.Context, cfg config.Config, log *slog.Logger, stdout io.Writer) error {
	started := time.Now()
	// Bind first: a port in use is reported before anything else starts.
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("cannot listen on %s: %w", cfg.Listen, err)
	}
	defer ln.Close()

	var debugLn net.Listener
	if cfg.DebugListen != "" {
		if debugLn, err = net.Listen("tcp", cfg.DebugListen); err != nil {
			return fmt.Errorf("cannot listen on %s (--debug-listen): %w", cfg.DebugListen, err)
		}
		defer debugLn.Close()
		// The profiler only: no API, no metrics (those are on the main listener). It serves
		// from now on, so that a slow start (loading a fixture) can be profiled too.
		dbg := &http.Server{Handler: debugMux(), ReadHeaderTimeout: 10 * time.Second, ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelWarn)}
		go func() { _ = dbg.Serve(debugLn) }()
		defer dbg.Close()
		fmt.Fprintf(stdout, "debug: http://%s/debug/pprof/\n", debugLn.Addr())
		log.Warn("the profiler is served without authentication", "addr", debugLn.Addr().String())
	}

	a, err := app.Open(ctx, cfg, log, app.Options{})
	if err != nil {
		return err
	}
	defer func() {
		cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		if err := a.Close(cctx); err != nil {
			log.Error("closing the store", "err", err)
		}
	}()
	if uri := a.EmbeddedURI(); uri != "" {
		fmt.Fprintf(stdout, "embedded store: %s (data in %s)\n", uri, cfg.DataDir)
	}

	baseCtx, cancelBase := context.WithCancel(context.Background())
	defer cancelBase()
	srv := &http.Server{
		Handler:           a.HTTP.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       120 * time.Second,
		BaseContext:       func(net.Listener) context.Context { return baseCtx },
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	errc := make(chan error, 1)
	go func() { errc <- srv.Serve(ln) }()
	go a.Maintain(baseCtx, app.DefaultUpkeep, log) // the crash repair, then the sweep: never waited for
	addr := ln.Addr().String()
	fmt.Fprintf(stdout, "GraphiQL: http://%s/   GraphQL: http://%s/query\n", addr, addr)
	log.Info("server ready", "addr", addr, "startup", time.Since(started).String(), "devAuth", cfg.DevAuth)

	select {
	case err := <-errc:
		return fmt.Errorf("http server: %w", err)
	case <-ctx.Done():
	}
	log.Info("shutting down", "timeout", cfg.ShutdownTimeout.String())
	sctx, cancel := context.WithTimeout(context.Background(), cfg.ShutdownTimeout)
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- srv.Shutdown(sctx) }() // stop accepting; wait for in-flight requests
	a.HTTP.CloseWebsockets()                   // 1001 going away: clients reconnect elsewhere
	if err := <-done; err != nil {
		log.Warn("requests still running at the shutdown deadline; closing them", "err", err)
		cancelBase()
		_ = srv.Close()
	}
	return nil
}

// token prints a development token for an account of the demo fixture (or of --seed).
func token(args []string, getenv func(string) string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("server token", flag.ContinueOnError)
	fs.SetOutput(stderr)
	email := fs.String("email", "", "account email (required unless --provider)")
	provider := fs.String("provider", "", "a support provider's name (letters, digits, . _ -): a support provider token (R25) instead of an account's")
	kind := fs.String("kind", "", "ENTRA_ID or MSA, for an account that is not in the fixtures")
	ttl := fs.Duration("ttl", 12*time.Hour, "token lifetime")
	dataDir := fs.String("data-dir", envOr(getenv, "DATA_DIR", "./data"), "data directory holding the development signing key (env DATA_DIR)")
	seedFile := fs.String("seed", getenv("SEED"), "fixture file to look the account up in, besides the demo (env SEED)")
	audience := fs.String("jwt-audience", envOr(getenv, "JWT_AUDIENCE", "partnersupport-api"), "token audience (env JWT_AUDIENCE)")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		return 0
	} else if err != nil {
		return 2
	}
	if *provider != "" {
		return providerToken(*provider, *email, *ttl, *dataDir, *audience, stdout, stderr)
	}
	if *email == "" {
		fmt.Fprintln(stderr, "server token: --email or --provider is required")
		return 2
	}
	subject, k := *email, auth.Kind(*kind)
	files := []*fixture.File{fixture.Demo()}
	if *seedFile != "" {
		b, err := os.ReadFile(*seedFile)
		if err != nil {
			fmt.Fprintf(stderr, "server token: --seed: %v\n", err)
			return 2
		}
		f, err := fixture.ParseBytes(b)
		if err != nil {
			fmt.Fprintf(stderr, "server token: --seed %s: %v\n", *seedFile, err)
			return 2
		}
		files = append(files, f)
	}
	for _, f := range files {
		if a, ok := seed.FindAccount(f, *email); ok {
			if a.Subject != "" {
				subject = a.Subject
			}
			if k == "" {
				k = auth.Kind(a.Kind)
			}
		}
	}
	if !k.Valid() {
		fmt.Fprintf(stderr, "server token: %s is not in the fixtures; pass --kind ENTRA_ID or --kind MSA\n", *email)
		return 2
	}
	// Only the key a server already uses: a fresh key here would sign a token that server
	// refuses (bad signature).
	keyFile := filepath.Join(*dataDir, auth.DevKeyFile)
	if _, err := os.Stat(keyFile); err != nil {
		fmt.Fprintf(stderr, "server token: %s holds no development signing key (%s): start the server with --dev-auth on this data directory first (make run does), or pass its --data-dir\n", *dataDir, auth.DevKeyFile)
		return 1
	}
	signer, err := auth.LoadOrCreateDevSigner(*dataDir, config.DevIssuer, *audience, time.Now)
	if err != nil {
		fmt.Fprintf(stderr, "server token: %v\n", err)
		return 1
	}
	tok, err := signer.Issue(subject, *email, k, *ttl)
	if err != nil {
		fmt.Fprintf(stderr, "server token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

// providerToken prints a development token of a support provider principal (R25): the
// subject names the provider; it belongs to no tenant.
func providerToken(name, email string, ttl time.Duration, dataDir, audience string, stdout, stderr io.Writer) int {
	if !validProviderName(name) {
		fmt.Fprintln(stderr, "server token: --provider must be 1 to 64 letters, digits or . _ -")
		return 2
	}
	signer, err := auth.LoadOrCreateDevSigner(dataDir, config.DevIssuer, audience, time.Now)
	if err != nil {
		fmt.Fprintf(stderr, "server token: %v\n", err)
		return 1
	}
	tok, err := signer.Issue("provider:"+name, email, auth.KindSupportProvider, ttl)
	if err != nil {
		fmt.Fprintf(stderr, "server token: %v\n", err)
		return 1
	}
	fmt.Fprintln(stdout, tok)
	return 0
}

func validProviderName(s string) bool {
	if len(s) == 0 || len(s) > 64 {
		return false
	}
	for _, r := range s {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '.' || r == '_' || r == '-') {
			return false
		}
	}
	return true
}

func envOr(getenv func(string) string, k, def string) string {
	if v := getenv(k); v != "" {
		return v
	}
	return def
}

// debugMux serves Go's profiler, as net/http/pprof registers it on the default mux, but
// on a mux of its own so nothing else ever reaches the debug listener.
func debugMux() *http.ServeMux {
	m := http.NewServeMux()
	m.HandleFunc("/debug/pprof/", pprof.Index) // also serves heap, goroutine, allocs, … (?gc=1 collects first)
	m.HandleFunc("/debug/pprof/cmdline", pprof.Cmdline)
	m.HandleFunc("/debug/pprof/profile", pprof.Profile)
	m.HandleFunc("/debug/pprof/symbol", pprof.Symbol)
	m.HandleFunc("/debug/pprof/trace", pprof.Trace)
	return m
}
