package bench_test

import (
	"bytes"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"slices"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql/handler"
	"github.com/99designs/gqlgen/graphql/handler/lru"
	"github.com/99designs/gqlgen/graphql/handler/transport"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"

	"github.com/partnersupport/api/e2e/bench/benchenv"
	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/httpapi"
)

// BenchmarkSupportPlansStack splits what GraphQL adds to a supportPlans request into
// gqlgen's part and ours, with the store and the token check out of the way: lee's answer
// for azure in AZURE, read once from the service, is returned by a stub resolver and served
// (a) by gqlgen alone, set up as httpapi sets it up (the POST transport, the query cache,
// the executor), and (b) by the whole /query handler of httpapi.New (CORS, the body guard,
// the authenticator, whose token check and sign-in answer at once, the operation limits,
// complexity, metrics and persisted-query extensions, the rate limiter), alternating request
// by request in one process. It reports each handler's p25 and p50 time in µs, and ours-p50-us,
// the difference of the medians: what our own layers add to gqlgen's.
func BenchmarkSupportPlansStack(b *testing.B) {
	e := benchenv.New(b)
	ctx := context.Background()
	id, err := e.App.Signer.Verifier().Verify(ctx, e.Token(benchenv.Lee))
	require.NoError(b, err)
	acct, err := e.App.Service.SignIn(ctx, domain.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Kind: domain.AccountKind(id.Kind)})
	require.NoError(b, err)
	plans, err := e.App.Service.SupportPlans(ctx, acct, benchenv.Azure.Product, "", domain.Portal(benchenv.Azure.Portal))
	require.NoError(b, err)
	res := graph.NewResolver(e.App.Service, nil, nil)
	schema := func() *graph.Config {
		return &graph.Config{Resolvers: cannedRoot{res, cannedQuery{res.Query(), plans}}, Complexity: graph.Complexity()}
	}

	gqlgen := handler.New(graph.NewExecutableSchema(*schema()))
	gqlgen.AddTransport(transport.POST{})
	gqlgen.SetQueryCache(lru.New[*ast.QueryDocument](1000))
	query := httpapi.New(httpapi.Config{
		Schema:    graph.NewExecutableSchema(*schema()),
		Verifier:  verified(id),
		SignIn:    func(context.Context, domain.Identity) (domain.Account, error) { return acct, nil },
		Metrics:   httpapi.NewMetrics(),
		Limits:    httpapi.Limits{CostArguments: graph.CostArguments},
		RateLimit: httpapi.RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAccount: 10, PerAddress: 30},
	}).Handler()

	body, err := json.Marshal(map[string]any{"query": benchenv.SupportPlansQuery, "variables": map[string]any{"p": benchenv.Azure.Product, "portal": benchenv.Azure.Portal}})
	require.NoError(b, err)
	callerCtx := domain.WithCaller(ctx, acct) // what the authenticator gives gqlgen
	var want []byte
	serve := func(h http.Handler, c context.Context) time.Duration {
		r := httptest.NewRequestWithContext(c, http.MethodPost, "/query", bytes.NewReader(body))
		r.Header.Set("Content-Type", "application/json")
		r.Header.Set("Authorization", "Bearer x")
		w := httptest.NewRecorder()
		start := time.Now()
		h.ServeHTTP(w, r)
		took := time.Since(start)
		if w.Code != http.StatusOK || (want != nil && !bytes.Equal(w.Body.Bytes(), want)) {
			b.Fatalf("status %d: %.300s", w.Code, w.Body.Bytes())
		}
		want = w.Body.Bytes()
		return took
	}
	for range 500 { // warm up: the query cache, the operation facts, the runtime
		serve(gqlgen, callerCtx)
		serve(query, ctx)
	}
	var g, q []time.Duration
	round := 0
	for b.Loop() {
		if round%2 == 0 {
			g = append(g, serve(gqlgen, callerCtx))
			q = append(q, serve(query, ctx))
		} else {
			q = append(q, serve(query, ctx))
			g = append(g, serve(gqlgen, callerCtx))
		}
		round++
	}
	slices.Sort(g)
	slices.Sort(q)
	at := func(s []time.Duration, p float64) float64 {
		return float64(s[min(int(p*float64(len(s))), len(s)-1)]) / float64(time.Microsecond)
	}
	b.ReportMetric(at(g, 0.25), "gqlgen-p25-us")
	b.ReportMetric(at(g, 0.5), "gqlgen-p50-us")
	b.ReportMetric(at(q, 0.25), "query-p25-us")
	b.ReportMetric(at(q, 0.5), "query-p50-us")
	b.ReportMetric(at(q, 0.5)-at(g, 0.5), "ours-p50-us")
	b.ReportMetric(0, "ns/op") // an iteration is one request to each handler: not a figure
}

// cannedRoot is the application's resolver with supportPlans answered from memory.
type cannedRoot struct {
	*graph.Resolver
	query cannedQuery
}

func (r cannedRoot) Query() graph.QueryResolver { return r.query }

type cannedQuery struct {
	graph.QueryResolver
	plans domain.Plans
}

func (q cannedQuery) SupportPlans(context.Context, string, *string, domain.Portal) (domain.Plans, error) {
	return q.plans, nil
}

// verified is a token check that accepts any token as id.
type verified auth.Identity

func (v verified) Verify(context.Context, string) (auth.Identity, error) {
	return auth.Identity(v), nil
}
