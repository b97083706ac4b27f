package auth

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

const (
	oidcTestAudience = "00000000-aaaa-bbbb-cccc-000000000001"
	oidcTestTenant   = "72f988bf-86f1-41af-91ab-2d7cd011db47"
)

// oidcTestKeys are RSA keys shared by the tests (generation is slow).
var oidcTestKeys = sync.OnceValue(func() []*rsa.PrivateKey {
	keys := make([]*rsa.PrivateKey, 4)
	for i := range keys {
		k, err := rsa.GenerateKey(rand.Reader, 2048)
		if err != nil {
			panic(err)
		}
		keys[i] = k
	}
	return keys
})

func oidcKey(i int) *rsa.PrivateKey { return oidcTestKeys()[i] }

// oidcProvider is a local OpenID Connect provider: a TLS server with a
// discovery document and a JWKS endpoint, laid out like Entra ID's.
type oidcProvider struct {
	t      testing.TB
	srv    *httptest.Server
	issuer string

	mu                sync.Mutex
	jwks              []byte
	jwksStatus        int           // 0 means 200
	discoveredIssuer  string        // "" means issuer
	discoveredJWKSURI string        // "" means the real one
	jwksGate          chan struct{} // when set, JWKS requests wait for it to close
	jwksStarted       chan struct{} // when set, JWKS requests send on it before waiting for jwksGate

	jwksFetches      atomic.Int64
	discoveryFetches atomic.Int64
}

func newOIDCProvider(t testing.TB) *oidcProvider {
	t.Helper()
	p := &oidcProvider{t: t}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{tenant}/v2.0/.well-known/openid-configuration", func(w http.ResponseWriter, r *http.Request) {
		p.discoveryFetches.Add(1)
		p.mu.Lock()
		iss, jwksURI := p.discoveredIssuer, p.discoveredJWKSURI
		p.mu.Unlock()
		if iss == "" {
			iss = p.issuer
		}
		if jwksURI == "" {
			jwksURI = p.jwksURL()
		}
		w.Header().Set("Content-Type", "application/json")
		_ = json.NewEncoder(w).Encode(map[string]any{
			"issuer":                                iss,
			"jwks_uri":                              jwksURI,
			"authorization_endpoint":                p.srv.URL + "/" + r.PathValue("tenant") + "/oauth2/v2.0/authorize",
			"token_endpoint":                        p.srv.URL + "/" + r.PathValue("tenant") + "/oauth2/v2.0/token",
			"id_token_signing_alg_values_supported": []string{"RS256"},
		})
	})
	mux.HandleFunc("GET /{tenant}/discovery/v2.0/keys", func(w http.ResponseWriter, _ *http.Request) {
		p.jwksFetches.Add(1)
		p.mu.Lock()
		body, status, gate, started := p.jwks, p.jwksStatus, p.jwksGate, p.jwksStarted
		p.mu.Unlock()
		if started != nil {
			started <- struct{}{}
		}
		if gate != nil {
			<-gate
		}
		if status != 0 && status != http.StatusOK {
			http.Error(w, "unavailable", status)
			return
		}
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
	})
	p.srv = httptest.NewTLSServer(mux)
	t.Cleanup(p.srv.Close)
	p.issuer = p.srv.URL + "/" + oidcTestTenant + "/v2.0"
	p.publish(map[string]*rsa.PrivateKey{"kid-1": oidcKey(0)})
	return p
}

func (p *oidcProvider) jwksURL() string {
	return p.srv.URL + "/" + oidcTestTenant + "/discovery/v2.0/keys"
}

// publish replaces the published key set.
func (p *oidcProvider) publish(keys map[string]*rsa.PrivateKey) {
	p.t.Helper()
	var set jose.JSONWebKeySet
	for kid, k := range keys {
		set.Keys = append(set.Keys, jose.JSONWebKey{Key: &k.PublicKey, KeyID: kid, Algorithm: "RS256", Use: "sig"})
	}
	body, err := json.Marshal(set)
	require.NoError(p.t, err)
	p.mu.Lock()
	p.jwks = body
	p.mu.Unlock()
}

func (p *oidcProvider) set(f func(p *oidcProvider)) {
	p.mu.Lock()
	defer p.mu.Unlock()
	f(p)
}

func (p *oidcProvider) setJWKSStatus(status int) {
	p.set(func(p *oidcProvider) { p.jwksStatus = status })
}

func (p *oidcProvider) config() IssuerConfig {
	return IssuerConfig{Issuer: p.issuer, Audience: oidcTestAudience}
}

// verifier builds a verifier for cfgs using the provider's TLS client.
func (p *oidcProvider) verifier(t testing.TB, clock *testClock, cfgs ...IssuerConfig) Verifier {
	t.Helper()
	if len(cfgs) == 0 {
		cfgs = []IssuerConfig{p.config()}
	}
	v, err := NewOIDCVerifier(context.Background(), cfgs, WithHTTPClient(p.srv.Client()), WithClock(clock.Now))
	require.NoError(t, err)
	return v
}

// claims are those of a typical Entra ID access token at the clock's time.
func (p *oidcProvider) claims(clock *testClock) jwt.MapClaims {
	now := clock.Now()
	return jwt.MapClaims{
		"iss":                p.issuer,
		"aud":                oidcTestAudience,
		"sub":                testSubject,
		"email":              testEmail,
		"preferred_username": "someone.else@example.com",
		"tid":                oidcTestTenant,
		"oid":                "9f2c6a9e-1111-2222-3333-444455556666",
		"iat":                now.Unix(),
		"nbf":                now.Unix(),
		"exp":                now.Add(time.Hour).Unix(),
		"ver":                "2.0",
	}
}

// oidcSign signs c with key under kid ("" for no kid).
func oidcSign(t testing.TB, method jwt.SigningMethod, key any, kid string, c jwt.MapClaims) string {
	t.Helper()
	tok := jwt.NewWithClaims(method, c)
	if kid != "" {
		tok.Header["kid"] = kid
	}
	s, err := tok.SignedString(key)
	require.NoError(t, err)
	return s
}

func (p *oidcProvider) token(t testing.TB, clock *testClock, edit func(jwt.MapClaims)) string {
	t.Helper()
	c := p.claims(clock)
	if edit != nil {
		edit(c)
	}
	return oidcSign(t, jwt.SigningMethodRS256, oidcKey(0), "kid-1", c)
}

