package httpapi

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"mime"
	"net"
	"net/http"
	"strconv"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/99designs/gqlgen/graphql/errcode"
	"github.com/99designs/gqlgen/graphql/handler/extension"
	"github.com/realclientip/realclientip-go"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"

	"github.com/partnersupport/api/internal/domain"
)

// Limits bound what one GraphQL request may ask of the server. Every refusal happens before
// any resolver runs, so before the store is touched, with extensions.code INVALID and
// extensions.limit naming the limit. A zero field takes its default.
type Limits struct {
	// MaxQueryBytes bounds the query text (variables are bounded by the body size only):
	// parsed documents are cached by their text.
	MaxQueryBytes int
	// MaxTokens bounds the lexical tokens of the query (gqlparser's parser token limit; a
	// refusal has gqlgen's code GRAPHQL_PARSE_FAILED).
	MaxTokens int
	// MaxDepth bounds how deeply fields nest, fragments expanded. The deepest query of the
	// schema is 7; the full introspection query GraphiQL sends is 15.
	MaxDepth int
	// MaxComplexity bounds the operation's cost (the schema's cost model, set where the
	// schema is built: graph.Complexity): a field 1, a store read 10, a list its expected
	// length times its elements, a connection `first` times its edges.
	MaxComplexity int
	// CostArguments are the only arguments whose values that cost model reads
	// (graph.CostArguments). An operation whose cost arguments use no variable has one
	// complexity whatever the request, computed once; nil: every argument may count, so
	// only an operation without variables in its arguments is computed once.
	CostArguments []string
}

// Default limits.
const (
	DefaultMaxQueryBytes = 32 << 10
	DefaultMaxTokens     = 1000
	DefaultMaxDepth      = 15
	DefaultMaxComplexity = 10000
)

func (l Limits) withDefaults() Limits {
	if l.MaxQueryBytes <= 0 {
		l.MaxQueryBytes = DefaultMaxQueryBytes
	}
	if l.MaxTokens <= 0 {
		l.MaxTokens = DefaultMaxTokens
	}
	if l.MaxDepth <= 0 {
		l.MaxDepth = DefaultMaxDepth
	}
	if l.MaxComplexity <= 0 {
		l.MaxComplexity = DefaultMaxComplexity
	}
	return l
}

// Names of the limits, in extensions.limit of a refusal.
const (
	LimitBodySize      = "bodySize"
	LimitContentType   = "contentType"
	LimitMethod        = "method"
	LimitBatch         = "batch"
	LimitBody          = "body"
	LimitQuerySize     = "querySize"
	LimitDepth         = "depth"
	LimitComplexity    = "complexity"
	LimitPage          = "page"
	LimitGETQuery      = "getQueriesOnly"
	LimitIntrospection = "introspection"
	LimitSubscription  = "subscriptionTransport"
)

// Refusals of operations (parse, validation, limits) are protocol errors for gqlgen: 422
// over HTTP, an error message on websockets, as its own parse and validation errors are.
func init() { errcode.RegisterErrorType(string(domain.EINVALID), errcode.KindProtocol) }

// limitError is a refusal of an operation by a limit.
func limitError(limit, format string, args ...any) *gqlerror.Error {
	return &gqlerror.Error{Message: fmt.Sprintf(format, args...), Extensions: map[string]any{"code": string(domain.EINVALID), "limit": limit}}
}

// writeLimitError refuses an HTTP request before GraphQL sees it.
func writeLimitError(w http.ResponseWriter, status int, limit, msg string) {
	body := gqlErrorBody(domain.EINVALID, msg)
	body["errors"].([]map[string]any)[0]["extensions"].(map[string]any)["limit"] = limit
	writeJSON(w, status, body)
}

// requestInfo is what the HTTP layer knows of a request, for the GraphQL layer.
type requestInfo struct {
	// plainGET is a GET that is not a websocket upgrade: it may run queries only.
	plainGET bool
	// plainPOST is a POST that is not an SSE stream: it answers once, so it runs no
	// subscription (which would hold the request open until an event came).
	plainPOST bool
	// client is the client's address: the peer, or the X-Forwarded-For client when the peer
	// is a trusted proxy.
	client string
}

