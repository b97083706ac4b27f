package domain

import (
	"context"
	"log/slog"
	"sync"
	"time"
)

// Events: every change of a balance is recorded as an event in an outbox, under a
// deterministic ID, after the change itself was written. A sequencer gives each event its
// scope's next sequence number through a unique (scope, seq) key and computes the balance
// after it, in sequence order. Any instance may sequence; two that race collide on the key
// and one retries. The sequenced events are the tenant's ledger and the feed that live
// subscriptions tail (no change streams needed: shared/STORE.md).

// Sequenced is called for every event this process sequences (for local fan-out).
type Sequenced func(Event)

// sequencer serialises sequencing per scope within this process.
type sequencer struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
}

func (q *sequencer) lock(scope string) *sync.Mutex {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.locks == nil {
		q.locks = map[string]*sync.Mutex{}
	}
	l, ok := q.locks[scope]
	if !ok {
		l = &sync.Mutex{}
		q.locks[scope] = l
	}
	return l
}

// record puts an event in the outbox and sequences its scope. Recording is best effort
// for the caller: the change itself is already written, and the start-up repair and the
// periodic sweep record and sequence whatever a failure here left behind.
func (s *Service) record(ctx context.Context, e Event) {
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "recording an event failed; repair will record it", "event", e.ID, "err", err)
		return
	}
	if err := s.Sequence(ctx, e.TenantID); err != nil {
		s.log.WarnContext(ctx, "sequencing failed; the sweep will retry", "scope", e.TenantID, "err", err)
	}
}

// Sequence gives the scope's pending events their sequence numbers, in order.
func (s *Service) Sequence(ctx context.Context, scope string) error {
	l := s.seq.lock(scope)
	l.Lock()
	defer l.Unlock()
	for attempt := 0; attempt < 100; attempt++ {
		pending, err := s.store.PendingEvents(ctx, scope, 256)
		if err != nil || len(pending) == 0 {
			return err
		}
		last, err := s.store.LastEvent(ctx, scope)
		if err != nil && ErrorCode(err) != ENOTFOUND {
			return err
		}
		seq := last.Seq
		balances := map[string]Event{}
		taken := false
		for _, e := range pending {
			prev, ok := balances[e.BenefitID]
			if !ok && e.BenefitID != "" {
				prev, err = s.store.LastBenefitEvent(ctx, scope, e.BenefitID)
				if err != nil && ErrorCode(err) != ENOTFOUND {
					return err
				}
				ok = err == nil
			}
			applyBalance(&e, prev, ok)
			e.Seq = seq + 1
			switch err := s.store.AppendEvent(ctx, e); err {
			case nil:
				seq++
				balances[e.BenefitID] = e
				if s.onEvent != nil {
					s.onEvent(e)
				}
			case ErrAlreadySequenced:
			case ErrSeqTaken:
				taken = true // another instance is sequencing this scope: start over
			default:
				return err
			}
			if taken {
				break
			}
			if err := s.store.DropPending(ctx, scope, e.ID); err != nil {
				return err
			}
		}
		if !taken && len(pending) < 256 {
			return nil
		}
	}
	return Errorf(EUNAVAILABLE, "", "sequencing %s did not settle", scope)
}

// applyBalance computes the balance after e from the benefit's previous event.
func applyBalance(e *Event, prev Event, hasPrev bool) {
	used := 0
	if hasPrev {
		used = prev.Used
	}
	used -= e.Delta
	if used < 0 {
		used = 0
	}
	e.Used = used
	if !e.Unlimited {
		e.Remaining = e.Quota - used
		if e.Remaining < 0 {
			e.Remaining = 0
		}
	}
}

// grantEvents records the grant of each benefit of a held offer.
func (s *Service) grantEvents(ctx context.Context, h HeldOffer, actor string) {
	for _, b := range h.Benefits {
		s.record(ctx, Event{ID: "grant/" + b.ID, TenantID: h.TenantID, Kind: EventGrant, BenefitID: b.ID, PlanName: b.Name, ActorID: actor,
			Reason: "offer " + h.OfferID + " for the year from " + h.PeriodStart.Format("2006-01-02"), At: h.PurchasedAt, Quota: b.Quota, Unlimited: b.Unlimited})
	}
}

