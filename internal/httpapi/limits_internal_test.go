package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/parser"

	"github.com/partnersupport/api/internal/domain"
)

func parse(t testing.TB, q string) *ast.QueryDocument {
	t.Helper()
	doc, err := parser.ParseQuery(&ast.Source{Input: q})
	require.NoError(t, err)
	return doc
}

func TestOperationDepth(t *testing.T) {
	for q, want := range map[string]int{
		`{ __typename }`: 1,
		`{ viewer { memberships { tenant { offers { offer { grants { name } } } } } } }`:                    7,
		`{ a: viewer { email } b: viewer { memberships { roles } } }`:                                       3,
		`query { ... on Query { viewer { ...V } } } fragment V on Viewer { memberships { tenant { id } } }`: 4,
		// A cycle (refused by validation before this runs) is cut, not followed forever.
		`query { ...A } fragment A on Query { viewer { ...B } } fragment B on Viewer { ...A }`: 1,
	} {
		doc := parse(t, q)
		assert.Equal(t, want, operationDepth(doc, doc.Operations[0]), q)
	}
}

// TestOperationDepthIsLinear: each fragment is measured once, however often it is spread,
// so a document that doubles at every level costs nothing.
func TestOperationDepthIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString("query { ...F0 }\n")
	const n = 60
	for i := range n {
		fmt.Fprintf(&b, "fragment F%d on Query { a: viewer { id } ...F%d ...F%d }\n", i, i+1, i+1)
	}
	fmt.Fprintf(&b, "fragment F%d on Query { viewer { id } }\n", n)
	doc := parse(t, b.String())
	done := make(chan int, 1)
	go func() { done <- operationDepth(doc, doc.Operations[0]) }()
	select {
	case d := <-done:
		assert.Equal(t, 2, d)
	case <-time.After(10 * time.Second):
		t.Fatal("depth walk is exponential")
	}
	assert.Nil(t, checkPages(doc, doc.Operations[0].SelectionSet, nil))
}

func TestClientAddress(t *testing.T) {
	req := func(remote, xff string) *http.Request {
		r := httptest.NewRequest(http.MethodPost, "/query", nil)
		r.RemoteAddr = remote
		if xff != "" {
			r.Header.Set("X-Forwarded-For", xff)
		}
		return r
	}
	direct := newClientAddress(nil)
	assert.Equal(t, "203.0.113.9", direct.of(req("203.0.113.9:5555", "")))
	assert.Equal(t, "203.0.113.9", direct.of(req("203.0.113.9:5555", "198.51.100.1")), "X-Forwarded-For is ignored unless configured")
	assert.Equal(t, "2001:db8::1", direct.of(req("[2001:db8::1]:443", "")))

	_, proxies, err := net.ParseCIDR("10.0.0.0/8")
	require.NoError(t, err)
	behind := newClientAddress([]net.IPNet{*proxies})
	assert.Equal(t, "198.51.100.1", behind.of(req("10.1.2.3:5555", "198.51.100.1")))
	assert.Equal(t, "198.51.100.1", behind.of(req("10.1.2.3:5555", "6.6.6.6, 198.51.100.1, 10.9.9.9")),
		"the rightmost address that is not a trusted proxy: what the client sent on the left is not believed")
	assert.Equal(t, "10.1.2.3", behind.of(req("10.1.2.3:5555", "")), "no header: the proxy itself")
	assert.Equal(t, "10.1.2.3", behind.of(req("10.1.2.3:5555", "10.4.4.4")), "only proxies: the peer")
	assert.Equal(t, "203.0.113.9", behind.of(req("203.0.113.9:5555", "198.51.100.1")),
		"a client that is not a trusted proxy cannot choose its address")
}

func TestAddressKey(t *testing.T) {
	assert.Equal(t, "address:203.0.113.9", addressKey("203.0.113.9"))
	assert.Equal(t, "address:203.0.113.9", addressKey("::ffff:203.0.113.9"))
	assert.Equal(t, addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:2:ffff::7"), "one IPv6 /64 is one client")
	assert.NotEqual(t, addressKey("2001:db8:1:2::1"), addressKey("2001:db8:1:3::1"))
	assert.Equal(t, addressKey("fe80::1%eth0"), addressKey("fe80::2"))
	assert.Equal(t, "address:unknown", addressKey(""))
	assert.Equal(t, "address:unknown", addressKey("@"))
}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }
func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func callerCtx(id, addr string) context.Context {
	ctx := context.WithValue(context.Background(), requestInfoKey{}, requestInfo{client: addr})
	if id == "" {
		return ctx
	}
	return domain.WithCaller(ctx, domain.Account{ID: id})
}

