package mongodb

import (
	"context"
	"math/rand/v2"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/domain"
)

type claimDoc struct {
	ID        string    `bson:"_id"` // the request ID: one claim per request
	TenantID  string    `bson:"tenantId"`
	BenefitID string    `bson:"benefitId"`
	Slot      string    `bson:"slot"`
	AccountID string    `bson:"accountId"`
	At        time.Time `bson:"at"`
}

func (d claimDoc) domain() domain.Claim {
	return domain.Claim{RequestID: d.ID, TenantID: d.TenantID, BenefitID: d.BenefitID, Slot: d.Slot, AccountID: d.AccountID, At: d.At.UTC()}
}

// ClaimIncident takes a free slot 1..quota of the benefit under the unique (tenantId,
// benefitId, slot) key (R15). used is the caller's count of the benefit's claims (a hint:
// the guarantee never rests on it). While fewer than half the slots are used, a random
// slot is likely free, and one blind insert costs less than a read and an insert; from
// half on, and after any collision, it reads the benefit's claims first (index claims
// {tenantId, benefitId, slot}) and inserts one of domain.FreeSlots. So a create sends one
// or two claim commands, not more as its plan fills (issue 13), and no read precedes an
// insert that is likely to succeed. The read also answers whether this request already
// holds a claim of the benefit (a retry), which is then returned unchanged; a claim under
// the request's ID of another benefit (the key reused) is looked up by _id when inserts
// from fresh reads collide, or when no slot is free. An unlimited plan's slot is the
// request ID itself, so its insert collides only with the request's own claim. The
// guarantee rests on the unique indexes alone, never on a read, so it holds across
// processes on FerretDB and on MongoDB.
//
// Concurrent claims of one benefit in this process share one read (a burst on one plan
// sends a few reads, not one per create), which may have begun before a caller asked:
// what it shows is a hint like the count, and the insert still decides.
func (s *Store) ClaimIncident(ctx context.Context, c domain.Claim, quota int, unlimited bool, used int) (domain.Claim, error) {
	read := unlimited || quota <= 0 || 2*used >= quota // read the claims before the first insert
	readCollisions := 0
	for attempt := 0; ; attempt++ {
		fromRead := false
		switch {
		case unlimited:
			c.Slot = domain.UnlimitedSlot(c.RequestID)
		case !read:
			c.Slot = domain.IncidentSlot(1 + rand.IntN(quota))
			read = true // if it collides
		default:
			taken, mine, err := s.benefitClaims(ctx, c.TenantID, c.BenefitID, c.RequestID)
			if err != nil {
				return domain.Claim{}, err
			}
			if mine != nil {
				return *mine, nil // a retry of this request: its claim stands
			}
			free, err := domain.FreeSlots(quota, taken) // R15: none free is NO_INCIDENTS_LEFT
			if err != nil {
				if existing, ok, lerr := s.claimOf(ctx, c.RequestID); lerr != nil || ok {
					return existing, lerr
				}
				return domain.Claim{}, err
			}
			c.Slot, fromRead = free[rand.IntN(len(free))], true
		}
		err := s.claims.do(ctx, &write{doc: claimDoc{ID: c.RequestID, TenantID: c.TenantID, BenefitID: c.BenefitID, Slot: c.Slot, AccountID: c.AccountID, At: c.At}})
		if err == nil {
			return c, nil
		}
		if domain.ErrorCode(err) != domain.ECONFLICT {
			return domain.Claim{}, err
		}
		// Collision: the slot was taken first, or the request's ID holds a claim. A
		// blind slot's collision is settled by the read of the next attempt; an unlimited
		// slot collides only on the request's own claim. A slot from a read collides with
		// a concurrent claim, or on a claim of another benefit under the request's ID (its
		// key reused), which every second such collision looks up.
		if fromRead {
			readCollisions++
		}
		if unlimited || (fromRead && readCollisions%2 == 0) {
			if existing, ok, lerr := s.claimOf(ctx, c.RequestID); lerr != nil || ok {
				return existing, lerr
			}
		}
		if attempt > 10*quota+10 {
			return domain.Claim{}, &domain.Error{Code: domain.EUNAVAILABLE, Message: "too much contention for this plan; try again"}
		}
	}
}

