package graph_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"io"
	"net/http"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/auth"
	"github.com/partnersupport/api/internal/testenv"
)

func TestAutomaticPersistedQueries(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	q := `{ offers { id } }`
	sum := sha256.Sum256([]byte(q))
	ext := map[string]any{"persistedQuery": map[string]any{"version": 1, "sha256Hash": hex.EncodeToString(sum[:])}}
	post := func(body map[string]any) (int, map[string]any) {
		b, _ := json.Marshal(body)
		resp, err := http.Post(e.Server.URL+"/query", "application/json", bytes.NewReader(b))
		require.NoError(t, err)
		defer resp.Body.Close()
		var out map[string]any
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&out))
		return resp.StatusCode, out
	}
	_, out := post(map[string]any{"extensions": ext})
	assert.Contains(t, fmtJSON(out), "PersistedQueryNotFound", "the hash alone is unknown at first")
	_, out = post(map[string]any{"query": q, "extensions": ext})
	assert.NotContains(t, fmtJSON(out), "errors")
	_, out = post(map[string]any{"extensions": ext})
	assert.Contains(t, fmtJSON(out), `"offers"`, "then the hash alone runs the query")
}

func fmtJSON(v any) string { b, _ := json.Marshal(v); return string(b) }

func TestFirstSignInCreatesTheAccountFromTheToken(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tok := e.Token("new.person@outlook.com", auth.KindMSA)
	var out struct {
		Viewer struct {
			ID, Email, Kind string
			Memberships     []any
		}
	}
	e.Do(tok, `{ viewer { id email kind memberships { roles } } }`, nil).MustData(t, &out)
	assert.Equal(t, "new.person@outlook.com", out.Viewer.Email)
	assert.Equal(t, "MSA", out.Viewer.Kind, "the kind comes from the token")
	assert.Empty(t, out.Viewer.Memberships)
	var again struct{ Viewer struct{ ID string } }
	e.Do(tok, `{ viewer { id } }`, nil).MustData(t, &again)
	assert.Equal(t, out.Viewer.ID, again.Viewer.ID, "the same account next time")
}

func TestInternalErrorsAreLoggedNotShown(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	tok := e.Token(lee)
	// A document the store cannot decode into a held offer makes the read fail inside.
	e.CorruptHeldOffer(t, "contoso")
	r := e.Do(tok, `{ tenant(id: "contoso") { benefits { id } } }`, nil)
	require.NotEmpty(t, r.Errors)
	assert.Equal(t, "internal error", r.Errors[0].Message)
	assert.Equal(t, "INTERNAL", r.Errors[0].Code())
	assert.NotContains(t, fmtJSON(r.Errors), "periodStart", "no internal detail reaches the client")
	assert.True(t, strings.Contains(e.LogText(), "internal error") && strings.Contains(e.LogText(), "held offers"), "the detail is logged")
}

func TestMetricsNameOperationsByRootFieldsNeverByClientNames(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	e.Do("", `query ABCDEFGHIJKLMNOPQRSTUVWXYZ234567 { offers { id } products { id } }`, nil).MustData(t, &map[string]any{})
	resp, err := http.Get(e.Server.URL + "/metrics")
	require.NoError(t, err)
	defer resp.Body.Close()
	var b strings.Builder
	_, _ = io.Copy(&b, resp.Body)
	assert.Contains(t, b.String(), `graphql_requests_total{operation="offers+products",outcome="ok",type="query"}`)
	assert.NotContains(t, b.String(), "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", "a client-chosen name never becomes a label")
}
