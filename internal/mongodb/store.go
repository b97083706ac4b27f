// Package mongodb implements domain.Store on MongoDB through mongo-driver v2. The same
// code serves real MongoDB and the embedded FerretDB store, so it relies only on what both
// guarantee: unique indexes enforced on insert. It never relies on an update's filter or
// on $inc for correctness (docs/store.md).
package mongodb

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"sync"
	"time"

	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"
	"go.mongodb.org/mongo-driver/v2/mongo/readpref"

	"github.com/partnersupport/api/internal/domain"
)

// Collection names.
const (
	colAccounts      = "accounts"
	colTenants       = "tenants"
	colMemberships   = "memberships"
	colOffers        = "offers"
	colProducts      = "products"
	colHeldOffers    = "heldOffers"
	colContracts     = "contracts"
	colConsultations = "consultations"
	colLinks         = "links"
	colClaims        = "claims"
	colRequests      = "requests"
	colClosures      = "closures"
	colRefunds       = "refunds"
	colPPIPlans      = "ppiPlans"
	colCustomers     = "customers"
	colOutbox        = "outbox"
	colEvents        = "events"
	colLedgerHeads   = "ledgerHeads"
	colAudit         = "audit"
	colCheckpoints   = "checkpoints"
)

// codeNamespaceExists is the server's error code for creating a collection that exists.
const codeNamespaceExists = 48

// Store is a domain.Store on one MongoDB database.
//
// It talks to the store through two connection pools. Reads, and the writes that are not
// batched, use the first, whose wait for a free connection is bounded by
// Options.StoreWait: a saturated store answers UNAVAILABLE quickly. The batched writes (a
// create's claim, request and outbox entry, batch.go) and the ledger's sequencing
// (events.go) use a small pool of their own, so that a burst of requests never leaves
// them waiting behind reads: what a request changed is in the ledger when it answers.
type Store struct {
	client *mongo.Client
	db     *mongo.Database
	// wclient and wdb are the pool of the batched writes and the ledger, on the same
	// database; lane, when set, is held while one of their write commands is sent.
	wclient *mongo.Client
	wdb     *mongo.Database
	lane    *sync.Mutex
	// The writes of a create and of an activation, each sent with the concurrent ones of
	// its kind (batch.go).
	claims, requests, outbox, unbox, heads, contracts, audit *batcher
	// claimReads shares one read of a benefit's claims among concurrent claims (request.go).
	claimReads sharedReads[[]claimDoc]
}

func newStore(client, wclient *mongo.Client, database string, ferretDB bool) *Store {
	db, wdb := client.Database(database), wclient.Database(database)
	lane := writeLane(ferretDB)
	return &Store{client: client, db: db, wclient: wclient, wdb: wdb, lane: lane,
		claims:   insertBatcher(wdb.Collection(colClaims), "claim incident", lane),
		requests: insertBatcher(wdb.Collection(colRequests), "insert request", lane),
		outbox:   insertBatcher(wdb.Collection(colOutbox), "record event", lane),
		unbox:    deleteBatcher(wdb.Collection(colOutbox), "drop pending event", lane),
		heads:    replaceBatcher(wdb.Collection(colLedgerHeads), "save ledger head", lane),
		// Activations' contracts, and every use case's audit events (issue 13: activation
		// throughput): in the write lane, not in SQLite's busy handler.
		contracts: insertBatcher(wdb.Collection(colContracts), "insert contract", lane),
		audit:     insertBatcher(wdb.Collection(colAudit), "insert audit event", lane),
	}
}

// inLane sends one write command of the write pool in the write lane.
func (s *Store) inLane(send func()) {
	if s.lane != nil {
		s.lane.Lock()
		defer s.lane.Unlock()
	}
	send()
}

// isFerretDB reports whether the server is FerretDB, whose buildInfo names its version.
func isFerretDB(ctx context.Context, client *mongo.Client) (bool, error) {
	var info bson.M
	if err := client.Database("admin").RunCommand(ctx, bson.D{{Key: "buildInfo", Value: 1}}).Decode(&info); err != nil {
		return false, fmt.Errorf("mongodb: buildInfo: %w", err)
	}
	_, ok := info["ferretdbVersion"]
	return ok, nil
}