// benefitClaims reads a benefit's claims: the slots taken, and the claim of requestID
// among them, if any.
func (s *Store) benefitClaims(ctx context.Context, tenantID, benefitID, requestID string) (map[string]bool, *domain.Claim, error) {
	ds, err := s.claimReads.do(ctx, tenantID+"\x00"+benefitID, func(ctx context.Context) ([]claimDoc, error) {
		return findAll[claimDoc](ctx, s.db.Collection(colClaims), "find claims", bson.D{{Key: "tenantId", Value: tenantID}, {Key: "benefitId", Value: benefitID}})
	})
	if err != nil {
		return nil, nil, err
	}
	taken := make(map[string]bool, len(ds))
	for _, d := range ds {
		if d.ID == requestID {
			c := d.domain()
			return nil, &c, nil
		}
		taken[d.Slot] = true
	}
	return taken, nil, nil
}

// sharedReads runs one read per key at a time: a caller that asks while the key's read
// is in flight gets that read's answer (its own read when that one failed, say because
// its first caller went away).
type sharedReads[T any] struct {
	mu       sync.Mutex
	inFlight map[string]*sharedRead[T]
}

type sharedRead[T any] struct {
	done chan struct{}
	v    T
	err  error
}

func (r *sharedReads[T]) do(ctx context.Context, key string, read func(context.Context) (T, error)) (T, error) {
	r.mu.Lock()
	if r.inFlight == nil {
		r.inFlight = map[string]*sharedRead[T]{}
	}
	f, joined := r.inFlight[key]
	if !joined {
		f = &sharedRead[T]{done: make(chan struct{})}
		r.inFlight[key] = f
	}
	r.mu.Unlock()
	if !joined {
		f.v, f.err = read(ctx)
		r.mu.Lock()
		delete(r.inFlight, key)
		r.mu.Unlock()
		close(f.done)
		return f.v, f.err
	}
	select {
	case <-f.done:
	case <-ctx.Done():
		var zero T
		return zero, mapErr("read", ctx.Err())
	}
	if f.err != nil {
		return read(ctx)
	}
	return f.v, nil
}

// claimOf is the request's claim, and whether there is one.
func (s *Store) claimOf(ctx context.Context, requestID string) (domain.Claim, bool, error) {
	c, err := s.Claim(ctx, requestID)
	switch {
	case err == nil:
		return c, true, nil
	case domain.ErrorCode(err) == domain.ENOTFOUND:
		return domain.Claim{}, false, nil
	default:
		return domain.Claim{}, false, err
	}
}

// Claim finds a request's claim.
func (s *Store) Claim(ctx context.Context, requestID string) (domain.Claim, error) {
	d, err := findOne[claimDoc](ctx, s.db.Collection(colClaims), "find claim", bson.D{{Key: "_id", Value: requestID}})
	return d.domain(), err
}

// ReleaseClaim deletes a request's claim; deleting a missing one is fine.
func (s *Store) ReleaseClaim(ctx context.Context, requestID string) error {
	_, err := s.db.Collection(colClaims).DeleteOne(ctx, bson.D{{Key: "_id", Value: requestID}})
	return mapErr("release claim", err)
}

