package domain

import (
	"context"
	"log/slog"
	"strconv"
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
			err := s.store.AppendEvent(ctx, e)
			if err == ErrSeqTaken {
				break // another instance is sequencing this scope: read again and go on
			} else if err != nil && err != ErrAlreadySequenced {
				return err
			} else if err == nil {
				seq++
				balances[e.BenefitID] = e
				if s.onEvent != nil {
					s.onEvent(e)
				}
				s.remindLow(ctx, e)
			}
			if err := s.store.DropPending(ctx, scope, e.ID); err != nil {
				return err
			}
		}
		// Go round until the outbox is empty: a lost race, or reminders recorded while
		// sequencing, leave more.
	}
	return Errorf(EUNAVAILABLE, "", "sequencing %s did not settle", scope)
}

// remindLow records the R19 low-balance reminder when a consumption brings a capped
// balance to the threshold or below; its ID names the level, so each level reminds once.
func (s *Service) remindLow(ctx context.Context, e Event) {
	if e.Kind != EventConsume || e.Unlimited || e.Remaining > s.reminders.LowThreshold {
		return
	}
	r := Event{ID: "remind-low/" + e.BenefitID + "/" + strconv.Itoa(e.Used), TenantID: e.TenantID, Kind: EventLow, BenefitID: e.BenefitID,
		PlanName: e.PlanName, RequestID: e.RequestID, Reason: "R19: " + strconv.Itoa(e.Remaining) + " incidents left", At: e.At, Quota: e.Quota}
	if err := s.store.RecordEvent(ctx, r); err != nil {
		s.log.WarnContext(ctx, "recording a reminder failed", "err", err)
	}
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
	at := h.PurchasedAt
	if h.RenewedAt != nil {
		at = *h.RenewedAt // a renewal grants the year when it is renewed
	}
	for _, b := range h.Benefits {
		s.record(ctx, Event{ID: "grant/" + b.ID, TenantID: h.TenantID, Kind: EventGrant, BenefitID: b.ID, PlanName: b.Name, ActorID: actor,
			Reason: "offer " + h.OfferID + " for the year from " + h.PeriodStart.Format("2006-01-02"), At: at, Quota: b.Quota, Unlimited: b.Unlimited})
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
				if v := st.view(now, b, false); s.reminders.EndingSoon(now, b, v.Status) {
					s.record(ctx, Event{ID: "remind-ending/" + b.ID, TenantID: t.ID, Kind: EventEnding, BenefitID: b.ID, PlanName: b.Name,
						Reason: "R19: ends on " + b.EndsAt.Format("2006-01-02"), At: now, Quota: b.Quota, Unlimited: b.Unlimited})
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
			quota, unlimited, name := s.planQuota(ctx, r)
			if err := s.store.RecordEvent(ctx, Event{ID: "consume/" + r.ID, TenantID: r.TenantID, Kind: EventConsume, BenefitID: r.BenefitID, PlanName: name,
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

// FeedFilter authorises a subscription to a scope's balance events and returns the filter
// of what the caller may see: a member sees the whole tenant; an outside user who linked
// some of its plans sees those plans only; an account sees its own pay-per-incident scope.
// Anyone else is refused with the one FORBIDDEN answer.
func (s *Service) FeedFilter(ctx context.Context, caller Account, scope string) (func(Event) bool, error) {
	if scope == PPIScope(caller.ID) {
		return nil, nil
	}
	_, err := s.store.Membership(ctx, scope, caller.ID)
	if err == nil {
		return nil, nil
	} else if ErrorCode(err) != ENOTFOUND {
		return nil, err
	}
	links, err := s.store.LinksOfAccount(ctx, caller.ID)
	if err != nil {
		return nil, err
	}
	linked := map[string]bool{}
	for _, l := range links {
		if l.TenantID == scope {
			linked[l.BenefitID] = true
		}
	}
	if len(linked) == 0 {
		return nil, Forbidden()
	}
	return func(e Event) bool { return linked[e.BenefitID] }, nil
}

// LedgerCursor is the sequence number of the tenant's latest event, for a member to
// subscribe from right after reading balances, so that nothing in between is missed.
func (s *Service) LedgerCursor(ctx context.Context, caller Account, tenantID string) (int64, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return 0, err
	}
	e, err := s.store.LastEvent(ctx, tenantID)
	if ErrorCode(err) == ENOTFOUND {
		return 0, nil
	}
	return e.Seq, err
}
