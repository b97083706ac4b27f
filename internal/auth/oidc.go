package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// MSAConsumerTenantID is the Microsoft Entra tenant that holds personal
// Microsoft accounts. A token whose "tid" claim is this tenant belongs to a
// personal account (KindMSA).
const MSAConsumerTenantID = "9188040d-6c67-4c5b-b112-36a304b66dad"

// DefaultOIDCAlgorithm is the signature algorithm accepted when an issuer's
// configuration names none. Microsoft Entra ID and Microsoft accounts sign
// with RS256.
const DefaultOIDCAlgorithm = "RS256"

// oidcAlgorithms are the algorithms an IssuerConfig may allow: the
// asymmetric JWS algorithms go-oidc supports. "none" and the HMAC
// algorithms (HS256, ...) are deliberately absent: with a public key set
// they would let anyone forge tokens.
var oidcAlgorithms = map[string]bool{
	oidc.RS256: true, oidc.RS384: true, oidc.RS512: true,
	oidc.PS256: true, oidc.PS384: true, oidc.PS512: true,
	oidc.ES256: true, oidc.ES384: true, oidc.ES512: true,
	oidc.EdDSA: true,
}

// defaultHTTPTimeout bounds discovery and JWKS requests when the HTTP client
// has no timeout of its own.
const defaultHTTPTimeout = 10 * time.Second

// maxOIDCLeeway is the largest clock skew WithLeeway accepts.
const maxOIDCLeeway = 5 * time.Minute

// IssuerConfig is one trusted OpenID Connect issuer.
//
// The JSON form (see ParseIssuers) uses the keys "issuer", "audience",
// "jwksUrl", "kind" and "algorithms".
type IssuerConfig struct {
	// Issuer is the exact "iss" value of the issuer's tokens, e.g.
	// https://login.microsoftonline.com/<tenant>/v2.0. It must be an https
	// URL (http is allowed only for loopback hosts, for tests and local
	// development) without query or fragment.
	Issuer string `json:"issuer"`
	// Audience is the required "aud" value: the API's client ID.
	Audience string `json:"audience"`
	// JWKSURL is where the issuer publishes its signing keys. When empty it
	// is discovered from Issuer + "/.well-known/openid-configuration" when
	// the verifier is constructed.
	JWKSURL string `json:"jwksUrl,omitempty"`
	// Kind is the account kind of every token from this issuer. When empty
	// it is derived per token: KindMSA if the token's "tid" claim is
	// MSAConsumerTenantID, KindEntraID otherwise.
	Kind Kind `json:"kind,omitempty"`
	// Algorithms are the accepted signature algorithms; empty means
	// DefaultOIDCAlgorithm only. Only asymmetric algorithms (RS*, PS*, ES*,
	// EdDSA) are allowed; "none" and HS* never are.
	Algorithms []string `json:"algorithms,omitempty"`
	// SupportProvider, when set, makes this a support provider issuer (R25): its
	// tokens (typically client-credentials tokens of the ticketing integration, or a
	// support engineer's) identify KindSupportProvider principals, and only when they
	// carry the configured role or scope; any other token of the issuer is refused.
	// A partner issuer's tokens never identify a support provider, whatever they carry.
	SupportProvider *ProviderClaim `json:"supportProvider,omitempty"`
}

// ProviderClaim is the claim that makes a token of a support provider issuer a support
// provider principal: Value among the strings of the claim Claim, an array of strings
// (as "roles") or a space-separated string (as "scp" or "scope").
type ProviderClaim struct {
	// Claim is the claim's name; default "roles".
	Claim string `json:"claim,omitempty"`
	// Value is the role or scope required, such as "SupportProvider.Resolve".
	Value string `json:"value"`
}

// DefaultProviderClaim is the claim ProviderClaim reads when it names none.
const DefaultProviderClaim = "roles"

// has reports whether the claims carry the provider's role or scope.
func (p ProviderClaim) has(m map[string]json.RawMessage) bool {
	raw, ok := m[p.Claim]
	if !ok {
		return false
	}
	var list []string
	if err := json.Unmarshal(raw, &list); err != nil {
		var one string
		if err := json.Unmarshal(raw, &one); err != nil {
			return false
		}
		list = strings.Fields(one)
	}
	return slices.Contains(list, p.Value)
}

