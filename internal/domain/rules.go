package domain

//go:generate go run ../rulesdoc/rulesgen -in ../../docs/rules.md -out rules_gen.go

// Rule is a business rule as docs/rules.md states it: what UserError.rule, plan reasons
// and error extensions cite by ID. The data (rules_gen.go) is generated from the document;
// TestRulesMatchTheDocument keeps them the same.
type Rule struct {
	ID    string
	Title string
	Text  string // Markdown
}

// Rules returns every rule in ID order (R1, R2, …), or, given IDs, those of them that
// exist, in the same order.
func Rules(ids ...string) []Rule {
	if len(ids) == 0 {
		return append([]Rule(nil), rules...)
	}
	want := make(map[string]bool, len(ids))
	for _, id := range ids {
		want[id] = true
	}
	out := []Rule{}
	for _, r := range rules {
		if want[r.ID] {
			out = append(out, r)
		}
	}
	return out
}
