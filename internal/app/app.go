// Package app wires the service together from a configuration: the store (embedded or
// MongoDB), fixtures, token verification, the use cases (internal/service) and the HTTP API. The server
// command and the tests build the same thing through it.
package app

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"sync/atomic"
	"time"

	"go.mongodb.org/mongo-driver/v2/event"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/cache"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/dashboard"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/embedded"
	"github.com/partnersupport/api/internal/feed"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/httpapi"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
)

// App is a wired service.
type App struct {
	Config   config.Config
	Store    *mongodb.Store
	Service  *service.Service
	HTTP     *httpapi.Server
	Metrics  *httpapi.Metrics
	Signer   *auth.DevSigner // nil unless --dev-auth
	StoreURI string
	Feed     *feed.Hub

	embedded *embedded.Store
	commands atomic.Int64 // store commands sent, for the start-up's log of each stage
}

// Options override parts of the wiring, for tests.
type Options struct {
	// Now replaces the configured clock.
	Now func() time.Time
}

// Open builds the App: it starts the embedded store when no MONGODB_URI is set, connects,
// creates indexes, loads fixtures, and builds the HTTP API.
func Open(ctx context.Context, cfg config.Config, log *slog.Logger, o Options) (a *App, err error) {
	a = &App{Config: cfg, Metrics: httpapi.NewMetrics()}
	defer func() {
		if err != nil {
			cctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			_ = a.Close(cctx)
		}
	}()
	a.StoreURI = cfg.MongoURI
	opened := time.Now()
	if a.StoreURI == "" {
		if a.embedded, err = embedded.Start(ctx, embedded.Config{DataDir: cfg.DataDir, Addr: cfg.StoreAddr}); err != nil {
			return a, err
		}
		a.StoreURI = a.embedded.URI()
	}
	if a.Store, err = mongodb.Open(ctx, a.StoreURI, cfg.Database, mongodb.Options{Monitor: commandMonitor(a.Metrics, &a.commands), PoolMonitor: poolMonitor(a.Metrics), ConnectTimeout: cfg.ConnectTimeout, StoreWait: cfg.StoreWait}); err != nil {
		return a, err
	}
	if a.embedded != nil {
		// After the collections exist: drop the _id indexes earlier versions added.
		if err := a.embedded.DropLegacyIDIndexes(ctx, cfg.Database); err != nil {
			return a, err
		}
	}
	log.Debug("store opened", "took", time.Since(opened).String(), "commands", a.commands.Load())
	held, tenants, markers, err := a.seed(ctx, log)
	if err != nil {
		return a, err
	}
	// Identity: bearer tokens of the configured OIDC issuers, and of the development signer
	// only with --dev-auth; each token is routed by its issuer. No issuer: every token is
	// refused. The account kind comes from the verified token only.
	var verifiers []auth.Verifier
	var dev *httpapi.DevAuth
	if len(cfg.OIDCIssuers) > 0 {
		v, err := auth.NewOIDCVerifier(ctx, cfg.OIDCIssuers)
		if err != nil {
			return a, fmt.Errorf("--oidc-issuers: %w", err)
		}
		verifiers = append(verifiers, v)
	}
	if cfg.DevAuth {
		// Tokens live in real time, whatever the business clock (--now, --clock-offset) says.
		if a.Signer, err = auth.LoadOrCreateDevSigner(cfg.DataDir, cfg.Issuer, cfg.Audience, time.Now); err != nil {
			return a, err
		}
		verifiers = append(verifiers, auth.DevIssuerVerifier(a.Signer))
		dev = devAuth(a.Signer)
	}
	var verifier auth.Verifier
	if len(verifiers) > 0 {
		verifier = auth.NewMultiVerifier(verifiers...)
	}
	now := o.Now
	if now == nil {
		now = cfg.Clock()
	}
	a.Feed = feed.NewHub(a.Store, feed.Options{Poll: cfg.FeedPoll, Buffer: cfg.FeedBuffer, Stall: cfg.FeedStall, Logger: log})
	a.Service = service.New(cache.NewPerRequest(cache.New(a.Store, 30*time.Second, min(30*time.Second, cfg.ActivationDelay))), service.Options{
		Now:             now,
		ActivationDelay: cfg.ActivationDelay,
		Reminders:       domain.ReminderPolicy{Window: cfg.ReminderWindow, LowThreshold: cfg.LowBalance},
		Logger:          log,
		OnEvent:         func(e domain.Event) { a.Feed.Wake(e.TenantID) },
		OnAudit:         a.Metrics.AuditEvent,
	})
	if len(held) > 0 {
		start, sent := time.Now(), a.commands.Load()
		if err = a.Service.RecordHeldGrants(ctx, held...); err != nil {
			return a, fmt.Errorf("recording the fixtures' grants: %w", err)
		}
		log.Info("grants recorded", "tenants", tenants, "heldOffers", len(held), "took", time.Since(start).String(), "commands", a.commands.Load()-sent)
	}
	for _, m := range markers { // the fixture and its grants are in: the next start skips it
		if err = a.Store.SaveCheckpoint(ctx, m, a.Service.Now()); err != nil {
			return a, err
		}
	}
	// The crash repair (docs/crash-safety.md) is not run here: Maintain runs it once the
	// API serves, because serving never waits for it (see Maintain).
	a.HTTP = httpapi.New(httpapi.Config{
		Schema: graph.NewExecutableSchema(graph.Config{
			Resolvers:  graph.NewResolver(a.Service, a.Feed, httpapi.CloseStream),
			Complexity: graph.Complexity(),
		}),
		Verifier:      verifier,
		SignIn:        a.Service.SignIn,
		Ping:          a.Store.Ping,
		Metrics:       a.Metrics,
		Logger:        log,
		CORSOrigins:   cfg.CORSOrigins,
		Introspection: cfg.Introspection,
		Dev:           dev,
		Audit:         a.Service.Audit,
		Dashboard:     dashboard.Handler(),
		Limits: httpapi.Limits{MaxQueryBytes: cfg.QueryMaxBytes, MaxTokens: cfg.QueryMaxTokens,
			MaxDepth: cfg.QueryMaxDepth, MaxComplexity: cfg.QueryMaxComplexity, CostArguments: graph.CostArguments},
		RateLimit: httpapi.RateLimit{Fields: []string{"Mutation.linkSupportPlan"},
			PerAccount: cfg.LinkRateAccount, PerAddress: cfg.LinkRateAddress},
		TrustedProxies: cfg.TrustedProxies,
	})
	return a, nil
}