func requireRateLimited(t *testing.T, err error) *domain.Error {
	t.Helper()
	e, ok := domain.AsError(err)
	require.True(t, ok, "%v", err)
	require.Equal(t, domain.ERATELIMITED, e.Code)
	return e
}

func TestRateLimiter_BurstThenRefillPerAccount(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	rl := newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAccount: 6, Now: c.now})
	ctx := callerCtx("acc_sam", "203.0.113.9")
	for i := range 6 {
		require.NoError(t, rl.allow(ctx), "attempt %d", i+1)
	}
	e := requireRateLimited(t, rl.allow(ctx))
	assert.Equal(t, 10, e.Meta["retryAfterSeconds"], "6 a minute: one every 10 s")
	require.NoError(t, rl.allow(callerCtx("acc_lee", "203.0.113.9")), "another account is not held up (no address limit)")
	c.advance(9 * time.Second)
	requireRateLimited(t, rl.allow(ctx))
	c.advance(time.Second)
	require.NoError(t, rl.allow(ctx), "a token came back")
	requireRateLimited(t, rl.allow(ctx))
	c.advance(time.Hour)
	for range 6 {
		require.NoError(t, rl.allow(ctx), "full again, but no more than the burst")
	}
	requireRateLimited(t, rl.allow(ctx))
}

func TestRateLimiter_AddressLimitAcrossAccountsTakesNothingWhenRefused(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	rl := newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAccount: 3, PerAddress: 4, Now: c.now})
	for i := range 4 {
		require.NoError(t, rl.allow(callerCtx(fmt.Sprintf("acc_%d", i), "203.0.113.9")))
	}
	// The address is spent: a fresh account from it is refused, and its own allowance is
	// left untouched (both limits take an attempt, or neither does).
	requireRateLimited(t, rl.allow(callerCtx("acc_new", "203.0.113.9")))
	requireRateLimited(t, rl.allow(callerCtx("acc_new", "203.0.113.9")))
	for range 3 {
		require.NoError(t, rl.allow(callerCtx("acc_new", "198.51.100.1")), "acc_new still has its 3")
	}
	requireRateLimited(t, rl.allow(callerCtx("acc_new", "198.51.100.2")))
	// Anonymous attempts count against the address only.
	require.NoError(t, rl.allow(callerCtx("", "192.0.2.1")))
}

func TestRateLimiter_RemembersBoundedKeys(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	rl := newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAccount: 1, PerAddress: 1000, MaxKeys: 50, Now: c.now})
	for i := range 10000 {
		_ = rl.allow(callerCtx(fmt.Sprintf("acc_%d", i), fmt.Sprintf("10.0.%d.%d", i/256, i%256)))
	}
	assert.Equal(t, 50, rl.account.len())
	assert.Equal(t, 50, rl.address.len())
	// The most recent keys are still limited.
	requireRateLimited(t, rl.allow(callerCtx("acc_9999", "192.0.2.1")))
}

func TestRateLimiter_Off(t *testing.T) {
	assert.Nil(t, newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}}))
	assert.Nil(t, newRateLimiter(RateLimit{PerAccount: 5}))
	rl := newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAddress: 1})
	assert.Nil(t, rl.account)
	require.NoError(t, rl.allow(callerCtx("acc_a", "192.0.2.1")))
	requireRateLimited(t, rl.allow(callerCtx("acc_b", "192.0.2.1")))
}

func TestRateLimiter_ConcurrentAttemptsNeverExceedTheBurst(t *testing.T) {
	c := &clock{t: time.Date(2026, 11, 25, 9, 0, 0, 0, time.UTC)}
	rl := newRateLimiter(RateLimit{Fields: []string{"Mutation.linkSupportPlan"}, PerAccount: 5, PerAddress: 7, Now: c.now})
	var mu sync.Mutex
	allowed := 0
	var wg sync.WaitGroup
	for i := range 64 {
		wg.Go(func() {
			if rl.allow(callerCtx(fmt.Sprintf("acc_%d", i%2), "192.0.2.1")) == nil {
				mu.Lock()
				allowed++
				mu.Unlock()
			}
		})
	}
	wg.Wait()
	assert.Equal(t, 7, allowed, "the address allows 7; each account 5")
}

