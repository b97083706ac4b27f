package graph

import "github.com/partnersupport/api/internal/domain"

// The API answers null, never "", for a value that is absent: a client must not have to
// know that an empty string means "none", and an empty enum is no value of its enum. Each
// nullable field whose Go value is a string is a one-line resolver over nonEmpty
// (gqlgen.yml); a reference to another object is globalIDOrNil instead.

// nonEmpty is v, or nil when v is empty.
func nonEmpty[T ~string](v T) *T {
	if v == "" {
		return nil
	}
	return &v
}

// unlessUnlimited is a count of incidents, or nil when the balance is unlimited: an
// unlimited plan has no total and nothing "remaining" to count down.
func unlessUnlimited(i domain.Incidents, n int) *int {
	if i.Unlimited {
		return nil
	}
	return &n
}
