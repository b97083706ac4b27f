package mongodb_test

import (
	"fmt"
	"testing"
	"time"

	"github.com/FerretDB/FerretDB/ferretdb"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/testenv"
)

// decodedBy returns how many stored documents the embedded store decodes for read: every
// row SQLite returns to FerretDB is decoded before FerretDB filters it, so this is what
// the read visits. Other tests' leftover background work can only add to the count, so
// the fewest of three runs is taken.
func decodedBy(t *testing.T, read func() int) (decoded int64, got int) {
	t.Helper()
	decoded = -1
	for range 3 {
		before := ferretdb.DecodedDocuments()
		got = read()
		if n := ferretdb.DecodedDocuments() - before; decoded < 0 || n < decoded {
			decoded = n
		}
	}
	return decoded, got
}

// TestPages_ReadOnlyTheirPage: the request and ledger pages of an account and a tenant
// holding 200 requests (each closed, every other one refunded) and 200 ledger events
// decode about one page of rows, not the account's or tenant's whole history (issue 13):
// the store sorts and limits in the index's order, and the closures and refunds are
// looked up for the page's requests only. Without the sort and limit pushed down
// (third_party/ferretdb/PATCHES.md, 5 and 6) each read decodes all 200 rows or more.
func TestPages_ReadOnlyTheirPage(t *testing.T) {
	if testenv.StoreDir() == "" {
		t.Skip("counts what the embedded store decodes; TEST_MONGODB_URI is another store")
	}
	st, _ := openStore(t)
	ctx := t.Context()
	const (
		n     = 200
		first = 20
		limit = first + 1 // what the service asks for: one more tells whether more follow
	)
	at := testenv.DemoNow
	var events []domain.Event
	for i := range n {
		r := domain.SupportRequest{ID: fmt.Sprintf("req-%04d", i), AccountID: "acct-pages", TenantID: "tpages", PlanID: "plan", BenefitID: "plan",
			Portal: domain.PortalAzure, ProductID: "azure", Type: domain.RequestTechnical, Title: "page", IdempotencyKey: fmt.Sprintf("key-%04d", i),
			Fingerprint: "fp", Consumed: true, CreatedAt: at.Add(time.Duration(i) * time.Minute)}
		require.NoError(t, st.InsertRequest(ctx, r))
		require.NoError(t, st.InsertClosure(ctx, domain.Closure{RequestID: r.ID, TenantID: "tpages", Reason: domain.CloseDuplicate, By: "provider", At: r.CreatedAt}))
		if i%2 == 0 {
			require.NoError(t, st.InsertRefund(ctx, domain.Refund{RequestID: r.ID, TenantID: "tpages", BenefitID: "plan", Reason: domain.CloseDuplicate, By: "provider", At: r.CreatedAt}))
		}
		events = append(events, domain.Event{ID: fmt.Sprintf("e%04d", i), TenantID: "tpages", Seq: int64(i + 1), Kind: domain.EventConsume, RequestID: r.ID, At: r.CreatedAt})
	}
	stored, err := st.AppendEvents(ctx, events)
	require.NoError(t, err)
	require.Equal(t, n, stored)

	// A page of requests: limit requests, and the closures and refunds of those; the
	// sorted read may decode one row past its last.
	decoded, got := decodedBy(t, func() int {
		rs, err := st.Requests(ctx, "acct-pages", "", nil, limit)
		require.NoError(t, err)
		require.Equal(t, fmt.Sprintf("req-%04d", n-1), rs[0].ID, "newest first")
		require.NotNil(t, rs[0].Closure)
		return len(rs)
	})
	require.Equal(t, limit, got)
	require.LessOrEqual(t, decoded, int64(limit+1+limit+(limit+1)/2), "the first page of requests decoded %d documents", decoded)

	// The next page, after a cursor, the same.
	decoded, got = decodedBy(t, func() int {
		rs, err := st.Requests(ctx, "acct-pages", "", &domain.RequestCursor{CreatedAt: at.Add(100 * time.Minute), ID: "req-0100"}, limit)
		require.NoError(t, err)
		require.Equal(t, "req-0099", rs[0].ID)
		return len(rs)
	})
	require.Equal(t, limit, got)
	require.LessOrEqual(t, decoded, int64(limit+1+limit+(limit+1)/2), "a later page of requests decoded %d documents", decoded)

	// The newest page of the ledger: limit events and the saved head, if any.
	decoded, got = decodedBy(t, func() int {
		es, err := st.Events(ctx, "tpages", 0, 0, limit, true)
		require.NoError(t, err)
		require.Equal(t, int64(n), es[0].Seq, "newest first")
		return len(es)
	})
	require.Equal(t, limit, got)
	require.LessOrEqual(t, decoded, int64(limit+2), "the newest ledger page decoded %d documents", decoded)

	// An older page, before a sequence number.
	decoded, got = decodedBy(t, func() int {
		es, err := st.Events(ctx, "tpages", 0, 101, limit, true)
		require.NoError(t, err)
		require.Equal(t, int64(100), es[0].Seq)
		return len(es)
	})
	require.Equal(t, limit, got)
	require.LessOrEqual(t, decoded, int64(limit+2), "an older ledger page decoded %d documents", decoded)
}
