package domain_test

import (
	"os"
	"path/filepath"
	"regexp"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
	"github.com/partnersupport/api/internal/rulesdoc"
)

// TestRulesMatchTheDocument: the rules the API publishes are docs/rules.md's, word for
// word. After editing the document: go generate ./internal/domain
func TestRulesMatchTheDocument(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "..", "docs", "rules.md"))
	require.NoError(t, err)
	want, err := rulesdoc.Parse(doc)
	require.NoError(t, err)
	require.NotEmpty(t, want)
	var got []rulesdoc.Rule
	for _, r := range domain.Rules() {
		got = append(got, rulesdoc.Rule(r))
	}
	require.Equal(t, want, got, "internal/domain/rules_gen.go is out of date: run go generate ./internal/domain")
}

// TestRulesCitedExist: every rule the domain cites in a refusal ("R9") is published, so a
// client can always resolve UserError.rule and PlanReason.rule with the rules query.
func TestRulesCitedExist(t *testing.T) {
	known := map[string]bool{}
	for _, r := range domain.Rules() {
		known[r.ID] = true
	}
	cited := regexp.MustCompile(`"(R\d+)"`)
	files, err := filepath.Glob("*.go")
	require.NoError(t, err)
	n := 0
	for _, f := range files {
		if matched, _ := filepath.Match("*_test.go", f); matched {
			continue
		}
		src, err := os.ReadFile(f)
		require.NoError(t, err)
		for _, m := range cited.FindAllSubmatch(src, -1) {
			n++
			require.True(t, known[string(m[1])], "%s cites %s, which docs/rules.md does not state", f, m[1])
		}
	}
	require.Greater(t, n, 10, "the domain cites its rules")
}

func TestRulesByID(t *testing.T) {
	got := domain.Rules("R9", "R99", "R2")
	require.Len(t, got, 2)
	require.Equal(t, "R2", got[0].ID)
	require.Equal(t, "R9", got[1].ID)
	require.Equal(t, "What cannot be linked", got[1].Title)
}
