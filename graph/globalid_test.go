package graph

import (
	"encoding/base64"
	"strings"
	"testing"
	"unicode/utf8"

	"github.com/stretchr/testify/assert"
)

func TestGlobalID_RoundTripsAndRefusesWhatIsMalformed(t *testing.T) {
	t.Parallel()
	for typ := range nodeTypes {
		for _, key := range []string{"contoso", "contoso.solutions_partner_designation.20260901.cloud_support", "req_abc", "contoso/acc_x", "csp:contoso", "a:b:c", "Ünïcödé"} {
			id := globalID(typ, key)
			gotTyp, gotKey, ok := parseGlobalID(id)
			assert.True(t, ok, id)
			assert.Equal(t, typ, gotTyp)
			assert.Equal(t, key, gotKey)
			assert.Equal(t, key, argKey(id, typ), "an argument of the type takes the ID")
			assert.Equal(t, key, argKey(key, typ), "and the key (legacy)")
		}
	}
	enc := func(s string) string { return base64.RawURLEncoding.EncodeToString([]byte(s)) }
	for _, bad := range []string{"", "contoso", "=", globalID(typeTenant, "contoso") + "=", enc("v1:Tenant:contoso") + "A",
		enc("v0:Tenant:contoso"), enc("v1:Membership:contoso"), enc("v1:Tenant:"), enc("v1:Tenant"), enc("v1::contoso"),
		enc("v1:Tenant:a\x00b"), enc("v1:Tenant:a\nb"), enc("v1:Tenant:\xff"), strings.Repeat("A", maxGlobalID+1)} {
		_, _, ok := parseGlobalID(bad)
		assert.False(t, ok, "%.60q", bad)
		assert.Equal(t, bad, argKey(bad, typeTenant), "passed on as it is: it names nothing")
	}
	// Another type's ID names no key of this type.
	tenant := globalID(typeTenant, "contoso")
	assert.Equal(t, tenant, argKey(tenant, typeProduct))
	// Types never share an ID, nor a request's two views.
	assert.NotEqual(t, globalID(typeSupportRequest, "req_a"), globalID(typeProviderRequest, "req_a"))
	assert.NotEqual(t, globalID(typeBenefit, "x.y.z"), globalID(typeSupportPlan, "x.y.z"))
}

// FuzzParseGlobalID: whatever a client sends, a global ID is a known type and a clean key
// that encode back to exactly the ID sent (one spelling per object), or it is refused.
func FuzzParseGlobalID(f *testing.F) {
	for _, s := range []string{globalID(typeTenant, "contoso"), globalID(typeTenantUser, "contoso/acc_x"), "", "contoso", "djE6"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		typ, key, ok := parseGlobalID(s)
		if !ok {
			return
		}
		if _, known := nodeTypes[typ]; !known || key == "" || !utf8.ValidString(key) {
			t.Fatalf("%q: parsed to %q %q", s, typ, key)
		}
		if globalID(typ, key) != s {
			t.Fatalf("%q parsed to %q %q, which encode to %q", s, typ, key, globalID(typ, key))
		}
	})
}
