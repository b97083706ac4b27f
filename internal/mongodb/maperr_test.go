package mongodb

import (
	"context"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/x/mongo/driver/topology"

	"github.com/partnersupport/api/internal/domain"
)

// A saturated store (no pooled connection free before the deadline) is answered with the
// coded, retryable UNAVAILABLE, not as an internal error (issue 13).
func TestMapErr_TimeoutsAreUnavailable(t *testing.T) {
	for name, err := range map[string]error{
		"pool checkout":    topology.WaitQueueTimeoutError{Wrapped: context.DeadlineExceeded},
		"context deadline": fmt.Errorf("find: %w", context.DeadlineExceeded),
		"no document":      mongo.ErrNoDocuments,
		"anything else":    errors.New("boom"),
	} {
		t.Run(name, func(t *testing.T) {
			got := domain.ErrorCode(mapErr("find claims", err))
			switch name {
			case "no document":
				require.Equal(t, domain.ENOTFOUND, got)
			case "anything else":
				require.Equal(t, domain.EINTERNAL, got)
			default:
				require.Equal(t, domain.EUNAVAILABLE, got)
			}
		})
	}
}