// ParseIssuers parses a list of trusted issuers from a configuration value
// (an environment variable or flag): a JSON array of objects with the keys
// "issuer", "audience", "jwksUrl", "kind", "algorithms" and "supportProvider", for
// example
//
//	[{"issuer":"https://login.microsoftonline.com/<tenant>/v2.0","audience":"<client-id>"},
//	 {"issuer":"https://login.example.com/vendor/v2.0","audience":"<client-id>",
//	  "supportProvider":{"claim":"roles","value":"SupportProvider.Resolve"}}]
//
// Unknown keys, trailing data, an empty list, duplicate issuers and invalid
// entries are errors naming the offending entry. The returned configs are
// normalized: Algorithms is filled in with the default when omitted and
// de-duplicated.
func ParseIssuers(spec string) ([]IssuerConfig, error) {
	if strings.TrimSpace(spec) == "" {
		return nil, errors.New("auth: OIDC issuers: empty configuration (want a JSON array of issuer objects)")
	}
	dec := json.NewDecoder(strings.NewReader(spec))
	dec.DisallowUnknownFields()
	var cfgs []IssuerConfig
	if err := dec.Decode(&cfgs); err != nil {
		return nil, fmt.Errorf("auth: OIDC issuers: invalid JSON (want an array of objects with keys issuer, audience, jwksUrl, kind, algorithms, supportProvider): %w", err)
	}
	if _, err := dec.Token(); err != io.EOF {
		return nil, errors.New("auth: OIDC issuers: invalid JSON: unexpected data after the array")
	}
	return normalizeIssuers(cfgs)
}

// normalizeIssuers validates cfgs and returns normalized copies.
func normalizeIssuers(cfgs []IssuerConfig) ([]IssuerConfig, error) {
	if len(cfgs) == 0 {
		return nil, errors.New("auth: OIDC issuers: no issuers configured")
	}
	out := make([]IssuerConfig, 0, len(cfgs))
	seen := make(map[string]int, len(cfgs))
	for i, c := range cfgs {
		n, err := c.normalize()
		if err != nil {
			return nil, fmt.Errorf("auth: OIDC issuers[%d]: %w", i, err)
		}
		if j, dup := seen[n.Issuer]; dup {
			return nil, fmt.Errorf("auth: OIDC issuers[%d]: issuer %q is already configured by issuers[%d]", i, n.Issuer, j)
		}
		seen[n.Issuer] = i
		out = append(out, n)
	}
	return out, nil
}

// normalize validates c and returns a copy with defaults filled in.
func (c IssuerConfig) normalize() (IssuerConfig, error) {
	if c.Issuer == "" {
		return c, errors.New("issuer is required")
	}
	if err := checkEndpointURL(c.Issuer, false); err != nil {
		return c, fmt.Errorf("issuer %q: %w", c.Issuer, err)
	}
	switch {
	case c.Audience == "":
		return c, fmt.Errorf("issuer %q: audience is required", c.Issuer)
	case strings.TrimSpace(c.Audience) != c.Audience || strings.ContainsFunc(c.Audience, isControl):
		return c, fmt.Errorf("issuer %q: audience has surrounding whitespace or control characters", c.Issuer)
	}
	if c.JWKSURL != "" {
		if err := checkEndpointURL(c.JWKSURL, true); err != nil {
			return c, fmt.Errorf("issuer %q: jwksUrl %q: %w", c.Issuer, c.JWKSURL, err)
		}
	}
	if c.Kind == KindSupportProvider || (c.Kind != "" && !c.Kind.Valid()) {
		return c, fmt.Errorf("issuer %q: kind %q is not %q, %q or empty (derive from the tid claim); a support provider issuer is configured with supportProvider", c.Issuer, c.Kind, KindEntraID, KindMSA)
	}
	if p := c.SupportProvider; p != nil {
		cp := *p
		if cp.Claim == "" {
			cp.Claim = DefaultProviderClaim
		}
		switch {
		case c.Kind != "":
			return c, fmt.Errorf("issuer %q: a support provider issuer takes no kind", c.Issuer)
		case strings.TrimSpace(cp.Value) == "" || strings.ContainsFunc(cp.Value, isControl) || strings.ContainsRune(cp.Value, ' '):
			return c, fmt.Errorf("issuer %q: supportProvider.value must be one role or scope", c.Issuer)
		case strings.ContainsFunc(cp.Claim, isControl):
			return c, fmt.Errorf("issuer %q: supportProvider.claim has control characters", c.Issuer)
		}
		c.SupportProvider = &cp
	}
	algs := make([]string, 0, max(len(c.Algorithms), 1))
	for _, a := range c.Algorithms {
		switch {
		case strings.EqualFold(a, "none") || strings.HasPrefix(strings.ToUpper(a), "HS"):
			return c, fmt.Errorf("issuer %q: algorithm %q is not allowed: only asymmetric signature algorithms can be verified against a public key set", c.Issuer, a)
		case !oidcAlgorithms[a]:
			return c, fmt.Errorf("issuer %q: unsupported algorithm %q (supported: RS256, RS384, RS512, PS256, PS384, PS512, ES256, ES384, ES512, EdDSA)", c.Issuer, a)
		}
		if !slices.Contains(algs, a) {
			algs = append(algs, a)
		}
	}
	if len(algs) == 0 {
		algs = append(algs, DefaultOIDCAlgorithm)
	}
	c.Algorithms = algs
	return c, nil
}