func TestOIDCVerifyValid(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	assert.Equal(t, int64(1), p.discoveryFetches.Load(), "discovery happens at construction")
	assert.Equal(t, int64(0), p.jwksFetches.Load(), "keys are fetched lazily")

	for range 5 {
		id, err := v.Verify(ctx, p.token(t, clock, nil))
		require.NoError(t, err)
		assert.Equal(t, Identity{Issuer: p.issuer, Subject: testSubject, Email: testEmail, Kind: KindEntraID}, id)
	}
	assert.Equal(t, int64(1), p.jwksFetches.Load(), "keys are cached")
	assert.Equal(t, []string{p.issuer}, v.(interface{ Issuers() []string }).Issuers())

	t.Run("audience among several", func(t *testing.T) {
		id, err := v.Verify(ctx, p.token(t, clock, func(c jwt.MapClaims) {
			c["aud"] = []string{"other-api", oidcTestAudience}
		}))
		require.NoError(t, err)
		assert.Equal(t, testSubject, id.Subject)
	})
	t.Run("no kid", func(t *testing.T) {
		tok := oidcSign(t, jwt.SigningMethodRS256, oidcKey(0), "", p.claims(clock))
		_, err := v.Verify(ctx, tok)
		require.NoError(t, err)
	})
	t.Run("within leeway", func(t *testing.T) {
		now := clock.Now()
		_, err := v.Verify(ctx, p.token(t, clock, func(c jwt.MapClaims) {
			c["exp"] = now.Add(-Leeway / 2).Unix()
			c["nbf"] = now.Add(Leeway / 2).Unix()
			c["iat"] = now.Add(Leeway / 2).Unix()
		}))
		require.NoError(t, err)
	})
	t.Run("optional nbf and iat", func(t *testing.T) {
		_, err := v.Verify(ctx, p.token(t, clock, func(c jwt.MapClaims) {
			delete(c, "nbf")
			delete(c, "iat")
		}))
		require.NoError(t, err)
	})
}

func TestOIDCKind(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)

	cases := []struct {
		name       string
		configured Kind
		edit       func(jwt.MapClaims)
		want       Kind
	}{
		{"derived: work tenant", "", nil, KindEntraID},
		{"derived: consumer tenant", "", func(c jwt.MapClaims) { c["tid"] = MSAConsumerTenantID }, KindMSA},
		{"derived: consumer tenant upper case", "", func(c jwt.MapClaims) { c["tid"] = strings.ToUpper(MSAConsumerTenantID) }, KindMSA},
		{"derived: no tid", "", func(c jwt.MapClaims) { delete(c, "tid") }, KindEntraID},
		{"derived: non-string tid", "", func(c jwt.MapClaims) { c["tid"] = 42 }, KindEntraID},
		{"derived: kind claim ignored", "", func(c jwt.MapClaims) { c["kind"] = string(KindMSA) }, KindEntraID},
		{"configured MSA", KindMSA, nil, KindMSA},
		{"configured Entra despite consumer tid", KindEntraID, func(c jwt.MapClaims) { c["tid"] = MSAConsumerTenantID }, KindEntraID},
		{"configured MSA, kind claim ignored", KindMSA, func(c jwt.MapClaims) { c["kind"] = string(KindEntraID) }, KindMSA},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			cfg := p.config()
			cfg.Kind = tc.configured
			v := p.verifier(t, clock, cfg)
			id, err := v.Verify(ctx, p.token(t, clock, tc.edit))
			require.NoError(t, err)
			assert.Equal(t, tc.want, id.Kind)
		})
	}
}

func TestOIDCEmail(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	cases := []struct {
		name string
		edit func(jwt.MapClaims)
		want string
	}{
		{"email claim", nil, testEmail},
		{"preferred_username fallback", func(c jwt.MapClaims) { delete(c, "email") }, "someone.else@example.com"},
		{"malformed email falls back", func(c jwt.MapClaims) { c["email"] = "Someone <a@example.com>" }, "someone.else@example.com"},
		{"non-string email falls back", func(c jwt.MapClaims) { c["email"] = 7 }, "someone.else@example.com"},
		{"preferred_username not an email", func(c jwt.MapClaims) {
			delete(c, "email")
			c["preferred_username"] = "DOMAIN\\someone"
		}, ""},
		{"neither", func(c jwt.MapClaims) {
			delete(c, "email")
			delete(c, "preferred_username")
		}, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			id, err := v.Verify(ctx, p.token(t, clock, tc.edit))
			require.NoError(t, err)
			assert.Equal(t, tc.want, id.Email)
			assert.Equal(t, testSubject, id.Subject)
		})
	}
}

