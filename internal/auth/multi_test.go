package auth

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMultiVerifier_RemembersOnlyTheRoutingOfAToken: the issuer read from a token is kept
// for its next use, but the routed verifier still checks the token completely every time:
// a token that has expired since is refused, and a tampered token, which reads as another
// token, is read again and refused.
func TestMultiVerifier_RemembersOnlyTheRoutingOfAToken(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	dev := newSigner(t, t.TempDir(), clock)
	mv := NewMultiVerifier(DevIssuerVerifier(dev)).(*multiVerifier)

	tok, err := dev.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	for range 2 {
		id, err := mv.Verify(ctx, tok)
		require.NoError(t, err)
		assert.Equal(t, testSubject, id.Subject)
	}
	assert.Equal(t, 1, mv.issuerOf.Len(), "the token's issuer is remembered")

	tampered := tok[:len(tok)-2] + "AA"
	if tampered == tok {
		tampered = tok[:len(tok)-2] + "BA"
	}
	_, err = mv.Verify(ctx, tampered)
	requireRejected(t, tampered, err, "bad signature")

	clock.Advance(2 * time.Hour)
	_, err = mv.Verify(ctx, tok)
	requireRejected(t, tok, err, "expired")
}

// TestMultiVerifier_RemembersBoundedWellFormedTokens: unusable tokens are not remembered
// (each is refused for its own reason every time), nor tokens longer than
// maxPeekCachedLen, and at most peekCacheSize tokens are.
func TestMultiVerifier_RemembersBoundedWellFormedTokens(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	dev := newSigner(t, t.TempDir(), clock)
	mv := NewMultiVerifier(DevIssuerVerifier(dev)).(*multiVerifier)

	for _, c := range []struct{ token, reason string }{{"", "empty token"}, {"a.b.c", "malformed"}} {
		for range 2 {
			_, err := mv.Verify(ctx, c.token)
			requireRejected(t, c.token, err, c.reason)
		}
	}
	noIssuer := baseClaims(clock)
	delete(noIssuer, "iss")
	tok := signWith(t, dev, noIssuer)
	for range 2 {
		_, err := mv.Verify(ctx, tok)
		requireRejected(t, tok, err, "missing issuer")
	}
	assert.Zero(t, mv.issuerOf.Len(), "no unusable token is remembered")

	long := baseClaims(clock)
	long["pad"] = strings.Repeat("x", maxPeekCachedLen)
	_, err := mv.Verify(ctx, signWith(t, dev, long))
	require.NoError(t, err)
	assert.Zero(t, mv.issuerOf.Len(), "a token longer than maxPeekCachedLen is not remembered")

	for i := range peekCacheSize + 10 {
		c := baseClaims(clock)
		c["jti"] = fmt.Sprintf("jti-%d", i)
		_, err := mv.Verify(ctx, signWith(t, dev, c))
		require.NoError(t, err)
	}
	assert.Equal(t, peekCacheSize, mv.issuerOf.Len())
}