// checkEndpointURL checks that raw is an absolute https URL, or an http URL
// of a loopback host. Query strings are allowed only when allowQuery is set
// (an issuer identifier has none; a JWKS URL may).
func checkEndpointURL(raw string, allowQuery bool) error {
	if strings.TrimSpace(raw) != raw || strings.ContainsFunc(raw, isControl) {
		return errors.New("has surrounding whitespace or control characters")
	}
	u, err := url.Parse(raw)
	if err != nil {
		return errors.New("is not a valid URL")
	}
	switch {
	case u.Scheme == "" || u.Opaque != "" || u.Host == "" || u.Hostname() == "":
		return errors.New("is not an absolute URL with a host")
	case u.User != nil:
		return errors.New("must not contain user information")
	case u.Fragment != "" || strings.Contains(raw, "#"):
		return errors.New("must not have a fragment")
	case !allowQuery && (u.RawQuery != "" || u.ForceQuery):
		return errors.New("must not have a query")
	case u.Scheme == "https":
		return nil
	case u.Scheme == "http" && isLoopbackHost(u.Hostname()):
		return nil
	case u.Scheme == "http":
		return errors.New("must use https (http is allowed only for loopback hosts)")
	}
	return errors.New("must use https")
}

// isLoopbackHost reports whether host is "localhost" or a loopback IP.
func isLoopbackHost(host string) bool {
	if strings.EqualFold(host, "localhost") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && ip.IsLoopback()
}

func isControl(r rune) bool { return r < 0x20 || r == 0x7f }

// OIDCOption configures NewOIDCVerifier.
type OIDCOption func(*oidcOptions)

type oidcOptions struct {
	client *http.Client
	now    func() time.Time
	leeway time.Duration
}

// WithHTTPClient sets the HTTP client used for discovery and JWKS requests.
// When the client has no Timeout, requests are bounded by 10 seconds. The
// default is a client with that timeout.
func WithHTTPClient(c *http.Client) OIDCOption {
	return func(o *oidcOptions) { o.client = c }
}

// WithClock sets the clock used to check token validity times and to pace
// JWKS refetches. The default is time.Now.
func WithClock(now func() time.Time) OIDCOption {
	return func(o *oidcOptions) { o.now = now }
}

// WithLeeway sets the clock skew tolerated when checking "exp", "nbf" and
// "iat"; the default is Leeway. It must be between 0 and 5 minutes.
func WithLeeway(d time.Duration) OIDCOption {
	return func(o *oidcOptions) { o.leeway = d }
}

// oidcVerifier verifies tokens from a fixed set of OIDC issuers.
type oidcVerifier struct {
	issuers  []string
	byIssuer map[string]*issuerVerifier
	now      func() time.Time
	leeway   time.Duration
}

// issuerVerifier verifies the tokens of one issuer.
type issuerVerifier struct {
	cfg      IssuerConfig
	algs     map[string]bool
	verifier *oidc.IDTokenVerifier
}