// Store implements every resource's port of the domain, and so domain.Store.
var (
	_ domain.Store             = (*Store)(nil)
	_ domain.AccountStore      = (*Store)(nil)
	_ domain.TenantStore       = (*Store)(nil)
	_ domain.CatalogStore      = (*Store)(nil)
	_ domain.HeldOfferStore    = (*Store)(nil)
	_ domain.PPIPlanStore      = (*Store)(nil)
	_ domain.ContractStore     = (*Store)(nil)
	_ domain.ConsultationStore = (*Store)(nil)
	_ domain.LinkStore         = (*Store)(nil)
	_ domain.ClaimStore        = (*Store)(nil)
	_ domain.RequestStore      = (*Store)(nil)
	_ domain.AuditStore        = (*Store)(nil)
	_ domain.LedgerStore       = (*Store)(nil)
	_ domain.RepairStore       = (*Store)(nil)
)

// Options configure Open.
type Options struct {
	// Monitor observes every command sent (for round-trip metrics); may be nil.
	Monitor *event.CommandMonitor
	// ConnectTimeout bounds the first ping; default 10s.
	ConnectTimeout time.Duration
	// StoreWait bounds how long an operation waits for the store to be selected and for a
	// free pooled connection (the driver's server selection timeout) before it is
	// answered UNAVAILABLE; default DefaultStoreWait. It does not bound the command itself.
	StoreWait time.Duration
	// MaxPoolSize of the driver's connection pool; 0 keeps the driver's default.
	MaxPoolSize uint64
	// WritePoolSize is the size of the pool of the batched writes and the ledger; default
	// DefaultWritePoolSize.
	WritePoolSize uint64
	// PoolMonitor observes the connection pool (for the exhausted-pool metric); may be nil.
	PoolMonitor *event.PoolMonitor
}

// DefaultStoreWait is how long an operation waits for a pooled connection by default.
// A request that finds every connection busy for that long finds the store saturated:
// it is answered UNAVAILABLE, which clients retry, rather than queueing for many seconds
// (TestStoreWait_SaturatedStoreAnswersUnavailableQuickly). Measured with the burst of
// TestR15_Burst_TwoProcessesOnePlan (two server processes, 100 creates in flight, two
// CPUs): no create waits that long on an otherwise idle machine; with the CPUs shared
// with other work, a few percent of the burst's creates do, and are answered UNAVAILABLE
// instead of seconds later. The wait was the driver's server selection timeout, 10 s.
const DefaultStoreWait = 2 * time.Second

// DefaultWritePoolSize is the pool of the batched writes and the ledger: each batcher
// sends one command at a time (batch.go: seven of them), and each sequencing round (at
// most service.SequencingRounds at once) one read or ordered insert at a time. On the
// embedded store the write commands also take turns (writeLane), so fewer are ever busy.
const DefaultWritePoolSize = 10

