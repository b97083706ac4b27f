// Package baseline is the benchmark's yardstick for supportPlans: the net/http handler a
// developer who skipped GraphQL would write. It verifies the bearer token with the same
// auth.Verifier, signs the account in with the same service.Service.SignIn, makes the same
// domain call as the supportPlans resolver (service.Service.SupportPlans) and encodes, with
// encoding/json, the JSON the GraphQL API answers for
//
//	{ supportPlans(productId: $p, version: $v, portal: $portal) {
//	    available { id kind name linked incidents { total used remaining unlimited } }
//	    unavailable { plan { ...the same } reasons { code rule message } }
//	    portalHint { portal message } } }
//
// with the same global IDs (graph.GlobalID), that is {"data":{"supportPlans":{…}}}, or {"errors":[…],"data":null} for a refusal,
// exactly as the GraphQL API shapes them (the test in this package compares the two).
// It has no CORS, body limit, persisted queries, query parsing or metrics: that is what
// GraphQL (and the production middleware) adds, and what the benchmark measures.
package baseline

import (
	"encoding/json"
	"net/http"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/service"
)

// Path is where the handler is served: GET Path?productId=&version=&portal=
const Path = "/v1/support-plans"

// Handler answers GET Path.
type Handler struct {
	verifier auth.Verifier
	svc      *service.Service
}

// New returns the handler over a verifier and a service.
func New(v auth.Verifier, svc *service.Service) *Handler { return &Handler{verifier: v, svc: svc} }

// The response, in the order and shape of the GraphQL query above.
type (
	response struct {
		Errors []gqlError `json:"errors,omitempty"`
		Data   *data      `json:"data"`
	}
	data struct {
		SupportPlans supportPlans `json:"supportPlans"`
	}
	supportPlans struct {
		Available   []plan        `json:"available"`
		Unavailable []unavailable `json:"unavailable"`
		PortalHint  *portalHint   `json:"portalHint"`
	}
	plan struct {
		ID        string          `json:"id"`
		Kind      domain.PlanKind `json:"kind"`
		Name      string          `json:"name"`
		Linked    bool            `json:"linked"`
		Incidents incidents       `json:"incidents"`
	}
	unavailable struct {
		Plan    plan     `json:"plan"`
		Reasons []reason `json:"reasons"`
	}
	incidents struct {
		Total     *int `json:"total"`
		Used      int  `json:"used"`
		Remaining *int `json:"remaining"`
		Unlimited bool `json:"unlimited"`
	}
	reason struct {
		Code    domain.ReasonCode `json:"code"`
		Rule    *string           `json:"rule"`
		Message string            `json:"message"`
	}
	portalHint struct {
		Portal  domain.Portal `json:"portal"`
		Message string        `json:"message"`
	}
	gqlError struct {
		Message    string         `json:"message"`
		Path       []string       `json:"path,omitempty"`
		Extensions map[string]any `json:"extensions"`
	}
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	ctx := r.Context()
	token, ok := auth.BearerToken(r.Header.Get("Authorization"))
	if !ok {
		writeAuthError(w, "the Authorization header must be: Bearer <token>")
		return
	}
	id, err := h.verifier.Verify(ctx, token)
	if err != nil {
		writeAuthError(w, "the token is not valid")
		return
	}
	acct, err := h.svc.SignIn(ctx, domain.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Kind: domain.AccountKind(id.Kind)})
	if err != nil {
		if e, ok := domain.AsError(err); ok && e.Code != domain.EINTERNAL {
			writeAuthError(w, e.Message)
			return
		}
		writeJSON(w, http.StatusInternalServerError, response{Errors: []gqlError{internalError(nil)}})
		return
	}
	q := r.URL.Query()
	ps, err := h.svc.SupportPlans(ctx, acct, q.Get("productId"), q.Get("version"), domain.Portal(q.Get("portal")))
	if err != nil {
		// As the GraphQL API: a refusal is 200 with errors and null data.
		writeJSON(w, http.StatusOK, response{Errors: []gqlError{fieldError(err)}})
		return
	}
	out := supportPlans{Available: plans(ps.Available), Unavailable: make([]unavailable, len(ps.Unavailable))}
	for i, p := range ps.Unavailable {
		out.Unavailable[i] = unavailable{Plan: toPlan(p), Reasons: make([]reason, len(p.Reasons))}
		for j, r := range p.Reasons {
			out.Unavailable[i].Reasons[j] = reason{Code: r.Code, Message: r.Message}
			if r.Rule != "" {
				out.Unavailable[i].Reasons[j].Rule = &r.Rule
			}
		}
	}
	if ps.PortalHint != nil {
		out.PortalHint = &portalHint{Portal: ps.PortalHint.Portal, Message: ps.PortalHint.Message}
	}
	writeJSON(w, http.StatusOK, response{Data: &data{SupportPlans: out}})
}

func plans(ps []domain.Plan) []plan {
	out := make([]plan, len(ps))
	for i, p := range ps {
		out[i] = toPlan(p)
	}
	return out
}

func toPlan(p domain.Plan) plan {
	out := plan{ID: graph.GlobalID("SupportPlan", p.ID), Kind: p.Kind, Name: p.Name, Linked: p.Linked,
		Incidents: incidents{Used: p.Incidents.Used, Unlimited: p.Incidents.Unlimited}}
	if !p.Incidents.Unlimited {
		total, remaining := p.Incidents.Total, p.Incidents.Remaining
		out.Incidents.Total, out.Incidents.Remaining = &total, &remaining
	}
	return out
}

// fieldError is the error the GraphQL API shows for a supportPlans refusal.
func fieldError(err error) gqlError {
	path := []string{"supportPlans"}
	e, ok := domain.AsError(err)
	if !ok || e.Code == domain.EINTERNAL {
		return internalError(path)
	}
	ext := map[string]any{"code": string(e.Code)}
	if e.Rule != "" {
		ext["rule"] = e.Rule
	}
	for k, v := range e.Meta {
		ext[k] = v
	}
	return gqlError{Message: e.Message, Path: path, Extensions: ext}
}

func internalError(path []string) gqlError {
	return gqlError{Message: "internal error", Path: path, Extensions: map[string]any{"code": string(domain.EINTERNAL)}}
}

func writeAuthError(w http.ResponseWriter, msg string) {
	w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
	writeJSON(w, http.StatusUnauthorized, response{Errors: []gqlError{{Message: msg, Extensions: map[string]any{"code": string(domain.EUNAUTHENTICATED)}}}})
}

func writeJSON(w http.ResponseWriter, status int, v response) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	_ = json.NewEncoder(w).Encode(v)
}
