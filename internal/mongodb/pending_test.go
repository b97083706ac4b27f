package mongodb_test

import (
	"context"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/mongodb"
	"github.com/partnersupport/api/internal/testenv"
)

// HasPendingEvents says whether a scope's outbox holds an event, whatever other scopes
// hold, and no longer once the event is dropped (an activation appends its event
// straight to the ledger only when it says no).
func TestHasPendingEvents_OneScopesOutbox(t *testing.T) {
	ctx := context.Background()
	st, err := mongodb.Open(ctx, testenv.StoreURI(t), testenv.NewDatabaseName(), mongodb.Options{})
	require.NoError(t, err)
	t.Cleanup(func() { _ = st.Database().Drop(context.Background()); _ = st.Close(context.Background()) })
	has := func(scope string) bool {
		t.Helper()
		ok, err := st.HasPendingEvents(ctx, scope)
		require.NoError(t, err)
		return ok
	}
	assert.False(t, has("a"), "an empty outbox")
	for _, e := range []domain.Event{
		{ID: "e1", TenantID: "a", Kind: domain.EventConsume, At: testenv.DemoNow},
		{ID: "e2", TenantID: "a", Kind: domain.EventConsume, At: testenv.DemoNow},
		{ID: "e1", TenantID: "ab", Kind: domain.EventConsume, At: testenv.DemoNow},
	} {
		require.NoError(t, st.RecordEvent(ctx, e))
	}
	assert.True(t, has("a"))
	assert.True(t, has("ab"))
	assert.False(t, has("b"), "another scope's events are not this one's")
	require.NoError(t, st.DropPending(ctx, "a", "e1"))
	assert.True(t, has("a"), "one event left")
	require.NoError(t, st.DropPending(ctx, "a", "e2"))
	assert.False(t, has("a"), "none left")
	assert.True(t, has("ab"))
}