// NewOIDCVerifier returns a Verifier for tokens from the given OpenID Connect
// issuers. A token is routed to its issuer's configuration by its "iss"
// claim (read before verification, for routing only; tokens of other
// issuers are rejected as "unknown issuer"), then its signature is checked
// (by go-jose) against the issuer's JWKS with only the configured algorithms,
// and the claims are checked: "iss" and "aud" must match, "exp" is required
// and "nbf"/"iat" must not be in the future (each with the leeway), and
// "sub" must be present. The verifier implements Issuers() for
// NewMultiVerifier.
//
// Discovery happens here, at construction: for each issuer without a
// JWKSURL the discovery document is fetched with ctx, and a document whose
// "issuer" differs from the configured one is refused, as is a jwks_uri that
// is not https (or loopback http). Configure JWKSURL to construct without
// network access. Signing keys are fetched lazily, when the first token of
// an issuer arrives, and cached.
//
// Key refresh: a token whose key ID is not in the cache makes the key set
// refetch the JWKS, which picks up rotated keys without a restart (the
// first such token once a fetch is allowed sees them). Network fetches are
// paced per issuer to at most one per 10 seconds: within that window a
// refetch is answered from the last fetched document, so a burst of tokens
// with unknown key IDs (or forged signatures) causes at most one request. The key set is also rebuilt from a fresh fetch once it is 24
// hours old, so keys the issuer has withdrawn stop verifying; if that fetch
// fails, the last good document keeps being used for up to 72 hours.
func NewOIDCVerifier(ctx context.Context, cfgs []IssuerConfig, opts ...OIDCOption) (Verifier, error) {
	o := oidcOptions{leeway: Leeway}
	for _, opt := range opts {
		opt(&o)
	}
	if o.now == nil {
		o.now = time.Now
	}
	if o.leeway < 0 || o.leeway > maxOIDCLeeway {
		return nil, fmt.Errorf("auth: OIDC verifier: leeway %v is outside [0, %v]", o.leeway, maxOIDCLeeway)
	}
	client := withTimeout(o.client)

	cfgs, err := normalizeIssuers(cfgs)
	if err != nil {
		return nil, err
	}
	v := &oidcVerifier{
		byIssuer: make(map[string]*issuerVerifier, len(cfgs)),
		now:      o.now,
		leeway:   o.leeway,
	}
	for _, cfg := range cfgs {
		jwksURL := cfg.JWKSURL
		if jwksURL == "" {
			jwksURL, err = discoverJWKSURL(ctx, client, cfg.Issuer)
			if err != nil {
				return nil, err
			}
		}
		keys := newJWKSKeySet(jwksURL, client, o.now, cfg.Algorithms)
		iv := &issuerVerifier{
			cfg:  cfg,
			algs: make(map[string]bool, len(cfg.Algorithms)),
			verifier: oidc.NewVerifier(cfg.Issuer, keys, &oidc.Config{
				ClientID:             cfg.Audience,
				SupportedSigningAlgs: slices.Clone(cfg.Algorithms),
				// go-oidc checks "exp" without leeway and "nbf" with a
				// fixed 5 minutes; the time claims are checked in
				// checkClaims instead, with the configured leeway.
				SkipExpiryCheck: true,
				Now:             o.now,
			}),
		}
		for _, a := range cfg.Algorithms {
			iv.algs[a] = true
		}
		v.issuers = append(v.issuers, cfg.Issuer)
		v.byIssuer[cfg.Issuer] = iv
	}
	return v, nil
}

// withTimeout returns c, or a copy of it with the default timeout when it
// has none; nil yields a new client.
func withTimeout(c *http.Client) *http.Client {
	if c == nil {
		return &http.Client{Timeout: defaultHTTPTimeout}
	}
	if c.Timeout == 0 {
		cp := *c
		cp.Timeout = defaultHTTPTimeout
		return &cp
	}
	return c
}