type requestInfoKey struct{}

func infoFrom(ctx context.Context) requestInfo {
	ri, _ := ctx.Value(requestInfoKey{}).(requestInfo)
	return ri
}

// clientAddress finds the client's address: the peer's (r.RemoteAddr), unless the peer is
// one of the trusted proxies, in which case the rightmost X-Forwarded-For address that is
// not a trusted proxy. A client that connects directly cannot choose its address by
// sending X-Forwarded-For.
type clientAddress struct {
	trusted []net.IPNet
	xff     realclientip.Strategy
}

func newClientAddress(trusted []net.IPNet) clientAddress {
	c := clientAddress{trusted: trusted}
	if len(trusted) > 0 {
		c.xff = realclientip.Must(realclientip.NewRightmostTrustedRangeStrategy("X-Forwarded-For", trusted))
	}
	return c
}

func (c clientAddress) of(r *http.Request) string {
	peer := realclientip.RemoteAddrStrategy{}.ClientIP(r.Header, r.RemoteAddr)
	if c.xff == nil || peer == "" {
		return peer
	}
	host, _ := realclientip.SplitHostZone(peer)
	ip := net.ParseIP(host)
	trusted := false
	for _, n := range c.trusted {
		if ip != nil && n.Contains(ip) {
			trusted = true
			break
		}
	}
	if !trusted {
		return peer
	}
	if fwd := c.xff.ClientIP(r.Header, r.RemoteAddr); fwd != "" {
		return fwd
	}
	return peer
}

// guard checks a request to /query before anything else reads it (and so before the
// caller is signed in, which reads the store):
//   - only GET and POST;
//   - a POST body must be application/json, which a browser sends cross-origin only
//     after a CORS preflight (CSRF): no form, multipart or text/plain bodies;
//   - the body is at most maxBody bytes;
//   - it is one JSON object: a batch (a JSON array) is refused, and so is malformed JSON,
//     with a message that never echoes the body.
//
// It also records what the GraphQL layer needs of the request (requestInfo).
func guard(maxBody int64, addr clientAddress, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		info := requestInfo{client: addr.of(r)}
		switch r.Method {
		case http.MethodGet:
			info.plainGET = r.Header.Get("Upgrade") == ""
		case http.MethodPost:
			info.plainPOST = !strings.Contains(r.Header.Get("Accept"), "text/event-stream")
			mt, _, err := mime.ParseMediaType(r.Header.Get("Content-Type"))
			if err != nil || mt != "application/json" {
				writeLimitError(w, http.StatusUnsupportedMediaType, LimitContentType,
					"a GraphQL request body must be application/json (form, multipart and text bodies are refused)")
				return
			}
			if r.ContentLength > maxBody {
				writeLimitError(w, http.StatusRequestEntityTooLarge, LimitBodySize, bodyTooLarge(maxBody))
				return
			}
			body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, maxBody))
			var tooLarge *http.MaxBytesError
			if errors.As(err, &tooLarge) {
				writeLimitError(w, http.StatusRequestEntityTooLarge, LimitBodySize, bodyTooLarge(maxBody))
				return
			} else if err != nil {
				writeLimitError(w, http.StatusBadRequest, LimitBody, "the request body could not be read")
				return
			}
			t := bytes.TrimLeft(body, " \t\r\n")
			if len(t) > 0 && t[0] == '[' {
				writeLimitError(w, http.StatusBadRequest, LimitBatch, "batched requests are not accepted: send one operation per request")
				return
			}
			// gqlgen's POST transport echoes the whole body when it cannot decode it, so
			// the body is decoded here first into the shape the transport decodes it
			// into (paramsShape): a body that passes decodes there too. Every occurrence
			// of a key is checked, as the transport's decoder checks every one: a
			// duplicated key ("variables": 5, "variables": {}) is refused here, not echoed
			// there.
			var shape paramsShape
			if len(t) == 0 || t[0] != '{' || json.Unmarshal(t, &shape) != nil {
				writeLimitError(w, http.StatusBadRequest, LimitBody,
					`the request body must be one JSON object: {"query": "…", "variables": {…}, "operationName": "…"}`)
				return
			}
			r.Body = io.NopCloser(bytes.NewReader(body))
			r.ContentLength = int64(len(body))
		default:
			w.Header().Set("Allow", "GET, POST")
			writeLimitError(w, http.StatusMethodNotAllowed, LimitMethod, "use POST (or GET for queries)")
			return
		}
		next.ServeHTTP(w, r.WithContext(context.WithValue(r.Context(), requestInfoKey{}, info)))
	})
}