// Open connects to uri, checks that the server answers, and creates every index
// idempotently. A malformed URI or an unreachable server fails with a one-line error.
func Open(ctx context.Context, uri, database string, o Options) (*Store, error) {
	if o.ConnectTimeout == 0 {
		o.ConnectTimeout = 10 * time.Second
	}
	if o.StoreWait <= 0 {
		o.StoreWait = DefaultStoreWait
	}
	if o.WritePoolSize == 0 {
		o.WritePoolSize = DefaultWritePoolSize
	}
	client, err := connect(uri, o, o.StoreWait, o.MaxPoolSize)
	if err != nil {
		return nil, err
	}
	// The write pool is sized to its own concurrency, and its operations are bounded by
	// their callers' deadlines: its wait is the connect timeout.
	wclient, err := connect(uri, o, o.ConnectTimeout, o.WritePoolSize)
	if err != nil {
		_ = client.Disconnect(context.Background())
		return nil, err
	}
	fail := func(err error) (*Store, error) {
		_ = client.Disconnect(context.Background())
		_ = wclient.Disconnect(context.Background())
		return nil, err
	}
	pctx, cancel := context.WithTimeout(ctx, o.ConnectTimeout)
	defer cancel()
	// Each ping waits at most StoreWait for the server: ping again until ConnectTimeout.
	for {
		err := client.Ping(pctx, readpref.Primary())
		if err == nil {
			break
		}
		select {
		case <-pctx.Done():
			return fail(fmt.Errorf("mongodb: cannot reach the store at %s: %w", redactURI(uri), err))
		case <-time.After(50 * time.Millisecond):
		}
	}
	ferretDB, err := isFerretDB(pctx, client)
	if err != nil {
		return fail(err)
	}
	s := newStore(client, wclient, database, ferretDB)
	if err := s.createIndexes(ctx); err != nil {
		return fail(err)
	}
	return s, nil
}

// connect makes a client of uri whose operations wait at most wait for the server and a
// pooled connection, with at most pool connections (0: the URI's or the driver's).
func connect(uri string, o Options, wait time.Duration, pool uint64) (*mongo.Client, error) {
	co := options.Client().ApplyURI(uri).SetServerSelectionTimeout(wait).SetConnectTimeout(o.ConnectTimeout)
	if o.Monitor != nil {
		co.SetMonitor(o.Monitor)
	}
	if pool > 0 {
		co.SetMaxPoolSize(pool)
	}
	if o.PoolMonitor != nil {
		co.SetPoolMonitor(o.PoolMonitor)
	}
	if err := co.Validate(); err != nil {
		return nil, fmt.Errorf("mongodb: invalid MONGODB_URI: %w", err)
	}
	client, err := mongo.Connect(co)
	if err != nil {
		return nil, fmt.Errorf("mongodb: invalid MONGODB_URI: %w", err)
	}
	return client, nil
}

// Close disconnects, waiting for in-flight operations up to ctx's deadline.
func (s *Store) Close(ctx context.Context) error {
	return errors.Join(s.client.Disconnect(ctx), s.wclient.Disconnect(ctx))
}

// Ping checks the store answers.
func (s *Store) Ping(ctx context.Context) error {
	if err := s.client.Ping(ctx, readpref.Primary()); err != nil {
		return fmt.Errorf("mongodb: ping: %w", err)
	}
	return nil
}

// Database exposes the database for tests and repair tools.
func (s *Store) Database() *mongo.Database { return s.db }

