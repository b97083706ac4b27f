package domain

import (
	"context"
	"log/slog"
	"maps"
	"slices"
	"sync"
	"time"
)

// Events: every change of a balance is recorded as an event in an outbox, under a
// deterministic ID, after the change itself was written. A sequencer gives each event its
// scope's next sequence number through a unique (scope, seq) key and computes the balance
// after it, in sequence order. Any instance may sequence; two that race collide on the key
// and one retries. The sequenced events are the tenant's ledger and the feed that live
// subscriptions tail (no change streams needed: docs/store.md).

// Sequenced is called for every event this process sequences (for local fan-out).
type Sequenced func(Event)

// sequencer serialises sequencing per scope within this process, and keeps the ledger
// head of each scope this process sequenced last (guarded by the scope's lock).
type sequencer struct {
	mu    sync.Mutex
	locks map[string]*sync.Mutex
	heads map[string]LedgerHead
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

func (q *sequencer) head(scope string) (LedgerHead, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.heads[scope]
	return h, ok
}

func (q *sequencer) setHead(h LedgerHead) {
	q.mu.Lock()
	defer q.mu.Unlock()
	if q.heads == nil {
		q.heads = map[string]LedgerHead{}
	}
	if len(q.heads) >= maxHeads {
		clear(q.heads) // a bound, not an LRU: a forgotten head is read again when needed
	}
	q.heads[h.Scope] = h
}

func (q *sequencer) forget(scope string) {
	q.mu.Lock()
	defer q.mu.Unlock()
	delete(q.heads, scope)
}

// maxHeads bounds the ledger heads a process keeps.
const maxHeads = 100_000

// recordTimeout bounds recording and sequencing one change's event.
const recordTimeout = 15 * time.Second

// record puts an event in the outbox and sequences it. Recording is best effort for the
// caller: the change itself is already written, and the start-up repair and the periodic
// sweep record and sequence whatever a failure here left behind. It does not stop when
// the caller goes away (a client that disconnects cancels its request's context): the
// change is made, so its event belongs in the ledger and on the live feed now, not at
// the next start-up. recordTimeout bounds it instead.
func (s *Service) record(ctx context.Context, e Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "recording an event failed; repair will record it", "event", e.ID, "err", err)
		return
	}
	if err := s.Sequence(ctx, e.TenantID, e); err != nil {
		s.log.WarnContext(ctx, "sequencing failed; the sweep will retry", "scope", e.TenantID, "err", err)
	}
}

// Record is record, for the tests over a real store (internal/app).
func (s *Service) Record(ctx context.Context, e Event) { s.record(ctx, e) }

// Sequence gives events of the scope their sequence numbers, in order: the events given
// (already recorded in the outbox), or with none given the scope's whole outbox. Each
// sequenced event leaves the outbox.
//
// Sequencing appends at the ledger head's Seq+1 (see LedgerHead): the head this process
// saw last, else the saved one, else the whole ledger read. An append that collides on
// the sequence number means another instance sequenced the scope meanwhile: the head is
// read again (saved, then if that is no newer, folded from the ledger) and the rest goes
// on from there. The unique sequence number, never the head, keeps two events from one
// number, so a stale head costs a retry and never a wrong ledger.
func (s *Service) Sequence(ctx context.Context, scope string, events ...Event) error {
	l := s.seq.lock(scope)
	l.Lock()
	defer l.Unlock()
	fromOutbox := len(events) == 0
	var collided int64 // the Seq the last append collided on, 0 if none
	for attempt := 0; attempt < 100; attempt++ {
		if fromOutbox {
			pending, err := s.store.PendingEvents(ctx, scope, 256)
			if err != nil || len(pending) == 0 {
				return err
			}
			events = pending
		}
		if len(events) == 0 {
			return nil
		}
		head, err := s.ledgerHead(ctx, scope, collided)
		if err != nil {
			return err
		}
		if events, collided, err = s.appendEvents(ctx, head, events); err != nil {
			return err
		}
		// Go round until nothing is left: a lost race leaves events, and with the outbox
		// as the source so may reminders recorded while sequencing.
	}
	return Errorf(EUNAVAILABLE, "", "sequencing %s did not settle", scope)
}