func TestOIDCRejects(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	withClaims := func(edit func(jwt.MapClaims)) func(*testing.T) string {
		return func(t *testing.T) string { return p.token(t, clock, edit) }
	}
	pubDER, err := x509.MarshalPKIXPublicKey(&oidcKey(0).PublicKey)
	require.NoError(t, err)
	pubPEM := pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER})

	cases := []struct {
		name   string
		token  func(t *testing.T) string
		reason string
	}{
		{"empty", func(*testing.T) string { return "" }, "empty token"},
		{"garbage", func(*testing.T) string { return "not-a-jwt" }, "malformed"},
		{"too large", func(*testing.T) string { return strings.Repeat("A", MaxTokenLen+1) }, "token too large"},
		{"too many segments", func(t *testing.T) string { return p.token(t, clock, nil) + ".AAAA" }, "malformed"},
		{"trailing newline", func(t *testing.T) string { return p.token(t, clock, nil) + "\n" }, "malformed"},
		{"header not JSON", func(t *testing.T) string {
			parts := strings.Split(p.token(t, clock, nil), ".")
			parts[0] = "bm90LWpzb24"
			return strings.Join(parts, ".")
		}, "malformed"},
		{"non-canonical signature encoding", func(t *testing.T) string {
			tok := p.token(t, clock, nil)
			// A 256-byte RSA signature is 342 base64url characters; the
			// last one carries 4 unused bits.
			const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
			last := strings.IndexByte(alphabet, tok[len(tok)-1])
			require.GreaterOrEqual(t, last, 0)
			return tok[:len(tok)-1] + string(alphabet[last|1])
		}, "malformed"},
		{"missing issuer", withClaims(func(c jwt.MapClaims) { delete(c, "iss") }), "missing issuer"},
		{"unknown issuer", withClaims(func(c jwt.MapClaims) { c["iss"] = "https://login.example.com/other/v2.0" }), "unknown issuer"},
		{"issuer with trailing slash", withClaims(func(c jwt.MapClaims) { c["iss"] = p.issuer + "/" }), "unknown issuer"},
		{"wrong audience", withClaims(func(c jwt.MapClaims) { c["aud"] = "some-other-api" }), "wrong audience"},
		{"wrong audiences", withClaims(func(c jwt.MapClaims) { c["aud"] = []string{"a", "b"} }), "wrong audience"},
		{"missing audience", withClaims(func(c jwt.MapClaims) { delete(c, "aud") }), "missing audience"},
		{"empty audience", withClaims(func(c jwt.MapClaims) { c["aud"] = []string{} }), "missing audience"},
		{"audience wrong type", withClaims(func(c jwt.MapClaims) { c["aud"] = 12 }), "malformed claim"},
		{"expired", withClaims(func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(-Leeway - time.Second).Unix() }), "expired"},
		{"missing exp", withClaims(func(c jwt.MapClaims) { delete(c, "exp") }), "missing expiry"},
		{"exp wrong type", withClaims(func(c jwt.MapClaims) { c["exp"] = "tomorrow" }), "malformed claim"},
		{"not yet valid", withClaims(func(c jwt.MapClaims) { c["nbf"] = clock.Now().Add(Leeway + time.Minute).Unix() }), "not yet valid"},
		{"issued in the future", withClaims(func(c jwt.MapClaims) {
			delete(c, "nbf")
			c["iat"] = clock.Now().Add(Leeway + time.Minute).Unix()
		}), "issued in the future"},
		{"missing subject", withClaims(func(c jwt.MapClaims) { delete(c, "sub") }), "missing subject"},
		{"blank subject", withClaims(func(c jwt.MapClaims) { c["sub"] = "  " }), "missing subject"},
		{"subject wrong type", withClaims(func(c jwt.MapClaims) { c["sub"] = 5 }), "malformed claim"},
		{"alg none", func(t *testing.T) string {
			tok, err := jwt.NewWithClaims(jwt.SigningMethodNone, p.claims(clock)).
				SignedString(jwt.UnsafeAllowNoneSignatureType)
			require.NoError(t, err)
			return tok
		}, "disallowed algorithm"},
		{"HS256 keyed with the public key PEM (alg confusion)", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodHS256, pubPEM, "kid-1", p.claims(clock))
		}, "disallowed algorithm"},
		{"HS256 keyed with the public key DER (alg confusion)", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodHS256, pubDER, "kid-1", p.claims(clock))
		}, "disallowed algorithm"},
		{"HS256 keyed with the modulus (alg confusion)", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodHS256, oidcKey(0).N.Bytes(), "kid-1", p.claims(clock))
		}, "disallowed algorithm"},
		{"PS256 not allowed by config", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodPS256, oidcKey(0), "kid-1", p.claims(clock))
		}, "disallowed algorithm"},
		{"critical header", func(t *testing.T) string {
			tok := jwt.NewWithClaims(jwt.SigningMethodRS256, p.claims(clock))
			tok.Header["kid"] = "kid-1"
			tok.Header["crit"] = []string{"exp"}
			s, err := tok.SignedString(oidcKey(0))
			require.NoError(t, err)
			return s
		}, "unsupported critical header"},
		{"signed by an unknown key", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-unknown", p.claims(clock))
		}, "bad signature"},
		{"known kid, other key", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-1", p.claims(clock))
		}, "bad signature"},
		{"no kid, other key", func(t *testing.T) string {
			return oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "", p.claims(clock))
		}, "bad signature"},
		{"tampered payload", func(t *testing.T) string {
			parts := strings.Split(p.token(t, clock, nil), ".")
			payload := decodeSegment(t, parts[1])
			payload["sub"] = "someone-else"
			parts[1] = encodeSegment(t, payload)
			return strings.Join(parts, ".")
		}, "bad signature"},
		{"signature stripped", func(t *testing.T) string {
			parts := strings.Split(p.token(t, clock, nil), ".")
			return parts[0] + "." + parts[1] + "."
		}, "bad signature"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token(t)
			id, err := v.Verify(ctx, token)
			requireRejected(t, token, err, tc.reason)
			assert.Equal(t, Identity{}, id)
		})
	}

	t.Run("algorithm allowed only by config", func(t *testing.T) {
		cfg := p.config()
		cfg.Algorithms = []string{"ES256"}
		v := p.verifier(t, clock, cfg)
		token := p.token(t, clock, nil)
		_, err := v.Verify(ctx, token)
		requireRejected(t, token, err, "disallowed algorithm")
	})
	t.Run("PS256 allowed by config", func(t *testing.T) {
		cfg := p.config()
		cfg.Algorithms = []string{"RS256", "PS256"}
		v := p.verifier(t, clock, cfg)
		_, err := v.Verify(ctx, oidcSign(t, jwt.SigningMethodPS256, oidcKey(0), "kid-1", p.claims(clock)))
		require.NoError(t, err)
	})
	t.Run("token of another provider claiming this issuer", func(t *testing.T) {
		other := newOIDCProvider(t)
		other.publish(map[string]*rsa.PrivateKey{"kid-1": oidcKey(2)})
		c := p.claims(clock)
		token := oidcSign(t, jwt.SigningMethodRS256, oidcKey(2), "kid-1", c)
		_, err := v.Verify(ctx, token)
		requireRejected(t, token, err, "bad signature")
	})
	t.Run("leeway zero", func(t *testing.T) {
		v, err := NewOIDCVerifier(ctx, []IssuerConfig{p.config()},
			WithHTTPClient(p.srv.Client()), WithClock(clock.Now), WithLeeway(0))
		require.NoError(t, err)
		token := p.token(t, clock, func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(-time.Second).Unix() })
		_, err = v.Verify(ctx, token)
		requireRejected(t, token, err, "expired")
	})
	t.Run("expires as the clock advances", func(t *testing.T) {
		clock := newTestClock()
		v := p.verifier(t, clock)
		token := p.token(t, clock, nil)
		_, err := v.Verify(ctx, token)
		require.NoError(t, err)
		clock.Advance(time.Hour + Leeway)
		_, err = v.Verify(ctx, token)
		requireRejected(t, token, err, "expired")
	})
}

func TestOIDCKeyRotation(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	_, err := v.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)
	require.Equal(t, int64(1), p.jwksFetches.Load())

	// The provider rotates: kid-2 is published and kid-1 withdrawn.
	p.publish(map[string]*rsa.PrivateKey{"kid-2": oidcKey(1)})
	clock.Advance(jwksMinRefetchInterval + time.Second)
	newToken := oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-2", p.claims(clock))
	id, err := v.Verify(ctx, newToken)
	require.NoError(t, err, "a new kid is picked up without restart")
	assert.Equal(t, testSubject, id.Subject)
	assert.Equal(t, int64(2), p.jwksFetches.Load())

	// Further tokens with the new key come from the cache.
	for range 3 {
		_, err = v.Verify(ctx, oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-2", p.claims(clock)))
		require.NoError(t, err)
	}
	assert.Equal(t, int64(2), p.jwksFetches.Load())

	// The withdrawn key no longer verifies, and asking does not refetch
	// within the pacing window.
	oldToken := p.token(t, clock, nil)
	_, err = v.Verify(ctx, oldToken)
	requireRejected(t, oldToken, err, "bad signature")
	assert.Equal(t, int64(2), p.jwksFetches.Load())
}

