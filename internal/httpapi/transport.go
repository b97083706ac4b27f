package httpapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"mime"
	"net/http"
	"strings"

	"github.com/99designs/gqlgen/graphql"
	"github.com/vektah/gqlparser/v2/ast"
	"github.com/vektah/gqlparser/v2/gqlerror"
)

// Response media types of GraphQL over HTTP.
const (
	mediaJSON            = "application/json"
	mediaGraphQLResponse = "application/graphql-response+json"
)

// httpTransport answers GraphQL over HTTP, POST with a JSON body and GET for queries, as
// the GraphQL-over-HTTP specification says, where gqlgen's GET and POST transports do
// not: a request error (parse, validation, variables, a limit) is 200 with
// application/json and 400 with application/graphql-response+json, whose body then has no
// data entry; an operation GET may not run is 405 with Allow: POST. The guard (limits.go)
// has already checked the method, the content type and the body's shape.
type httpTransport struct{}

var _ graphql.Transport = httpTransport{}

func (httpTransport) Supports(r *http.Request) bool {
	return r.Header.Get("Upgrade") == "" && (r.Method == http.MethodGet || r.Method == http.MethodPost)
}

func (httpTransport) Do(w http.ResponseWriter, r *http.Request, exec graphql.GraphExecutor) {
	media := responseMedia(r.Header.Get("Accept"))
	w.Header().Set("Content-Type", media+"; charset=utf-8")
	start := graphql.Now()
	params := &graphql.RawParams{Headers: r.Header}
	var err error
	if r.Method == http.MethodGet {
		err = getParams(r, params)
	} else {
		err = postParams(r, params)
	}
	if err == nil && params.Query == "" && params.Extensions["persistedQuery"] == nil {
		err = errors.New(`the request has no query: send {"query": "…"}`)
	}
	if err != nil {
		writeRequestError(w, http.StatusBadRequest, gqlerror.List{{Message: err.Error(), Extensions: map[string]any{"code": "INVALID"}}})
		return
	}
	params.ReadTime = graphql.TraceTiming{Start: start, End: graphql.Now()}

	ctx := r.Context()
	oc, errs := exec.CreateOperationContext(ctx, params)
	if errs == nil && r.Method == http.MethodGet && oc.Operation != nil && oc.Operation.Operation != ast.Query {
		errs = gqlerror.List{limitError(LimitGETQuery, "GET requests only allow query operations: send mutations by POST, subscriptions over a websocket or SSE")}
	}
	if errs != nil {
		resp := exec.DispatchError(graphql.WithOperationContext(ctx, oc), errs)
		status := http.StatusOK
		if media == mediaGraphQLResponse {
			status = http.StatusBadRequest
		}
		if isLimit(resp.Errors, LimitGETQuery) {
			w.Header().Set("Allow", http.MethodPost)
			status = http.StatusMethodNotAllowed
		}
		writeRequestError(w, status, resp.Errors)
		return
	}
	responses, ctx := exec.DispatchOperation(ctx, oc)
	b, mErr := json.Marshal(responses(ctx))
	if mErr != nil {
		panic(mErr) // a response gqlgen built is always JSON
	}
	_, _ = w.Write(b)
}

// responseMedia picks the response media type from Accept: the first of the two GraphQL
// media types it names; application/json when it names neither (or */*), or is absent.
func responseMedia(accept string) string {
	for part := range strings.SplitSeq(accept, ",") {
		mt, _, err := mime.ParseMediaType(strings.TrimSpace(part))
		if err != nil {
			continue
		}
		switch mt {
		case mediaGraphQLResponse:
			return mediaGraphQLResponse
		case mediaJSON, "*/*", "application/*":
			return mediaJSON
		}
	}
	return mediaJSON
}

func postParams(r *http.Request, p *graphql.RawParams) error {
	body, err := io.ReadAll(r.Body)
	if err != nil {
		return errors.New("the request body could not be read")
	}
	dec := json.NewDecoder(bytes.NewReader(body))
	dec.UseNumber()
	if err := dec.Decode(p); err != nil {
		return errors.New(`the request body must be one JSON object: {"query": "…", "variables": {…}, "operationName": "…"}`)
	}
	return nil
}

func getParams(r *http.Request, p *graphql.RawParams) error {
	q := r.URL.Query()
	p.Query, p.OperationName = q.Get("query"), q.Get("operationName")
	for name, into := range map[string]any{"variables": &p.Variables, "extensions": &p.Extensions} {
		if v := q.Get(name); v != "" {
			dec := json.NewDecoder(strings.NewReader(v))
			dec.UseNumber()
			if dec.Decode(into) != nil {
				return errors.New("the " + name + " parameter must be a JSON object")
			}
		}
	}
	return nil
}

// writeRequestError answers a request that ran nothing: errors and no data entry.
func writeRequestError(w http.ResponseWriter, status int, errs gqlerror.List) {
	w.WriteHeader(status)
	b, err := json.Marshal(struct {
		Errors gqlerror.List `json:"errors"`
	}{errs})
	if err != nil {
		panic(err)
	}
	_, _ = w.Write(b)
}

func isLimit(errs gqlerror.List, limit string) bool {
	for _, e := range errs {
		if e.Extensions["limit"] == limit {
			return true
		}
	}
	return false
}
