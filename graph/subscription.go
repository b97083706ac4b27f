package graph

import (
	"context"

	"github.com/partnersupport/api/internal/domain"
)

// balanceStream authorises a balance subscription and opens it on the feed. When the feed
// drops it (a slow client, or shutdown), StreamClosed closes the client's connection
// with a reason, so that the client reconnects with its last cursor.
func (r *Resolver) balanceStream(ctx context.Context, a domain.Account, tenantID string, after *string) (<-chan domain.Event, error) {
	from := int64(-1)
	if after != nil {
		var err error
		if from, err = decodeSeq(*after); err != nil {
			return nil, err
		}
	}
	// Authorising reads the store: a burst of opens takes turns (feed.Hub.Admit).
	done, err := r.Feed.Admit(ctx)
	if err != nil {
		return nil, err
	}
	defer done()
	view, err := r.LedgerService.FeedView(ctx, a, tenantID)
	if err != nil {
		return nil, err
	}
	sub, err := r.Feed.Subscribe(ctx, tenantID, from, view, func(why error) {
		if r.StreamClosed != nil {
			r.StreamClosed(ctx, why)
		}
	})
	if err != nil {
		return nil, err
	}
	return sub.C, nil
}
