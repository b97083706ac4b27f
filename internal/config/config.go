// Package config reads the server's configuration from flags, each with an environment
// variable equivalent (the flag wins). Every problem is reported as one clear line.
package config

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/realclientip/realclientip-go"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/mongodb"
)

// Config is the server's configuration.
type Config struct {
	Listen          string
	DebugListen     string // empty: no debug listener
	MongoURI        string
	Database        string
	DataDir         string
	StoreAddr       string
	CORSOrigins     []string
	LogLevel        slog.Level
	LogFormat       string
	SeedFile        string
	SeedDemo        bool
	Now             time.Time // zero: the real clock
	ClockOffset     time.Duration
	ActivationDelay time.Duration
	DevAuth         bool
	Issuer          string
	Audience        string
	ShutdownTimeout time.Duration
	ReminderWindow  time.Duration
	LowBalance      int
	Introspection   bool
	ConnectTimeout  time.Duration
	StoreWait       time.Duration
	FeedPoll        time.Duration
	FeedBuffer      int
	FeedStall       time.Duration

	// Identity and hostile input (SECURITY.md).
	OIDCIssuers        []auth.IssuerConfig // trusted external issuers; empty: none
	TrustedProxies     []net.IPNet         // reverse proxies whose X-Forwarded-For is believed
	QueryMaxBytes      int                 // 0: the default of internal/httpapi (Limits)
	QueryMaxTokens     int
	QueryMaxDepth      int
	QueryMaxComplexity int
	LinkRateAccount    int // linking attempts a minute per account; 0: unlimited
	LinkRateAddress    int // linking attempts a minute per client address; 0: unlimited
}

// DevIssuer is the issuer of development tokens.
const DevIssuer = "partnersupport-dev"

// flags binds every setting to a flag whose default comes from its environment variable.
type binder struct {
	fs     *flag.FlagSet
	getenv func(string) string
	errs   []error
}