// TestOIDCRepeatedRotation rotates many times in a row, each time asking
// for the new kid first within the pacing window (rejected, no fetch) and
// then right after it (accepted, exactly one fetch, shared by concurrent
// first tokens). Tokens are signed in advance so that calls follow each
// other closely.
func TestOIDCRepeatedRotation(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	const rotations = 20
	type rotation struct {
		kid    string
		key    *rsa.PrivateKey
		tokens []string
	}
	rots := make([]rotation, rotations)
	for i := range rots {
		r := rotation{kid: fmt.Sprintf("kid-r%d", i), key: oidcKey(1 + i%3)}
		for range 1 + 9*(i%2) {
			c := p.claims(clock)
			c["exp"] = clock.Now().Add(24 * time.Hour).Unix()
			r.tokens = append(r.tokens, oidcSign(t, jwt.SigningMethodRS256, r.key, r.kid, c))
		}
		rots[i] = r
	}

	_, err := v.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)
	for i, r := range rots {
		p.publish(map[string]*rsa.PrivateKey{r.kid: r.key})
		before := p.jwksFetches.Load()
		clock.Advance(time.Second)
		_, err := v.Verify(ctx, r.tokens[0])
		requireRejected(t, r.tokens[0], err, "bad signature")
		require.Equal(t, before, p.jwksFetches.Load(), "rotation %d: no fetch within the window", i)

		clock.Advance(jwksMinRefetchInterval)
		if len(r.tokens) == 1 {
			_, err := v.Verify(ctx, r.tokens[0])
			require.NoError(t, err, "rotation %d", i)
		} else {
			var wg sync.WaitGroup
			for _, tok := range r.tokens {
				wg.Go(func() {
					if _, err := v.Verify(ctx, tok); err != nil {
						t.Errorf("rotation %d: %v", i, err)
					}
				})
			}
			wg.Wait()
		}
		require.Equal(t, before+1, p.jwksFetches.Load(), "rotation %d: one fetch", i)
	}
}

func TestOIDCRotationWithinPacingWindow(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	_, err := v.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)

	// A key published right after a fetch is picked up once the pacing
	// interval has passed.
	p.publish(map[string]*rsa.PrivateKey{"kid-1": oidcKey(0), "kid-2": oidcKey(1)})
	clock.Advance(time.Second)
	token := oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-2", p.claims(clock))
	_, err = v.Verify(ctx, token)
	requireRejected(t, token, err, "bad signature")
	assert.Equal(t, int64(1), p.jwksFetches.Load())

	clock.Advance(jwksMinRefetchInterval)
	_, err = v.Verify(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.jwksFetches.Load())
	// The old key is still published and still verifies.
	_, err = v.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.jwksFetches.Load())
}

func TestOIDCRefetchStormBounded(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)

	randomKidToken := func(t *testing.T) string {
		return oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-"+rand.Text(), p.claims(clock))
	}
	storm := func(t *testing.T) {
		tokens := make([]string, 100)
		for i := range tokens {
			tokens[i] = randomKidToken(t)
		}
		var wg sync.WaitGroup
		for _, tok := range tokens {
			wg.Go(func() {
				_, err := v.Verify(ctx, tok)
				if err == nil || err.Error() != "auth: invalid token: bad signature" {
					t.Errorf("unknown kid: got %v", err)
				}
			})
		}
		wg.Wait()
		// And sequentially.
		for _, tok := range tokens[:20] {
			_, err := v.Verify(ctx, tok)
			requireRejected(t, tok, err, "bad signature")
		}
	}

	t.Run("cold cache", func(t *testing.T) {
		storm(t)
		assert.LessOrEqual(t, p.jwksFetches.Load(), int64(1))
	})
	t.Run("warm cache after the window", func(t *testing.T) {
		clock.Advance(jwksMinRefetchInterval)
		_, err := v.Verify(ctx, p.token(t, clock, nil))
		require.NoError(t, err)
		before := p.jwksFetches.Load()
		storm(t)
		assert.LessOrEqual(t, p.jwksFetches.Load()-before, int64(1))
	})
	t.Run("forged signatures with a known kid", func(t *testing.T) {
		clock.Advance(jwksMinRefetchInterval)
		before := p.jwksFetches.Load()
		for range 50 {
			tok := oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), "kid-1", p.claims(clock))
			_, err := v.Verify(ctx, tok)
			requireRejected(t, tok, err, "bad signature")
		}
		assert.LessOrEqual(t, p.jwksFetches.Load()-before, int64(1))
	})
	t.Run("one fetch per window", func(t *testing.T) {
		before := p.jwksFetches.Load()
		for range 5 {
			clock.Advance(jwksMinRefetchInterval)
			for range 10 {
				tok := randomKidToken(t)
				_, err := v.Verify(ctx, tok)
				requireRejected(t, tok, err, "bad signature")
			}
		}
		assert.Equal(t, int64(5), p.jwksFetches.Load()-before)
	})
	// Valid tokens still verify throughout.
	_, err := v.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)
}

func TestOIDCJWKSUnavailable(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)
	p.setJWKSStatus(http.StatusServiceUnavailable)

	token := p.token(t, clock, nil)
	for range 10 {
		_, err := v.Verify(ctx, token)
		requireRejected(t, token, err, "signing keys unavailable")
	}
	assert.Equal(t, int64(1), p.jwksFetches.Load(), "failures are paced too")

	p.setJWKSStatus(http.StatusOK)
	clock.Advance(jwksMinRefetchInterval)
	_, err := v.Verify(ctx, token)
	require.NoError(t, err)
	assert.Equal(t, int64(2), p.jwksFetches.Load())

	t.Run("not a key set", func(t *testing.T) {
		clock := newTestClock()
		p := newOIDCProvider(t)
		v := p.verifier(t, clock)
		p.set(func(p *oidcProvider) { p.jwks = []byte(`<html>oops</html>`) })
		token := p.token(t, clock, nil)
		_, err := v.Verify(ctx, token)
		requireRejected(t, token, err, "signing keys unavailable")
	})
	t.Run("caller gives up during the fetch", func(t *testing.T) {
		clock := newTestClock()
		p := newOIDCProvider(t)
		v := p.verifier(t, clock)
		gate, started := make(chan struct{}), make(chan struct{}, 1)
		p.set(func(p *oidcProvider) { p.jwksGate, p.jwksStarted = gate, started })
		cctx, cancel := context.WithCancel(ctx)
		token := p.token(t, clock, nil)
		errc := make(chan error, 1)
		go func() {
			_, err := v.Verify(cctx, token)
			errc <- err
		}()
		<-started
		cancel()
		requireRejected(t, token, <-errc, "signing keys unavailable")
		close(gate)

		// The fetch the canceled call started completes and serves the
		// next call (within the pacing window, so without a new fetch).
		_, err := v.Verify(ctx, token)
		require.NoError(t, err)
		assert.Equal(t, int64(1), p.jwksFetches.Load())
	})
	t.Run("canceled context", func(t *testing.T) {
		clock := newTestClock()
		p := newOIDCProvider(t)
		v := p.verifier(t, clock)
		// Hold the JWKS response until the canceled Verify has returned.
		gate := make(chan struct{})
		p.set(func(p *oidcProvider) { p.jwksGate = gate })
		defer close(gate)
		cctx, cancel := context.WithCancel(ctx)
		cancel()
		token := p.token(t, clock, nil)
		_, err := v.Verify(cctx, token)
		requireRejected(t, token, err, "signing keys unavailable")
	})
}