// seed loads the demo fixture (--demo) and the fixture file (--seed), each unless the
// very same fixture was loaded into this database before: loading is idempotent, so an
// unchanged fixture would write nothing new, and a restart would spend seconds per
// thousand tenants finding that out (issue 13: start to first answer). It returns the
// tenants whose grants are to be recorded and the markers to save once they are.
func (a *App) seed(ctx context.Context, log *slog.Logger) (held []domain.HeldOffer, tenants int, markers []string, err error) {
	type source struct{ name, what string }
	var loads []source
	var texts [][]byte
	if a.Config.SeedDemo {
		loads, texts = append(loads, source{"demo", "demo data loaded"}), append(texts, fixture.DemoYAML())
	}
	if a.Config.SeedFile != "" {
		text, err := os.ReadFile(a.Config.SeedFile)
		if err != nil {
			return nil, 0, nil, fmt.Errorf("--seed: %w", err)
		}
		loads, texts = append(loads, source{a.Config.SeedFile, "fixture loaded"}), append(texts, text)
	}
	for i, src := range loads {
		marker := fixtureMarker(texts[i], a.Config.Issuer)
		if at, err := a.Store.Checkpoint(ctx, marker); err != nil {
			return nil, 0, nil, err
		} else if !at.IsZero() {
			log.Info("fixture unchanged since it was loaded; not loaded again", "fixture", src.name, "loadedAt", at)
			continue
		}
		parsing := time.Now()
		fx, err := fixture.Parse(bytes.NewReader(texts[i]))
		if err != nil {
			return nil, 0, nil, fmt.Errorf("--seed %s: %w", src.name, err)
		}
		start, sent := time.Now(), a.commands.Load()
		st, err := seed.Load(ctx, a.Store, fx, a.Config.Issuer)
		if err != nil {
			return nil, 0, nil, err
		}
		log.Info(src.what, "fixture", src.name, "tenants", st.Tenants, "accounts", st.Accounts, "newHeldOffers", st.HeldOffers,
			"parse", start.Sub(parsing).String(), "took", time.Since(start).String(), "commands", a.commands.Load()-sent)
		held, tenants, markers = append(held, st.Held...), tenants+st.Tenants, append(markers, marker)
	}
	return held, tenants, markers, nil
}

// fixtureMarker names a fixture's load in the store's checkpoints: the digest of the
// fixture's text, the issuer its accounts get, and seed.Version (what a load writes).
func fixtureMarker(text []byte, issuer string) string {
	h := sha256.New()
	fmt.Fprintf(h, "%s\x00%s\x00", seed.Version, issuer)
	h.Write(text)
	return "fixture " + hex.EncodeToString(h.Sum(nil))
}

