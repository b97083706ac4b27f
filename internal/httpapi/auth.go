package httpapi

import (
	"context"
	"errors"
	"net/http"

	"github.com/99designs/gqlgen/graphql/handler/transport"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/domain"
)

// SignIn turns a validated identity into an account (created on first sign-in).
type SignIn func(ctx context.Context, id domain.Identity) (domain.Account, error)

// authenticator validates bearer tokens and puts the account in the context.
type authenticator struct {
	verifier auth.Verifier
	signIn   SignIn
	audit    Audit
}

// Audit records a security event (service.Service.Audit).
type Audit func(ctx context.Context, e domain.AuditEvent)

// signInFailed audits a refused token (a 401, or a refused websocket init) with the
// short reason auth gives, which never quotes the token.
func (a authenticator) signInFailed(ctx context.Context, err error) {
	if a.audit == nil {
		return
	}
	detail := "malformed authorization"
	if e, ok := domain.AsError(err); ok && e.Code == domain.EUNAUTHENTICATED {
		detail = e.Message
	}
	a.audit(ctx, domain.AuditEvent{Name: domain.AuditSignInFailed, Outcome: domain.OutcomeRefused, Code: domain.EUNAUTHENTICATED, Detail: detail})
}

// account validates a raw token and signs the account in.
func (a authenticator) account(ctx context.Context, token string) (domain.Account, error) {
	if a.verifier == nil {
		return domain.Account{}, domain.Errorf(domain.EUNAUTHENTICATED, "", "no token issuer is configured on this server")
	}
	id, err := a.verifier.Verify(ctx, token)
	if err != nil {
		return domain.Account{}, domain.Errorf(domain.EUNAUTHENTICATED, "", "the token is not valid: %s", tokenProblem(err))
	}
	return a.signIn(ctx, domain.Identity{Issuer: id.Issuer, Subject: id.Subject, Email: id.Email, Kind: domain.AccountKind(id.Kind)})
}

// tokenProblem is the short phrase of an auth error; auth guarantees it never quotes the
// token.
func tokenProblem(err error) string {
	msg := err.Error()
	prefix := auth.ErrInvalidToken.Error() + ": "
	if len(msg) > len(prefix) && msg[:len(prefix)] == prefix {
		return msg[len(prefix):]
	}
	return "invalid"
}

// middleware authenticates HTTP requests that carry Authorization: Bearer. A request
// without one goes on anonymous (introspection and __typename need no account); a bad
// token is refused with 401 before any resolver runs.
func (a authenticator) middleware(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h := r.Header.Get("Authorization")
		if h == "" {
			next.ServeHTTP(w, r)
			return
		}
		token, ok := auth.BearerToken(h)
		if !ok {
			err := domain.Errorf(domain.EUNAUTHENTICATED, "", "the Authorization header must be: Bearer <token>")
			a.signInFailed(r.Context(), err)
			writeAuthError(w, err)
			return
		}
		acct, err := a.account(r.Context(), token)
		if err != nil {
			a.signInFailed(r.Context(), err)
			writeAuthError(w, err)
			return
		}
		next.ServeHTTP(w, r.WithContext(domain.WithCaller(r.Context(), acct)))
	})
}

// websocketInit authenticates a websocket in connection_init: the payload carries
// {"Authorization": "Bearer <token>"} (or "authorization", or "token"). A bad token ends
// the connection with the protocol's forbidden close (4403 for graphql-transport-ws).
func (a authenticator) websocketInit(ctx context.Context, p transport.InitPayload) (context.Context, *transport.InitPayload, error) {
	raw := p.Authorization()
	if raw == "" {
		raw = p.GetString("authorization")
	}
	if raw == "" {
		if t := p.GetString("token"); t != "" {
			raw = "Bearer " + t
		}
	}
	if raw == "" {
		return ctx, nil, nil // anonymous: resolvers that need an account refuse
	}
	token, ok := auth.BearerToken(raw)
	if !ok {
		a.signInFailed(ctx, nil)
		return forbidden(ctx), nil, errors.New("forbidden: the authorization must be Bearer <token>")
	}
	acct, err := a.account(ctx, token)
	if err != nil {
		a.signInFailed(ctx, err)
		return forbidden(ctx), nil, errors.New("forbidden: " + safeMessage(err))
	}
	return domain.WithCaller(ctx, acct), nil, nil
}

func safeMessage(err error) string {
	if e, ok := domain.AsError(err); ok && e.Code != domain.EINTERNAL {
		return e.Message
	}
	return "internal error"
}

// CloseForbidden is the graphql-transport-ws close code for a refused connection_init.
const CloseForbidden = 4403

func forbidden(ctx context.Context) context.Context {
	ctx = transport.WithWebsocketCloseCode(ctx, CloseForbidden)
	return transport.AppendCloseReason(ctx, "Forbidden")
}
