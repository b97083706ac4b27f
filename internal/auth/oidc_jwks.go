package auth

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync"
	"time"

	"github.com/coreos/go-oidc/v3/oidc"
	jose "github.com/go-jose/go-jose/v4"
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

// jwksKeySet is the oidc.KeySet of one issuer. It caches the keys of the
// issuer's JWKS document and loads the document again, through its
// jwksGuard (which paces network fetches), when a signature does not verify
// with the cached keys (typically a key ID it has not seen) and when the
// cached keys are maxAge old. go-jose verifies the signatures.
//
// Loads happen on the calling goroutine (see jwksGuard.load for the one
// exception, a caller that gives up waiting), and a load's keys are cached
// before the call returns, so whether a token verifies depends only on the
// order of calls and the clock, never on goroutine scheduling: a rotated
// key is picked up by the first token that uses it once the guard allows a
// fetch.
type jwksKeySet struct {
	guard  *jwksGuard
	now    func() time.Time
	maxAge time.Duration
	algs   []jose.SignatureAlgorithm // accepted when parsing a token

	mu  sync.RWMutex
	cur *jwksKeys // nil until keys are loaded, and after a load fails
	seq uint64    // guard sequence number of the load that set cur
}

// jwksKeys is one cached key set.
type jwksKeys struct {
	keys  []jose.JSONWebKey
	built time.Time // when it was (re)built by a load; see jwksKeySet.maxAge
}

var _ oidc.KeySet = (*jwksKeySet)(nil)

func newJWKSKeySet(jwksURL string, client *http.Client, now func() time.Time, algs []string) *jwksKeySet {
	guard := &jwksGuard{
		client: &http.Client{
			Transport: client.Transport,
			Timeout:   client.Timeout,
			// Only a 200 response is accepted; redirects are not
			// followed.
			CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		},
		url:         jwksURL,
		minInterval: jwksMinRefetchInterval,
		maxStale:    jwksMaxStale,
		sem:         make(chan struct{}, 1),
	}
	k := &jwksKeySet{guard: guard, now: now, maxAge: jwksMaxAge}
	for _, a := range algs {
		k.algs = append(k.algs, jose.SignatureAlgorithm(a))
	}
	return k
}

// VerifySignature implements oidc.KeySet. go-oidc has already checked the
// token's algorithm against the issuer's configuration; it is checked here
// again when parsing.
func (k *jwksKeySet) VerifySignature(ctx context.Context, jwt string) ([]byte, error) {
	out, _ := ctx.Value(sigOutcomeKey{}).(*sigOutcome)
	if out == nil {
		out = &sigOutcome{}
	}
	jws, err := jose.ParseSigned(jwt, k.algs)
	if err != nil {
		return nil, fmt.Errorf("auth: malformed JWS: %w", err)
	}
	if len(jws.Signatures) != 1 {
		return nil, errors.New("auth: JWS must have exactly one signature")
	}
	out.called = true
	payload, err := k.verify(ctx, jws)
	switch {
	case err == nil:
		out.verified = true
		out.payload = payload
	case errors.Is(err, errJWKSUnavailable), errors.Is(err, context.Canceled), errors.Is(err, context.DeadlineExceeded):
		out.keysUnavailable = true
	}
	return payload, err
}

func (k *jwksKeySet) verify(ctx context.Context, jws *jose.JSONWebSignature) ([]byte, error) {
	kid := jws.Signatures[0].Header.KeyID
	now := k.now()

	k.mu.RLock()
	cur := k.cur
	k.mu.RUnlock()

	var err error
	loaded := false
	if age := now.Sub(cur.builtAt()); cur == nil || age >= k.maxAge || age < 0 {
		if cur, err = k.load(ctx, now, true); err != nil {
			return nil, err
		}
		loaded = true
	}
	if payload, ok := verifyWithKeys(jws, kid, cur.keys); ok {
		return payload, nil
	}
	// An unknown key ID (or a signature no cached key verifies): the
	// issuer may have rotated its keys. Look again, unless this call has
	// just loaded them.
	if !loaded {
		if cur, err = k.load(ctx, now, false); err != nil {
			return nil, err
		}
		if payload, ok := verifyWithKeys(jws, kid, cur.keys); ok {
			return payload, nil
		}
	}
	return nil, errors.New("auth: no key of the issuer verifies the signature")
}

func (c *jwksKeys) builtAt() time.Time {
	if c == nil {
		return time.Time{}
	}
	return c.built
}

// verifyWithKeys verifies jws with the keys whose ID is kid, or with every
// key when kid is empty.
func verifyWithKeys(jws *jose.JSONWebSignature, kid string, keys []jose.JSONWebKey) ([]byte, bool) {
	for i := range keys {
		if kid != "" && keys[i].KeyID != kid {
			continue
		}
		if payload, err := jws.Verify(&keys[i]); err == nil {
			return payload, true
		}
	}
	return nil, false
}

// load asks the guard for the keys to use at now and caches them. rebuild
// starts a new maxAge period; otherwise the cached set's period goes on.
func (k *jwksKeySet) load(ctx context.Context, now time.Time, rebuild bool) (*jwksKeys, error) {
	keys, seq, err := k.guard.load(ctx, now)
	k.mu.Lock()
	defer k.mu.Unlock()
	var next *jwksKeys
	if err == nil {
		next = &jwksKeys{keys: keys, built: now}
		if !rebuild && k.cur != nil {
			next.built = k.cur.built
		}
	}
	// seq is zero when this caller gave up before the guard decided
	// anything: the cache is left alone. Otherwise only a load the guard
	// decided later than the cached one replaces it (concurrent loads may
	// get here out of order). A failed load leaves no keys: the guard
	// fails only when it has no document young enough to trust.
	if seq > k.seq {
		k.cur, k.seq = next, seq
	}
	return next, err
}