func bodyTooLarge(n int64) string {
	return "the request body is larger than the limit of " + strconv.FormatInt(n, 10) + " bytes"
}

// operationLimits is the gqlgen extension that applies the limits to every operation, on
// every transport (POST, GET, websockets, SSE): the query size before parsing; then, once
// the document is parsed and validated, GET runs queries only, a plain POST runs no
// subscription, the depth, introspection only where it is on, and every first/last
// argument within 1..domain.MaxPage. What depends on the operation alone is computed once
// per operation (opFacts).
type operationLimits struct {
	l     Limits
	facts *opFactsCache
}

var (
	_ graphql.HandlerExtension          = operationLimits{}
	_ graphql.OperationParameterMutator = operationLimits{}
	_ graphql.OperationContextMutator   = operationLimits{}
)

func (operationLimits) ExtensionName() string                   { return "OperationLimits" }
func (operationLimits) Validate(graphql.ExecutableSchema) error { return nil }

// MutateOperationParameters refuses an oversized query before it is parsed.
func (o operationLimits) MutateOperationParameters(ctx context.Context, p *graphql.RawParams) *gqlerror.Error {
	if len(p.Query) > o.l.MaxQueryBytes {
		return limitError(LimitQuerySize, "the query is %d bytes, more than the limit of %d: pass long values as variables", len(p.Query), o.l.MaxQueryBytes)
	}
	return nil
}

// MutateOperationContext checks the parsed, validated operation.
func (o operationLimits) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	op := oc.Operation
	if op == nil {
		return nil
	}
	info := infoFrom(ctx)
	if info.plainGET && op.Operation != ast.Query {
		return limitError(LimitGETQuery, "GET requests only allow query operations: send mutations by POST, subscriptions over a websocket or SSE")
	}
	if info.plainPOST && op.Operation == ast.Subscription {
		return limitError(LimitSubscription, "subscriptions run over a websocket, or over SSE (POST with Accept: text/event-stream)")
	}
	f := o.facts.of(oc)
	if f.depth > o.l.MaxDepth {
		return limitError(LimitDepth, "the operation nests fields %d deep, more than the limit of %d", f.depth, o.l.MaxDepth)
	}
	if oc.DisableIntrospection && f.introspects {
		return introspectionRefused()
	}
	if !f.pages {
		return nil
	}
	return checkPages(oc.Doc, op.SelectionSet, oc.Variables)
}

// operationDepth is how deeply the operation's fields nest, fragments expanded. Each
// fragment's depth is computed once, so the walk is linear in the document. Fragment
// cycles are refused by validation before this runs; a cycle is still cut here.
func operationDepth(doc *ast.QueryDocument, op *ast.OperationDefinition) int {
	memo := map[string]int{}
	var selDepth func(ast.SelectionSet) int
	fragment := func(name string, def *ast.FragmentDefinition) int {
		if d, ok := memo[name]; ok {
			return d
		}
		memo[name] = 0 // cut a cycle
		if def == nil {
			def = doc.Fragments.ForName(name)
		}
		d := 0
		if def != nil {
			d = selDepth(def.SelectionSet)
		}
		memo[name] = d
		return d
	}
	selDepth = func(set ast.SelectionSet) int {
		deepest := 0
		for _, s := range set {
			d := 0
			switch s := s.(type) {
			case *ast.Field:
				d = 1 + selDepth(s.SelectionSet)
			case *ast.InlineFragment:
				d = selDepth(s.SelectionSet)
			case *ast.FragmentSpread:
				d = fragment(s.Name, s.Definition)
			}
			deepest = max(deepest, d)
		}
		return deepest
	}
	return selDepth(op.SelectionSet)
}

