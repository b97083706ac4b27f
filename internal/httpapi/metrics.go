package httpapi

import (
	"context"
	"regexp"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"
)

// Metrics are the server's Prometheus collectors, on their own registry.
type Metrics struct {
	Registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	subscriptions prometheus.Gauge
	storeTrips    *prometheus.CounterVec
	storeLatency  *prometheus.HistogramVec

	mu    sync.Mutex
	names map[string]struct{}
}

// maxOperationNames bounds the operation label's values: names are chosen by clients, so
// an unbounded label would let any client grow the metrics without limit.
const maxOperationNames = 200

var opName = regexp.MustCompile(`^[A-Za-z_][A-Za-z0-9_]{0,63}$`)

// NewMetrics registers the collectors, plus the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "graphql_requests_total", Help: "GraphQL operations by operation name, type and outcome.",
		}, []string{"operation", "type", "outcome"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "graphql_request_duration_seconds", Help: "Latency of GraphQL queries and mutations.",
			Buckets: prometheus.ExponentialBuckets(0.0005, 2, 14),
		}, []string{"operation", "type"}),
		subscriptions: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "graphql_subscriptions_open", Help: "Subscriptions currently open.",
		}),
		storeTrips: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "store_roundtrips_total", Help: "Commands sent to the store, by command and outcome.",
		}, []string{"command", "outcome"}),
		storeLatency: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name: "store_roundtrip_duration_seconds", Help: "Latency of store commands.",
			Buckets: prometheus.ExponentialBuckets(0.0001, 2, 16),
		}, []string{"command"}),
		names: map[string]struct{}{},
	}
	m.Registry.MustRegister(m.requests, m.latency, m.subscriptions, m.storeTrips, m.storeLatency,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// StoreCommand records one store round trip.
func (m *Metrics) StoreCommand(command string, d time.Duration, failed bool) {
	outcome := "ok"
	if failed {
		outcome = "error"
	}
	m.storeTrips.WithLabelValues(command, outcome).Inc()
	m.storeLatency.WithLabelValues(command).Observe(d.Seconds())
}

// label returns a bounded label for a client-chosen operation name.
func (m *Metrics) label(name string) string {
	if name == "" {
		return "anonymous"
	}
	if !opName.MatchString(name) {
		return "other"
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	if _, ok := m.names[name]; ok {
		return name
	}
	if len(m.names) >= maxOperationNames {
		return "other"
	}
	m.names[name] = struct{}{}
	return name
}

// ExtensionName implements graphql.HandlerExtension.
func (m *Metrics) ExtensionName() string { return "Metrics" }

// Validate implements graphql.HandlerExtension.
func (m *Metrics) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation counts operations and keeps the open-subscriptions gauge.
func (m *Metrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation == nil || oc.Operation.Operation != ast.Subscription {
		return next(ctx)
	}
	m.subscriptions.Inc()
	var once sync.Once
	done := func() { once.Do(m.subscriptions.Dec) }
	go func() { <-ctx.Done(); done() }()
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		r := h(ctx)
		if r == nil {
			done()
		}
		return r
	}
}

// InterceptResponse records each query and mutation's outcome and latency.
func (m *Metrics) InterceptResponse(ctx context.Context, next graphql.ResponseHandler) *graphql.Response {
	resp := next(ctx)
	if !graphql.HasOperationContext(ctx) {
		return resp
	}
	oc := graphql.GetOperationContext(ctx)
	typ := "unknown"
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
	}
	if typ == string(ast.Subscription) {
		return resp
	}
	name := m.label(oc.OperationName)
	outcome := "ok"
	if resp == nil || len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.requests.WithLabelValues(name, typ, outcome).Inc()
	m.latency.WithLabelValues(name, typ).Observe(time.Since(oc.Stats.OperationStart).Seconds())
	return resp
}

var (
	_ graphql.HandlerExtension     = (*Metrics)(nil)
	_ graphql.OperationInterceptor = (*Metrics)(nil)
	_ graphql.ResponseInterceptor  = (*Metrics)(nil)
)
