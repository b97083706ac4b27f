package testenv

import (
	"bytes"
	"encoding/json"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// This file holds everything an end-to-end test may do besides asking the API: one round
// of the server's upkeep, and the few stored states the API cannot produce or show, each
// in a helper named for what it simulates. Tests of the API (graph/) use these instead of
// the store, so that they test what a client sees.

// Upkeep runs one round of what the server's timer does (app.Maintain, every minute by
// default): the sweep that records expiries, caps and due reminders (R19, R24) for the
// time on the test's clock. A test moves the clock, then calls Upkeep where a server
// would have ticked.
func (e *Env) Upkeep(t testing.TB) {
	t.Helper()
	require.NoError(t, e.App.Service.Sweep(t.Context()))
}

// CorruptHeldOffer replaces the tenant's held offers with one document the store adapter
// cannot decode (a periodStart that is not a date), as a failed migration or a bad manual
// edit would leave. The API never writes one, so a test of how the service answers an
// internal failure creates it here.
func (e *Env) CorruptHeldOffer(t testing.TB, tenant string) {
	t.Helper()
	c := e.App.Store.Database().Collection("heldOffers")
	require.NoError(t, c.Drop(t.Context()))
	_, err := c.InsertOne(t.Context(), map[string]any{"_id": "x", "tenantId": tenant, "periodStart": "not a date"})
	require.NoError(t, err)
}

// LegacyClosure closes the request (its key) as closeSupportRequest wrote a partner's
// closure before R25: a closure by "legacy" with the reason the partner gave, such as BUG.
// Since R25 only the support provider resolves with such a reason, so the API can no
// longer write it; a database migrated from before R25 holds it.
func (e *Env) LegacyClosure(t testing.TB, tenant, requestKey, reason string, at time.Time) {
	t.Helper()
	_, err := e.App.Store.Database().Collection("closures").InsertOne(t.Context(),
		map[string]any{"_id": requestKey, "tenantId": tenant, "reason": reason, "by": "legacy", "at": at})
	require.NoError(t, err)
}

// StoredDocuments counts the documents of every collection but the audit trail: a refused
// operation must write nothing (its audit entry excepted), anywhere, and no API shows
// every collection (the outbox, claims and idempotency keys are internal).
func (e *Env) StoredDocuments(t testing.TB) map[string]int64 {
	t.Helper()
	db := e.App.Store.Database()
	names, err := db.ListCollectionNames(t.Context(), map[string]any{})
	require.NoError(t, err)
	out := map[string]int64{}
	for _, n := range names {
		if n == "audit" {
			continue
		}
		c, err := db.Collection(n).CountDocuments(t.Context(), map[string]any{})
		require.NoError(t, err)
		out[n] = c
	}
	return out
}

// CollectionsHolding names the collections with a document whose JSON contains any of the
// values: what a copy of the database at rest discloses of a secret, which no API shows.
func (e *Env) CollectionsHolding(t testing.TB, values ...string) []string {
	t.Helper()
	db := e.App.Store.Database()
	names, err := db.ListCollectionNames(t.Context(), map[string]any{})
	require.NoError(t, err)
	holding := []string{}
	for _, name := range names {
		cur, err := db.Collection(name).Find(t.Context(), map[string]any{})
		require.NoError(t, err)
		var docs []map[string]any
		require.NoError(t, cur.All(t.Context(), &docs))
		var buf bytes.Buffer
		require.NoError(t, json.NewEncoder(&buf).Encode(docs))
		for _, v := range values {
			if strings.Contains(buf.String(), v) {
				holding = append(holding, name)
				break
			}
		}
	}
	return holding
}
