package domain

import (
	"strings"
	"testing"
	"unicode/utf8"
)

// Fuzz targets for the domain's parsers and validators of client input. Each refusal
// must be a coded *Error (never a panic, never an uncoded error), and whatever is
// accepted must be within the documented bounds.

func requireInvalid(t *testing.T, err error, field string) {
	t.Helper()
	e, ok := AsError(err)
	if !ok || e.Code != EINVALID {
		t.Fatalf("want a coded INVALID error, got %#v", err)
	}
	if field != "" && (len(e.Field) != 1 || e.Field[0] != field) {
		t.Fatalf("want the error about %q, got %v", field, e.Field)
	}
}

// FuzzValidIdempotencyKey: 8 to 128 of A-Z a-z 0-9 . _ : - and nothing else.
func FuzzValidIdempotencyKey(f *testing.F) {
	for _, k := range []string{"my-first-request-0001", "abcdefgh", "abcdefg", strings.Repeat("k", 128), strings.Repeat("k", 129),
		"with space0", "tab\tkey01", "nl-key-01\n", "ünïcödé-key", "key:with.all_-chars", "", "\x00\x00\x00\x00\x00\x00\x00\x00"} {
		f.Add(k)
	}
	f.Fuzz(func(t *testing.T, k string) {
		want := len(k) >= 8 && len(k) <= 128 && strings.IndexFunc(k, func(r rune) bool {
			return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || strings.ContainsRune("._:-", r))
		}) < 0
		if got := ValidIdempotencyKey(k); got != want {
			t.Fatalf("ValidIdempotencyKey(%q) = %v, want %v", k, got, want)
		}
	})
}

// FuzzCreateRequestInput: the validation of a new request refuses with a coded INVALID
// about one field, or accepts input within the bounds.
func FuzzCreateRequestInput(f *testing.F) {
	f.Add("my-first-request-0001", "plan", "azure", "", "AZURE", "TECHNICAL", "VM does not boot", "", "")
	f.Add("short", "", "azure", "", "AZURE", "TECHNICAL", "t", "", "")
	f.Add("partner-program-01", "", "azure", "", "AZURE", "PARTNER_PROGRAM", " ", "", "")
	f.Add("partner-centre-01", "", "", "", "PARTNER_CENTER", "FRONT_LINE", "benefits question", "", "")
	f.Add("bidi-title-key-01", "p", "azure", "", "AZURE", "TECHNICAL", "abc\u202edef", "", "")
	f.Add("ctl-version-key-1", "p", "sql-server", "SQL\x00Server", "SERVICES_HUB", "TECHNICAL", "t", "", "")
	f.Add("bad-portal-key-01", "p", "windows-server", "Windows Server 2019", "NOWHERE", "TECHNICAL", "t", "", "")
	f.Add("bad-type-key-0001", "p", "azure", "", "AZURE", "technical", "t", "", "")
	f.Add("utf8-key-00000001", "p", "azure", "", "AZURE", "BILLING", "\xff\xfe", "\xc3", "")
	f.Add("long-title-key-01", "p", "azure", "", "AZURE", "QUOTA", strings.Repeat("é", 201), "", "")
	f.Fuzz(func(t *testing.T, key, plan, product, version, portal, typ, title, description, customer string) {
		in := CreateRequestInput{IdempotencyKey: key, PlanID: plan, ProductID: product, Version: version, Portal: Portal(portal),
			Type: RequestType(typ), Title: title, Description: description, CustomerID: customer}
		err := in.Validate()
		if err != nil {
			e, ok := AsError(err)
			if !ok || (e.Code != EINVALID && e.Code != EUNSAFETEXT && e.Code != EFIELDNOTAPPLY) || len(e.Field) == 0 && e.Code != EINVALID {
				t.Fatalf("want a coded INVALID, UNSAFE_TEXT or FIELD_NOT_APPLICABLE error about a field, got %#v", err)
			}
			return
		}
		for _, v := range []string{title, description, version, customer, product, plan} {
			if CheckText("f", v, true) != nil {
				t.Fatalf("accepted unsafe text %q", v)
			}
		}
		if RequestType(typ).Free() != (Portal(portal) == PortalPartnerCenter) {
			t.Fatal("accepted a request in the wrong portal for its type (R17, R18)")
		}
		tt := strings.TrimSpace(title)
		switch {
		case !ValidIdempotencyKey(key), !Portal(portal).Valid(), !RequestType(typ).Valid():
			t.Fatal("accepted an invalid key, portal or type")
		case tt == "" || utf8.RuneCountInString(tt) > 200 || !utf8.ValidString(title) || !utf8.ValidString(description):
			t.Fatalf("accepted title %q", title)
		case utf8.RuneCountInString(description) > 10000:
			t.Fatal("accepted an oversized description")
		case !RequestType(typ).Free() && plan == "":
			t.Fatal("accepted a paid request without a plan")
		case len(plan) > 200 || len(customer) > 200 || len(product) > 200 || len(version) > 100:
			t.Fatal("accepted an oversized identifier")
		}
	})
}

// FuzzCheckFirst: a page size is 1 to MaxPage.
func FuzzCheckFirst(f *testing.F) {
	for _, n := range []int{-1 << 31, -1, 0, 1, 20, 100, 101, 100000, 1<<31 - 1} {
		f.Add(n)
	}
	f.Fuzz(func(t *testing.T, n int) {
		err := CheckFirst(n)
		if ok := n >= 1 && n <= MaxPage; ok != (err == nil) {
			t.Fatalf("CheckFirst(%d) = %v", n, err)
		}
		if err != nil {
			requireInvalid(t, err, "first")
		}
	})
}