func TestOIDCKeySetMaxAge(t *testing.T) {
	ctx := context.Background()

	t.Run("withdrawn key stops verifying", func(t *testing.T) {
		clock := newTestClock()
		p := newOIDCProvider(t)
		v := p.verifier(t, clock)
		token := p.token(t, clock, func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(100 * time.Hour).Unix() })
		_, err := v.Verify(ctx, token)
		require.NoError(t, err)

		p.publish(map[string]*rsa.PrivateKey{"kid-2": oidcKey(1)})
		clock.Advance(jwksMaxAge - time.Minute)
		_, err = v.Verify(ctx, token)
		require.NoError(t, err, "cached until the key set is a day old")
		assert.Equal(t, int64(1), p.jwksFetches.Load())

		clock.Advance(time.Minute)
		_, err = v.Verify(ctx, token)
		requireRejected(t, token, err, "bad signature")
		assert.Equal(t, int64(2), p.jwksFetches.Load())
	})

	t.Run("last good keys survive an outage", func(t *testing.T) {
		clock := newTestClock()
		p := newOIDCProvider(t)
		v := p.verifier(t, clock)
		token := p.token(t, clock, func(c jwt.MapClaims) { c["exp"] = clock.Now().Add(200 * time.Hour).Unix() })
		_, err := v.Verify(ctx, token)
		require.NoError(t, err)

		p.setJWKSStatus(http.StatusInternalServerError)
		for range 2 {
			clock.Advance(jwksMaxAge)
			_, err = v.Verify(ctx, token)
			require.NoError(t, err)
		}
		assert.Equal(t, int64(3), p.jwksFetches.Load())

		clock.Advance(jwksMaxStale - 2*jwksMaxAge)
		_, err = v.Verify(ctx, token)
		requireRejected(t, token, err, "signing keys unavailable")
	})
}

func TestOIDCDiscovery(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()

	t.Run("issuer mismatch refused", func(t *testing.T) {
		p := newOIDCProvider(t)
		p.set(func(p *oidcProvider) { p.discoveredIssuer = "https://evil.example/" + oidcTestTenant + "/v2.0" })
		v, err := NewOIDCVerifier(ctx, []IssuerConfig{p.config()}, WithHTTPClient(p.srv.Client()), WithClock(clock.Now))
		require.Error(t, err)
		assert.Nil(t, v)
		var mismatch *oidc.IssuerMismatchError
		require.ErrorAs(t, err, &mismatch)
		assert.Equal(t, p.issuer, mismatch.Provided)
		assert.Contains(t, err.Error(), p.issuer)
		assert.Equal(t, int64(0), p.jwksFetches.Load())
	})
	t.Run("trailing slash mismatch refused", func(t *testing.T) {
		p := newOIDCProvider(t)
		p.set(func(p *oidcProvider) { p.discoveredIssuer = p.issuer + "/" })
		_, err := NewOIDCVerifier(ctx, []IssuerConfig{p.config()}, WithHTTPClient(p.srv.Client()))
		var mismatch *oidc.IssuerMismatchError
		require.ErrorAs(t, err, &mismatch)
	})
	t.Run("insecure jwks_uri refused", func(t *testing.T) {
		p := newOIDCProvider(t)
		p.set(func(p *oidcProvider) { p.discoveredJWKSURI = "http://keys.example.com/keys" })
		_, err := NewOIDCVerifier(ctx, []IssuerConfig{p.config()}, WithHTTPClient(p.srv.Client()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "https")
	})
	t.Run("unreachable", func(t *testing.T) {
		p := newOIDCProvider(t)
		cfg := p.config()
		cfg.Issuer = p.srv.URL + "/nope"
		_, err := NewOIDCVerifier(ctx, []IssuerConfig{cfg}, WithHTTPClient(p.srv.Client()))
		require.Error(t, err)
		assert.Contains(t, err.Error(), "discovery")
	})
	t.Run("untrusted TLS certificate", func(t *testing.T) {
		p := newOIDCProvider(t)
		_, err := NewOIDCVerifier(ctx, []IssuerConfig{p.config()}) // default client
		require.Error(t, err)
		assert.Equal(t, int64(0), p.discoveryFetches.Load())
	})
	t.Run("explicit JWKS URL skips discovery", func(t *testing.T) {
		p := newOIDCProvider(t)
		cfg := p.config()
		cfg.JWKSURL = p.jwksURL()
		v := p.verifier(t, clock, cfg)
		_, err := v.Verify(ctx, p.token(t, clock, nil))
		require.NoError(t, err)
		assert.Equal(t, int64(0), p.discoveryFetches.Load())
		assert.Equal(t, int64(1), p.jwksFetches.Load())
	})
}

func TestNewOIDCVerifierRejectsBadConfig(t *testing.T) {
	ctx := context.Background()
	p := newOIDCProvider(t)
	good := p.config()
	cases := []struct {
		name string
		cfgs []IssuerConfig
		opts []OIDCOption
	}{
		{"no issuers", nil, nil},
		{"missing audience", []IssuerConfig{{Issuer: p.issuer}}, nil},
		{"HS256", []IssuerConfig{{Issuer: p.issuer, Audience: "a", Algorithms: []string{"HS256"}}}, nil},
		{"duplicate", []IssuerConfig{good, good}, nil},
		{"negative leeway", []IssuerConfig{good}, []OIDCOption{WithLeeway(-time.Second)}},
		{"huge leeway", []IssuerConfig{good}, []OIDCOption{WithLeeway(time.Hour)}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			opts := append([]OIDCOption{WithHTTPClient(p.srv.Client())}, tc.opts...)
			v, err := NewOIDCVerifier(ctx, tc.cfgs, opts...)
			require.Error(t, err)
			assert.Nil(t, v)
		})
	}
	assert.Equal(t, int64(0), p.discoveryFetches.Load())
}

