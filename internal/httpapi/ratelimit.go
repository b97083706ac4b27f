package httpapi

import (
	"context"
	"fmt"
	"math"
	"net"
	"strings"
	"sync"
	"time"

	"github.com/99designs/gqlgen/graphql"
	"github.com/hashicorp/golang-lru/v2/simplelru"
	"github.com/realclientip/realclientip-go"
	"github.com/vektah/gqlparser/v2/ast"
	"golang.org/x/time/rate"

	"github.com/partnersupport/api/internal/domain"
)

// RateLimit bounds the attempts at some fields per account and per client address, so
// that, for example, Access IDs and Contract IDs cannot be guessed by trying many pairs
// (R9). An attempt over either limit is refused with RATE_LIMITED before its resolver
// runs: nothing is read or changed.
type RateLimit struct {
	// Fields are the guarded fields as "Type.field", such as "Mutation.linkSupportPlan".
	// Each field of an operation counts (aliases do not multiply the allowance). Only
	// fields of the query and mutation types can be guarded: the limit is checked once per
	// root field of an operation, not around every field it selects (which would cost every
	// field of every answer a call). New panics on any other field, or on a field the schema
	// does not have, rather than leave it unguarded.
	Fields []string
	// PerAccount and PerAddress are the attempts allowed per minute, which is also the
	// burst allowed at once; 0 turns that limit off. An IPv6 client is counted by its /64.
	PerAccount int
	PerAddress int
	// MaxKeys bounds the accounts and addresses remembered by each limit (least recently
	// seen are forgotten first); default 10000.
	MaxKeys int
	// Now is the clock (tests); default time.Now.
	Now func() time.Time
}

// DefaultRateLimitKeys is the default RateLimit.MaxKeys.
const DefaultRateLimitKeys = 10000

// rateLimiter applies a RateLimit.
type rateLimiter struct {
	fields  map[string]bool
	account *keyedLimiter // nil: no per-account limit
	address *keyedLimiter // nil: no per-address limit
	now     func() time.Time
	audit   Audit // records each hit; may be nil
}