// discoverJWKSURL fetches issuer's discovery document and returns its
// jwks_uri. go-oidc refuses a document whose "issuer" is not exactly issuer.
func discoverJWKSURL(ctx context.Context, client *http.Client, issuer string) (string, error) {
	p, err := oidc.NewProvider(oidc.ClientContext(ctx, client), issuer)
	if err != nil {
		return "", fmt.Errorf("auth: OIDC issuer %q: discovery failed: %w", issuer, err)
	}
	var meta struct {
		JWKSURL string `json:"jwks_uri"`
	}
	if err := p.Claims(&meta); err != nil {
		return "", fmt.Errorf("auth: OIDC issuer %q: discovery document: %w", issuer, err)
	}
	if meta.JWKSURL == "" {
		return "", fmt.Errorf("auth: OIDC issuer %q: discovery document has no jwks_uri", issuer)
	}
	if err := checkEndpointURL(meta.JWKSURL, true); err != nil {
		return "", fmt.Errorf("auth: OIDC issuer %q: discovered jwks_uri %q: %w", issuer, meta.JWKSURL, err)
	}
	return meta.JWKSURL, nil
}

// Issuers returns the issuers this verifier accepts, in configuration order.
func (v *oidcVerifier) Issuers() []string {
	return slices.Clone(v.issuers)
}

// Verify implements Verifier.
func (v *oidcVerifier) Verify(ctx context.Context, token string) (Identity, error) {
	p, reason := peekToken(token)
	if reason != "" {
		return Identity{}, invalid(reason)
	}
	iv := v.byIssuer[p.issuer]
	switch {
	case iv == nil:
		return Identity{}, invalid("unknown issuer")
	case !iv.algs[p.alg]:
		return Identity{}, invalid("disallowed algorithm")
	case p.crit:
		return Identity{}, invalid("unsupported critical header")
	}

	// go-oidc does not report which check failed other than in its
	// message (which may quote claims), so the key set records the
	// signature outcome for this call.
	out := &sigOutcome{}
	_, oidcErr := iv.verifier.Verify(context.WithValue(ctx, sigOutcomeKey{}, out), token)
	if !out.verified {
		switch {
		case out.keysUnavailable:
			return Identity{}, invalid("signing keys unavailable")
		case out.called:
			return Identity{}, invalid("bad signature")
		}
		return Identity{}, invalid("malformed")
	}
	id, reason := iv.checkClaims(out.payload, v.now(), v.leeway)
	if reason != "" {
		return Identity{}, invalid(reason)
	}
	if oidcErr != nil {
		// go-oidc rejected claims that checkClaims accepted (for example
		// inconsistent distributed-claim references).
		return Identity{}, invalid("invalid claims")
	}
	return id, nil
}

// checkClaims checks the verified payload of a token of iv's issuer and
// returns its identity, or a short reason for rejecting it.
func (iv *issuerVerifier) checkClaims(payload []byte, now time.Time, leeway time.Duration) (Identity, string) {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(payload, &m); err != nil || m == nil {
		return Identity{}, "malformed claim"
	}

	iss, ok, bad := stringClaim(m, "iss")
	switch {
	case bad:
		return Identity{}, "malformed claim"
	case !ok || iss == "":
		return Identity{}, "missing issuer"
	case iss != iv.cfg.Issuer:
		return Identity{}, "wrong issuer"
	}

	auds, ok, bad := audienceClaim(m)
	switch {
	case bad:
		return Identity{}, "malformed claim"
	case !ok:
		return Identity{}, "missing audience"
	case !slices.Contains(auds, iv.cfg.Audience):
		return Identity{}, "wrong audience"
	}

	nowSec := float64(now.UnixNano()) / 1e9
	skew := leeway.Seconds()
	exp, ok, bad := numericClaim(m, "exp")
	switch {
	case bad:
		return Identity{}, "malformed claim"
	case !ok:
		return Identity{}, "missing expiry"
	case nowSec >= exp+skew:
		return Identity{}, "expired"
	}
	if nbf, ok, bad := numericClaim(m, "nbf"); bad {
		return Identity{}, "malformed claim"
	} else if ok && nowSec+skew < nbf {
		return Identity{}, "not yet valid"
	}
	if iat, ok, bad := numericClaim(m, "iat"); bad {
		return Identity{}, "malformed claim"
	} else if ok && iat > nowSec+skew {
		return Identity{}, "issued in the future"
	}

	sub, _, bad := stringClaim(m, "sub")
	switch {
	case bad:
		return Identity{}, "malformed claim"
	case strings.TrimSpace(sub) == "":
		return Identity{}, "missing subject"
	}

	// A malformed or non-string email is treated as absent rather than
	// failing the token: the identity is keyed by (issuer, subject).
	email, _, _ := stringClaim(m, "email")
	if !validEmail(email) {
		email, _, _ = stringClaim(m, "preferred_username")
		if !validEmail(email) {
			email = ""
		}
	}

	if p := iv.cfg.SupportProvider; p != nil {
		if !p.has(m) {
			return Identity{}, "missing support provider role"
		}
		return Identity{Issuer: iss, Subject: sub, Email: email, Kind: KindSupportProvider}, ""
	}
	kind := iv.cfg.Kind
	if kind == "" {
		kind = KindEntraID
		if tid, _, _ := stringClaim(m, "tid"); strings.EqualFold(tid, MSAConsumerTenantID) {
			kind = KindMSA
		}
	}
	return Identity{Issuer: iss, Subject: sub, Email: email, Kind: kind}, ""
}

