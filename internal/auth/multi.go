package auth

import (
	"context"
	"slices"

	lru "github.com/hashicorp/golang-lru/v2"
)

// issuerLister is implemented by verifiers that accept tokens of a known set
// of issuers; NewMultiVerifier routes by it.
type issuerLister interface {
	Issuers() []string
}

// multiVerifier routes each token to the verifier that claims its issuer.
type multiVerifier struct {
	issuers  []string
	byIssuer map[string]Verifier
	fallback []Verifier
	// issuerOf remembers the issuer read from recent well-formed tokens (peekToken, a
	// function of the token alone): a client sends the same token with every request
	// until it expires, and reading it again costs more than the routing it serves
	// (about 5 µs and 50 allocations a request). Only the routing is remembered: the
	// chosen verifier still checks the token completely, every time.
	issuerOf *lru.Cache[string, string]
}

// Bounds of multiVerifier.issuerOf: tokens remembered, and the longest remembered (so
// that it holds at most about peekCacheSize × maxPeekCachedLen bytes of tokens).
const (
	peekCacheSize    = 1024
	maxPeekCachedLen = 4 << 10
)

// NewMultiVerifier returns a Verifier that routes each token by its "iss"
// claim (read before verification, for routing only) to the verifier that
// accepts that issuer; that verifier then checks the token completely.
//
// A verifier names its issuers by implementing Issuers() []string, as the
// verifiers of NewOIDCVerifier, DevIssuerVerifier and NewMultiVerifier do.
// When several claim one issuer, the first wins. Verifiers without
// Issuers() are tried, in order, only for issuers no verifier claims; the
// first success is returned, or else the first failure. A token whose
// issuer nobody claims, when there are no such fallbacks, is rejected as
// "unknown issuer". nil verifiers are ignored.
//
// The returned verifier implements Issuers(), listing the claimed issuers.
func NewMultiVerifier(vs ...Verifier) Verifier {
	issuerOf, err := lru.New[string, string](peekCacheSize)
	if err != nil {
		panic(err) // only for a size below 1
	}
	m := &multiVerifier{byIssuer: make(map[string]Verifier), issuerOf: issuerOf}
	for _, v := range vs {
		if v == nil {
			continue
		}
		l, ok := v.(issuerLister)
		if !ok {
			m.fallback = append(m.fallback, v)
			continue
		}
		for _, iss := range l.Issuers() {
			if _, taken := m.byIssuer[iss]; iss == "" || taken {
				continue
			}
			m.byIssuer[iss] = v
			m.issuers = append(m.issuers, iss)
		}
	}
	return m
}

// Issuers returns the issuers claimed by the routed verifiers.
func (m *multiVerifier) Issuers() []string {
	return slices.Clone(m.issuers)
}

// Verify implements Verifier.
func (m *multiVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	issuer, err := m.issuer(token)
	if err != nil {
		return Identity{}, err
	}
	if v, ok := m.byIssuer[issuer]; ok {
		return v.Verify(ctx, token)
	}
	var firstErr error
	for _, v := range m.fallback {
		id, err := v.Verify(ctx, token)
		if err == nil {
			return id, nil
		}
		if firstErr == nil {
			firstErr = err
		}
	}
	if firstErr != nil {
		return Identity{}, firstErr
	}
	return Identity{}, invalid("unknown issuer")
}

// issuer is the "iss" claim of a well-formed token, read without verifying anything
// (peekToken), or the reason the token is unusable.
func (m *multiVerifier) issuer(token string) (string, error) {
	if iss, ok := m.issuerOf.Get(token); ok {
		return iss, nil
	}
	p, reason := peekToken(token)
	if reason != "" {
		return "", invalid(reason)
	}
	if len(token) <= maxPeekCachedLen {
		m.issuerOf.Add(token, p.issuer)
	}
	return p.issuer, nil
}

// devIssuerVerifier is a DevSigner's verifier that names its issuer.
type devIssuerVerifier struct {
	v      Verifier
	issuer string
}

// DevIssuerVerifier returns s.Verifier() together with an Issuers() method
// naming the signer's issuer, so that NewMultiVerifier can route
// development tokens to it.
func DevIssuerVerifier(s *DevSigner) Verifier {
	return &devIssuerVerifier{v: s.Verifier(), issuer: s.issuer}
}

// Issuers returns the development signer's issuer.
func (d *devIssuerVerifier) Issuers() []string { return []string{d.issuer} }

// Verify implements Verifier.
func (d *devIssuerVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	return d.v.Verify(ctx, token)
}