type requestDoc struct {
	ID             string    `bson:"_id"`
	AccountID      string    `bson:"accountId"`
	TenantID       string    `bson:"tenantId,omitempty"`
	PlanID         string    `bson:"planId,omitempty"`
	PlanKind       string    `bson:"planKind,omitempty"`
	BenefitID      string    `bson:"benefitId,omitempty"`
	Portal         string    `bson:"portal"`
	ProductID      string    `bson:"productId"`
	Version        string    `bson:"version,omitempty"`
	Type           string    `bson:"type"`
	Title          string    `bson:"title"`
	Description    string    `bson:"description,omitempty"`
	CustomerID     string    `bson:"customerId,omitempty"`
	IdempotencyKey string    `bson:"idempotencyKey"`
	Fingerprint    string    `bson:"fingerprint"`
	Consumed       bool      `bson:"consumed"`
	CreatedAt      time.Time `bson:"createdAt"`
	// ClosedAt is set once the request is closed (MarkRequestClosed): absent or null, it
	// is on the support provider's queue (queue.go). With it, the closure that won
	// (CloseReason, ClosedBy; absent on marks written before they were noted), and
	// Refunded once its refund is recorded: withClosures reads neither for them.
	ClosedAt    *time.Time `bson:"closedAt,omitempty"`
	CloseReason string     `bson:"closeReason,omitempty"`
	ClosedBy    string     `bson:"closedBy,omitempty"`
	Refunded    bool       `bson:"refunded,omitempty"`
}

func (d requestDoc) domain() domain.SupportRequest {
	return domain.SupportRequest{ID: d.ID, AccountID: d.AccountID, TenantID: d.TenantID, PlanID: d.PlanID, PlanKind: domain.PlanKind(d.PlanKind),
		BenefitID: d.BenefitID, Portal: domain.Portal(d.Portal), ProductID: d.ProductID, Version: d.Version, Type: domain.RequestType(d.Type),
		Title: d.Title, Description: d.Description, CustomerID: d.CustomerID, IdempotencyKey: d.IdempotencyKey, Fingerprint: d.Fingerprint, Consumed: d.Consumed, CreatedAt: d.CreatedAt.UTC()}
}

// InsertRequest inserts a request; ECONFLICT when its ID exists.
func (s *Store) InsertRequest(ctx context.Context, r domain.SupportRequest) error {
	return s.requests.do(ctx, &write{doc: requestDoc{ID: r.ID, AccountID: r.AccountID, TenantID: r.TenantID, PlanID: r.PlanID,
		PlanKind: string(r.PlanKind), BenefitID: r.BenefitID, Portal: string(r.Portal), ProductID: r.ProductID, Version: r.Version, Type: string(r.Type),
		Title: r.Title, Description: r.Description, CustomerID: r.CustomerID, IdempotencyKey: r.IdempotencyKey, Fingerprint: r.Fingerprint, Consumed: r.Consumed, CreatedAt: r.CreatedAt}})
}

// Request finds a request with its closure and refund.
func (s *Store) Request(ctx context.Context, id string) (domain.SupportRequest, error) {
	d, err := findOne[requestDoc](ctx, s.db.Collection(colRequests), "find request", bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return domain.SupportRequest{}, err
	}
	rs, err := s.withClosures(ctx, []requestDoc{d})
	if err != nil {
		return domain.SupportRequest{}, err
	}
	return rs[0], nil
}

