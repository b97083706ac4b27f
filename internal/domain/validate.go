package domain

import (
	"strings"
	"unicode/utf8"
)

// unsafeRune reports whether r has no place in text a client stores (security finding 3):
// a C0 control character (U+0000..U+001F), DEL (U+007F), a C1 control character
// (U+0080..U+009F), or a bidirectional embedding, override or isolate (U+202A..U+202E,
// U+2066..U+2069), which can make text read differently from what it is ("Trojan
// Source"). A multi-line field (a description) may hold line feeds and tabs.
func unsafeRune(r rune, multiline bool) bool {
	switch {
	case multiline && (r == '\n' || r == '\t'):
		return false
	case r < 0x20, r == 0x7f, r >= 0x80 && r <= 0x9f:
		return true
	case r >= 0x202a && r <= 0x202e, r >= 0x2066 && r <= 0x2069:
		return true
	}
	return false
}

// CheckText refuses free text that is not valid UTF-8 or holds a control or bidi
// override character, with UNSAFE_TEXT naming the field. It is the one check for every
// free-text field a client stores.
func CheckText(field, v string, multiline bool) error {
	if !utf8.ValidString(v) {
		return Errorf(EUNSAFETEXT, "", "%s is not valid UTF-8", field).WithField(field)
	}
	if i := strings.IndexFunc(v, func(r rune) bool { return unsafeRune(r, multiline) }); i >= 0 {
		r, _ := utf8.DecodeRuneInString(v[i:])
		return Errorf(EUNSAFETEXT, "", "%s holds the character U+%04X: control and bidirectional override characters are not accepted", field, r).WithField(field)
	}
	return nil
}

// checkRequestText applies CheckText to every free-text field of a new request.
func (in CreateRequestInput) checkRequestText() error {
	for _, f := range []struct {
		name, v   string
		multiline bool
	}{
		{"title", in.Title, false}, {"description", in.Description, true}, {"version", in.Version, false},
		{"customerId", in.CustomerID, false}, {"productId", in.ProductID, false}, {"planId", in.PlanID, false},
	} {
		if err := CheckText(f.name, f.v, f.multiline); err != nil {
			return err
		}
	}
	return nil
}

// notApplicable is the refusal of a field that has no meaning for the request.
func notApplicable(field, rule, format string, args ...any) error {
	return Errorf(EFIELDNOTAPPLY, rule, format, args...).WithField(field)
}

// CheckRequestPlace decides where a request of its type is opened and which fields it
// takes (R17, R18). Front-line and partner-program requests are opened in the partner
// centre (PARTNER_CENTER), a portal of its own, with no product, version, plan or
// customer: they are free and never consume. Every other type is opened in a product's
// portal, for a product, and never in the partner centre. A customer is named only for a
// CSP request (R14).
func CheckRequestPlace(in CreateRequestInput) error {
	if in.Type.Free() {
		if in.Portal != PortalPartnerCenter {
			return Errorf(EINVALID, "R18", "%s requests are opened in the partner centre (PARTNER_CENTER)", strings.ToLower(strings.ReplaceAll(string(in.Type), "_", "-"))).WithField("portal")
		}
		for _, f := range []struct{ name, v string }{{"productId", in.ProductID}, {"version", in.Version}, {"planId", in.PlanID}, {"customerId", in.CustomerID}} {
			if f.v != "" {
				return notApplicable(f.name, "R17", "a request of the partner centre takes no %s: it is free and needs no product or plan", f.name)
			}
		}
		return nil
	}
	if in.Portal == PortalPartnerCenter {
		return Errorf(EINVALID, "R17", "the partner centre takes front-line and partner-program requests only; open a %s request in the product's portal", strings.ToLower(string(in.Type))).WithField("type")
	}
	if in.ProductID == "" {
		return Errorf(EINVALID, "R8", "a %s request names its product", strings.ToLower(string(in.Type))).WithField("productId")
	}
	if in.CustomerID != "" && !strings.HasPrefix(in.PlanID, CSPPlanPrefix) {
		return notApplicable("customerId", "R14", "a customer is named only for a request on a CSP support plan")
	}
	return nil
}

// CheckVersionApplies refuses a version for a product that has no versions (a cloud
// product, R8).
func CheckVersionApplies(p Product, version string) error {
	if version != "" && len(p.Versions) == 0 {
		return notApplicable("version", "R8", "%s has no versions; send no version", p.Name)
	}
	return nil
}

// CSPPlanPrefix starts the ID of a tenant's CSP support plan (R14).
const CSPPlanPrefix = "csp:"
