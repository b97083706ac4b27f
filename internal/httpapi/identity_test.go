package httpapi_test

import (
	"crypto/rand"
	"crypto/rsa"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"testing"
	"time"

	"github.com/go-jose/go-jose/v4"
	"github.com/golang-jwt/jwt/v5"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
)

const oidcAudience = "api://partnersupport-test"

// fakeIssuer is an OpenID Connect issuer on loopback: it publishes one RSA key and signs
// tokens with it.
type fakeIssuer struct {
	srv *httptest.Server
	key *rsa.PrivateKey
}

func newFakeIssuer(t *testing.T) *fakeIssuer {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	require.NoError(t, err)
	jwks, err := json.Marshal(jose.JSONWebKeySet{Keys: []jose.JSONWebKey{{Key: &key.PublicKey, KeyID: "k1", Algorithm: "RS256", Use: "sig"}}})
	require.NoError(t, err)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(jwks)
	}))
	t.Cleanup(srv.Close)
	return &fakeIssuer{srv: srv, key: key}
}

func (f *fakeIssuer) config() auth.IssuerConfig {
	return auth.IssuerConfig{Issuer: f.srv.URL, Audience: oidcAudience, JWKSURL: f.srv.URL + "/keys"}
}

func (f *fakeIssuer) token(t *testing.T, subject, email, tid string, extra jwt.MapClaims) string {
	t.Helper()
	now := time.Now()
	c := jwt.MapClaims{"iss": f.srv.URL, "aud": oidcAudience, "sub": subject, "email": email, "tid": tid,
		"iat": now.Unix(), "exp": now.Add(time.Hour).Unix()}
	for k, v := range extra {
		c[k] = v
	}
	tok := jwt.NewWithClaims(jwt.SigningMethodRS256, c)
	tok.Header["kid"] = "k1"
	s, err := tok.SignedString(f.key)
	require.NoError(t, err)
	return s
}

type viewer struct {
	Viewer struct{ Email, Kind string }
}

func whoAmI(t *testing.T, e *testenv.Env, token string) (viewer, response) {
	t.Helper()
	r := postJSON(t, e, token, `{ viewer { email kind } }`, nil)
	var body struct{ Data viewer }
	_ = json.Unmarshal([]byte(r.Body), &body)
	return body.Data, r
}

// TestIdentity_OIDCIssuersAndTheDevSigner: tokens of a configured OIDC issuer sign in,
// with the account kind taken from the verified token only; the development signer works
// beside them only when it is on.
func TestIdentity_OIDCIssuersAndTheDevSigner(t *testing.T) {
	t.Parallel()
	idp := newFakeIssuer(t)
	withOIDC := func(c *config.Config) { c.OIDCIssuers = []auth.IssuerConfig{idp.config()} }
	e := testenv.New(t, withOIDC)

	v, r := whoAmI(t, e, idp.token(t, "entra-subject-1", "someone@contoso.com", "72f988bf-86f1-41af-91ab-2d7cd011db47", nil))
	require.Empty(t, r.Errors, r.Body)
	assert.Equal(t, "someone@contoso.com", v.Viewer.Email)
	assert.Equal(t, "ENTRA_ID", v.Viewer.Kind)
	// A personal account is known by its tenant; a "kind" claim the token carries does not
	// change that, and neither does anything else the client sends.
	msa := idp.token(t, "msa-subject-1", "someone@outlook.com", auth.MSAConsumerTenantID, jwt.MapClaims{"kind": "ENTRA_ID"})
	v, r = whoAmI(t, e, msa)
	require.Empty(t, r.Errors, r.Body)
	assert.Equal(t, "MSA", v.Viewer.Kind)
	// The development signer is on in this environment, beside the issuer.
	v, r = whoAmI(t, e, e.Token(lee))
	require.Empty(t, r.Errors, r.Body)
	assert.Equal(t, lee, v.Viewer.Email)
	// Tokens the issuer did not sign, or for another audience, are refused before any
	// resolver runs.
	other := newFakeIssuer(t)
	forged := other.token(t, "entra-subject-1", "someone@contoso.com", "x", jwt.MapClaims{"iss": idp.srv.URL})
	wrongAud := idp.token(t, "entra-subject-1", "someone@contoso.com", "x", jwt.MapClaims{"aud": "another-api"})
	unknown := other.token(t, "s", "someone@contoso.com", "x", nil)
	for name, tok := range map[string]string{"forged": forged, "wrong audience": wrongAud, "unknown issuer": unknown} {
		_, r := whoAmI(t, e, tok)
		assert.Equal(t, http.StatusUnauthorized, r.Status, name)
		assert.Equal(t, "UNAUTHENTICATED", r.only(t).Code(), name)
		assert.NotContains(t, r.Body, tok, name)
	}

	// Without --dev-auth, development tokens are refused, OIDC tokens still sign in.
	noDev := testenv.New(t, withOIDC, func(c *config.Config) { c.DevAuth = false })
	assert.Nil(t, noDev.App.Signer)
	signer, err := auth.LoadOrCreateDevSigner(t.TempDir(), config.DevIssuer, "partnersupport-api", time.Now)
	require.NoError(t, err)
	devTok, err := signer.Issue(lee, lee, auth.KindEntraID, time.Hour)
	require.NoError(t, err)
	_, r = whoAmI(t, noDev, devTok)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Equal(t, "UNAUTHENTICATED", r.only(t).Code())
	_, r = whoAmI(t, noDev, msa)
	require.Empty(t, r.Errors, r.Body)
	resp, err := http.Get(noDev.Server.URL + "/dev/accounts")
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusNotFound, resp.StatusCode, "no development sign-in endpoints")

	// No issuer at all: every token is refused.
	none := testenv.New(t, func(c *config.Config) { c.DevAuth = false })
	_, r = whoAmI(t, none, msa)
	assert.Equal(t, http.StatusUnauthorized, r.Status)
	assert.Contains(t, r.only(t).Message, "no token issuer")
}