// withClosures attaches closures and refunds, from the request's note where it has one
// (MarkRequestClosed), else from the closures and refunds themselves: a closure is read
// for each request without a noted one, and a refund only for a closure after which R16
// records one (domain.RefundDue: the close and the repair refund by it, and only after
// the closure is in) and the note does not say is recorded. A full page of requests
// closed and noted costs no read beyond its own; one read each otherwise (more only for
// more than maxInIDs requests).
func (s *Store) withClosures(ctx context.Context, ds []requestDoc) ([]domain.SupportRequest, error) {
	out := make([]domain.SupportRequest, len(ds))
	byID := make(map[string]*domain.SupportRequest, len(ds))
	var unnoted []string
	for i, d := range ds {
		out[i] = d.domain()
		byID[d.ID] = &out[i]
		if d.CloseReason != "" && d.ClosedAt != nil {
			out[i].Closure = &domain.Closure{RequestID: d.ID, TenantID: d.TenantID, Reason: domain.CloseReason(d.CloseReason), By: d.ClosedBy, At: d.ClosedAt.UTC()}
			out[i].Refunded = d.Refunded
		} else {
			unnoted = append(unnoted, d.ID)
		}
	}
	if len(unnoted) > 0 {
		closures, err := findByIDs[closureDoc](ctx, s.db.Collection(colClosures), "find closures", unnoted)
		if err != nil {
			return nil, err
		}
		for _, c := range closures {
			byID[c.ID].Closure = &domain.Closure{RequestID: c.ID, TenantID: c.TenantID, Reason: domain.CloseReason(c.Reason), By: c.By, At: c.At.UTC()}
		}
	}
	var due []string
	for _, r := range out {
		if r.Closure != nil && !r.Refunded && domain.RefundDue(r, r.Closure.Reason) {
			due = append(due, r.ID)
		}
	}
	if len(due) == 0 {
		return out, nil
	}
	refunds, err := findByIDs[struct {
		ID string `bson:"_id"`
	}](ctx, s.db.Collection(colRefunds), "find refunds", due, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	for _, r := range refunds {
		byID[r.ID].Refunded = true
	}
	return out, nil
}

// Requests lists an account's requests, newest first.
func (s *Store) Requests(ctx context.Context, accountID string, portal domain.Portal, before *domain.RequestCursor, limit int) ([]domain.SupportRequest, error) {
	filter := bson.D{{Key: "accountId", Value: accountID}}
	if portal != "" {
		filter = append(filter, bson.E{Key: "portal", Value: string(portal)})
	}
	if before != nil {
		// The $lte bounds the index range; the $or alone is not an index bound on the
		// embedded store.
		filter = append(filter, bson.E{Key: "createdAt", Value: bson.D{{Key: "$lte", Value: before.CreatedAt}}}, bson.E{Key: "$or", Value: bson.A{
			bson.D{{Key: "createdAt", Value: bson.D{{Key: "$lt", Value: before.CreatedAt}}}},
			bson.D{{Key: "createdAt", Value: before.CreatedAt}, {Key: "_id", Value: bson.D{{Key: "$lt", Value: before.ID}}}},
		}})
	}
	ds, err := findAll[requestDoc](ctx, s.db.Collection(colRequests), "find requests", filter,
		options.Find().SetSort(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}).SetLimit(int64(limit)))
	if err != nil {
		return nil, err
	}
	return s.withClosures(ctx, ds)
}

// RequestsSince lists every request created since t (repair).
func (s *Store) RequestsSince(ctx context.Context, t time.Time) ([]domain.SupportRequest, error) {
	ds, err := findAll[requestDoc](ctx, s.db.Collection(colRequests), "find recent requests", bson.D{{Key: "createdAt", Value: bson.D{{Key: "$gte", Value: t}}}})
	if err != nil {
		return nil, err
	}
	return s.withClosures(ctx, ds)
}

type closureDoc struct {
	ID       string    `bson:"_id"` // the request ID: the first closure wins
	TenantID string    `bson:"tenantId,omitempty"`
	Reason   string    `bson:"reason"`
	By       string    `bson:"by"`
	At       time.Time `bson:"at"`
}

// InsertClosure records a request's closure; ECONFLICT when it was closed already.
func (s *Store) InsertClosure(ctx context.Context, c domain.Closure) error {
	_, err := s.db.Collection(colClosures).InsertOne(ctx, closureDoc{ID: c.RequestID, TenantID: c.TenantID, Reason: string(c.Reason), By: c.By, At: c.At})
	return mapErr("insert closure", err)
}