// createIndexes creates every index; creating an existing one is a no-op. Every unique
// index that carries a guarantee starts with tenantId, the shard key at scale
// (docs/store.md).
func (s *Store) createIndexes(ctx context.Context) error {
	idx := map[string][]mongo.IndexModel{
		colMemberships: {
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "accountId", Value: 1}}, Options: options.Index().SetUnique(true)},
			{Keys: bson.D{{Key: "accountId", Value: 1}}},
		},
		colHeldOffers: {
			// R20: one held offer per offer and enrollment year.
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "offerId", Value: 1}, {Key: "periodStart", Value: 1}}, Options: options.Index().SetUnique(true)},
			// The sweep: the held offers whose year starts or ends near now, across tenants.
			{Keys: bson.D{{Key: "periodStart", Value: 1}}},
			{Keys: bson.D{{Key: "periodEnd", Value: 1}}},
		},
		colContracts: {
			// R4: one contract per benefit.
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "benefitId", Value: 1}}, Options: options.Index().SetUnique(true)},
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "contractId", Value: 1}}, Options: options.Index().SetUnique(true)},
			// R6: linking looks a contract up by its Contract ID alone.
			{Keys: bson.D{{Key: "contractId", Value: 1}}},
		},
		colConsultations: {
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "benefitId", Value: 1}}, Options: options.Index().SetUnique(true)},
		},
		colLinks: {
			// R6, R9: one link per account and benefit.
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "accountId", Value: 1}, {Key: "benefitId", Value: 1}}, Options: options.Index().SetUnique(true)},
			{Keys: bson.D{{Key: "accountId", Value: 1}}},
		},
		colClaims: {
			// R15: an incident slot is claimed once; no overdraft.
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "benefitId", Value: 1}, {Key: "slot", Value: 1}}, Options: options.Index().SetUnique(true)},
			// The start-up repair's claims since its last run, across tenants (Service.Repair).
			{Keys: bson.D{{Key: "at", Value: 1}}},
		},
		colClosures: {
			// The start-up repair's closures since its last run, across tenants.
			{Keys: bson.D{{Key: "at", Value: 1}}},
		},
		colRefunds: {
			// The start-up repair's refunds since its last run, across tenants.
			{Keys: bson.D{{Key: "at", Value: 1}}},
		},
		colRequests: {
			// An account's requests, newest first (Requests): the sort's tie-breaker _id
			// too, so that the index gives the whole order.
			{Keys: bson.D{{Key: "accountId", Value: 1}, {Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}}},
			{Keys: bson.D{{Key: "createdAt", Value: -1}}},
		},
		colPPIPlans: {
			{Keys: bson.D{{Key: "accountId", Value: 1}}},
		},
		colOutbox: {
			// A scope's pending events, oldest first (PendingEvents), and whether it has
			// any (HasPendingEvents).
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "at", Value: 1}, {Key: "_id", Value: 1}}},
		},
		colEvents: {
			// The ledger's order: one event per sequence number of a tenant.
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "seq", Value: 1}}, Options: options.Index().SetUnique(true)},
		},
		colLedgerHeads: {
			// The live feed's one poll for every tenant (ScopesChangedSince). Not by tenant:
			// it is the question "which tenants changed", asked once for all of them.
			{Keys: bson.D{{Key: "savedAt", Value: 1}}},
		},
		colAudit: {
			// A tenant's audit trail, newest first (the _id orders by time).
			{Keys: bson.D{{Key: "tenantId", Value: 1}, {Key: "_id", Value: -1}}},
		},
	}
	for k, v := range queueIndexes {
		idx[k] = append(idx[k], v...)
	}
	// Create every collection first, those without a secondary index too, so that the
	// schema is complete once Open returns (the embedded store indexes _id per table then).
	for _, col := range []string{colAccounts, colTenants, colMemberships, colOffers, colProducts, colHeldOffers, colContracts,
		colConsultations, colLinks, colClaims, colRequests, colClosures, colRefunds, colPPIPlans, colCustomers, colOutbox, colEvents, colLedgerHeads, colAudit, colCheckpoints} {
		var ce mongo.CommandError
		if err := s.db.CreateCollection(ctx, col); err != nil && !(errors.As(err, &ce) && ce.Code == codeNamespaceExists) {
			return fmt.Errorf("mongodb: create collection %s: %w", col, err)
		}
	}
	// One index per command: FerretDB v1.24 panics on a createIndexes that names several
	// indexes of which some exist already (measured here; it closes the connection).
	for col, models := range idx {
		for _, m := range models {
			if _, err := s.db.Collection(col).Indexes().CreateOne(ctx, m); err != nil {
				return fmt.Errorf("mongodb: create indexes on %s: %w", col, err)
			}
		}
	}
	// Indexes a declared one replaced: every insert would maintain them for nothing.
	for col, names := range supersededIndexes {
		for _, name := range names {
			var ce mongo.CommandError
			if err := s.db.Collection(col).Indexes().DropOne(ctx, name); err != nil && !(errors.As(err, &ce) && ce.Code == codeIndexNotFound) {
				return fmt.Errorf("mongodb: drop superseded index %s on %s: %w", name, col, err)
			}
		}
	}
	return nil
}

// supersededIndexes are indexes earlier versions declared, by name, that a declared index
// now serves (it has their keys and the sort's tie-breaker): dropped on open. Only these
// names are dropped, never an index an operator added.
var supersededIndexes = map[string][]string{
	colRequests: {"accountId_1_createdAt_-1"},
	colOutbox:   {"tenantId_1_at_1"},
}

