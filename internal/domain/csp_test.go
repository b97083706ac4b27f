package domain

import (
	"slices"
	"testing"
	"time"
)

func TestR14_CSPReasons(t *testing.T) {
	agent := Membership{Roles: []Role{RoleAdminAgent}}
	for _, c := range []struct {
		name    string
		t       Tenant
		product Product
		m       Membership
		want    []ReasonCode
	}{
		{"a direct-bill partner's admin agent, Azure", Tenant{CSP: CSPDirectBill}, azure, agent, nil},
		{"an indirect provider's admin agent, Azure", Tenant{CSP: CSPIndirectProvider}, azure, agent, nil},
		{"an indirect reseller", Tenant{CSP: CSPIndirectReseller, IndirectProvider: "p"}, azure, agent, []ReasonCode{ReasonCSPReseller}},
		{"not Azure", Tenant{CSP: CSPDirectBill}, windowsServer, agent, []ReasonCode{ReasonCSPNotAzure}},
		{"no admin-agent role", Tenant{CSP: CSPDirectBill}, azure, Membership{Roles: []Role{RolePartnerAdmin}}, []ReasonCode{ReasonCSPNoRole}},
	} {
		var got []ReasonCode
		for _, r := range CSPReasons(c.t, "Provider", c.product, c.m) {
			got = append(got, r.Code)
			if r.Rule != "R14" {
				t.Errorf("%s: cites %s", c.name, r.Rule)
			}
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: %v, want %v", c.name, got, c.want)
		}
	}
}

func TestR14_GDAPAllows(t *testing.T) {
	expires := date(2026, 9, 1)
	gdap := func(partner string, active bool, roles ...string) GDAP {
		return GDAP{Partner: partner, Active: active, Roles: roles, ExpiresAt: expires}
	}
	for _, c := range []struct {
		name string
		cu   *Customer
		now  time.Time
		ok   bool
	}{
		{"an active relationship granting the role", &Customer{Partner: "p", GDAP: []GDAP{gdap("p", true, GDAPSupportRole)}}, planNow, true},
		{"related by GDAP only", &Customer{Partner: "other", GDAP: []GDAP{gdap("p", true, "Reader", GDAPSupportRole)}}, planNow, true},
		{"at its expiry", &Customer{Partner: "p", GDAP: []GDAP{gdap("p", true, GDAPSupportRole)}}, expires, false},
		{"inactive", &Customer{Partner: "p", GDAP: []GDAP{gdap("p", false, GDAPSupportRole)}}, planNow, false},
		{"without the role", &Customer{Partner: "p", GDAP: []GDAP{gdap("p", true, "Reader")}}, planNow, false},
		{"another partner's relationship", &Customer{Partner: "p", GDAP: []GDAP{gdap("q", true, GDAPSupportRole)}}, planNow, false},
		{"the partner's own customer with no GDAP", &Customer{Partner: "p"}, planNow, false},
		{"not related at all", &Customer{Partner: "q"}, planNow, false},
		{"an unknown customer", nil, planNow, false},
	} {
		err := GDAPAllows(c.cu, "p", c.now)
		if (err == nil) != c.ok || (err != nil && ErrorCode(err) != ECSPREFUSED) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}
