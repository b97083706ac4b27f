package domain_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
)

// TestClockKeepsMilliseconds: the service's clock has the precision of the store (BSON
// dates), so a time a mutation answers is the time a later read answers.
func TestClockKeepsMilliseconds(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 123_456_789, time.UTC)
	s := domain.NewService(nil, domain.Options{Now: func() time.Time { return at }})
	require.Equal(t, time.Date(2026, 11, 25, 9, 0, 0, 123_000_000, time.UTC), s.Now())
}

// TestAbsentValuesAreNil: the API's nullable strings are nil, never "", when absent.
func TestAbsentValuesAreNil(t *testing.T) {
	require.Nil(t, domain.SupportRequest{}.VersionOrNil())
	require.Nil(t, domain.SupportRequest{}.PlanKindOrNil())
	require.Nil(t, domain.Event{}.ActorIDOrNil())
	require.Nil(t, domain.Error{}.RuleOrNil())
	kind := domain.SupportRequest{PlanKind: domain.PlanCSP}.PlanKindOrNil()
	require.NotNil(t, kind)
	require.Equal(t, domain.PlanCSP, *kind)
}
