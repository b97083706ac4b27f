package auth

import (
	"context"
	"crypto/ed25519"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/golang-jwt/jwt/v5"
)

// Leeway is the clock skew tolerated when checking "exp", "nbf" and "iat".
const Leeway = 30 * time.Second

// MaxTokenLen is the longest token a verifier will parse; longer input is
// rejected before any decoding.
const MaxTokenLen = 8 << 10

// edVerifier verifies EdDSA tokens signed by one Ed25519 key for one issuer
// and audience.
type edVerifier struct {
	pub  ed25519.PublicKey
	opts []jwt.ParserOption
}

func newEdVerifier(pub ed25519.PublicKey, issuer, audience string, now func() time.Time) *edVerifier {
	return &edVerifier{
		pub: pub,
		opts: []jwt.ParserOption{
			jwt.WithValidMethods([]string{jwt.SigningMethodEdDSA.Alg()}),
			jwt.WithIssuer(issuer),
			jwt.WithAudience(audience),
			jwt.WithExpirationRequired(),
			jwt.WithIssuedAt(),
			jwt.WithTimeFunc(now),
			jwt.WithLeeway(Leeway),
			// Reject non-canonical base64 so each token has exactly one
			// accepted spelling.
			jwt.WithStrictDecoding(),
		},
	}
}

// errNotEdDSA is returned by the key function for a non-EdDSA token; the
// parser's method allow-list should already have rejected it.
var errNotEdDSA = errors.New("unexpected signing method")

// key is the jwt.Keyfunc: it hands out the public key only for EdDSA.
func (v *edVerifier) key(t *jwt.Token) (any, error) {
	if _, ok := t.Method.(*jwt.SigningMethodEd25519); !ok {
		return nil, errNotEdDSA
	}
	return v.pub, nil
}

// Verify implements Verifier. The context is unused: verification is local.
func (v *edVerifier) Verify(_ context.Context, token string) (Identity, error) {
	switch {
	case token == "":
		return Identity{}, invalid("empty token")
	case len(token) > MaxTokenLen:
		return Identity{}, invalid("token too large")
	case !isCompactJWSChars(token):
		// base64 decoding skips CR/LF; refuse them (and anything else
		// outside the base64url alphabet) up front.
		return Identity{}, invalid("malformed")
	}

	var c claims
	tok, err := jwt.NewParser(v.opts...).ParseWithClaims(token, &c, v.key)
	if err != nil {
		return Identity{}, invalid(describe(err, tok, &c))
	}
	if !tok.Valid {
		return Identity{}, invalid("not valid")
	}
	if _, ok := tok.Header["crit"]; ok {
		return Identity{}, invalid("unsupported critical header")
	}
	switch {
	case strings.TrimSpace(c.Subject) == "":
		return Identity{}, invalid("missing subject")
	case c.Kind == "":
		return Identity{}, invalid("missing kind")
	case !c.Kind.Valid():
		return Identity{}, invalid("unknown kind")
	case c.Email != "" && !validEmail(c.Email):
		return Identity{}, invalid("malformed email")
	}
	return Identity{
		Issuer:  c.Issuer,
		Subject: c.Subject,
		Email:   c.Email,
		Kind:    c.Kind,
	}, nil
}

// invalid returns an error wrapping ErrInvalidToken with a short reason.
// reason must be a fixed phrase, never token content.
func invalid(reason string) error {
	return fmt.Errorf("%w: %s", ErrInvalidToken, reason)
}

// describe maps a jwt parse error to a fixed short phrase. jwt's own
// messages are not passed on because some quote decoded token content.
func describe(err error, tok *jwt.Token, c *claims) string {
	switch {
	case errors.Is(err, jwt.ErrTokenMalformed):
		return "malformed"
	case errors.Is(err, jwt.ErrTokenUnverifiable):
		return "unsupported algorithm"
	case errors.Is(err, jwt.ErrTokenSignatureInvalid):
		if tok != nil && tok.Method != nil && tok.Method.Alg() != jwt.SigningMethodEdDSA.Alg() {
			return "disallowed algorithm"
		}
		return "bad signature"
	case errors.Is(err, jwt.ErrTokenInvalidIssuer):
		return "wrong issuer"
	case errors.Is(err, jwt.ErrTokenInvalidAudience):
		return "wrong audience"
	case errors.Is(err, jwt.ErrTokenRequiredClaimMissing):
		switch {
		case c.Issuer == "":
			return "missing issuer"
		case len(c.Audience) == 0 || c.Audience[0] == "":
			return "missing audience"
		case c.ExpiresAt == nil:
			return "missing expiry"
		}
		return "missing required claim"
	case errors.Is(err, jwt.ErrTokenExpired):
		return "expired"
	case errors.Is(err, jwt.ErrTokenNotValidYet):
		return "not yet valid"
	case errors.Is(err, jwt.ErrTokenUsedBeforeIssued):
		return "issued in the future"
	case errors.Is(err, jwt.ErrInvalidType):
		return "malformed claim"
	}
	return "invalid claims"
}

// isCompactJWSChars reports whether s uses only the base64url alphabet and
// the "." separator, as a compact JWS does.
func isCompactJWSChars(s string) bool {
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9':
		case c == '-', c == '_', c == '.':
		default:
			return false
		}
	}
	return true
}
