package mongodb_test

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/event"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/internal/cache"
	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/fixture"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/seed"
	"github.com/partnersupport/api/internal/service"
	"github.com/partnersupport/api/internal/testenv"
)

// reads records the read commands sent to the store (finds, aggregates, counts, and the
// filters of updates and deletes), each as the find or aggregate that explains it.
type reads struct {
	on   atomic.Bool
	mu   sync.Mutex
	cmds []bson.D
}

func (r *reads) monitor() *event.CommandMonitor {
	return &event.CommandMonitor{Started: func(_ context.Context, e *event.CommandStartedEvent) {
		if !r.on.Load() {
			return
		}
		col, _ := e.Command.Lookup(e.CommandName).StringValueOK()
		var out []bson.D
		filter := func(v bson.RawValue) any {
			if d, ok := v.DocumentOK(); ok {
				return d
			}
			return bson.D{}
		}
		switch e.CommandName {
		case "find":
			// with its sort and limit: a sorted page must be read in the index's order
			find := bson.D{{Key: "find", Value: col}, {Key: "filter", Value: filter(e.Command.Lookup("filter"))}}
			if sort, ok := e.Command.Lookup("sort").DocumentOK(); ok {
				find = append(find, bson.E{Key: "sort", Value: sort})
			}
			if limit, ok := e.Command.Lookup("limit").AsInt64OK(); ok {
				find = append(find, bson.E{Key: "limit", Value: limit})
			}
			out = append(out, find)
		case "count", "distinct", "findAndModify":
			out = append(out, bson.D{{Key: "find", Value: col}, {Key: "filter", Value: filter(e.Command.Lookup("query"))}})
		case "aggregate":
			out = append(out, bson.D{{Key: "aggregate", Value: col}, {Key: "pipeline", Value: e.Command.Lookup("pipeline")}, {Key: "cursor", Value: bson.D{}}})
		case "update", "delete":
			field := map[string]string{"update": "updates", "delete": "deletes"}[e.CommandName]
			vals, _ := e.Command.Lookup(field).Array().Values()
			for _, v := range vals {
				out = append(out, bson.D{{Key: "find", Value: col}, {Key: "filter", Value: filter(v.Document().Lookup("q"))}})
			}
		}
		r.mu.Lock()
		r.cmds = append(r.cmds, out...)
		r.mu.Unlock()
	}}
}

// take returns the reads recorded since the last take.
func (r *reads) take() []bson.D {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := r.cmds
	r.cmds = nil
	return out
}

// wholeCollectionReads are the reads allowed to scan, by command and collection, each
// with why. Nothing else may.
var wholeCollectionReads = map[string]string{
	// The catalogs: a few dozen documents written by fixtures, not per tenant, and read
	// whole (then cached) because every plan decision needs all of them.
	"find:offers":   "the offer catalog",
	"find:products": "the product catalog",
	// ScopesWithPendingEvents groups the outbox by tenant: the outbox holds only events
	// not sequenced yet (each leaves it once sequenced), so it is as large as the work in
	// flight, not as the data.
	"aggregate:outbox": "the outbox's pending scopes",
}

// scans explains each read on the store and returns those SQLite answers with a scan of
// a table (not an index search), outside wholeCollectionReads, or, for a find with a
// sort, with a sort of what it reads (a TEMP B-TREE: it reads every row its filter
// matches before the first, where the index's order lets it stop at the limit).
func scans(t *testing.T, st *mongodb.Store, cmds []bson.D) []string {
	t.Helper()
	var out []string
	for _, c := range cmds {
		sorted := slices.ContainsFunc(c, func(e bson.E) bool { return e.Key == "sort" })
		col, _ := c[0].Value.(string)
		if _, ok := wholeCollectionReads[c[0].Key+":"+col]; ok {
			continue
		}
		var res struct {
			QueryPlanner struct {
				Plan []string `bson:"Plan"`
			} `bson:"queryPlanner"`
		}
		require.NoError(t, st.Database().RunCommand(t.Context(), bson.D{{Key: "explain", Value: c}}).Decode(&res))
		for _, line := range res.QueryPlanner.Plan {
			if strings.Contains(line, "detail=SCAN ") && !strings.Contains(line, "CONSTANT ROW") && !strings.Contains(line, "detail=SCAN (subquery") ||
				sorted && strings.Contains(line, "TEMP B-TREE") {
				out = append(out, fmt.Sprintf("%v: %s", c, strings.Join(res.QueryPlanner.Plan, "; ")))
				break
			}
		}
	}
	return out
}

