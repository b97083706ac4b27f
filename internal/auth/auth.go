// Package auth establishes the caller's identity from bearer JWTs.
//
// A [Verifier] turns a compact JWT into an [Identity] or fails with an error
// wrapping [ErrInvalidToken]. Everything about the identity — including its
// [Kind] — comes from the verified token, never from other client input.
//
// The only issuer implemented so far is the [DevSigner]: an Ed25519 key kept
// in the service's data directory that mints EdDSA tokens for local
// development and tests. It is for development only: the key sits unencrypted
// on disk, and anyone who can read the data directory can mint tokens for any
// subject. Production deployments will instead verify tokens from external
// OpenID Connect issuers (Microsoft Entra ID and Microsoft accounts, keys from
// their published JWKS); those verifiers will implement the same [Verifier]
// interface and are not written yet.
package auth

import (
	"context"
	"errors"
	"net/mail"
	"strings"

	"github.com/partnersupport/api/internal/domain"
)

// Kind is the kind of account behind an identity: the domain's AccountKind, one
// definition of the kinds. It is set from the verified token, never from client input.
type Kind = domain.AccountKind

// The kinds, as the domain defines them. A support provider principal (R25) is a token
// whose issuer is configured as a support provider issuer and that carries the
// configured role or scope (IssuerConfig.SupportProvider); a development token says so
// in its kind.
const (
	KindEntraID         = domain.KindEntraID
	KindMSA             = domain.KindMSA
	KindSupportProvider = domain.KindSupportProvider
)

// Identity is who a validated token says the caller is.
type Identity struct {
	// Issuer is the token's "iss" claim. Subjects are only unique per
	// issuer, so (Issuer, Subject) is the stable key of an account.
	Issuer string
	// Subject is the token's "sub" claim; never empty.
	Subject string
	// Email is the token's "email" claim. It may be empty when the token
	// carries none; when present it is a bare address ("a@example.com").
	Email string
	// Kind is the account kind from the token's "kind" claim.
	Kind Kind
}

// ErrInvalidToken is wrapped by every token verification failure. The error
// text adds a short phrase naming the failed check (for example "expired",
// "bad signature", "wrong audience") and never contains the token or any of
// its contents.
var ErrInvalidToken = errors.New("auth: invalid token")

// Verifier validates a bearer token and reports the identity it carries.
// Implementations must be safe for concurrent use.
type Verifier interface {
	// Verify checks token and returns the identity it asserts. Every
	// failure to accept the token wraps ErrInvalidToken.
	Verify(ctx context.Context, token string) (Identity, error)
}

// BearerToken extracts the token from an HTTP Authorization header value of
// the form "Bearer <token>" (RFC 6750). The scheme is matched
// case-insensitively and surrounding whitespace is ignored. It reports false
// when the header uses another scheme, has no token, or the token is not a
// single RFC 6750 b64token.
func BearerToken(header string) (string, bool) {
	header = strings.Trim(header, " \t")
	scheme, rest, ok := strings.Cut(header, " ")
	if !ok || !strings.EqualFold(scheme, "Bearer") {
		return "", false
	}
	token := strings.TrimLeft(rest, " ")
	if !isB64Token(token) {
		return "", false
	}
	return token, true
}

// isB64Token reports whether s matches RFC 6750's
// b64token = 1*( ALPHA / DIGIT / "-" / "." / "_" / "~" / "+" / "/" ) *"=".
func isB64Token(s string) bool {
	body := strings.TrimRight(s, "=")
	if body == "" {
		return false
	}
	for i := 0; i < len(body); i++ {
		c := body[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '.', c == '_', c == '~', c == '+', c == '/':
		default:
			return false
		}
	}
	return true
}

// maxEmailLen is the longest address accepted (RFC 5321 path limit).
const maxEmailLen = 254

// validEmail reports whether s is a single bare addr-spec such as
// "user@example.com": no display name, comments, angle brackets or
// surrounding whitespace.
func validEmail(s string) bool {
	if s == "" || len(s) > maxEmailLen {
		return false
	}
	addr, err := mail.ParseAddress(s)
	return err == nil && addr.Name == "" && addr.Address == s
}
