package graph_test

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// Security findings 1 and 3 of the outside attack battery (SECURITY.md).

// TestFinding1_BalanceStreamHidesWhoAndWhichFromNonAdmins: the tenant ledger's who and
// which (actorId, requestId, a request's type or outcome as cause) reach the tenant's
// admins only, on the replay and live alike. lee (USER), adele (ADMIN_AGENT), sam (an
// outside user who linked) and the support provider see balances change, nothing more.
func TestFinding1_BalanceStreamHidesWhoAndWhichFromNonAdmins(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	c := activated(t, e, contosoSPDCloud) // ACTIVATE, by megan
	for _, w := range []string{lee, sam} {
		require.Empty(t, link(t, e, e.Token(w), c, "AZURE", false).UserErrors)
	}
	tokens := map[string]string{megan: e.Token(megan), lee: e.Token(lee), adele: e.Token(adele), sam: e.Token(sam), provider: e.ProviderToken(acme)}
	viewers := []string{megan, lee, adele, sam, provider}

	live := map[string]func() (balanceEvent, []testenv.Error){}
	for _, who := range viewers {
		_, next := subscribe(t, e, testenv.TransportWS, tokens[who], "contoso", nil)
		live[who] = next
	}
	joined(t, e, len(viewers))
	r := create(t, e, tokens[lee], azureRequest("finding1-0001", contosoSPDCloud)) // CONSUME, by lee
	require.Empty(t, r.UserErrors)
	require.Empty(t, resolve(t, e, tokens[provider], r.Request.ID, "DUPLICATE").UserErrors) // REFUND, by the provider

	// readUntilRefund reads a stream's events of the plan up to its refund.
	readUntilRefund := func(next func() (balanceEvent, []testenv.Error)) []balanceEvent {
		var evs []balanceEvent
		for {
			ev := nextFor(t, next, contosoSPDCloud)
			evs = append(evs, ev)
			if ev.Kind == "REFUND" {
				return evs
			}
		}
	}
	check := func(path, who string, evs []balanceEvent) {
		admin := who == megan
		kinds := map[string]bool{}
		for _, ev := range evs {
			kinds[ev.Kind] = true
			require.NotNil(t, ev.Remaining, "%s %s: balances are seen by all", path, who)
			if admin {
				continue
			}
			assert.Nil(t, ev.ActorID, "%s %s: no who on %s", path, who, ev.Kind)
			assert.Nil(t, ev.RequestID, "%s %s: no which on %s", path, who, ev.Kind)
			if ev.Kind == "CONSUME" || ev.Kind == "REFUND" {
				assert.Nil(t, ev.Cause, "%s %s: no request type or outcome on %s", path, who, ev.Kind)
			}
		}
		assert.True(t, kinds["CONSUME"] && kinds["REFUND"], "%s %s saw the consumption and the refund: %v", path, who, kinds)
		if admin {
			last := evs[len(evs)-1]
			require.NotNil(t, last.RequestID, "%s: the admin sees which request", path)
			assert.Equal(t, r.Request.ID, *last.RequestID)
			require.NotNil(t, last.ActorID, "%s: and who", path)
			require.NotNil(t, last.Cause)
			assert.Equal(t, "DUPLICATE", *last.Cause)
		}
	}
	for _, who := range viewers {
		check("live", who, readUntilRefund(live[who]))
	}
	s0 := "s0"
	for _, who := range viewers {
		ws, next := subscribe(t, e, testenv.TransportWS, tokens[who], "contoso", &s0)
		evs := readUntilRefund(next)
		check("replay", who, evs)
		if who != megan {
			for _, ev := range evs {
				if ev.Kind == "ACTIVATE" {
					assert.Nil(t, ev.ActorID, "replay %s: who activated is the admins' to see", who)
				}
			}
		}
		ws.Conn.CloseNow()
	}
}

// TestFinding3_FreeTextAndFieldsThatDoNotApplyAreRefusedAndNothingIsStored.
func TestFinding3_FreeTextAndFieldsThatDoNotApplyAreRefusedAndNothingIsStored(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, contosoSPDCloud, lee)
	tok := e.Token(lee)
	before := e.StoredDocuments(t)
	onprem := map[string]any{"planId": contosoSPDOnPrem, "productId": "sql-server", "version": "SQL Server 2022", "portal": "SERVICES_HUB", "type": "TECHNICAL", "title": "sql"}
	cases := []struct {
		name, field, code, value string
		base                     map[string]any
	}{
		{"NUL in the title", "title", "UNSAFE_TEXT", "VM\x00 does not boot", nil},
		{"BEL in the title", "title", "UNSAFE_TEXT", "VM\a", nil},
		{"ESC in the title", "title", "UNSAFE_TEXT", "\x1b[2J VM", nil},
		{"CR/LF in the title", "title", "UNSAFE_TEXT", "VM\r\nX-Injected: 1", nil},
		{"a right-to-left override in the title", "title", "UNSAFE_TEXT", "invoice\u202egnp.exe", nil},
		{"an isolate in the description", "description", "UNSAFE_TEXT", "steps \u2066hidden\u2069", nil},
		{"a C1 control in the description", "description", "UNSAFE_TEXT", "next\u0085line", nil},
		{"a control in the customer", "customerId", "UNSAFE_TEXT", "cust\x07", nil},
		{"a customer on a non-CSP request", "customerId", "FIELD_NOT_APPLICABLE", "<script>alert(1)</script>", nil},
		{"a version on Azure", "version", "FIELD_NOT_APPLICABLE", "2019", nil},
		{"a control in a version", "version", "UNSAFE_TEXT", "SQL Server 2022\x00", onprem},
	}
	for i, c := range cases {
		in := azureRequest("finding3-"+strings.Repeat("0", 3)+string(rune('a'+i)), contosoSPDCloud)
		for k, v := range c.base {
			in[k] = v
		}
		in[c.field] = c.value
		p := create(t, e, tok, in)
		require.Len(t, p.UserErrors, 1, c.name)
		assert.Equal(t, c.code, p.UserErrors[0].Code, c.name)
		assert.Equal(t, []string{c.field}, p.UserErrors[0].Field, "%s: the error names the field", c.name)
		assert.Nil(t, p.Request, c.name)
	}
	assert.Equal(t, before, e.StoredDocuments(t), "nothing was stored")
	assert.Equal(t, 50, remaining(t, e, tok, "contoso", contosoSPDCloud))
	// Multi-line text is a description's: line feeds and tabs are kept.
	in := azureRequest("finding3-ok-0001", contosoSPDCloud)
	in["description"] = "1. start the VM\n2.\twait"
	require.Empty(t, create(t, e, tok, in).UserErrors)
}