// walkFields calls visit for every field of the selection set, fragments expanded (each
// fragment once), until visit returns an error.
func walkFields(doc *ast.QueryDocument, set ast.SelectionSet, visit func(*ast.Field) *gqlerror.Error) *gqlerror.Error {
	seen := map[string]bool{}
	var walk func(ast.SelectionSet) *gqlerror.Error
	walk = func(set ast.SelectionSet) *gqlerror.Error {
		for _, s := range set {
			var next ast.SelectionSet
			switch s := s.(type) {
			case *ast.Field:
				if err := visit(s); err != nil {
					return err
				}
				next = s.SelectionSet
			case *ast.InlineFragment:
				next = s.SelectionSet
			case *ast.FragmentSpread:
				if seen[s.Name] {
					continue
				}
				seen[s.Name] = true
				def := s.Definition
				if def == nil {
					def = doc.Fragments.ForName(s.Name)
				}
				if def != nil {
					next = def.SelectionSet
				}
			}
			if err := walk(next); err != nil {
				return err
			}
		}
		return nil
	}
	return walk(set)
}

// checkPages refuses a first or last argument outside 1..domain.MaxPage anywhere in the
// operation (domain.CheckFirst), so that a huge page is refused before it is fetched.
func checkPages(doc *ast.QueryDocument, set ast.SelectionSet, vars map[string]any) *gqlerror.Error {
	return walkFields(doc, set, func(f *ast.Field) *gqlerror.Error {
		for _, a := range f.Arguments {
			if a.Name != "first" && a.Name != "last" {
				continue
			}
			v, err := a.Value.Value(vars)
			if err != nil || v == nil {
				continue
			}
			var n int64
			switch v := v.(type) {
			case int64:
				n = v
			case int:
				n = int64(v)
			default:
				continue
			}
			if domain.CheckFirst(int(max(min(n, 1<<31), -1))) != nil {
				e := limitError(LimitPage, "%s must be between 1 and %d", a.Name, domain.MaxPage)
				e.Extensions["field"] = []string{a.Name}
				if a.Position != nil {
					e.Locations = []gqlerror.Location{{Line: a.Position.Line, Column: a.Position.Column}}
				}
				return e
			}
		}
		return nil
	})
}

func introspectionRefused() *gqlerror.Error {
	return limitError(LimitIntrospection, "introspection is disabled on this server")
}

// complexityLimit is gqlgen's fixed complexity limit (extension.FixedComplexityLimit: the
// same walk, message and statistics), its refusal coded as every other limit's (INVALID,
// limit "complexity"), the complexity computed once per operation when the request's
// variables cannot change it (opFactsCache.complexity).
type complexityLimit struct {
	limit int
	facts *opFactsCache
}

var (
	_ graphql.HandlerExtension        = complexityLimit{}
	_ graphql.OperationContextMutator = complexityLimit{}
)

// ExtensionName is gqlgen's, so that extension.GetComplexityStats finds the statistics.
func (complexityLimit) ExtensionName() string { return "ComplexityLimit" }

func (c complexityLimit) Validate(es graphql.ExecutableSchema) error {
	c.facts.es = es
	return nil
}

func (c complexityLimit) MutateOperationContext(ctx context.Context, oc *graphql.OperationContext) *gqlerror.Error {
	if oc.Operation == nil {
		return nil
	}
	n := c.facts.complexity(ctx, oc, c.facts.of(oc))
	oc.Stats.SetExtension(c.ExtensionName(), &extension.ComplexityStats{Complexity: n, ComplexityLimit: c.limit})
	if n > c.limit {
		return limitError(LimitComplexity, "operation has complexity %d, which exceeds the limit of %d", n, c.limit)
	}
	return nil
}

// paramsShape is graphql.RawParams as JSON sees it, the type gqlgen's POST transport
// decodes a body into (a test keeps the two alike): a body decodes into paramsShape exactly
// when it decodes into graphql.RawParams. The values of variables and extensions stay raw,
// which accepts any JSON value as the transport's map[string]any with json.Number does,
// and leaves decoding them to the transport.
type paramsShape struct {
	Query         string                     `json:"query"`
	OperationName string                     `json:"operationName"`
	Variables     map[string]json.RawMessage `json:"variables"`
	Extensions    map[string]json.RawMessage `json:"extensions"`
}