// codeIndexNotFound is the server's IndexNotFound error code.
const codeIndexNotFound = 27

// mapErr turns driver errors into domain errors: no document is ENOTFOUND, a duplicate
// key is ECONFLICT, a timeout (no pooled connection free in time, the context's deadline,
// the server's time limit) is EUNAVAILABLE, which clients may retry; anything else is
// wrapped as internal.
func mapErr(op string, err error) error {
	switch {
	case err == nil:
		return nil
	case errors.Is(err, mongo.ErrNoDocuments):
		return &domain.Error{Code: domain.ENOTFOUND, Message: op + ": not found"}
	case mongo.IsDuplicateKeyError(err):
		return &domain.Error{Code: domain.ECONFLICT, Message: op + ": already exists"}
	case mongo.IsTimeout(err):
		return &domain.Error{Code: domain.EUNAVAILABLE, Message: op + ": the store is busy; try again"}
	}
	return fmt.Errorf("mongodb: %s: %w", op, err)
}

// findAll runs a find and decodes every document.
func findAll[T any](ctx context.Context, c *mongo.Collection, op string, filter any, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	cur, err := c.Find(ctx, filter, opts...)
	if err != nil {
		return nil, mapErr(op, err)
	}
	defer func() { _ = cur.Close(context.WithoutCancel(ctx)) }()
	// Each document with bson.Unmarshal, whose reader is pooled: Cursor.All and
	// SingleResult.Decode allocate a 4 KiB buffered reader per document, most of what
	// decoding a page of small documents allocates.
	var out []T
	for cur.Next(ctx) {
		var v T
		if err := bson.Unmarshal(cur.Current, &v); err != nil {
			return nil, mapErr(op, err)
		}
		out = append(out, v)
	}
	if err := cur.Err(); err != nil {
		return nil, mapErr(op, err)
	}
	return out, nil
}

// maxInIDs bounds the _ids of one $in: the embedded store sends a longer list to SQLite as
// a scan (third_party/ferretdb/PATCHES.md), so findByIDs splits longer lists.
const maxInIDs = 500

// findByIDs finds the documents with the given _ids, maxInIDs at a time, each an index
// search.
func findByIDs[T any](ctx context.Context, c *mongo.Collection, op string, ids []string, opts ...options.Lister[options.FindOptions]) ([]T, error) {
	var out []T
	for len(ids) > 0 {
		n := min(len(ids), maxInIDs)
		ds, err := findAll[T](ctx, c, op, bson.D{{Key: "_id", Value: bson.D{{Key: "$in", Value: ids[:n]}}}}, opts...)
		if err != nil {
			return nil, err
		}
		out, ids = append(out, ds...), ids[n:]
	}
	return out, nil
}

// findOne finds one document.
func findOne[T any](ctx context.Context, c *mongo.Collection, op string, filter any) (T, error) {
	var v T
	raw, err := c.FindOne(ctx, filter).Raw()
	if err == nil {
		err = bson.Unmarshal(raw, &v) // as findAll: no reader per document
	}
	return v, mapErr(op, err)
}

// replace upserts a whole document by _id (fixtures). Two loaders racing on the embedded
// store can both try to insert: the loser's duplicate key means the document is there,
// so it retries once as a plain replace.
func replace(ctx context.Context, c *mongo.Collection, op string, id any, doc any) error {
	_, err := c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
	if mongo.IsDuplicateKeyError(err) {
		_, err = c.ReplaceOne(ctx, bson.D{{Key: "_id", Value: id}}, doc, options.Replace().SetUpsert(true))
	}
	return mapErr(op, err)
}

// redactURI drops credentials and options from a URI before it is shown.
func redactURI(uri string) string {
	u, err := url.Parse(uri)
	if err != nil {
		return "(unparseable URI)"
	}
	u.User, u.RawQuery = nil, ""
	return u.String()
}
