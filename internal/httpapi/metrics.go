package httpapi

import (
	"context"
	"sort"
	"strings"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/internal/domain"
)

// Metrics are the server's Prometheus collectors, on their own registry.
type Metrics struct {
	Registry      *prometheus.Registry
	requests      *prometheus.CounterVec
	latency       *prometheus.HistogramVec
	subscriptions prometheus.Gauge
	storeTrips    *prometheus.CounterVec
	storeLatency  *prometheus.HistogramVec
	audit         *prometheus.CounterVec
	poolExhausted prometheus.Counter
	labels        labelCache // each operation's label, computed once
}

// The operation label is made of the operation's root fields (supportPlans,
// createSupportRequest…), which the schema bounds; never of the client's operation name,
// which a client could fill with anything, a secret included.
const maxRootFieldsInLabel = 3

// NewMetrics registers the collectors, plus the Go and process collectors.
func NewMetrics() *Metrics {
	m := &Metrics{
		Registry: prometheus.NewRegistry(),
		labels:   newLabelCache(),
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
		audit: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "audit_events_total", Help: "Audit events (sign-in failures, authorization refusals, rate-limit hits, admin and provider actions) by event and outcome.",
		}, []string{"event", "outcome"}),
		poolExhausted: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "store_pool_exhausted_total", Help: "Store operations refused (UNAVAILABLE) because no pooled connection was free in time.",
		}),
	}
	m.Registry.MustRegister(m.requests, m.latency, m.subscriptions, m.storeTrips, m.storeLatency, m.audit, m.poolExhausted,
		prometheus.NewGoCollector(), prometheus.NewProcessCollector(prometheus.ProcessCollectorOpts{}))
	return m
}

// AuditEvent counts an audit event by its name and outcome, both from fixed sets.
func (m *Metrics) AuditEvent(e domain.AuditEvent) {
	m.audit.WithLabelValues(e.Name, e.Outcome).Inc()
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

// PoolExhausted counts one checkout of a store connection that timed out.
func (m *Metrics) PoolExhausted() { m.poolExhausted.Inc() }

// label names an operation by its root fields, sorted and joined with "+"; more than a
// few are "multiple". Only names the schema defines can appear.
func label(op *ast.OperationDefinition) string {
	if op == nil {
		return "unknown"
	}
	var names []string
	seen := map[string]bool{}
	var walk func(ast.SelectionSet)
	walk = func(set ast.SelectionSet) {
		for _, sel := range set {
			switch f := sel.(type) {
			case *ast.Field:
				if f.Definition != nil && !seen[f.Name] {
					seen[f.Name] = true
					names = append(names, f.Name)
				}
			case *ast.InlineFragment:
				walk(f.SelectionSet)
			case *ast.FragmentSpread:
				if f.Definition != nil {
					walk(f.Definition.SelectionSet)
				}
			}
		}
	}
	walk(op.SelectionSet)
	switch {
	case len(names) == 0:
		return "none"
	case len(names) > maxRootFieldsInLabel:
		return "multiple"
	}
	sort.Strings(names)
	return strings.Join(names, "+")
}

// ExtensionName implements graphql.HandlerExtension.
func (m *Metrics) ExtensionName() string { return "Metrics" }

// Validate implements graphql.HandlerExtension.
func (m *Metrics) Validate(graphql.ExecutableSchema) error { return nil }

// InterceptOperation records each query and mutation's outcome and latency, and keeps
// the open-subscriptions gauge. A subscription's handler is returned as it is: its
// goroutine waits for the next event inside that handler for the subscription's whole
// life, and every frame a wrapper adds stays on that goroutine's stack
// (BenchmarkSubscriptionMemory). For the same reason Metrics is not a response
// interceptor, whose frame would wait there too.
func (m *Metrics) InterceptOperation(ctx context.Context, next graphql.OperationHandler) graphql.ResponseHandler {
	oc := graphql.GetOperationContext(ctx)
	if oc.Operation != nil && oc.Operation.Operation == ast.Subscription {
		m.subscriptions.Inc()
		// Ended by its context, which the transport cancels when the subscription ends
		// for any reason; no goroutine per subscription waits for it.
		context.AfterFunc(ctx, m.subscriptions.Dec)
		return next(ctx)
	}
	h := next(ctx)
	return func(ctx context.Context) *graphql.Response {
		resp := h(ctx)
		m.observe(oc, resp)
		return resp
	}
}

// observe records a query or mutation's outcome and latency.
func (m *Metrics) observe(oc *graphql.OperationContext, resp *graphql.Response) {
	typ := "unknown"
	if oc.Operation != nil {
		typ = string(oc.Operation.Operation)
	}
	name := m.labels.of(oc.Operation)
	outcome := "ok"
	if resp == nil || len(resp.Errors) > 0 {
		outcome = "error"
	}
	m.requests.WithLabelValues(name, typ, outcome).Inc()
	m.latency.WithLabelValues(name, typ).Observe(time.Since(oc.Stats.OperationStart).Seconds())
}

var (
	_ graphql.HandlerExtension     = (*Metrics)(nil)
	_ graphql.OperationInterceptor = (*Metrics)(nil)
)