// TestHotQueriesUseIndexes runs every hot operation of the service against the embedded
// store (issue 13) and fails if SQLite answers any read it sends with a table scan: each
// read must be an index search, so its cost does not grow with other tenants' data.
// Operations: start-up (seeding, grant recording, repair, the sweep), activation, linking,
// supportPlans, creates, closes with a refund, the request and ledger pages, a tenant's
// benefits and reminders, and the live feed's poll.
func TestHotQueriesUseIndexes(t *testing.T) {
	ctx := t.Context()
	var rec reads
	db := testenv.NewDatabaseName()
	st, err := mongodb.Open(ctx, testenv.StoreURI(t), db, mongodb.Options{Monitor: rec.monitor()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	clock := testenv.NewClock(testenv.DemoNow)
	// As internal/app wires it, with the production activation delay's cache bound.
	svc := service.New(cache.New(st, 30*time.Second, 0), service.Options{Now: clock.Now,
		Reminders: domain.ReminderPolicy{Window: 30 * 24 * time.Hour, LowThreshold: 2}})
	account := func(email string) domain.Account {
		a, err := st.Account(ctx, domain.AccountID(config.DevIssuer, email))
		require.NoError(t, err)
		return a
	}
	const plan = "contoso.solutions_partner_designation.20260901.cloud_support"
	provider := domain.Account{ID: "provider:acme-support", Kind: domain.KindSupportProvider}
	var requestID string
	var contract domain.Contract
	steps := []struct {
		name string
		run  func() error
	}{
		{"seed", func() error { _, err := seed.Load(ctx, st, fixture.Demo(), config.DevIssuer); return err }},
		{"record grants", func() error { return svc.RecordGrants(ctx, "contoso") }},
		{"repair", func() error { return svc.Repair(ctx) }},
		{"sweep", func() error { return svc.Sweep(ctx) }},
		{"activateBenefit", func() error { _, err := svc.Activate(ctx, account("megan@contoso.com"), plan); return err }},
		{"tenant benefits and reminders", func() error {
			vs, err := svc.TenantBenefits(ctx, account("lee@contoso.com"), "contoso")
			for _, v := range vs {
				if v.Benefit.ID == plan && v.Contract != nil {
					contract = *v.Contract
				}
			}
			if err == nil {
				_, err = svc.Reminders(ctx, account("lee@contoso.com"), "contoso")
			}
			return err
		}},
		{"linkSupportPlan", func() error {
			_, _, err := svc.Link(ctx, account("sam.freelancer@outlook.com"), domain.LinkInput{AccessID: contract.AccessID, ContractID: contract.ContractID, Portal: domain.PortalAzure})
			return err
		}},
		{"supportPlans", func() error {
			_, err := svc.SupportPlans(ctx, account("lee@contoso.com"), "azure", "", domain.PortalAzure)
			return err
		}},
		{"createSupportRequest", func() error {
			r, err := svc.CreateRequest(ctx, account("sam.freelancer@outlook.com"), domain.CreateRequestInput{IdempotencyKey: "indexed-0000000001", PlanID: plan,
				ProductID: "azure", Portal: domain.PortalAzure, Type: domain.RequestTechnical, Title: "indexed"})
			requestID = r.ID
			return err
		}},
		{"resolveSupportRequest as a duplicate (refund, R16, R25)", func() error {
			_, err := svc.ResolveRequest(ctx, provider, requestID, domain.CloseDuplicate)
			return err
		}},
		{"providerQueue, providerRequest, resolveSupportRequest (R25)", func() error {
			r, err := svc.CreateRequest(ctx, account("sam.freelancer@outlook.com"), domain.CreateRequestInput{IdempotencyKey: "indexed-0000000002", PlanID: plan,
				ProductID: "azure", Portal: domain.PortalAzure, Type: domain.RequestTechnical, Title: "indexed"})
			if err != nil {
				return err
			}
			rec.take() // the create is checked above; the provider's reads follow
			p, err := svc.ProviderQueue(ctx, provider, domain.PortalAzure, "", 20, nil)
			if err == nil && len(p.Requests) > 0 {
				_, err = svc.ProviderRequest(ctx, provider, p.Requests[0].ID)
			}
			if err == nil {
				_, err = svc.ResolveRequest(ctx, provider, r.ID, domain.CloseBug)
			}
			return err
		}},
		{"withdrawSupportRequest (R25)", func() error {
			r, err := svc.CreateRequest(ctx, account("sam.freelancer@outlook.com"), domain.CreateRequestInput{IdempotencyKey: "indexed-0000000003", PlanID: plan,
				ProductID: "azure", Portal: domain.PortalAzure, Type: domain.RequestBilling, Title: "indexed"})
			if err == nil {
				_, err = svc.WithdrawRequest(ctx, account("sam.freelancer@outlook.com"), r.ID)
			}
			return err
		}},
		{"auditTrail page", func() error {
			p, err := svc.AuditTrail(ctx, account("megan@contoso.com"), "contoso", 1, "")
			if err == nil && len(p.Events) > 0 {
				_, err = svc.AuditTrail(ctx, account("megan@contoso.com"), "contoso", 20, p.Events[0].ID)
			}
			return err
		}},
		{"supportRequests page", func() error {
			p, err := svc.Requests(ctx, account("sam.freelancer@outlook.com"), domain.PortalServicesHub, 1, nil)
			if err == nil && len(p.Requests) > 0 {
				c := domain.RequestCursor{CreatedAt: p.Requests[0].CreatedAt, ID: p.Requests[0].ID}
				_, err = svc.Requests(ctx, account("sam.freelancer@outlook.com"), domain.PortalAzure, 20, &c)
			}
			return err
		}},
		{"incidentLedger page", func() error {
			p, err := svc.Ledger(ctx, account("megan@contoso.com"), "contoso", 2, 0)
			if err == nil && len(p.Events) > 0 {
				_, err = svc.Ledger(ctx, account("megan@contoso.com"), "contoso", 20, p.Events[len(p.Events)-1].Seq)
			}
			return err
		}},
		{"feed poll", func() error { _, err := st.Events(ctx, "contoso", 3, 0, 500, false); return err }},
		{"feed's changed ledgers", func() error { _, err := st.ScopesChangedSince(ctx, time.Now().Add(-time.Minute)); return err }},
		{"restart: repair", func() error { clock.Advance(2 * time.Hour); return svc.Repair(ctx) }},
	}
	// The paged reads, each a find with its sort and limit, read in an index's order.
	paged := map[string]bool{"providerQueue, providerRequest, resolveSupportRequest (R25)": true, "auditTrail page": true,
		"supportRequests page": true, "incidentLedger page": true}
	for _, s := range steps {
		rec.take()
		rec.on.Store(true)
		err := s.run()
		rec.on.Store(false)
		require.NoError(t, err, s.name)
		cmds := rec.take()
		require.NotEmpty(t, cmds, "%s sent no read: the test no longer checks it", s.name)
		if paged[s.name] {
			require.True(t, slices.ContainsFunc(cmds, func(c bson.D) bool {
				return slices.ContainsFunc(c, func(e bson.E) bool { return e.Key == "limit" }) && slices.ContainsFunc(c, func(e bson.E) bool { return e.Key == "sort" })
			}), "%s sent no sorted, limited find: the test no longer checks its order", s.name)
		}
		for _, sc := range scans(t, st, cmds) {
			t.Errorf("%s scans: %s", s.name, sc)
		}
	}
}

// TestScansAreDetected checks that the check above can fail: a read on a field no index
// starts with is a scan, and the same read on an indexed field is not.
func TestScansAreDetected(t *testing.T) {
	var rec reads
	st, err := mongodb.Open(t.Context(), testenv.StoreURI(t), testenv.NewDatabaseName(), mongodb.Options{Monitor: rec.monitor()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	rec.on.Store(true)
	_, err = st.Database().Collection("requests").Find(t.Context(), bson.D{{Key: "title", Value: "x"}})
	require.NoError(t, err)
	require.Len(t, scans(t, st, rec.take()), 1, "a find by an unindexed field")
	_, err = st.Database().Collection("requests").Find(t.Context(), bson.D{{Key: "accountId", Value: "x"}, {Key: "title", Value: "x"}})
	require.NoError(t, err)
	require.Empty(t, scans(t, st, rec.take()), "a find by an indexed field")
	page := func(sort bson.D) []bson.D {
		_, err = st.Database().Collection("requests").Find(t.Context(), bson.D{{Key: "accountId", Value: "x"}}, options.Find().SetSort(sort).SetLimit(20))
		require.NoError(t, err)
		return rec.take()
	}
	require.Len(t, scans(t, st, page(bson.D{{Key: "title", Value: 1}})), 1, "a page sorted by a key no index orders")
	require.Empty(t, scans(t, st, page(bson.D{{Key: "createdAt", Value: -1}, {Key: "_id", Value: -1}})), "a page sorted by the index's next keys")
}

// The newest page of a ledger is read from a window of sequence numbers (below a saved
// head, which may be stale, or below the page's before), widened when the ledger has gaps:
// the same events as a read of the whole ledger, in the same order.
func TestEvents_NewestPagesReadAWindowAndAgreeWithTheWholeLedger(t *testing.T) {
	st, _ := openStore(t)
	ctx := t.Context()
	var seqs []int64
	for s := int64(1); s <= 120; s++ {
		if s > 60 && s < 90 {
			continue // a gap the windows must widen across
		}
		seqs = append(seqs, s)
		n, err := st.AppendEvents(ctx, []domain.Event{{ID: fmt.Sprintf("e%03d", s), TenantID: "t", Seq: s, Kind: domain.EventConsume, At: testenv.DemoNow}})
		require.NoError(t, err)
		require.Equal(t, 1, n)
	}
	want := func(after, before int64, limit int) []int64 {
		var out []int64
		for i := len(seqs) - 1; i >= 0 && len(out) < limit; i-- {
			if seqs[i] > after && (before == 0 || seqs[i] < before) {
				out = append(out, seqs[i])
			}
		}
		return out
	}
	check := func(name string, after, before int64, limit int) {
		t.Helper()
		es, err := st.Events(ctx, "t", after, before, limit, true)
		require.NoError(t, err)
		var got []int64
		for _, e := range es {
			got = append(got, e.Seq)
		}
		require.Equal(t, want(after, before, limit), got, name)
	}
	check("no head saved", 0, 0, 20)
	require.NoError(t, st.SaveLedgerHead(ctx, domain.LedgerHead{Scope: "t", Seq: 100})) // stale: the ledger is at 120
	check("first page below a stale head", 0, 0, 21)
	check("a page across the gap", 0, 95, 21)
	check("a page that ends at after", 50, 95, 21)
	check("the oldest page", 0, 12, 21)
	check("more than the ledger holds", 0, 0, 500)
	last, err := st.LastEvent(ctx, "t")
	require.NoError(t, err)
	require.EqualValues(t, 120, last.Seq)
}

// A long list of IDs is looked up in index searches of at most 500 (a longer $in would be
// a scan on the embedded store), and finds every one.
func TestAccounts_ALongListIsReadInIndexedChunks(t *testing.T) {
	var rec reads
	st, err := mongodb.Open(t.Context(), testenv.StoreURI(t), testenv.NewDatabaseName(), mongodb.Options{Monitor: rec.monitor()})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	var ids []string
	docs := make([]any, 0, 1100)
	for i := range 1100 {
		ids = append(ids, fmt.Sprintf("acct-%04d", i))
		docs = append(docs, bson.D{{Key: "_id", Value: ids[i]}, {Key: "email", Value: ids[i] + "@example.com"}})
	}
	_, err = st.Database().Collection("accounts").InsertMany(t.Context(), docs)
	require.NoError(t, err)
	rec.on.Store(true)
	got, err := st.Accounts(t.Context(), ids)
	rec.on.Store(false)
	require.NoError(t, err)
	require.Len(t, got, 1100)
	cmds := rec.take()
	require.Len(t, cmds, 3, "1,100 IDs in 3 finds")
	require.Empty(t, scans(t, st, cmds))
}