// stringClaim returns claim name of m. ok is false when it is absent or
// null; bad is true when it is present but not a string.
func stringClaim(m map[string]json.RawMessage, name string) (s string, ok, bad bool) {
	raw, present := m[name]
	if !present || bytes.Equal(raw, []byte("null")) {
		return "", false, false
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return "", false, true
	}
	return s, true, false
}

// numericClaim returns a NumericDate claim (seconds since the epoch, possibly
// fractional). ok is false when it is absent or null; bad is true when it is
// not a non-negative number.
func numericClaim(m map[string]json.RawMessage, name string) (v float64, ok, bad bool) {
	raw, present := m[name]
	if !present || bytes.Equal(raw, []byte("null")) {
		return 0, false, false
	}
	if err := json.Unmarshal(raw, &v); err != nil || v < 0 {
		return 0, false, true
	}
	return v, true, false
}

// audienceClaim returns "aud", a string or an array of strings. ok is false
// when it is absent, null, empty or holds only empty strings.
func audienceClaim(m map[string]json.RawMessage) (auds []string, ok, bad bool) {
	raw, present := m["aud"]
	if !present || bytes.Equal(raw, []byte("null")) {
		return nil, false, false
	}
	var one string
	if err := json.Unmarshal(raw, &one); err == nil {
		return []string{one}, one != "", false
	}
	if err := json.Unmarshal(raw, &auds); err != nil {
		return nil, false, true
	}
	return auds, slices.ContainsFunc(auds, func(a string) bool { return a != "" }), false
}

// tokenPeek is what routing needs from a token before it is verified.
type tokenPeek struct {
	alg    string
	crit   bool
	issuer string
}

// peekToken checks the shape of a compact JWS and reads, without verifying
// anything, its "alg" and "crit" headers and its "iss" claim. These select
// the issuer's verifier and fail fast; every accepted token is then fully
// verified. It returns a short reason when the token is unusable.
func peekToken(token string) (tokenPeek, string) {
	switch {
	case token == "":
		return tokenPeek{}, "empty token"
	case len(token) > MaxTokenLen:
		return tokenPeek{}, "token too large"
	case !isCompactJWSChars(token):
		return tokenPeek{}, "malformed"
	}
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return tokenPeek{}, "malformed"
	}
	var decoded [3][]byte
	for i, part := range parts {
		// Strict: exactly one accepted spelling of each segment.
		b, err := base64.RawURLEncoding.Strict().DecodeString(part)
		if err != nil {
			return tokenPeek{}, "malformed"
		}
		decoded[i] = b
	}
	var header map[string]json.RawMessage
	if err := json.Unmarshal(decoded[0], &header); err != nil || header == nil {
		return tokenPeek{}, "malformed"
	}
	alg, ok, bad := stringClaim(header, "alg")
	if bad || !ok {
		return tokenPeek{}, "malformed"
	}
	_, crit := header["crit"]

	var payload map[string]json.RawMessage
	if err := json.Unmarshal(decoded[1], &payload); err != nil || payload == nil {
		return tokenPeek{}, "malformed"
	}
	iss, ok, bad := stringClaim(payload, "iss")
	switch {
	case bad:
		return tokenPeek{}, "malformed"
	case !ok || iss == "":
		return tokenPeek{}, "missing issuer"
	}
	return tokenPeek{alg: alg, crit: crit, issuer: iss}, ""
}