func (b *binder) str(p *string, name, env, def, usage string) {
	if v := b.getenv(env); v != "" {
		def = v
	}
	b.fs.StringVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

func (b *binder) boolean(p *bool, name, env string, def bool, usage string) {
	if v := b.getenv(env); v != "" {
		switch strings.ToLower(v) {
		case "1", "true", "yes", "on":
			def = true
		case "0", "false", "no", "off":
			def = false
		default:
			b.errs = append(b.errs, fmt.Errorf("%s=%q: want true or false", env, v))
		}
	}
	b.fs.BoolVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

func (b *binder) duration(p *time.Duration, name, env string, def time.Duration, usage string) {
	if v := b.getenv(env); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: not a duration such as 90s or 5m", env, v))
		} else {
			def = d
		}
	}
	b.fs.DurationVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

func (b *binder) integer(p *int, name, env string, def int, usage string) {
	if v := b.getenv(env); v != "" {
		var n int
		if _, err := fmt.Sscanf(v, "%d", &n); err != nil {
			b.errs = append(b.errs, fmt.Errorf("%s=%q: not a whole number", env, v))
		} else {
			def = n
		}
	}
	b.fs.IntVar(p, name, def, fmt.Sprintf("%s (env %s)", usage, env))
}

// Parse reads the configuration of `server [flags]` and `server store [flags]`. It
// returns flag.ErrHelp after printing usage when asked for --help.
func Parse(name string, args []string, getenv func(string) string, out io.Writer) (Config, error) {
	var c Config
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(io.Discard) // errors are reported once, by the caller, on one line
	b := &binder{fs: fs, getenv: getenv}
	var cors, level, now string
	b.str(&c.Listen, "listen", "LISTEN_ADDR", "127.0.0.1:8080", "HTTP listen address")
	b.str(&c.DebugListen, "debug-listen", "DEBUG_LISTEN", "", "address of a separate listener serving Go's profiler (/debug/pprof/) for operators; empty: none. It has no authentication: bind it to loopback or a private network only")
	b.str(&c.MongoURI, "mongodb-uri", "MONGODB_URI", "", "MongoDB URI; empty runs the embedded store in --data-dir")
	b.str(&c.Database, "database", "MONGODB_DATABASE", "partnersupport", "database name")
	b.str(&c.DataDir, "data-dir", "DATA_DIR", "./data", "data directory: the embedded store's files and the development signing key")
	b.str(&c.StoreAddr, "store-addr", "STORE_ADDR", "127.0.0.1:27018", "loopback address of the embedded store, for mongosh, Compass or a second server (MONGODB_URI=mongodb://ADDR/)")
	b.str(&cors, "cors-origins", "CORS_ORIGINS", "http://localhost:8080,http://127.0.0.1:8080", "comma-separated browser origins allowed to call the API; websockets are checked against the same list")
	b.str(&level, "log-level", "LOG_LEVEL", "info", "log level: debug, info, warn or error")
	b.str(&c.LogFormat, "log-format", "LOG_FORMAT", "text", "log format: text or json")
	b.str(&c.SeedFile, "seed", "SEED", "", "fixture file to load idempotently at start-up (see docs/fixtures.md)")
	b.boolean(&c.SeedDemo, "demo", "SEED_DEMO", false, "load the demo fixture built into the binary at start-up")
	b.str(&now, "now", "NOW", "", "TESTING AID: start the clock at this RFC 3339 time (it then runs forward)")
	b.duration(&c.ClockOffset, "clock-offset", "CLOCK_OFFSET", 0, "TESTING AID: shift the real clock by this duration; processes given the same offset share one clock")
	b.duration(&c.ActivationDelay, "activation-delay", "ACTIVATION_DELAY", 90*time.Second, "how long activation takes before the Access ID and Contract ID show (R4)")
	b.boolean(&c.DevAuth, "dev-auth", "DEV_AUTH", false, "accept tokens from the development signer whose key is in --data-dir (development only)")
	b.str(&c.Audience, "jwt-audience", "JWT_AUDIENCE", "partnersupport-api", "audience that tokens must carry")
	b.duration(&c.ShutdownTimeout, "shutdown-timeout", "SHUTDOWN_TIMEOUT", 15*time.Second, "how long in-flight requests may take to finish at shutdown")
	b.duration(&c.ReminderWindow, "reminder-window", "REMINDER_WINDOW", 30*24*time.Hour, "remind when a benefit ends within this window (R19)")
	b.integer(&c.LowBalance, "low-balance", "LOW_BALANCE", 2, "remind when remaining incidents are at or below this (R19)")
	b.duration(&c.ConnectTimeout, "connect-timeout", "MONGODB_CONNECT_TIMEOUT", 10*time.Second, "how long to wait for the store at start-up")
	b.duration(&c.StoreWait, "store-wait", "STORE_WAIT", mongodb.DefaultStoreWait, "how long an operation waits for a free store connection before the request is answered UNAVAILABLE (retryable) and counted in store_pool_exhausted_total")
	b.duration(&c.FeedPoll, "feed-poll", "FEED_POLL", 100*time.Millisecond, "how often live subscriptions look for changes made by other instances")
	b.integer(&c.FeedBuffer, "feed-buffer", "FEED_BUFFER", 4, "events that may wait for a live subscriber before it must catch up from the store")
	b.duration(&c.FeedStall, "feed-stall", "FEED_STALL", 10*time.Second, "a live subscriber that accepts no event for this long is disconnected as too slow")
	b.boolean(&c.Introspection, "introspection", "INTROSPECTION", true, "allow schema introspection (turn off in production if wanted)")
	var oidcIssuers, trustedProxies string
	b.str(&oidcIssuers, "oidc-issuers", "OIDC_ISSUERS", "", `trusted OpenID Connect issuers, a JSON array such as [{"issuer":"https://login.microsoftonline.com/<tenant>/v2.0","audience":"<client-id>"}] (keys issuer, audience, jwksUrl, kind, algorithms, supportProvider: {claim, value} for a support provider issuer, R25)`)
	b.str(&trustedProxies, "trusted-proxies", "TRUSTED_PROXIES", "", "comma-separated addresses or CIDR ranges of reverse proxies whose X-Forwarded-For names the client; empty: the client is the peer")
	b.integer(&c.QueryMaxBytes, "query-max-bytes", "QUERY_MAX_BYTES", 32<<10, "largest GraphQL query text, in bytes (variables are bounded by the body size)")
	b.integer(&c.QueryMaxTokens, "query-max-tokens", "QUERY_MAX_TOKENS", 1000, "most lexical tokens in a GraphQL query")
	b.integer(&c.QueryMaxDepth, "query-max-depth", "QUERY_MAX_DEPTH", 15, "deepest nesting of fields in an operation, fragments expanded")
	b.integer(&c.QueryMaxComplexity, "query-max-complexity", "QUERY_MAX_COMPLEXITY", 10000, "largest operation cost: a field costs 1, lists and pages multiply")
	b.integer(&c.LinkRateAccount, "link-rate-account", "LINK_RATE_ACCOUNT", 10, "linkSupportPlan attempts a minute per account (also the burst); 0 turns the limit off")
	b.integer(&c.LinkRateAddress, "link-rate-address", "LINK_RATE_ADDRESS", 30, "linkSupportPlan attempts a minute per client address (an IPv6 /64; also the burst); 0 turns the limit off")
	if err := fs.Parse(args); errors.Is(err, flag.ErrHelp) {
		fs.SetOutput(out)
		fmt.Fprintf(out, "Usage: %s [flags]\n\nEvery flag can also be set by the environment variable named beside it.\n\n", name)
		fs.PrintDefaults()
		return c, err
	} else if err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected argument %q (see --help)", fs.Arg(0))
	}
	if len(b.errs) > 0 {
		return c, errors.Join(b.errs...)
	}
	c.Issuer = DevIssuer
	for _, o := range strings.Split(cors, ",") {
		if o = strings.TrimSpace(o); o == "" {
			continue
		}
		if o != "*" {
			if u, err := url.Parse(o); err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return c, fmt.Errorf("--cors-origins: %q is not an origin such as https://app.example.com", o)
			}
			o = strings.TrimSuffix(o, "/")
		}
		c.CORSOrigins = append(c.CORSOrigins, o)
	}
	if err := c.LogLevel.UnmarshalText([]byte(level)); err != nil {
		return c, fmt.Errorf("--log-level: %q is not one of debug, info, warn, error", level)
	}
	if c.LogFormat != "text" && c.LogFormat != "json" {
		return c, fmt.Errorf("--log-format: %q is not text or json", c.LogFormat)
	}
	if now != "" {
		t, err := time.Parse(time.RFC3339, now)
		if err != nil {
			return c, fmt.Errorf("--now: %q is not an RFC 3339 time such as 2026-11-25T09:00:00Z", now)
		}
		c.Now = t.UTC()
	}
	if _, _, err := net.SplitHostPort(c.Listen); err != nil {
		return c, fmt.Errorf("--listen: %q is not host:port", c.Listen)
	}
	if c.DebugListen != "" {
		if _, _, err := net.SplitHostPort(c.DebugListen); err != nil {
			return c, fmt.Errorf("--debug-listen: %q is not host:port", c.DebugListen)
		}
	}
	if c.MongoURI != "" && !strings.HasPrefix(c.MongoURI, "mongodb://") && !strings.HasPrefix(c.MongoURI, "mongodb+srv://") {
		return c, errors.New("MONGODB_URI: must start with mongodb:// or mongodb+srv://")
	}
	if c.FeedBuffer < 1 || c.FeedBuffer > 4096 {
		return c, errors.New("--feed-buffer: must be between 1 and 4096")
	}
	if strings.TrimSpace(oidcIssuers) != "" {
		issuers, err := auth.ParseIssuers(oidcIssuers)
		if err != nil {
			return c, fmt.Errorf("--oidc-issuers: %w", err)
		}
		c.OIDCIssuers = issuers
	}
	for _, p := range strings.Split(trustedProxies, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		nets, err := realclientip.AddressesAndRangesToIPNets(p)
		if err != nil {
			return c, fmt.Errorf("--trusted-proxies: %q is not an IP address or CIDR range", p)
		}
		c.TrustedProxies = append(c.TrustedProxies, nets...)
	}
	if c.QueryMaxBytes < 1 || c.QueryMaxTokens < 1 || c.QueryMaxDepth < 1 || c.QueryMaxComplexity < 1 {
		return c, errors.New("--query-max-bytes, --query-max-tokens, --query-max-depth and --query-max-complexity must be at least 1")
	}
	if c.LinkRateAccount < 0 || c.LinkRateAddress < 0 {
		return c, errors.New("--link-rate-account and --link-rate-address must not be negative (0 turns a limit off)")
	}
	if c.FeedStall < 100*time.Millisecond {
		return c, errors.New("--feed-stall: must be at least 100ms")
	}
	if c.FeedPoll < 5*time.Millisecond {
		return c, errors.New("--feed-poll: must be at least 5ms")
	}
	if c.StoreWait < 10*time.Millisecond {
		return c, errors.New("--store-wait: must be at least 10ms")
	}
	if c.ActivationDelay < 0 || c.ShutdownTimeout <= 0 || c.ReminderWindow < 0 || c.LowBalance < 0 {
		return c, errors.New("durations and thresholds must not be negative")
	}
	if c.Database == "" || strings.ContainsAny(c.Database, "/\\. \"$") {
		return c, fmt.Errorf("--database: %q is not a valid database name", c.Database)
	}
	return c, nil
}

// Clock returns the configured clock: the real one, shifted by --clock-offset, or one that
// starts at --now and runs forward from process start (testing aids).
func (c Config) Clock() func() time.Time {
	if c.Now.IsZero() {
		off := c.ClockOffset
		return func() time.Time { return time.Now().Add(off).UTC() }
	}
	start, base := time.Now(), c.Now
	return func() time.Time { return base.Add(time.Since(start)).UTC() }
}
