package domain_test

import (
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/domain"
)

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