// RecordGrants records the grant events of a tenant's held offers (fixtures, repair).
func (s *Service) RecordGrants(ctx context.Context, tenantID string) error {
	held, err := s.store.HeldOffers(ctx, tenantID)
	if err != nil {
		return err
	}
	for _, h := range held {
		s.grantEvents(ctx, h, "")
	}
	return nil
}

// Sweep records the events that time causes rather than a request (R19, R24): a benefit
// whose year ended expires; a capped SPD year caps at its renewal anniversary. Event IDs
// are deterministic, so every instance may sweep. It then sequences what is pending.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.Now()
	tenants, err := s.store.Tenants(ctx)
	if err != nil {
		return err
	}
	for _, t := range tenants {
		st, err := s.loadTenantState(ctx, t.ID)
		if err != nil {
			return err
		}
		for _, h := range st.held {
			for _, b := range h.Benefits {
				if !b.Kind.Incidental() {
					continue
				}
				if b.Capped && !now.Before(b.StartsAt) {
					s.record(ctx, Event{ID: "cap/" + b.ID, TenantID: t.ID, Kind: EventCap, BenefitID: b.ID, PlanName: b.Name,
						Reason: "R24: the unlimited balance is capped for the year from the renewal anniversary", At: b.StartsAt, Quota: b.Quota})
				}
				if b.Expired(now) {
					s.record(ctx, Event{ID: "expire/" + b.ID, TenantID: t.ID, Kind: EventExpire, BenefitID: b.ID, PlanName: b.Name,
						Reason: "the enrollment year ended", At: b.EndsAt, Quota: b.Quota, Unlimited: b.Unlimited})
				}
			}
		}
	}
	scopes, err := s.store.ScopesWithPendingEvents(ctx)
	if err != nil {
		return err
	}
	for _, sc := range scopes {
		if err := s.Sequence(ctx, sc); err != nil {
			return err
		}
	}
	return nil
}

// OrphanClaimAge is how old a claim with no request must be before the repair frees it:
// long enough that no create still in flight can own it.
const OrphanClaimAge = time.Hour

// Repair completes what crashes may have cut short; run it at start-up (every instance
// may). It frees the claims of recorded refunds, frees claims that no request followed
// within OrphanClaimAge, finishes refunds of closures, and records the ledger events of
// the last day's requests. Every step is idempotent.
func (s *Service) Repair(ctx context.Context) error {
	refunds, err := s.store.RefundsWithClaims(ctx)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if err := s.store.ReleaseClaim(ctx, r.RequestID); err != nil {
			return err
		}
	}
	now := s.Now()
	orphans, err := s.store.ClaimsWithoutRequests(ctx, now.Add(-OrphanClaimAge))
	if err != nil {
		return err
	}
	for _, c := range orphans {
		if err := s.store.ReleaseClaim(ctx, c.RequestID); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "repair: freed an incident claimed by a request that was never created", "request", c.RequestID, "benefit", c.BenefitID)
	}
	rs, err := s.store.RequestsSince(ctx, now.Add(-24*time.Hour))
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Consumed {
			quota, unlimited := s.planQuota(ctx, r)
			if err := s.store.RecordEvent(ctx, Event{ID: "consume/" + r.ID, TenantID: r.TenantID, Kind: EventConsume, BenefitID: r.BenefitID,
				RequestID: r.ID, ActorID: r.AccountID, Reason: string(r.Type), At: r.CreatedAt, Delta: -1, Quota: quota, Unlimited: unlimited}); err != nil {
				return err
			}
		}
		if r.Closure != nil {
			if err := s.refundIfDue(ctx, r, *r.Closure); err != nil {
				return err
			}
		}
	}
	return s.Sweep(ctx)
}

// discardLogger is the default logger.
var discardLogger = slog.New(slog.DiscardHandler)