func TestOIDCMultipleIssuers(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	work := newOIDCProvider(t)
	consumer := newOIDCProvider(t)
	consumer.publish(map[string]*rsa.PrivateKey{"kid-c": oidcKey(3)})

	// One TLS client trusting both test servers.
	client := work.srv.Client()
	client.Transport.(*http.Transport).TLSClientConfig.RootCAs.AddCert(consumer.srv.Certificate())
	cfgConsumer := consumer.config()
	cfgConsumer.Issuer = consumer.srv.URL + "/consumers/v2.0"
	consumer.set(func(p *oidcProvider) { p.discoveredIssuer = cfgConsumer.Issuer })
	v, err := NewOIDCVerifier(ctx, []IssuerConfig{work.config(), cfgConsumer}, WithHTTPClient(client), WithClock(clock.Now))
	require.NoError(t, err)
	assert.Equal(t, []string{work.issuer, cfgConsumer.Issuer}, v.(interface{ Issuers() []string }).Issuers())

	id, err := v.Verify(ctx, work.token(t, clock, nil))
	require.NoError(t, err)
	assert.Equal(t, Identity{Issuer: work.issuer, Subject: testSubject, Email: testEmail, Kind: KindEntraID}, id)

	c := consumer.claims(clock)
	c["iss"] = cfgConsumer.Issuer
	c["tid"] = MSAConsumerTenantID
	id, err = v.Verify(ctx, oidcSign(t, jwt.SigningMethodRS256, oidcKey(3), "kid-c", c))
	require.NoError(t, err)
	assert.Equal(t, Identity{Issuer: cfgConsumer.Issuer, Subject: testSubject, Email: testEmail, Kind: KindMSA}, id)

	// The consumer key does not verify tokens of the work issuer.
	c = work.claims(clock)
	forged := oidcSign(t, jwt.SigningMethodRS256, oidcKey(3), "kid-c", c)
	_, err = v.Verify(ctx, forged)
	requireRejected(t, forged, err, "bad signature")
}

func TestMultiVerifier(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	dir := t.TempDir()
	dev := newSigner(t, dir, clock)
	p := newOIDCProvider(t)
	ov := p.verifier(t, clock)
	mv := NewMultiVerifier(DevIssuerVerifier(dev), ov)

	assert.ElementsMatch(t, []string{testIssuer, p.issuer}, mv.(interface{ Issuers() []string }).Issuers())

	devToken, err := dev.Issue(testSubject, testEmail, KindMSA, time.Hour)
	require.NoError(t, err)
	id, err := mv.Verify(ctx, devToken)
	require.NoError(t, err)
	assert.Equal(t, Identity{Issuer: testIssuer, Subject: testSubject, Email: testEmail, Kind: KindMSA}, id)

	id, err = mv.Verify(ctx, p.token(t, clock, nil))
	require.NoError(t, err)
	assert.Equal(t, Identity{Issuer: p.issuer, Subject: testSubject, Email: testEmail, Kind: KindEntraID}, id)

	cases := []struct {
		name   string
		token  func(t *testing.T) string
		reason string
	}{
		{"unknown issuer (dev key)", func(t *testing.T) string {
			other, err := LoadOrCreateDevSigner(dir, "https://evil.example", testAudience, clock.Now)
			require.NoError(t, err)
			tok, err := other.Issue(testSubject, testEmail, KindMSA, time.Hour)
			require.NoError(t, err)
			return tok
		}, "unknown issuer"},
		{"unknown issuer (OIDC key)", func(t *testing.T) string {
			return p.token(t, clock, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })
		}, "unknown issuer"},
		{"missing issuer", func(t *testing.T) string {
			return p.token(t, clock, func(c jwt.MapClaims) { delete(c, "iss") })
		}, "missing issuer"},
		{"RSA token claiming the dev issuer", func(t *testing.T) string {
			return p.token(t, clock, func(c jwt.MapClaims) { c["iss"] = testIssuer; c["aud"] = testAudience })
		}, "disallowed algorithm"},
		{"dev-signed token claiming the OIDC issuer", func(t *testing.T) string {
			c := p.claims(clock)
			c["kind"] = string(KindMSA)
			return signWith(t, dev, c)
		}, "disallowed algorithm"},
		{"empty", func(*testing.T) string { return "" }, "empty token"},
		{"garbage", func(*testing.T) string { return "a.b.c" }, "malformed"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			token := tc.token(t)
			id, err := mv.Verify(ctx, token)
			requireRejected(t, token, err, tc.reason)
			assert.Equal(t, Identity{}, id)
		})
	}

	t.Run("nested and first claimant wins", func(t *testing.T) {
		other, err := LoadOrCreateDevSigner(t.TempDir(), testIssuer, testAudience, clock.Now)
		require.NoError(t, err)
		nested := NewMultiVerifier(nil, NewMultiVerifier(DevIssuerVerifier(dev)), DevIssuerVerifier(other), ov)
		_, err = nested.Verify(ctx, devToken)
		require.NoError(t, err)
		otherToken, err := other.Issue(testSubject, testEmail, KindMSA, time.Hour)
		require.NoError(t, err)
		_, err = nested.Verify(ctx, otherToken)
		requireRejected(t, otherToken, err, "bad signature")
	})

	t.Run("fallback verifiers get unclaimed issuers", func(t *testing.T) {
		fb := NewMultiVerifier(ov, dev.Verifier())
		_, err := fb.Verify(ctx, devToken)
		require.NoError(t, err)
		evil := p.token(t, clock, func(c jwt.MapClaims) { c["iss"] = "https://evil.example" })
		_, err = fb.Verify(ctx, evil)
		requireRejected(t, evil, err, "disallowed algorithm") // the dev verifier's verdict
	})

	t.Run("no verifiers", func(t *testing.T) {
		_, err := NewMultiVerifier().Verify(ctx, devToken)
		requireRejected(t, devToken, err, "unknown issuer")
	})
}

