package graph_test

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/testenv"
)

// R17, R18: front-line and partner-program requests are opened in the partner centre, a
// portal of its own, with no product; they never consume.

func partnerCenter(key, typ string) map[string]any {
	return map[string]any{"idempotencyKey": key, "portal": "PARTNER_CENTER", "type": typ, "title": "benefits question"}
}

func TestR17_PartnerCenterRequestsNeedNoProductAndNeverConsume(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, tailspinCore, joni)
	tok := e.Token(joni)
	for i, typ := range []string{"PARTNER_PROGRAM", "FRONT_LINE", "PARTNER_PROGRAM", "FRONT_LINE"} {
		r := create(t, e, tok, partnerCenter("pc-free-000"+string(rune('0'+i)), typ))
		require.Empty(t, r.UserErrors, typ)
		assert.False(t, r.Request.ConsumedIncident, typ)
		assert.Nil(t, r.Request.PlanID, typ)
		assert.Equal(t, "PARTNER_CENTER", r.Request.Portal)
	}
	var out struct {
		SupportRequests struct {
			Edges []struct {
				Node struct {
					ProductID *string
					Type      string
				}
			}
		}
	}
	e.Do(tok, `{ supportRequests(portal: PARTNER_CENTER) { edges { node { productId type } } } }`, nil).MustData(t, &out)
	require.Len(t, out.SupportRequests.Edges, 4)
	for _, ed := range out.SupportRequests.Edges {
		assert.Nil(t, ed.Node.ProductID, "no product (R17)")
	}
	assert.Equal(t, 2, remaining(t, e, tok, "tailspin", tailspinCore), "free and unlimited (R17)")
}

func TestR17_RequestsGoToThePortalOfTheirTypeWithOnlyTheFieldsThatApply(t *testing.T) {
	t.Parallel()
	e, _ := linkedEnv(t, tailspinCore, joni)
	tok := e.Token(joni)
	cases := []struct {
		name  string
		in    map[string]any
		code  string
		rule  string
		field string
	}{
		{"front line in Azure", map[string]any{"idempotencyKey": "pc-refuse-0001", "productId": "azure", "portal": "AZURE", "type": "FRONT_LINE", "title": "t"}, "INVALID", "R18", "portal"},
		{"partner program in Azure on a plan", map[string]any{"idempotencyKey": "pc-refuse-0002", "planId": tailspinCore, "productId": "azure", "portal": "AZURE", "type": "PARTNER_PROGRAM", "title": "t"}, "INVALID", "R18", "portal"},
		{"technical in the partner centre", map[string]any{"idempotencyKey": "pc-refuse-0003", "planId": tailspinCore, "productId": "azure", "portal": "PARTNER_CENTER", "type": "TECHNICAL", "title": "t"}, "INVALID", "R17", "type"},
		{"a product in the partner centre", map[string]any{"idempotencyKey": "pc-refuse-0004", "productId": "azure", "portal": "PARTNER_CENTER", "type": "FRONT_LINE", "title": "t"}, "FIELD_NOT_APPLICABLE", "R17", "productId"},
		{"a plan in the partner centre", map[string]any{"idempotencyKey": "pc-refuse-0005", "planId": tailspinCore, "portal": "PARTNER_CENTER", "type": "PARTNER_PROGRAM", "title": "t"}, "FIELD_NOT_APPLICABLE", "R17", "planId"},
		{"a version in the partner centre", map[string]any{"idempotencyKey": "pc-refuse-0006", "version": "1", "portal": "PARTNER_CENTER", "type": "PARTNER_PROGRAM", "title": "t"}, "FIELD_NOT_APPLICABLE", "R17", "version"},
		{"technical with no product", map[string]any{"idempotencyKey": "pc-refuse-0007", "planId": tailspinCore, "portal": "AZURE", "type": "TECHNICAL", "title": "t"}, "INVALID", "R8", "productId"},
	}
	for _, c := range cases {
		r := create(t, e, tok, c.in)
		require.Len(t, r.UserErrors, 1, c.name)
		u := r.UserErrors[0]
		assert.Equal(t, c.code, u.Code, c.name)
		require.NotNil(t, u.Rule, c.name)
		assert.Equal(t, c.rule, *u.Rule, c.name)
		assert.Equal(t, []string{c.field}, u.Field, c.name)
	}
	for _, p := range []string{"AZURE", "PARTNER_CENTER", "SERVICES_HUB"} {
		var out struct {
			SupportRequests struct{ Edges []struct{ Node request } }
		}
		e.Do(tok, `query($p: Portal!) { supportRequests(portal: $p) { edges { node { id } } } }`, map[string]any{"p": p}).MustData(t, &out)
		assert.Empty(t, out.SupportRequests.Edges, "nothing stored")
	}
	assert.Equal(t, 2, remaining(t, e, tok, "tailspin", tailspinCore))
}

func TestR18_ServicesHubListsFrontLineRequestsAndThePartnerCenterItsOwn(t *testing.T) {
	t.Parallel()
	e := testenv.New(t)
	cloud := activated(t, e, contosoSPDCloud)
	require.Empty(t, link(t, e, e.Token(lee), cloud, "AZURE", false).UserErrors)
	tok := e.Token(lee)
	az := create(t, e, tok, azureRequest("r18-pc-az-0001", contosoSPDCloud))
	fl := create(t, e, tok, partnerCenter("r18-pc-fl-0001", "FRONT_LINE"))
	pp := create(t, e, tok, partnerCenter("r18-pc-pp-0001", "PARTNER_PROGRAM"))
	for _, r := range []requestPayload{az, fl, pp} {
		require.Empty(t, r.UserErrors)
	}
	list := func(who, portal string) []string {
		var out struct {
			SupportRequests struct{ Edges []struct{ Node request } }
		}
		e.Do(e.Token(who), `query($p: Portal!) { supportRequests(portal: $p) { edges { node { id } } } }`, map[string]any{"p": portal}).MustData(t, &out)
		var ids []string
		for _, ed := range out.SupportRequests.Edges {
			ids = append(ids, ed.Node.ID)
		}
		return ids
	}
	// Newest first.
	assert.Equal(t, []string{pp.Request.ID, fl.Request.ID}, list(lee, "PARTNER_CENTER"), "the partner centre lists its own")
	assert.Equal(t, []string{fl.Request.ID, az.Request.ID}, list(lee, "SERVICES_HUB"),
		"the on-premises portal lists the requests tied to the account's plans and its front-line requests (R18)")
	assert.Equal(t, []string{az.Request.ID}, list(lee, "AZURE"))
	assert.Empty(t, list(megan, "PARTNER_CENTER"), "only the account's own")
	// Paging through a filtered list keeps its order and misses nothing.
	var page struct {
		SupportRequests struct {
			Edges    []struct{ Node request }
			PageInfo struct {
				HasNextPage bool
				EndCursor   string
			}
		}
	}
	e.Do(tok, `{ supportRequests(portal: SERVICES_HUB, first: 1) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`, nil).MustData(t, &page)
	require.True(t, page.SupportRequests.PageInfo.HasNextPage)
	e.Do(tok, `query($a: String) { supportRequests(portal: SERVICES_HUB, first: 1, after: $a) { edges { node { id } } pageInfo { hasNextPage endCursor } } }`,
		map[string]any{"a": page.SupportRequests.PageInfo.EndCursor}).MustData(t, &page)
	require.Len(t, page.SupportRequests.Edges, 1)
	assert.Equal(t, az.Request.ID, page.SupportRequests.Edges[0].Node.ID)
	assert.False(t, page.SupportRequests.PageInfo.HasNextPage)
}
