// Package httpapi serves the GraphQL API over HTTP: POST, GET (queries only), websockets
// (graphql-transport-ws and legacy graphql-ws) and SSE on /query; GraphiQL on /; health,
// readiness and Prometheus metrics. It knows nothing of the store or the rules: it calls
// the schema, the token verifier and a ping function it is given.
package httpapi

import (
	"context"
	"encoding/json"
	"github.com/partnersupport/api/internal/cache"
	"log/slog"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	coderws "github.com/coder/websocket"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/cors"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/graphiql"
)

// Config is what the HTTP layer needs.
type Config struct {
	Schema   graphql.ExecutableSchema
	Verifier auth.Verifier // nil: every token is refused
	SignIn   SignIn
	// Ping checks the store for /readyz.
	Ping    func(ctx context.Context) error
	Metrics *Metrics
	Logger  *slog.Logger
	// CORSOrigins are the browser origins allowed to call the API, such as
	// https://app.example.com. The websocket origin check uses the same list.
	CORSOrigins []string
	// Introspection enables schema introspection (on in development).
	Introspection bool
	// KeepAlive is the websocket keep-alive ping interval.
	KeepAlive time.Duration
	// MaxBodyBytes bounds a request body; MaxWSMessageBytes a websocket message.
	MaxBodyBytes      int64
	MaxWSMessageBytes int64
	// Limits bound each operation: query size, tokens, depth, complexity (limits.go).
	Limits Limits
	// RateLimit bounds attempts at sensitive fields per account and address (ratelimit.go).
	RateLimit RateLimit
	// TrustedProxies are the reverse proxies whose X-Forwarded-For is believed; empty:
	// the client's address is always the peer's.
	TrustedProxies []net.IPNet
	// Dashboard serves the live dashboard at /dashboard/; nil: none.
	Dashboard http.Handler
	// Dev enables the development sign-in endpoints; nil (the default): none.
	Dev *DevAuth
	// Audit records security events: refused tokens and rate-limit hits; may be nil.
	Audit Audit
}

// Server is the HTTP handler plus what shutdown must close.
type Server struct {
	handler http.Handler
	ws      *wsTracker
}

