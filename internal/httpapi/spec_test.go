package httpapi_test

import (
	"net/http"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/config"
	"github.com/partnersupport/api/internal/testenv"
)

// TestDeferIsNeitherAdvertisedNorRun: incremental delivery is not offered, so @defer is not
// in introspection and a query that uses it is refused by validation, whole: nothing runs,
// no field answers null for a part that never comes.
func TestDeferIsNeitherAdvertisedNorRun(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	r := postJSON(t, e, "", `{ __schema { directives { name } } }`, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.NotContains(t, r.Body, `"defer"`)
	assert.NotContains(t, r.Body, `"stream"`)
	assert.Contains(t, r.Body, `"skip"`, "the directives are listed")

	r = postJSON(t, e, e.Token(lee), `{ viewer { email ... @defer { memberships { roles } } } }`, nil)
	assert.Equal(t, http.StatusBadRequest, r.Status, r.Body)
	assert.Equal(t, `Unknown directive "@defer".`, r.only(t).Message)
	assert.NotContains(t, r.Body, `"data"`, "nothing ran")
}

// TestNoFieldSuggestionsWithoutIntrospection: with introspection off, a misspelled field
// is refused without "Did you mean", which would give the schema away name by name.
func TestNoFieldSuggestionsWithoutIntrospection(t *testing.T) {
	t.Parallel()
	on := testenv.New(t)
	r := postJSON(t, on, "", `{ tenan(id: "contoso") { id } }`, nil)
	assert.Contains(t, r.only(t).Message, `Did you mean "tenant"?`, "with introspection on, suggestions help")

	off := testenv.New(t, func(c *config.Config) { c.Introspection = false })
	for _, q := range []string{`{ tenan(id: "contoso") { id } }`, `{ viewer { emial } }`, `{ supportPlans(productId: "azure", portal: AZUR) { available { id } } }`} {
		r := postJSON(t, off, "", q, nil)
		require.Equal(t, http.StatusBadRequest, r.Status, r.Body)
		assert.NotContains(t, r.Body, "Did you mean", q)
	}
}

// TestTimeIsSpecifiedByRFC3339: generated clients (genqlient, graphql-codegen) learn from
// introspection what Time is.
func TestTimeIsSpecifiedByRFC3339(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	r := postJSON(t, e, "", `{ __type(name: "Time") { kind specifiedByURL } }`, nil)
	require.Equal(t, http.StatusOK, r.Status, r.Body)
	assert.JSONEq(t, `{"data":{"__type":{"kind":"SCALAR","specifiedByURL":"https://www.rfc-editor.org/rfc/rfc3339"}}}`, r.Body)
}
