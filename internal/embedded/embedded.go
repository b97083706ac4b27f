// Package embedded runs FerretDB in process: a MongoDB wire-protocol server over SQLite
// files in a data directory, listening on loopback only. It is the default store for
// development, demos and tests; production sets MONGODB_URI instead.
//
// FerretDB's updates are not atomic under concurrency (docs/store.md); the services
// never rely on them.
package embedded

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
)

// Store is a running embedded FerretDB.
type Store struct {
	dir    string
	uri    string
	cancel context.CancelFunc
	done   chan error
}

// Config configures Start.
type Config struct {
	// DataDir holds the SQLite files; it is created when missing.
	DataDir string
	// Addr is the loopback TCP address to listen on; "127.0.0.1:0" picks a free port.
	Addr string
	// Logger receives FerretDB's own logs; nil discards them (it logs every error reply).
	Logger *slog.Logger
}

// Start checks the configuration, starts FerretDB and waits until it accepts connections.
func Start(ctx context.Context, c Config) (*Store, error) {
	host, _, err := net.SplitHostPort(c.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded store: address %q: %w", c.Addr, err)
	}
	if ip := net.ParseIP(host); host != "localhost" && (ip == nil || !ip.IsLoopback()) {
		return nil, fmt.Errorf("embedded store: address %q is not on loopback; the embedded store has no authentication and listens on loopback only", c.Addr)
	}
	dir, err := filepath.Abs(c.DataDir)
	if err != nil {
		return nil, fmt.Errorf("embedded store: data directory %q: %w", c.DataDir, err)
	}
	if err := checkWritable(dir); err != nil {
		return nil, err
	}
	// Bind first, so that a port in use is one clear error rather than a FerretDB log.
	l, err := net.Listen("tcp", c.Addr)
	if err != nil {
		return nil, fmt.Errorf("embedded store: cannot listen on %s: %w", c.Addr, err)
	}
	addr := l.Addr().String()
	_ = l.Close()

	logger := c.Logger
	if logger == nil {
		logger = slog.New(slog.DiscardHandler)
	}
	f, err := ferretdb.New(&ferretdb.Config{
		Listener:  ferretdb.ListenerConfig{TCP: addr},
		Handler:   "sqlite",
		SQLiteURL: "file:" + filepath.ToSlash(dir) + "/?_pragma=synchronous(normal)",
		Logger:    logger,
	})
	if err != nil {
		return nil, fmt.Errorf("embedded store: %w", err)
	}
	rctx, cancel := context.WithCancel(context.Background())
	s := &Store{dir: dir, cancel: cancel, done: make(chan error, 1)}
	go func() { s.done <- f.Run(rctx) }()
	s.uri = withMaxPoolSize(f.MongoDBURI(), 4*runtime.GOMAXPROCS(0))
	if err := waitListening(ctx, addr, s.done); err != nil {
		cancel()
		return nil, err
	}
	return s, nil
}

// withMaxPoolSize bounds the connections a client opens to the store. FerretDB runs each
// connection's commands on its own SQLite connection, and SQLite admits one writer at a
// time, making the others wait in a busy handler that sleeps for milliseconds: with the
// driver's default of 100 connections, 50 concurrent creates spent that time waiting.
// BenchmarkCreatesStoreTime, 2 CPUs: 298 creates/s with 100 connections, 377 with 4 or 8.
func withMaxPoolSize(uri string, n int) string {
	u, err := url.Parse(uri)
	if err != nil {
		return uri
	}
	q := u.Query()
	q.Set("maxPoolSize", strconv.Itoa(n))
	u.RawQuery = q.Encode()
	return u.String()
}

// URI is the MongoDB URI of the running store, with a bounded connection pool.
func (s *Store) URI() string { return s.uri }

// Done is closed-over by callers that want to know when the store stops by itself.
func (s *Store) Done() <-chan error { return s.done }

// Close stops the store and waits for it to release its files.
func (s *Store) Close(ctx context.Context) error {
	s.cancel()
	select {
	case err := <-s.done:
		return err
	case <-ctx.Done():
		return fmt.Errorf("embedded store: stop: %w", ctx.Err())
	}
}

// checkWritable creates dir when missing and proves it is writable, so that a bad data
// directory fails at start with one line, not at the first write.
func checkWritable(dir string) error {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return fmt.Errorf("embedded store: data directory %s cannot be created: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".write-check-*")
	if err != nil {
		return fmt.Errorf("embedded store: data directory %s is not writable: %w", dir, errors.Unwrap(err))
	}
	name := f.Name()
	_ = f.Close()
	return os.Remove(name)
}

// waitListening dials until the listener accepts, FerretDB exits, or ctx ends.
func waitListening(ctx context.Context, addr string, done <-chan error) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		conn, err := net.DialTimeout("tcp", addr, time.Second)
		if err == nil {
			_ = conn.Close()
			return nil
		}
		select {
		case err := <-done:
			return fmt.Errorf("embedded store: stopped while starting: %v", err)
		case <-ctx.Done():
			return fmt.Errorf("embedded store: start: %w", ctx.Err())
		case <-time.After(10 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("embedded store: not listening on %s after 30s", addr)
		}
	}
}