// New builds the handler.
func New(c Config) *Server {
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.KeepAlive == 0 {
		c.KeepAlive = 15 * time.Second
	}
	if c.MaxBodyBytes == 0 {
		c.MaxBodyBytes = 1 << 20
	}
	if c.MaxWSMessageBytes == 0 {
		c.MaxWSMessageBytes = 64 << 10
	}
	authn := authenticator{verifier: c.Verifier, signIn: c.SignIn, audit: c.Audit}
	tracker := newWSTracker(transport.CoderWebsocketImplementation{AcceptOptions: coderws.AcceptOptions{
		OriginPatterns: originHosts(c.CORSOrigins),
	}})

	gql := handler.New(c.Schema)
	gql.AddTransport(transport.Websocket{
		Implementation:        tracker,
		InitFunc:              authn.websocketInit,
		InitTimeout:           10 * time.Second,
		KeepAlivePingInterval: c.KeepAlive,
		PayloadReadLimit:      &c.MaxWSMessageBytes,
	})
	gql.AddTransport(transport.SSE{})
	// GET and POST as the GraphQL-over-HTTP spec says (transport.go).
	gql.AddTransport(httpTransport{})
	// No form or multipart transports: a GraphQL body must be JSON, which a browser sends
	// cross-origin only after a CORS preflight (CSRF).
	gql.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	gql.Use(extension.AutomaticPersistedQuery{Cache: lru.New[string](1000)})
	if c.Introspection {
		gql.Use(extension.Introspection{})
	} else {
		// Without introspection, "Did you mean …?" would rebuild the schema name by name.
		gql.SetDisableSuggestion(true)
	}
	// Hostile input (limits.go): every limit refuses before a resolver runs.
	limits := c.Limits.withDefaults()
	gql.SetParserTokenLimit(limits.MaxTokens)
	facts := newOpFactsCache(limits.CostArguments)
	gql.Use(operationLimits{l: limits, facts: facts})
	gql.Use(complexityLimit{limit: limits.MaxComplexity, facts: facts})
	// A query reads each piece of tenant and account state once, however many of its
	// fields need it (cache.PerRequest). Mutations and subscriptions read afresh.
	gql.AroundOperations(func(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
		if oc := graphql.GetOperationContext(ctx); oc != nil && oc.Operation != nil && oc.Operation.Operation == ast.Query {
			ctx = cache.WithRequestMemo(ctx)
		}
		return next(ctx)
	})
	// Audit events name the operation they happened in (domain.WithOperation).
	gql.AroundRootFields(func(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
		if rfc := graphql.GetRootFieldContext(ctx); rfc != nil && rfc.Field.Field != nil {
			ctx = domain.WithOperation(ctx, rfc.Field.Name)
		}
		return next(ctx)
	})
	if rl := newRateLimiter(c.RateLimit); rl != nil {
		// Around root fields, not AroundFields: a field middleware runs for every field of
		// every answer, guarded or not.
		rl.checkFields(c.Schema.Schema())
		rl.audit = c.Audit
		gql.AroundRootFields(rl.rootField)
	}
	if c.Metrics != nil {
		gql.Use(c.Metrics)
	}
	gql.SetErrorPresenter(presentError(c.Logger, c.Introspection))
	gql.SetRecoverFunc(recoverPanic(c.Logger))

	corsMW := cors.New(cors.Options{
		AllowedOrigins:   c.CORSOrigins,
		AllowedMethods:   []string{http.MethodGet, http.MethodPost},
		AllowedHeaders:   []string{"Authorization", "Content-Type", "Accept"},
		AllowCredentials: false, // tokens travel in a header, never in cookies
		MaxAge:           600,
	})

	mux := http.NewServeMux()
	mux.Handle("/query", corsMW.Handler(guard(c.MaxBodyBytes, newClientAddress(c.TrustedProxies), authn.middleware(withConnRef(gql)))))
	// GraphiQL, embedded (web/graphiql): the page at /, its assets under /graphiql/.
	gi := graphiql.Handler()
	mux.Handle("GET /{$}", gi)
	mux.Handle("GET /graphiql/", gi)
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		ctx, cancel := context.WithTimeout(r.Context(), 2*time.Second)
		defer cancel()
		if c.Ping == nil {
			writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
			return
		}
		if err := c.Ping(ctx); err != nil {
			c.Logger.Warn("readiness check failed", "err", err)
			writeJSON(w, http.StatusServiceUnavailable, map[string]string{"status": "unavailable", "reason": "the store does not answer"})
			return
		}
		writeJSON(w, http.StatusOK, map[string]string{"status": "ok"})
	})
	if c.Dashboard != nil {
		mux.Handle("GET /dashboard/", http.StripPrefix("/dashboard", c.Dashboard))
		mux.Handle("GET /dashboard", http.RedirectHandler("/dashboard/", http.StatusMovedPermanently))
	}
	if c.Dev != nil {
		c.Dev.routes(mux)
	}
	if c.Metrics != nil {
		mux.Handle("GET /metrics", promhttp.HandlerFor(c.Metrics.Registry, promhttp.HandlerOpts{}))
	}
	return &Server{handler: mux, ws: tracker}
}

// Handler is the root handler.
func (s *Server) Handler() http.Handler { return s.handler }

// CloseWebsockets closes every open websocket with 1001 (going away); call it when
// shutting down, after the listener stops accepting.
func (s *Server) CloseWebsockets() { s.ws.closeAll("server shutting down") }

// originHosts turns CORS origins (scheme://host[:port]) into the host patterns the
// websocket library matches the Origin header against.
func originHosts(origins []string) []string {
	var out []string
	for _, o := range origins {
		if o == "*" {
			out = append(out, "*")
			continue
		}
		if u, err := url.Parse(o); err == nil && u.Host != "" {
			out = append(out, u.Host)
		}
	}
	return out
}

func writeAuthError(w http.ResponseWriter, err error) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, gqlErrorBody(domain.EUNAUTHENTICATED, safeMessage(err)))
}

func gqlErrorBody(code domain.Code, msg string) map[string]any {
	return map[string]any{"errors": []map[string]any{{"message": msg, "extensions": map[string]any{"code": string(code)}}}}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
