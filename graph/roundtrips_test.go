package graph_test

import (
	"bufio"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// storeTrips is the server's store_roundtrips_total, over every command and outcome.
func storeTrips(t *testing.T, e *testenv.Env) float64 {
	t.Helper()
	var sum float64
	sc := bufio.NewScanner(strings.NewReader(rawGet(t, e, "/metrics")))
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, "store_roundtrips_total{") {
			continue
		}
		v, err := strconv.ParseFloat(line[strings.LastIndexByte(line, ' ')+1:], 64)
		require.NoError(t, err, line)
		sum += v
	}
	require.NoError(t, sc.Err())
	return sum
}

// tripsOf is the store round trips one query costs once the service's short-lived cache
// holds what it keeps (the query ran before): the fewest of three runs, as a background
// job's command can only add to a run.
func tripsOf(t *testing.T, e *testenv.Env, token, query string) int {
	t.Helper()
	e.Do(token, query, nil).MustData(t, &struct{}{})
	best := -1
	for range 3 {
		before := storeTrips(t, e)
		e.Do(token, query, nil).MustData(t, &struct{}{})
		n := int(storeTrips(t, e) - before)
		if best < 0 || n < best {
			best = n
		}
	}
	return best
}

// TestRoundTrips_SiblingFieldsShareOneLoadOfTheTenant: the fields of one query that need
// the same tenant state (benefits and reminders (R19), hasActiveOffer and
// benefitsNotice (R5)) read it once per request, so a query costs the store round trips
// of its most expensive field, not their sum.
func TestRoundTrips_SiblingFieldsShareOneLoadOfTheTenant(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	token := e.Token(megan)

	for _, c := range []struct {
		name   string
		shape  string // the query, with %s where the fields go
		fields []string
	}{
		{"tenant", `{ tenant(id: "contoso") { %s } }`, []string{
			`benefits { id incidents { remaining } }`,
			`reminders { kind benefitId }`,
		}},
		{"viewer memberships", `{ viewer { memberships { tenant { %s } } } }`, []string{
			`benefits { id incidents { remaining } }`,
			`reminders { kind benefitId }`,
			`hasActiveOffer`,
			`benefitsNotice`,
		}},
	} {
		t.Run(c.name, func(t *testing.T) {
			most := 0
			for _, f := range c.fields {
				n := tripsOf(t, e, token, strings.Replace(c.shape, "%s", f, 1))
				t.Logf("%s alone: %d round trips", f, n)
				most = max(most, n)
			}
			all := tripsOf(t, e, token, strings.Replace(c.shape, "%s", strings.Join(c.fields, " "), 1))
			t.Logf("all %d fields: %d round trips", len(c.fields), all)
			require.Equal(t, most, all, "the query costs more than its most expensive field: sibling fields load the same state again")
		})
	}
}