func TestOIDCConcurrentVerify(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := p.verifier(t, clock)
	token := p.token(t, clock, nil)

	var wg sync.WaitGroup
	for range 8 {
		wg.Go(func() {
			for range 20 {
				if _, err := v.Verify(ctx, token); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
	assert.Equal(t, int64(1), p.jwksFetches.Load())
}

func TestParseIssuers(t *testing.T) {
	const entra = "https://login.microsoftonline.com/" + oidcTestTenant + "/v2.0"
	const msa = "https://login.microsoftonline.com/" + MSAConsumerTenantID + "/v2.0"
	valid := []struct {
		name string
		spec string
		want []IssuerConfig
	}{
		{"minimal", `[{"issuer":"` + entra + `","audience":"api"}]`,
			[]IssuerConfig{{Issuer: entra, Audience: "api", Algorithms: []string{"RS256"}}}},
		{"full", `[{"issuer":"` + entra + `","audience":"api","jwksUrl":"https://login.microsoftonline.com/x/discovery/v2.0/keys?appid=1","kind":"ENTRA_ID","algorithms":["RS256","ES256","RS256"]}]`,
			[]IssuerConfig{{Issuer: entra, Audience: "api", JWKSURL: "https://login.microsoftonline.com/x/discovery/v2.0/keys?appid=1", Kind: KindEntraID, Algorithms: []string{"RS256", "ES256"}}}},
		{"two issuers", " [\n{\"issuer\":\"" + entra + "\",\"audience\":\"api\"},\n{\"issuer\":\"" + msa + "\",\"audience\":\"api\",\"kind\":\"MSA\",\"algorithms\":[]}] \n",
			[]IssuerConfig{
				{Issuer: entra, Audience: "api", Algorithms: []string{"RS256"}},
				{Issuer: msa, Audience: "api", Kind: KindMSA, Algorithms: []string{"RS256"}},
			}},
		{"http localhost", `[{"issuer":"http://localhost:8080/dev","audience":"api"}]`,
			[]IssuerConfig{{Issuer: "http://localhost:8080/dev", Audience: "api", Algorithms: []string{"RS256"}}}},
		{"http 127.0.0.1", `[{"issuer":"http://127.0.0.1:9999","audience":"api","jwksUrl":"http://127.0.0.2/keys"}]`,
			[]IssuerConfig{{Issuer: "http://127.0.0.1:9999", Audience: "api", JWKSURL: "http://127.0.0.2/keys", Algorithms: []string{"RS256"}}}},
		{"http ::1", `[{"issuer":"http://[::1]:1/x","audience":"api"}]`,
			[]IssuerConfig{{Issuer: "http://[::1]:1/x", Audience: "api", Algorithms: []string{"RS256"}}}},
		{"all asymmetric algorithms", `[{"issuer":"https://a.example","audience":"api","algorithms":["RS256","RS384","RS512","PS256","PS384","PS512","ES256","ES384","ES512","EdDSA"]}]`,
			[]IssuerConfig{{Issuer: "https://a.example", Audience: "api", Algorithms: []string{"RS256", "RS384", "RS512", "PS256", "PS384", "PS512", "ES256", "ES384", "ES512", "EdDSA"}}}},
	}
	for _, tc := range valid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIssuers(tc.spec)
			require.NoError(t, err)
			assert.Equal(t, tc.want, got)
		})
	}

	invalid := []struct {
		name, spec, want string
	}{
		{"empty", "", "empty configuration"},
		{"blank", "  \n", "empty configuration"},
		{"null", "null", "no issuers"},
		{"empty array", "[]", "no issuers"},
		{"object not array", `{"issuer":"https://a.example","audience":"api"}`, "invalid JSON"},
		{"not JSON", `issuer=https://a.example`, "invalid JSON"},
		{"trailing data", `[{"issuer":"https://a.example","audience":"api"}] []`, "after the array"},
		{"trailing garbage", `[{"issuer":"https://a.example","audience":"api"}]x`, "after the array"},
		{"unknown key", `[{"issuer":"https://a.example","audience":"api","jwks_uri":"https://a.example/k"}]`, "jwks_uri"},
		{"wrong type", `[{"issuer":"https://a.example","audience":7}]`, "invalid JSON"},
		{"null entry", `[null]`, "issuers[0]: issuer is required"},
		{"missing issuer", `[{"audience":"api"}]`, "issuers[0]: issuer is required"},
		{"missing audience", `[{"issuer":"https://a.example"}]`, "audience is required"},
		{"blank audience", `[{"issuer":"https://a.example","audience":" api"}]`, "audience has surrounding whitespace"},
		{"http issuer", `[{"issuer":"http://a.example","audience":"api"}]`, "must use https"},
		{"http private IP", `[{"issuer":"http://10.0.0.1","audience":"api"}]`, "must use https"},
		{"http localhost lookalike", `[{"issuer":"http://localhost.evil.example","audience":"api"}]`, "must use https"},
		{"ftp issuer", `[{"issuer":"ftp://a.example","audience":"api"}]`, "must use https"},
		{"relative issuer", `[{"issuer":"/tenant/v2.0","audience":"api"}]`, "absolute URL"},
		{"no host", `[{"issuer":"https:///x","audience":"api"}]`, "absolute URL"},
		{"opaque", `[{"issuer":"https:a.example","audience":"api"}]`, "absolute URL"},
		{"issuer with query", `[{"issuer":"https://a.example/?x=1","audience":"api"}]`, "must not have a query"},
		{"issuer with fragment", `[{"issuer":"https://a.example/#x","audience":"api"}]`, "fragment"},
		{"issuer with user info", `[{"issuer":"https://u:p@a.example","audience":"api"}]`, "user information"},
		{"issuer with space", `[{"issuer":" https://a.example","audience":"api"}]`, "whitespace"},
		{"issuer with newline", `[{"issuer":"https://a.example/\n","audience":"api"}]`, "whitespace"},
		{"bad URL", `[{"issuer":"https://a.example:port","audience":"api"}]`, "not a valid URL"},
		{"http jwksUrl", `[{"issuer":"https://a.example","audience":"api","jwksUrl":"http://a.example/keys"}]`, "jwksUrl"},
		{"unknown kind", `[{"issuer":"https://a.example","audience":"api","kind":"msa"}]`, "kind \"msa\""},
		{"alg none", `[{"issuer":"https://a.example","audience":"api","algorithms":["none"]}]`, "not allowed"},
		{"alg HS256", `[{"issuer":"https://a.example","audience":"api","algorithms":["RS256","HS256"]}]`, "not allowed"},
		{"alg hs512", `[{"issuer":"https://a.example","audience":"api","algorithms":["hs512"]}]`, "not allowed"},
		{"alg unknown", `[{"issuer":"https://a.example","audience":"api","algorithms":["XYZ"]}]`, "unsupported algorithm"},
		{"alg lower-case rs256", `[{"issuer":"https://a.example","audience":"api","algorithms":["rs256"]}]`, "unsupported algorithm"},
		{"duplicate issuer", `[{"issuer":"https://a.example","audience":"api"},{"issuer":"https://a.example","audience":"other"}]`, "issuers[1]: issuer \"https://a.example\" is already configured by issuers[0]"},
	}
	for _, tc := range invalid {
		t.Run(tc.name, func(t *testing.T) {
			got, err := ParseIssuers(tc.spec)
			require.Error(t, err)
			assert.Nil(t, got)
			assert.Contains(t, err.Error(), tc.want)
			assert.True(t, strings.HasPrefix(err.Error(), "auth: OIDC issuers"), err.Error())
		})
	}
}

func FuzzParseIssuers(f *testing.F) {
	f.Add(`[{"issuer":"https://login.microsoftonline.com/t/v2.0","audience":"api"}]`)
	f.Add(`[{"issuer":"https://a.example","audience":"api","jwksUrl":"https://a.example/k?x=1","kind":"MSA","algorithms":["ES256","RS256"]}]`)
	f.Add(`[{"issuer":"http://127.0.0.1:1","audience":"a"},{"issuer":"http://[::1]/x","audience":"b","kind":"ENTRA_ID"}]`)
	f.Add(`[{"issuer":"https://a.example","audience":"api","algorithms":["HS256"]}]`)
	f.Add(`[{"issuer":"https://a.example","audience":"api","algorithms":["none"]}]`)
	f.Add(`[{"issuer":"http://a.example","audience":"api"}]`)
	f.Add(`[{"Issuer":"https://a.example","AUDIENCE":"api"}]`)
	f.Add(`[null]`)
	f.Add(`[]`)
	f.Add(`null`)
	f.Add(``)
	f.Add(`{}`)
	f.Add(`[{"issuer":"https://a.example","audience":"api"}]]`)
	f.Fuzz(func(t *testing.T, spec string) {
		cfgs, err := ParseIssuers(spec)
		if err != nil {
			require.Nil(t, cfgs)
			require.True(t, strings.HasPrefix(err.Error(), "auth: OIDC issuers"), err.Error())
			return
		}
		require.NotEmpty(t, cfgs)
		seen := map[string]bool{}
		for _, c := range cfgs {
			require.False(t, seen[c.Issuer], "duplicate issuer")
			seen[c.Issuer] = true
			require.NoError(t, checkEndpointURL(c.Issuer, false))
			if c.JWKSURL != "" {
				require.NoError(t, checkEndpointURL(c.JWKSURL, true))
			}
			require.NotEmpty(t, c.Audience)
			require.True(t, c.Kind == "" || c.Kind.Valid())
			require.NotEmpty(t, c.Algorithms)
			for _, a := range c.Algorithms {
				require.True(t, oidcAlgorithms[a], "algorithm %q", a)
				require.False(t, a == "none" || strings.HasPrefix(strings.ToUpper(a), "HS"))
			}
		}
		// Normalized output parses back to itself.
		again, err := json.Marshal(cfgs)
		require.NoError(t, err)
		round, err := ParseIssuers(string(again))
		require.NoError(t, err, "re-parsing %s", again)
		require.Equal(t, cfgs, round)
	})
}

// TestOIDCErrorsNeverQuoteToken runs rejections whose tokens carry
// distinctive claim values and checks none of them reach the error text.
func TestOIDCErrorsNeverQuoteToken(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	v := NewMultiVerifier(p.verifier(t, clock))
	const secret = "SECRET-CLAIM-VALUE-4711"
	edits := []func(jwt.MapClaims){
		func(c jwt.MapClaims) { c["iss"] = "https://" + secret + ".example" },
		func(c jwt.MapClaims) { c["aud"] = secret },
		func(c jwt.MapClaims) { c["sub"] = secret; c["exp"] = 1 },
		func(c jwt.MapClaims) { c["email"] = secret; c["nbf"] = clock.Now().Add(time.Hour).Unix() },
		func(c jwt.MapClaims) { c["exp"] = secret },
		func(c jwt.MapClaims) { c["iss"] = []string{secret} },
	}
	for i, edit := range edits {
		token := p.token(t, clock, edit)
		_, err := v.Verify(ctx, token)
		require.Error(t, err, "case %d", i)
		require.ErrorIs(t, err, ErrInvalidToken)
		assert.NotContains(t, err.Error(), secret, "case %d", i)
		assert.NotContains(t, err.Error(), token, "case %d", i)
		for _, part := range strings.Split(token, ".") {
			assert.NotContains(t, err.Error(), part, "case %d", i)
		}
	}
	// Wrong kid values are not echoed either.
	token := oidcSign(t, jwt.SigningMethodRS256, oidcKey(1), secret, p.claims(clock))
	_, err := v.Verify(ctx, token)
	requireRejected(t, token, err, "bad signature")
	assert.NotContains(t, err.Error(), secret)
}

// TestR25_SupportProviderIssuer: a token identifies a support provider principal only when
// its issuer is configured as a support provider issuer and it carries the configured role
// or scope; a partner issuer's token never does, whatever it claims.
func TestR25_SupportProviderIssuer(t *testing.T) {
	ctx := context.Background()
	clock := newTestClock()
	p := newOIDCProvider(t)
	roles := p.config()
	roles.SupportProvider = &ProviderClaim{Value: "SupportProvider.Resolve"} // claim: roles
	scope := p.config()
	scope.SupportProvider = &ProviderClaim{Claim: "scp", Value: "support.resolve"}
	cases := []struct {
		name string
		cfg  IssuerConfig
		edit func(jwt.MapClaims)
		want Kind
		err  string
	}{
		{"client credentials with the role", roles, func(c jwt.MapClaims) { c["roles"] = []string{"Other", "SupportProvider.Resolve"} }, KindSupportProvider, ""},
		{"no role", roles, nil, "", "missing support provider role"},
		{"another role", roles, func(c jwt.MapClaims) { c["roles"] = []string{"SupportProvider.Read"} }, "", "missing support provider role"},
		{"the role as a string", roles, func(c jwt.MapClaims) { c["roles"] = "SupportProvider.Resolve" }, KindSupportProvider, ""},
		{"a malformed roles claim", roles, func(c jwt.MapClaims) { c["roles"] = 7 }, "", "missing support provider role"},
		{"the scope among several", scope, func(c jwt.MapClaims) { c["scp"] = "openid support.resolve profile" }, KindSupportProvider, ""},
		{"a scope prefix is not the scope", scope, func(c jwt.MapClaims) { c["scp"] = "support.resolve.all" }, "", "missing support provider role"},
		{"a partner issuer's token with the role", p.config(), func(c jwt.MapClaims) { c["roles"] = []string{"SupportProvider.Resolve"} }, KindEntraID, ""},
		{"a partner issuer's token claiming the kind", p.config(), func(c jwt.MapClaims) { c["kind"] = string(KindSupportProvider) }, KindEntraID, ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			v := p.verifier(t, clock, tc.cfg)
			id, err := v.Verify(ctx, p.token(t, clock, tc.edit))
			if tc.err != "" {
				require.ErrorIs(t, err, ErrInvalidToken)
				assert.Contains(t, err.Error(), tc.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tc.want, id.Kind)
		})
	}
	for _, bad := range []string{
		`[{"issuer":"https://login.example.com/v2.0","audience":"api","kind":"SUPPORT_PROVIDER"}]`,
		`[{"issuer":"https://login.example.com/v2.0","audience":"api","supportProvider":{"value":""}}]`,
		`[{"issuer":"https://login.example.com/v2.0","audience":"api","supportProvider":{"value":"two roles"}}]`,
		`[{"issuer":"https://login.example.com/v2.0","audience":"api","kind":"MSA","supportProvider":{"value":"x"}}]`,
	} {
		_, err := ParseIssuers(bad)
		assert.Error(t, err, bad)
	}
	cfgs, err := ParseIssuers(`[{"issuer":"https://login.example.com/v2.0","audience":"api","supportProvider":{"value":"SupportProvider.Resolve"}}]`)
	require.NoError(t, err)
	assert.Equal(t, &ProviderClaim{Claim: "roles", Value: "SupportProvider.Resolve"}, cfgs[0].SupportProvider)
}