// ledgerHead finds the head to append after. After a collision on Seq, a head is only
// good if it is at Seq or later.
func (s *Service) ledgerHead(ctx context.Context, scope string, collided int64) (LedgerHead, error) {
	if collided == 0 {
		if h, ok := s.seq.head(scope); ok {
			return h, nil
		}
	}
	h, err := s.store.LedgerHead(ctx, scope)
	if err == nil && h.Seq >= collided {
		return h, nil
	} else if err != nil && ErrorCode(err) != ENOTFOUND {
		return LedgerHead{}, err
	}
	return s.store.FoldLedger(ctx, scope)
}

// appendEvents appends events after head, in order, and returns those left when an
// append collided (with the Seq it collided on), or on an error.
func (s *Service) appendEvents(ctx context.Context, head LedgerHead, events []Event) (rest []Event, collided int64, err error) {
	head.Used = maps.Clone(head.Used)
	if head.Used == nil {
		head.Used = map[string]int{}
	}
	appended := false
	defer func() {
		if !appended {
			return
		}
		if rest == nil {
			s.seq.setHead(head)
		} else {
			s.seq.forget(head.Scope)
		}
		if serr := s.store.SaveLedgerHead(ctx, head); serr != nil {
			s.log.WarnContext(ctx, "saving the ledger head failed; the next sequencing reads the ledger", "scope", head.Scope, "err", serr)
		}
	}()
	for i := 0; i < len(events); i++ {
		e := events[i]
		applyBalance(&e, head.Used[e.BenefitID])
		e.Seq = head.Seq + 1
		switch err := s.store.AppendEvent(ctx, e); {
		case err == ErrSeqTaken:
			s.seq.forget(head.Scope)
			return events[i:], e.Seq, nil
		case err == ErrAlreadySequenced:
			// Sequenced before (a retry, the repair, or another instance): only the outbox
			// entry is left to drop.
		case err != nil:
			s.seq.forget(head.Scope)
			return events[i:], 0, err
		default:
			appended = true
			head.Seq = e.Seq
			if e.BenefitID != "" {
				head.Used[e.BenefitID] = e.Used
			}
			if s.onEvent != nil {
				s.onEvent(e)
			}
			if r, ok := s.remindLow(ctx, e); ok {
				events = append(events, r)
			}
		}
		if err := s.store.DropPending(ctx, head.Scope, e.ID); err != nil {
			return events[i+1:], 0, err
		}
	}
	return nil, 0, nil
}

// remindLow records the R19 low-balance reminder after e when lowEvent says one is due,
// and returns it to sequence next.
func (s *Service) remindLow(ctx context.Context, e Event) (Event, bool) {
	r, ok := s.reminders.lowEvent(e)
	if !ok {
		return Event{}, false
	}
	if err := s.store.RecordEvent(ctx, r); err != nil {
		s.log.WarnContext(ctx, "recording a reminder failed", "err", err)
		return Event{}, false
	}
	return r, true
}