func newRateLimiter(c RateLimit) *rateLimiter {
	if len(c.Fields) == 0 || (c.PerAccount <= 0 && c.PerAddress <= 0) {
		return nil
	}
	if c.MaxKeys <= 0 {
		c.MaxKeys = DefaultRateLimitKeys
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	r := &rateLimiter{fields: map[string]bool{}, now: c.Now}
	for _, f := range c.Fields {
		r.fields[f] = true
	}
	r.account = newKeyedLimiter(c.PerAccount, c.MaxKeys)
	r.address = newKeyedLimiter(c.PerAddress, c.MaxKeys)
	return r
}

// checkFields panics unless every guarded field is a field of the schema's query or
// mutation type: those are the fields rootField sees.
func (r *rateLimiter) checkFields(s *ast.Schema) {
	for f := range r.fields {
		typ, name, _ := strings.Cut(f, ".")
		var root *ast.Definition
		switch {
		case s.Query != nil && typ == s.Query.Name:
			root = s.Query
		case s.Mutation != nil && typ == s.Mutation.Name:
			root = s.Mutation
		default:
			panic(fmt.Sprintf("httpapi: rate limit on %q: only fields of the query and mutation types can be guarded", f))
		}
		if root.Fields.ForName(name) == nil {
			panic(fmt.Sprintf("httpapi: rate limit on %q: the schema has no such field", f))
		}
	}
}

// rootField is the gqlgen root field middleware: it takes an attempt for each guarded root
// field of an operation (each alias counts) before the field's arguments are read or its
// resolver runs. A refusal is reported as a field middleware's error would be: on the
// field's path, the field null.
func (r *rateLimiter) rootField(ctx context.Context, next graphql.RootResolver) graphql.Marshaler {
	rfc := graphql.GetRootFieldContext(ctx)
	parent := graphql.GetFieldContext(ctx) // the operation's root type: Query or Mutation
	if rfc == nil || rfc.Field.Field == nil || parent == nil || !r.fields[parent.Object+"."+rfc.Field.Name] {
		return next(ctx)
	}
	if err := r.allow(ctx); err != nil {
		if r.audit != nil {
			a, _ := domain.CallerFrom(ctx)
			r.audit(ctx, domain.AuditEvent{Name: domain.AuditRateLimited, Outcome: domain.OutcomeRefused, Code: domain.ERATELIMITED,
				PrincipalID: a.ID, PrincipalKind: a.Kind, Operation: rfc.Field.Name})
		}
		ctx = graphql.WithFieldContext(ctx, &graphql.FieldContext{Object: parent.Object, Field: rfc.Field})
		graphql.AddError(ctx, graphql.AddFieldLocationToError(ctx, err))
		return graphql.Null
	}
	return next(ctx)
}

// allow takes one attempt from the caller's account and from its address, or neither.
func (r *rateLimiter) allow(ctx context.Context) error {
	now := r.now()
	var taken []*rate.Reservation
	release := func() {
		for _, t := range taken {
			t.CancelAt(now)
		}
	}
	if a, ok := domain.CallerFrom(ctx); ok && r.account != nil {
		res, wait := r.account.reserve("account:"+a.ID, now)
		if wait > 0 {
			return rateLimited(wait)
		}
		taken = append(taken, res)
	}
	if r.address != nil {
		res, wait := r.address.reserve(addressKey(infoFrom(ctx).client), now)
		if wait > 0 {
			release()
			return rateLimited(wait)
		}
		taken = append(taken, res)
	}
	return nil
}

func rateLimited(wait time.Duration) error {
	secs := int(math.Ceil(wait.Seconds()))
	e := domain.Errorf(domain.ERATELIMITED, "", "too many attempts; try again in %d s", secs)
	e.Meta = map[string]any{"retryAfterSeconds": secs}
	return e
}

// addressKey is the limit's key of a client address: an IPv4 address, or an IPv6 /64 (one
// client commonly holds a whole /64).
func addressKey(addr string) string {
	host, _ := realclientip.SplitHostZone(addr)
	ip := net.ParseIP(host)
	switch {
	case ip == nil:
		return "address:unknown"
	case ip.To4() != nil:
		return "address:" + ip.To4().String()
	default:
		return "address:" + ip.Mask(net.CIDRMask(64, 128)).String() + "/64"
	}
}

// keyedLimiter is one token bucket per key, for at most maxKeys keys.
type keyedLimiter struct {
	mu      sync.Mutex
	buckets *simplelru.LRU[string, *rate.Limiter]
	limit   rate.Limit
	burst   int
}

func newKeyedLimiter(perMinute, maxKeys int) *keyedLimiter {
	if perMinute <= 0 {
		return nil
	}
	lru, err := simplelru.NewLRU[string, *rate.Limiter](maxKeys, nil)
	if err != nil {
		panic(err) // only for a size below 1, which newRateLimiter rules out
	}
	return &keyedLimiter{buckets: lru, limit: rate.Limit(float64(perMinute) / 60), burst: perMinute}
}

// reserve takes a token from key's bucket; when there is none it takes nothing and says
// how long until there is one.
func (k *keyedLimiter) reserve(key string, now time.Time) (*rate.Reservation, time.Duration) {
	k.mu.Lock()
	defer k.mu.Unlock()
	l, ok := k.buckets.Get(key)
	if !ok {
		l = rate.NewLimiter(k.limit, k.burst)
		k.buckets.Add(key, l)
	}
	res := l.ReserveN(now, 1)
	if wait := res.DelayFrom(now); wait > 0 {
		res.CancelAt(now)
		return nil, wait
	}
	return res, 0
}

func (k *keyedLimiter) len() int {
	k.mu.Lock()
	defer k.mu.Unlock()
	return k.buckets.Len()
}
