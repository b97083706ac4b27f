package httpapi

import (
	"context"
	"runtime"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
)

// The open-subscriptions gauge follows each subscription's end, without a goroutine per
// open subscription.
func TestMetrics_OpenSubscriptionsGaugeWithoutAGoroutineEach(t *testing.T) {
	m := NewMetrics()
	op := &graphql.OperationContext{Operation: &ast.OperationDefinition{Operation: ast.Subscription}}
	stream := func(ctx context.Context) graphql.ResponseHandler {
		return func(ctx context.Context) *graphql.Response { <-ctx.Done(); return nil }
	}
	const n = 500
	before := runtime.NumGoroutine()
	cancels := make([]context.CancelFunc, n)
	for i := range n {
		ctx, cancel := context.WithCancel(graphql.WithOperationContext(context.Background(), op))
		cancels[i] = cancel
		m.InterceptOperation(ctx, stream)
	}
	require.EqualValues(t, n, openSubscriptions(t, m))
	require.Less(t, runtime.NumGoroutine()-before, n/10, "a goroutine per open subscription")
	for _, cancel := range cancels {
		cancel()
	}
	// The gauge goes down asynchronously, once each context is done.
	require.Eventually(t, func() bool { return openSubscriptions(t, m) == 0 }, 5*time.Second, 10*time.Millisecond,
		"the gauge to go back to 0")
}

func openSubscriptions(t *testing.T, m *Metrics) float64 {
	t.Helper()
	mfs, err := m.Registry.Gather()
	require.NoError(t, err)
	for _, mf := range mfs {
		if mf.GetName() == "graphql_subscriptions_open" {
			return mf.GetMetric()[0].GetGauge().GetValue()
		}
	}
	t.Fatal("no graphql_subscriptions_open")
	return 0
}
