// Package rulesdoc reads the business rules out of docs/rules.md, the project's rules
// document: each rule is a list item that starts with its ID and title in bold,
// "- **R9 — What cannot be linked.** Text…", continued on indented lines. The rules the
// API publishes (internal/domain, rules_gen.go) are generated from it, and a test keeps
// the two the same.
package rulesdoc

import (
	"bufio"
	"bytes"
	"fmt"
	"regexp"
	"sort"
	"strconv"
	"strings"
)

// Rule is one rule of the document.
type Rule struct {
	ID    string // R1 … R25
	Title string // without the final period
	Text  string // Markdown, its lines joined by spaces
}

var start = regexp.MustCompile(`^- \*\*(R(\d+)) — (.+?)\.?\*\*\s*(.*)$`)

// Parse returns the document's rules in ID order. Two rules with one ID are an error.
func Parse(doc []byte) ([]Rule, error) {
	var rules []Rule
	var cur *Rule
	sc := bufio.NewScanner(bytes.NewReader(doc))
	for sc.Scan() {
		line := sc.Text()
		if m := start.FindStringSubmatch(line); m != nil {
			rules = append(rules, Rule{ID: m[1], Title: m[3], Text: m[4]})
			cur = &rules[len(rules)-1]
			continue
		}
		if cur != nil && strings.HasPrefix(line, "  ") && !strings.HasPrefix(strings.TrimSpace(line), "- ") {
			cur.Text += " " + strings.TrimSpace(line)
			continue
		}
		cur = nil
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	seen := map[string]bool{}
	for _, r := range rules {
		if seen[r.ID] {
			return nil, fmt.Errorf("rulesdoc: %s is stated twice", r.ID)
		}
		seen[r.ID] = true
	}
	sort.Slice(rules, func(i, j int) bool { return num(rules[i].ID) < num(rules[j].ID) })
	return rules, nil
}

func num(id string) int {
	n, _ := strconv.Atoi(strings.TrimPrefix(id, "R"))
	return n
}
