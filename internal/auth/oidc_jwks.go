package auth

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
)

// JWKS refresh policy; see NewOIDCVerifier.
const (
	// jwksMinRefetchInterval is the least time between two network
	// fetches of one issuer's JWKS.
	jwksMinRefetchInterval = 10 * time.Second
	// jwksMaxAge is how long a key set is used before it is rebuilt from
	// a fresh fetch, so that withdrawn keys stop verifying.
	jwksMaxAge = 24 * time.Hour
	// jwksMaxStale is how long the last good JWKS document is still used
	// when fetching a new one fails.
	jwksMaxStale = 72 * time.Hour
	// maxJWKSSize bounds the JWKS document read.
	maxJWKSSize = 1 << 20
)

// errJWKSUnavailable is wrapped by every failure to obtain a JWKS document.
var errJWKSUnavailable = errors.New("auth: JWKS unavailable")

// sigOutcome records, for one Verify call, what the key set saw. go-oidc
// flattens key set errors into its own messages, so the outcome travels in
// the context instead.
type sigOutcome struct {
	called          bool   // the key set was asked to verify a signature
	verified        bool   // the signature verified
	keysUnavailable bool   // keys could not be fetched
	payload         []byte // the verified payload
}

type sigOutcomeKey struct{}

// rotatingKeySet is the oidc.KeySet of one issuer: a go-oidc RemoteKeySet
// (cache, refetch on unknown key ID, de-duplicated concurrent fetches) that
// is replaced by a fresh one once it is jwksMaxAge old. Its HTTP client goes
// through a jwksGuard, which paces network fetches.
type rotatingKeySet struct {
	url    string
	ctx    context.Context // carries the guarded HTTP client for go-oidc
	now    func() time.Time
	maxAge time.Duration

	mu    sync.Mutex
	cur   *oidc.RemoteKeySet
	built time.Time
}

func newRotatingKeySet(jwksURL string, client *http.Client, now func() time.Time) *rotatingKeySet {
	guard := &jwksGuard{
		base:        client.Transport,
		now:         now,
		minInterval: jwksMinRefetchInterval,
		maxStale:    jwksMaxStale,
	}
	if guard.base == nil {
		guard.base = http.DefaultTransport
	}
	guarded := &http.Client{
		Transport: guard,
		Timeout:   client.Timeout,
		// The guard accepts only a 200 response; redirects are not
		// followed.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
	}
	return &rotatingKeySet{
		url:    jwksURL,
		ctx:    oidc.ClientContext(context.Background(), guarded),
		now:    now,
		maxAge: jwksMaxAge,
	}
}

// current returns the key set in use, replacing it when it is too old.
func (k *rotatingKeySet) current() *oidc.RemoteKeySet {
	k.mu.Lock()
	defer k.mu.Unlock()
	now := k.now()
	if age := now.Sub(k.built); k.cur == nil || age >= k.maxAge || age < 0 {
		k.cur = oidc.NewRemoteKeySet(k.ctx, k.url)
		k.built = now
	}
	return k.cur
}

// VerifySignature implements oidc.KeySet.
func (k *rotatingKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	out, _ := ctx.Value(sigOutcomeKey{}).(*sigOutcome)
	if out == nil {
		out = &sigOutcome{}
	}
	out.called = true
	payload, err := k.current().VerifySignature(ctx, jwt)
	switch {
	case err == nil:
		out.verified = true
		out.payload = payload
	case errors.Is(err, errJWKSUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		out.keysUnavailable = true
	}
	return payload, err
}

// jwksGuard is the http.RoundTripper behind one issuer's key set. It
// fetches the JWKS document over the network at most once per minInterval
// and answers other requests from the last good document; a failed fetch is
// also answered from that document while it is younger than maxStale. Only
// a 200 response with a JSON object holding a "keys" array counts as good.
type jwksGuard struct {
	base        http.RoundTripper
	now         func() time.Time
	minInterval time.Duration
	maxStale    time.Duration

	mu          sync.Mutex // held across the fetch: fetches are serialized
	lastAttempt time.Time  // zero until the first fetch
	doc         []byte     // last good document, nil if none
	docTime     time.Time  // when doc was fetched
}

// RoundTrip implements http.RoundTripper.
func (g *jwksGuard) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Body != nil {
		req.Body.Close()
	}
	if req.Method != http.MethodGet {
		return nil, fmt.Errorf("%w: unexpected %s request", errJWKSUnavailable, req.Method)
	}
	g.mu.Lock()
	defer g.mu.Unlock()

	now := g.now()
	if since := now.Sub(g.lastAttempt); !g.lastAttempt.IsZero() && since >= 0 && since < g.minInterval {
		return g.cached(req, now, fmt.Errorf("%w: refetch suppressed after a failed fetch", errJWKSUnavailable))
	}
	g.lastAttempt = now
	doc, err := g.fetch(req)
	if err != nil {
		return g.cached(req, now, err)
	}
	g.doc, g.docTime = doc, now
	return jwksResponse(req, doc), nil
}

// cached answers req from the last good document, or fails with err when
// there is none young enough.
func (g *jwksGuard) cached(req *http.Request, now time.Time, err error) (*http.Response, error) {
	if g.doc == nil || now.Sub(g.docTime) >= g.maxStale {
		return nil, err
	}
	return jwksResponse(req, g.doc), nil
}

// fetch GETs the JWKS document over the network.
func (g *jwksGuard) fetch(req *http.Request) ([]byte, error) {
	out := req.Clone(req.Context())
	out.Header.Set("Accept", "application/json")
	resp, err := g.base.RoundTrip(out)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%w: status %s", errJWKSUnavailable, resp.Status)
	}
	doc, err := io.ReadAll(io.LimitReader(resp.Body, maxJWKSSize+1))
	if err != nil {
		return nil, fmt.Errorf("%w: reading: %w", errJWKSUnavailable, err)
	}
	if len(doc) > maxJWKSSize {
		return nil, fmt.Errorf("%w: document larger than %d bytes", errJWKSUnavailable, maxJWKSSize)
	}
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil || set.Keys == nil {
		return nil, fmt.Errorf("%w: not a JSON Web Key Set", errJWKSUnavailable)
	}
	return doc, nil
}

func jwksResponse(req *http.Request, doc []byte) *http.Response {
	return &http.Response{
		Status:        "200 OK",
		StatusCode:    http.StatusOK,
		Proto:         "HTTP/1.1",
		ProtoMajor:    1,
		ProtoMinor:    1,
		Header:        http.Header{"Content-Type": {"application/json"}, "Content-Length": {strconv.Itoa(len(doc))}},
		Body:          io.NopCloser(bytes.NewReader(doc)),
		ContentLength: int64(len(doc)),
		Request:       req,
	}
}