// FuzzGuard: whatever body and content type arrive, the guard either passes on one JSON
// object of at most the limit, unchanged, or refuses with a coded JSON answer that does not
// echo the body.
func FuzzGuard(f *testing.F) {
	for _, s := range []struct{ contentType, body string }{
		{"application/json", `{"query": "{ __typename }"}`},
		{"application/json; charset=utf-8", `{"query": "{ __typename }", "variables": {"a": 1}, "operationName": "x", "extensions": {}}`},
		{"application/json", `[{"query": "{ __typename }"}]`},
		{"application/json", ` [ ]`},
		{"application/json", `{"query": 5}`},
		{"application/json", `{"query": "x"} trailing`},
		{"application/json", `{"query": "x", "variables": 5, "variables": {}}`},
		{"application/json", `{"query": "x", "variables": {"n": 1e400}}`},
		{"application/json", `"just a string"`},
		{"application/json", strings.Repeat("{", 2000)},
		{"application/json", ""},
		{"application/x-www-form-urlencoded", "query=%7B__typename%7D"},
		{"text/plain", `{"query": "{ __typename }"}`},
		{"multipart/form-data; boundary=x", "--x\r\n\r\n--x--"},
		{"", `{"query": "{ __typename }"}`},
		{"application/json;;", `{}`},
	} {
		f.Add(s.contentType, []byte(s.body))
	}
	const maxBody = 4096
	f.Fuzz(func(t *testing.T, contentType string, body []byte) {
		var got []byte
		passed := false
		h := guard(maxBody, newClientAddress(nil), http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			passed = true
			got, _ = io.ReadAll(r.Body)
			w.WriteHeader(http.StatusOK)
		}))
		req := httptest.NewRequest(http.MethodPost, "/query", bytes.NewReader(body))
		req.Header.Set("Content-Type", contentType)
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, req)
		if passed {
			if !bytes.Equal(got, body) || len(body) > maxBody {
				t.Fatalf("passed on %d bytes, changed or over the limit", len(body))
			}
			var obj map[string]json.RawMessage
			if err := json.NewDecoder(bytes.NewReader(body)).Decode(&obj); err != nil {
				t.Fatalf("passed on a body that is not a JSON object: %q", body)
			}
			// gqlgen's POST transport decodes it so, and echoes the body if it cannot.
			var p graphql.RawParams
			dec := json.NewDecoder(bytes.NewReader(body))
			dec.UseNumber()
			if err := dec.Decode(&p); err != nil {
				t.Fatalf("passed on a body that the POST transport cannot decode (%v): %q", err, body)
			}
			return
		}
		switch rec.Code {
		case http.StatusBadRequest, http.StatusRequestEntityTooLarge, http.StatusUnsupportedMediaType:
		default:
			t.Fatalf("status %d", rec.Code)
		}
		var r struct {
			Errors []struct {
				Extensions map[string]any `json:"extensions"`
			} `json:"errors"`
		}
		if err := json.Unmarshal(rec.Body.Bytes(), &r); err != nil || len(r.Errors) != 1 || r.Errors[0].Extensions["code"] != "INVALID" {
			t.Fatalf("not one coded error: %s", rec.Body.String())
		}
		if len(body) >= 16 && bytes.Contains(rec.Body.Bytes(), body) {
			t.Fatalf("the refusal echoes the body")
		}
	})
}

// TestGuardShapeIsTheTransportsParams: paramsShape must name the same JSON keys, with
// values of the same kinds, as graphql.RawParams, the type gqlgen's POST transport decodes
// a body into; otherwise a body could pass the guard and fail the transport's decode, which
// echoes the body.
func TestGuardShapeIsTheTransportsParams(t *testing.T) {
	keys := func(typ reflect.Type) map[string]reflect.Kind {
		out := map[string]reflect.Kind{}
		for f := range typ.Fields() {
			name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
			if name == "-" || !f.IsExported() {
				continue
			}
			if name == "" {
				name = f.Name
			}
			out[name] = f.Type.Kind()
		}
		return out
	}
	assert.Equal(t, keys(reflect.TypeFor[graphql.RawParams]()), keys(reflect.TypeFor[paramsShape]()))
	for f := range reflect.TypeFor[paramsShape]().Fields() {
		if f.Type.Kind() == reflect.Map {
			assert.Equal(t, reflect.TypeFor[json.RawMessage](), f.Type.Elem(), "%s: raw values accept any JSON value, as map[string]any does", f.Name)
		}
	}
}