// applyBalance computes the balance after e from the benefit's used count before it (0
// when the benefit has no event yet).
func applyBalance(e *Event, used int) {
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
//
// Every event it records is due at the start or the end of a held offer's year (a cap at
// its start, an expiry at its end, an ending-soon reminder within the reminder window
// before its end), so it reads only the held offers whose year starts or ends between the
// start of the last completed sweep (less repairOverlap; everything on a store never swept)
// and the end of the reminder window: one query per bound across tenants, on the indexes
// heldOffers {periodStart} and {periodEnd}, not every held offer each minute. It skips an
// event already in the ledger with one lookup by its key; a tenant's contracts and claims
// are read only for an ending-soon reminder not yet sent.
func (s *Service) Sweep(ctx context.Context) error {
	now := s.Now()
	since, err := s.since(ctx, "sweep", now)
	if err != nil {
		return err
	}
	held, err := s.store.HeldOffersStartingOrEnding(ctx, since, now.Add(s.reminders.Window))
	if err != nil {
		return err
	}
	byTenant := map[string][]HeldOffer{}
	for _, h := range held {
		byTenant[h.TenantID] = append(byTenant[h.TenantID], h)
	}
	for _, tid := range slices.Sorted(maps.Keys(byTenant)) {
		var st *tenantState // read only when a reminder needs the benefit's status
		for _, h := range byTenant[tid] {
			for _, b := range h.Benefits {
				// R19: every benefit in use reminds before its end, as the read view shows it.
				// Whether it could be due, whatever its status, before reading its status.
				if e := endingEvent(now, b); s.reminders.EndingSoon(now, b, StatusActive) && !s.sequenced(ctx, e) {
					if st == nil {
						if st, err = s.loadTenantState(ctx, tid); err != nil {
							return err
						}
					}
					if v := st.view(now, b, false); s.reminders.EndingSoon(now, b, v.Status) {
						s.record(ctx, e)
					}
				}
				if !b.Kind.Incidental() {
					continue // a consultation benefit (R22) has no balance to cap or expire
				}
				if CapDue(b, now) {
					s.recordOnce(ctx, Event{ID: "cap/" + b.ID, TenantID: tid, Kind: EventCap, BenefitID: b.ID, PlanName: b.Name,
						Reason: "R24: the unlimited balance is capped for the year from the renewal anniversary", At: b.StartsAt, Quota: b.Quota})
				}
				if b.Expired(now) {
					s.recordOnce(ctx, Event{ID: "expire/" + b.ID, TenantID: tid, Kind: EventExpire, BenefitID: b.ID, PlanName: b.Name,
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
	return s.store.SaveCheckpoint(ctx, "sweep", now)
}

// recordOnce records an event of the sweep unless the ledger has it already.
func (s *Service) recordOnce(ctx context.Context, e Event) {
	if !s.sequenced(ctx, e) {
		s.record(ctx, e)
	}
}

// sequenced reports whether the ledger has the event; when unsure (an error), it says no,
// and recording it again is a no-op.
func (s *Service) sequenced(ctx context.Context, e Event) bool {
	ok, err := s.store.EventSequenced(ctx, e.TenantID, e.ID)
	return err == nil && ok
}

// OrphanClaimAge is how old a claim with no request must be before the repair frees it:
// long enough that no create still in flight can own it.
const OrphanClaimAge = time.Hour

// repairOverlap is how far before the last repair's start a repair looks back: longer than
// any create or close takes from stamping its time to its last write, so that what such
// an operation left when its process crashed was either complete when the last repair
// read, or is stamped after this bound.
const repairOverlap = 5 * time.Minute

// Repair completes what crashes may have cut short; run it at start-up (every instance
// may). It frees the claims of recorded refunds, frees claims that no request followed
// within OrphanClaimAge, finishes refunds of closures, and records the ledger events of
// requests whose event is missing. Every step is idempotent.
//
// It reads only what happened since the last repair that completed (its checkpoint, less
// repairOverlap; everything on a store that was never repaired), through indexes on the
// time of each record: a crash's leftovers are at most that old, because every completed
// repair saw everything stamped before it started. So a restart costs what was written
// since the last start, not the whole store.
func (s *Service) Repair(ctx context.Context) error {
	now := s.Now()
	since, err := s.since(ctx, "repair", now)
	if err != nil {
		return err
	}
	refunds, err := s.store.RefundsWithClaims(ctx, since)
	if err != nil {
		return err
	}
	for _, r := range refunds {
		if err := s.store.ReleaseClaim(ctx, r.RequestID); err != nil {
			return err
		}
	}
	// A claim younger than OrphanClaimAge is not judged yet: the window of claims ends
	// there, and the next repair's starts before it.
	orphans, err := s.store.ClaimsWithoutRequests(ctx, since.Add(-OrphanClaimAge), now.Add(-OrphanClaimAge))
	if err != nil {
		return err
	}
	for _, c := range orphans {
		if err := s.store.ReleaseClaim(ctx, c.RequestID); err != nil {
			return err
		}
		s.log.InfoContext(ctx, "repair: freed an incident claimed by a request that was never created", "request", c.RequestID, "benefit", c.BenefitID)
	}
	rs, err := s.store.RequestsSince(ctx, since)
	if err != nil {
		return err
	}
	for _, r := range rs {
		if r.Consumed {
			e := Event{ID: "consume/" + r.ID, TenantID: r.TenantID, Kind: EventConsume, BenefitID: r.BenefitID,
				RequestID: r.ID, ActorID: r.AccountID, Reason: string(r.Type), At: r.CreatedAt, Delta: -1}
			// One lookup by key skips what the ledger has: the outbox gets only what is
			// missing, not every recent request again.
			if !s.sequenced(ctx, e) {
				e.Quota, e.Unlimited, e.PlanName = s.planQuota(ctx, r)
				if err := s.store.RecordEvent(ctx, e); err != nil {
					return err
				}
			}
		}
		if r.Closure != nil {
			if err := s.refundIfDue(ctx, r, *r.Closure); err != nil {
				return err
			}
		}
	}
	// A request created before the window may have been closed within it.
	closed, err := s.store.RequestsClosedSince(ctx, since)
	if err != nil {
		return err
	}
	for _, r := range closed {
		if err := s.refundIfDue(ctx, r, *r.Closure); err != nil {
			return err
		}
	}
	if err := s.Sweep(ctx); err != nil {
		return err
	}
	return s.store.SaveCheckpoint(ctx, "repair", now)
}

// since is where a run of job at now starts reading: the start of its last completed run
// less repairOverlap, or the beginning when it never completed.
func (s *Service) since(ctx context.Context, job string, now time.Time) (time.Time, error) {
	checkpoint, err := s.store.Checkpoint(ctx, job)
	if err != nil || checkpoint.IsZero() {
		return time.Time{}, err
	}
	if now.Before(checkpoint) {
		checkpoint = now // the business clock was set back
	}
	return checkpoint.Add(-repairOverlap), nil
}

// discardLogger is the default logger.
var discardLogger = slog.New(slog.DiscardHandler)

// LedgerDetailVisible decides who sees the who and which of a tenant's ledger: the
// account that caused a change, the request it concerns, and a request's type or outcome
// as its cause. Only the tenant's admins do (PARTNER_ADMIN, GLOBAL_ADMIN: the ledger is
// theirs), on every path; a member who is not an admin, an outside user who linked a
// plan, and the support provider (R25) see balances change, never another account's
// identity or requests (R18). roles are the principal's roles in the tenant.
func LedgerDetailVisible(kind AccountKind, roles []Role) bool {
	return kind != KindSupportProvider && Membership{Roles: roles}.Has(ActivatorRoles...)
}

// WithoutWhoOrWhich is the event as one who may not see the ledger's who and which sees
// it (LedgerDetailVisible): its balance, kind, plan and time, without the actor, the
// request, or a request's type or outcome.
func (e Event) WithoutWhoOrWhich() Event {
	e.ActorID, e.RequestID = "", ""
	if e.Kind == EventConsume || e.Kind == EventRefund {
		e.Reason = ""
	}
	return e
}

// FeedView authorises a subscription to a scope's balance events and returns what the
// caller sees of each event, and whether it sees it at all (replay and live alike): an
// admin of the tenant sees everything; another member sees every balance without who or
// which; an outside user who linked some of its plans sees those plans' balances without
// who or which; the support provider (R25) sees a tenant's balances without who or which;
// an account sees its own pay-per-incident scope whole. Anyone else is refused with the
// one FORBIDDEN answer.
func (s *Service) FeedView(ctx context.Context, caller Account, scope string) (func(Event) (Event, bool), error) {
	whole := func(e Event) (Event, bool) { return e, true }
	balances := func(e Event) (Event, bool) { return e.WithoutWhoOrWhich(), true }
	if err := s.permit(ctx, caller, ActBalances, ""); err != nil {
		return nil, err
	}
	if caller.Kind == KindSupportProvider {
		if _, err := s.store.Tenant(ctx, scope); ErrorCode(err) == ENOTFOUND {
			return nil, s.refused(ctx, caller, "", Forbidden())
		} else if err != nil {
			return nil, err
		}
		return balances, nil
	}
	if scope == PPIScope(caller.ID) {
		return whole, nil
	}
	m, err := s.store.Membership(ctx, scope, caller.ID)
	if err == nil {
		if LedgerDetailVisible(caller.Kind, m.Roles) {
			return whole, nil
		}
		return balances, nil
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
		return nil, s.refused(ctx, caller, "", Forbidden())
	}
	return func(e Event) (Event, bool) {
		if !linked[e.BenefitID] {
			return Event{}, false
		}
		return e.WithoutWhoOrWhich(), true
	}, nil
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
