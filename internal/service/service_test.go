package service_test

import (
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/partnersupport/api/internal/service"
)

// TestClockKeepsMilliseconds: the service's clock has the precision of the store (BSON
// dates), so a time a mutation answers is the time a later read answers.
func TestClockKeepsMilliseconds(t *testing.T) {
	at := time.Date(2026, 11, 25, 9, 0, 0, 123_456_789, time.UTC)
	s := service.New(nil, service.Options{Now: func() time.Time { return at }})
	require.Equal(t, time.Date(2026, 11, 25, 9, 0, 0, 123_000_000, time.UTC), s.Now())
}