// jwksGuard fetches one issuer's JWKS document over the network at most
// once per minInterval and answers other loads from the last good
// document; a failed fetch is also answered from that document while it is
// younger than maxStale. Only a 200 response with a JSON object holding a
// "keys" array counts as good.
type jwksGuard struct {
	client      *http.Client
	url         string
	minInterval time.Duration
	maxStale    time.Duration

	// sem is held from a load's pacing decision until its outcome is
	// recorded, so loads take effect one at a time and in order. It is a
	// channel rather than a mutex so that a waiting caller can give up
	// when its context ends.
	sem chan struct{}

	// Guarded by sem.
	seq         uint64            // number of loads decided
	lastAttempt time.Time         // zero until the first fetch
	keys        []jose.JSONWebKey // keys of the last good document, nil if none
	docTime     time.Time         // when that document was fetched
}

type jwksResult struct {
	keys []jose.JSONWebKey
	err  error
}

// load returns the keys to use at now and the load's sequence number, which
// increases with every decided load and is zero when ctx ended first.
//
// A network fetch is not tied to ctx: when the caller gives up waiting for
// it, the fetch still completes (bounded by the client's timeout) and its
// document serves later loads, which wait for it. The pacing decision and
// the document's time use the caller's now, so they do not depend on when
// the fetch finishes.
func (g *jwksGuard) load(ctx context.Context, now time.Time) ([]jose.JSONWebKey, uint64, error) {
	if err := ctx.Err(); err != nil {
		return nil, 0, fmt.Errorf("%w: %w", errJWKSUnavailable, err)
	}
	select {
	case g.sem <- struct{}{}:
	case <-ctx.Done():
		return nil, 0, fmt.Errorf("%w: %w", errJWKSUnavailable, ctx.Err())
	}
	g.seq++
	seq := g.seq

	if since := now.Sub(g.lastAttempt); !g.lastAttempt.IsZero() && since >= 0 && since < g.minInterval {
		defer func() { <-g.sem }()
		keys, err := g.cached(now, fmt.Errorf("%w: refetch suppressed after a failed fetch", errJWKSUnavailable))
		return keys, seq, err
	}
	g.lastAttempt = now
	done := make(chan jwksResult, 1)
	go func() {
		defer func() { <-g.sem }()
		keys, err := g.fetch(context.WithoutCancel(ctx))
		if err == nil {
			g.keys, g.docTime = keys, now
		} else {
			keys, err = g.cached(now, err)
		}
		done <- jwksResult{keys, err}
	}()
	select {
	case r := <-done:
		return r.keys, seq, r.err
	case <-ctx.Done():
		select {
		case r := <-done:
			return r.keys, seq, r.err
		default:
			return nil, 0, fmt.Errorf("%w: %w", errJWKSUnavailable, ctx.Err())
		}
	}
}

// cached returns the keys of the last good document, or err when there is
// none young enough.
func (g *jwksGuard) cached(now time.Time, err error) ([]jose.JSONWebKey, error) {
	if g.keys == nil || now.Sub(g.docTime) >= g.maxStale {
		return nil, err
	}
	return g.keys, nil
}

// fetch GETs the JWKS document over the network and returns its keys.
func (g *jwksGuard) fetch(ctx context.Context) ([]jose.JSONWebKey, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, g.url, nil)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", errJWKSUnavailable, err)
	}
	req.Header.Set("Accept", "application/json")
	req.Header.Set("Cache-Control", "no-cache")
	resp, err := g.client.Do(req)
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
	keys, err := parseJWKS(doc)
	if err != nil {
		return nil, fmt.Errorf("%w: not a JSON Web Key Set", errJWKSUnavailable)
	}
	return keys, nil
}

// parseJWKS returns the keys of a JWKS document, skipping, as go-oidc does,
// keys whose "alg" is not an algorithm a token can be accepted with and
// keys of types go-jose does not support (RFC 7517 section 5: they SHOULD
// be ignored). The result is non-nil for a valid document.
func parseJWKS(doc []byte) ([]jose.JSONWebKey, error) {
	var set struct {
		Keys []json.RawMessage `json:"keys"`
	}
	if err := json.Unmarshal(doc, &set); err != nil {
		return nil, err
	}
	if set.Keys == nil {
		return nil, errors.New(`no "keys" array`)
	}
	keys := make([]jose.JSONWebKey, 0, len(set.Keys))
	for _, raw := range set.Keys {
		var meta struct {
			Alg string `json:"alg"`
		}
		if err := json.Unmarshal(raw, &meta); err != nil {
			return nil, err
		}
		if meta.Alg != "" && !oidcAlgorithms[meta.Alg] {
			continue
		}
		var key jose.JSONWebKey
		if err := json.Unmarshal(raw, &key); err != nil {
			if errors.Is(err, jose.ErrUnsupportedKeyType) {
				continue
			}
			return nil, err
		}
		keys = append(keys, key)
	}
	return keys, nil
}