// Upkeep is how often Maintain runs each periodic job.
type Upkeep struct {
	// Sweep: expiries, caps, reminders and pending events (Service.Sweep).
	Sweep time.Duration
	// Repair: the crash repair (Service.Repair, which sweeps too).
	Repair time.Duration
}

// DefaultUpkeep sweeps every minute and repairs every ten: a restart's repair then reads
// at most the writes of the last ten minutes and repairOverlap, whatever the uptime.
var DefaultUpkeep = Upkeep{Sweep: time.Minute, Repair: 10 * time.Minute}

// Maintain runs the store's upkeep until ctx ends: the crash repair at once, then the
// sweep and the repair periodically (a failed repair is tried again at the next sweep).
//
// Serving never waits for the repair. Every step of it completes what a crashed operation
// left, idempotently, and every instance may run it while others serve (a restarted
// instance of a cluster always has): until it is done, a refund whose claim a crash kept
// shows one incident too many in use, and a missing ledger event arrives late, as an
// outbox's does. So a start answers its first request after opening the store and loading
// fixtures, whatever the store holds, and the repair's cost stays with the writes since
// the last repair (docs/crash-safety.md).
func (a *App) Maintain(ctx context.Context, every Upkeep, log *slog.Logger) {
	t := time.NewTicker(every.Sweep)
	defer t.Stop()
	var repaired time.Time // when the last repair that completed ended; zero: none yet
	for {
		if repaired.IsZero() || time.Since(repaired) >= every.Repair {
			start := time.Now()
			if err := a.Service.Repair(ctx); err != nil {
				if ctx.Err() != nil {
					return
				}
				log.Warn("repair failed; it is tried again at the next sweep", "err", err)
			} else {
				first := repaired.IsZero()
				repaired = time.Now()
				log.Info("repair done", "took", repaired.Sub(start).String(), "first", first)
			}
		} else if err := a.Service.Sweep(ctx); err != nil && ctx.Err() == nil {
			log.Warn("sweep failed", "err", err)
		}
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// EmbeddedURI is the embedded store's URI, or "" on MongoDB.
func (a *App) EmbeddedURI() string {
	if a.embedded == nil {
		return ""
	}
	return a.embedded.URI()
}

// Close closes the store connection and stops the embedded store.
func (a *App) Close(ctx context.Context) error {
	var errs []error
	if a.Feed != nil {
		a.Feed.Close()
	}
	if a.Store != nil {
		errs = append(errs, a.Store.Close(ctx))
	}
	if a.embedded != nil {
		errs = append(errs, a.embedded.Close(ctx))
	}
	return errors.Join(errs...)
}

// devAuth offers the demo fixture's accounts to the development sign-in.
func devAuth(s *auth.DevSigner) *httpapi.DevAuth {
	d := &httpapi.DevAuth{}
	kinds := map[string]auth.Kind{}
	subjects := map[string]string{}
	for _, a := range fixture.Demo().Accounts {
		da := httpapi.DevAccount{Email: a.Email, Kind: a.Kind, Roles: []string{}}
		for _, m := range a.Memberships {
			for _, r := range m.Roles {
				da.Roles = append(da.Roles, m.Tenant+":"+r)
			}
		}
		d.Accounts = append(d.Accounts, da)
		kinds[a.Email], subjects[a.Email] = auth.Kind(a.Kind), a.Subject
	}
	d.Issue = func(email string) (string, error) { return s.Issue(subjects[email], email, kinds[email], 12*time.Hour) }
	return d
}

// commandMonitor counts store round trips for /metrics.
// poolMonitor counts the checkouts of a store connection that timed out: the store was
// saturated and the operation was answered UNAVAILABLE.
func poolMonitor(m *httpapi.Metrics) *event.PoolMonitor {
	return &event.PoolMonitor{Event: func(e *event.PoolEvent) {
		if e.Type == event.ConnectionCheckOutFailed && e.Reason == event.ReasonTimedOut {
			m.PoolExhausted()
		}
	}}
}

func commandMonitor(m *httpapi.Metrics, sent *atomic.Int64) *event.CommandMonitor {
	return &event.CommandMonitor{
		Succeeded: func(_ context.Context, e *event.CommandSucceededEvent) {
			sent.Add(1)
			m.StoreCommand(e.CommandName, e.Duration, false)
		},
		Failed: func(_ context.Context, e *event.CommandFailedEvent) {
			sent.Add(1)
			m.StoreCommand(e.CommandName, e.Duration, true)
		},
	}
}