type refundDoc struct {
	ID        string    `bson:"_id"` // the request ID: at most one refund per request (R16)
	TenantID  string    `bson:"tenantId"`
	BenefitID string    `bson:"benefitId"`
	Reason    string    `bson:"reason"`
	By        string    `bson:"by"`
	At        time.Time `bson:"at"`
}

// InsertRefund records a refund; ECONFLICT when the request was refunded already (R16).
func (s *Store) InsertRefund(ctx context.Context, r domain.Refund) error {
	_, err := s.db.Collection(colRefunds).InsertOne(ctx, refundDoc{ID: r.RequestID, TenantID: r.TenantID, BenefitID: r.BenefitID, Reason: string(r.Reason), By: r.By, At: r.At})
	return mapErr("insert refund", err)
}

// RefundsWithClaims lists the refunds recorded since a time whose claim was not freed yet
// (a crash between the two). Across tenants, as a start-up repair is: by the refund's time
// (index refunds {at}), so on a sharded cluster this one query goes to every shard.
func (s *Store) RefundsWithClaims(ctx context.Context, since time.Time) ([]domain.Refund, error) {
	refunds, err := findAll[refundDoc](ctx, s.db.Collection(colRefunds), "find refunds", bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}})
	if err != nil {
		return nil, err
	}
	if len(refunds) == 0 {
		return nil, nil
	}
	ids := make([]string, len(refunds))
	for i, r := range refunds {
		ids[i] = r.ID
	}
	claims, err := findByIDs[claimDoc](ctx, s.db.Collection(colClaims), "find claims", ids)
	if err != nil {
		return nil, err
	}
	out := make([]domain.Refund, 0, len(claims))
	for _, c := range claims {
		out = append(out, domain.Refund{RequestID: c.ID, TenantID: c.TenantID, BenefitID: c.BenefitID})
	}
	return out, nil
}

// ClaimsWithoutRequests lists the claims made in [since, before) that no request followed.
// Across tenants, by the claim's time (index claims {at}), as RefundsWithClaims.
func (s *Store) ClaimsWithoutRequests(ctx context.Context, since, before time.Time) ([]domain.Claim, error) {
	claims, err := findAll[claimDoc](ctx, s.db.Collection(colClaims), "find old claims", bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: since}, {Key: "$lt", Value: before}}}})
	if err != nil || len(claims) == 0 {
		return nil, err
	}
	ids := make([]string, len(claims))
	for i, c := range claims {
		ids[i] = c.ID
	}
	reqs, err := findByIDs[struct {
		ID string `bson:"_id"`
	}](ctx, s.db.Collection(colRequests), "find requests", ids, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, r := range reqs {
		have[r.ID] = true
	}
	var out []domain.Claim
	for _, c := range claims {
		if !have[c.ID] {
			out = append(out, c.domain())
		}
	}
	return out, nil
}

// RequestsClosedSince lists the requests closed since a time (index closures {at}), with
// their closures and refunds.
func (s *Store) RequestsClosedSince(ctx context.Context, since time.Time) ([]domain.SupportRequest, error) {
	closures, err := findAll[struct {
		ID string `bson:"_id"`
	}](ctx, s.db.Collection(colClosures), "find recent closures", bson.D{{Key: "at", Value: bson.D{{Key: "$gte", Value: since}}}},
		options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	if err != nil || len(closures) == 0 {
		return nil, err
	}
	ids := make([]string, len(closures))
	for i, c := range closures {
		ids[i] = c.ID
	}
	ds, err := findByIDs[requestDoc](ctx, s.db.Collection(colRequests), "find closed requests", ids)
	if err != nil {
		return nil, err
	}
	return s.withClosures(ctx, ds)
}

type checkpointDoc struct {
	ID        string    `bson:"_id"`
	StartedAt time.Time `bson:"startedAt"`
}

// Checkpoint is when the last completed run of job started; zero when none did.
func (s *Store) Checkpoint(ctx context.Context, job string) (time.Time, error) {
	d, err := findOne[checkpointDoc](ctx, s.db.Collection(colCheckpoints), "find checkpoint", bson.D{{Key: "_id", Value: job}})
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return time.Time{}, nil
	}
	return d.StartedAt.UTC(), err
}

// SaveCheckpoint saves when the run of job that completed started.
func (s *Store) SaveCheckpoint(ctx context.Context, job string, startedAt time.Time) error {
	return replace(ctx, s.db.Collection(colCheckpoints), "save checkpoint", job, checkpointDoc{ID: job, StartedAt: startedAt})
}

type ppiDoc struct {
	ID        string    `bson:"_id"`
	AccountID string    `bson:"accountId"`
	ProductID string    `bson:"productId"`
	Version   string    `bson:"version,omitempty"`
	BoughtAt  time.Time `bson:"boughtAt"`
	EndsAt    time.Time `bson:"endsAt"`
}

// InsertPPIPlan records a pay-per-incident purchase (R21).
func (s *Store) InsertPPIPlan(ctx context.Context, p domain.PPIPlan) error {
	_, err := s.db.Collection(colPPIPlans).InsertOne(ctx, ppiDoc{ID: p.ID, AccountID: p.AccountID, ProductID: p.ProductID, Version: p.Version, BoughtAt: p.BoughtAt, EndsAt: p.EndsAt})
	return mapErr("insert pay-per-incident plan", err)
}

// PPIPlans lists an account's pay-per-incident plans.
func (s *Store) PPIPlans(ctx context.Context, accountID string) ([]domain.PPIPlan, error) {
	ds, err := findAll[ppiDoc](ctx, s.db.Collection(colPPIPlans), "find pay-per-incident plans", bson.D{{Key: "accountId", Value: accountID}})
	if err != nil {
		return nil, err
	}
	out := make([]domain.PPIPlan, len(ds))
	for i, d := range ds {
		out[i] = domain.PPIPlan{ID: d.ID, AccountID: d.AccountID, ProductID: d.ProductID, Version: d.Version, BoughtAt: d.BoughtAt.UTC(), EndsAt: d.EndsAt.UTC()}
	}
	return out, nil
}

type gdapDoc struct {
	Partner   string    `bson:"partner"`
	Active    bool      `bson:"active"`
	Roles     []string  `bson:"roles"`
	ExpiresAt time.Time `bson:"expiresAt"`
}

type customerDoc struct {
	ID      string    `bson:"_id"`
	Name    string    `bson:"name"`
	Partner string    `bson:"partner"`
	GDAP    []gdapDoc `bson:"gdap"`
}

// PutCustomer inserts or replaces a CSP customer (R14).
func (s *Store) PutCustomer(ctx context.Context, c domain.Customer) error {
	d := customerDoc{ID: c.ID, Name: c.Name, Partner: c.Partner, GDAP: make([]gdapDoc, len(c.GDAP))}
	for i, g := range c.GDAP {
		d.GDAP[i] = gdapDoc{Partner: g.Partner, Active: g.Active, Roles: g.Roles, ExpiresAt: g.ExpiresAt}
	}
	return replace(ctx, s.db.Collection(colCustomers), "put customer", c.ID, d)
}

// Customer finds a CSP customer.
func (s *Store) Customer(ctx context.Context, id string) (domain.Customer, error) {
	d, err := findOne[customerDoc](ctx, s.db.Collection(colCustomers), "find customer", bson.D{{Key: "_id", Value: id}})
	if err != nil {
		return domain.Customer{}, err
	}
	c := domain.Customer{ID: d.ID, Name: d.Name, Partner: d.Partner, GDAP: make([]domain.GDAP, len(d.GDAP))}
	for i, g := range d.GDAP {
		c.GDAP[i] = domain.GDAP{Partner: g.Partner, Active: g.Active, Roles: g.Roles, ExpiresAt: g.ExpiresAt.UTC()}
	}
	return c, nil
}
