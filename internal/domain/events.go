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

// SequencingRounds is how many scopes a process sequences at once by default: a round
// holds one of the store's ledger connections at a time, and the ledger's pool
// (mongodb.DefaultLedgerPoolSize) also serves the outbox's writes.
const SequencingRounds = 2

// sequencer runs sequencing rounds: at most one at a time per scope in this process, at
// most `slots` at once in all. A round sequences the scope's whole outbox, oldest first, a
// page of events in one ordered insert. Callers that ask while a round runs wait for the
// next one, which takes every event they recorded: a burst on one tenant is sequenced in
// a few rounds of many events each, never one event after another behind a lock, so the
// ledger keeps up with the requests that feed it. It also keeps the ledger head of each
// scope this process sequenced last (read and written by the scope's rounds only).
type sequencer struct {
	mu     sync.Mutex
	scopes map[string]*scopeRounds
	heads  map[string]LedgerHead
	slots  chan struct{}
}

// scopeRounds is one scope's rounds in this process: whether a goroutine runs them, and
// who waits for the next one.
type scopeRounds struct {
	running bool
	next    []chan error
}

func newSequencer(rounds int) sequencer {
	if rounds <= 0 {
		rounds = SequencingRounds
	}
	return sequencer{scopes: map[string]*scopeRounds{}, heads: map[string]LedgerHead{}, slots: make(chan struct{}, rounds)}
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
	if len(q.heads) >= maxHeads {
		clear(q.heads) // a bound, not an LRU: a forgotten head is read again when needed
	}
	q.heads[h.Scope] = h
}

// maxHeads bounds the ledger heads a process keeps.
const maxHeads = 100_000

// recordTimeout bounds recording and sequencing one change's event, as its caller waits;
// roundTimeout bounds one sequencing round.
const (
	recordTimeout = 15 * time.Second
	roundTimeout  = 15 * time.Second
)

// A round that fails (the store did not answer) is tried again after a pause that
// doubles from retryPause up to maxRetryPause, maxRetries times, whether or not anyone
// waits: events are not left for the periodic sweep while the store answers again.
const (
	retryPause    = 50 * time.Millisecond
	maxRetryPause = 2 * time.Second
	maxRetries    = 10
)

// record puts an event in the outbox and waits until it is sequenced. Recording is best
// effort for the caller: the change itself is already written, and the start-up repair
// and the periodic sweep record and sequence whatever a failure here left behind. It does
// not stop when the caller goes away (a client that disconnects cancels its request's
// context): the change is made, so its event belongs in the ledger and on the live feed
// now, not at the next start-up. recordTimeout bounds it instead. A change answers once
// its event is in the ledger, so the ledger never lags behind the answers, and an event
// recorded after another's change answered is sequenced after it.
func (s *Service) record(ctx context.Context, e Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if err := s.store.RecordEvent(ctx, e); err != nil {
		s.log.WarnContext(ctx, "recording an event failed; repair will record it", "event", e.ID, "err", err)
		return
	}
	if err := s.Sequence(ctx, e.TenantID); err != nil {
		s.log.WarnContext(ctx, "sequencing failed; it is retried", "scope", e.TenantID, "err", err)
	}
}

// Record is record, for the tests over a real store (internal/app).
func (s *Service) Record(ctx context.Context, e Event) { s.record(ctx, e) }

// Sequence gives every event in the scope's outbox its sequence number, in order, and
// returns once a round that started after the call has ended: every event recorded
// before the call is then sequenced, or the error says why not (and the round is tried
// again in the background). A caller that stops waiting (ctx) leaves the round running.
//
// A round appends at the ledger head's Seq+1 (see LedgerHead): the head this process saw
// last, else the saved one, else the whole ledger read. An append that collides on the
// sequence number means another instance sequenced the scope meanwhile: the head is
// brought up to date from the events after it, and the rest goes on from there. The
// unique sequence number, never the head, keeps two events from one number, so a stale
// head costs a retry and never a wrong ledger.
func (s *Service) Sequence(ctx context.Context, scope string) error {
	done := make(chan error, 1)
	q := &s.seq
	q.mu.Lock()
	r, ok := q.scopes[scope]
	if !ok {
		r = &scopeRounds{}
		q.scopes[scope] = r
	}
	r.next = append(r.next, done)
	start := !r.running
	r.running = true
	q.mu.Unlock()
	if start {
		go s.rounds(scope, r)
	}
	select {
	case err := <-done:
		return err
	case <-ctx.Done():
		return Errorf(EUNAVAILABLE, "", "sequencing %s did not end in time; it goes on", scope)
	}
}

// rounds runs the scope's rounds while anyone waits for one, or one failed.
func (s *Service) rounds(scope string, r *scopeRounds) {
	q := &s.seq
	failures := 0
	for {
		q.mu.Lock()
		waiters := r.next
		r.next = nil
		if len(waiters) == 0 && failures == 0 {
			r.running = false
			delete(q.scopes, scope)
			q.mu.Unlock()
			return
		}
		q.mu.Unlock()
		q.slots <- struct{}{}
		ctx, cancel := context.WithTimeout(context.Background(), roundTimeout)
		err := s.round(ctx, scope)
		cancel()
		<-q.slots
		for _, w := range waiters {
			w <- err
		}
		switch {
		case err == nil:
			failures = 0
		case failures >= maxRetries:
			s.log.Error("sequencing keeps failing; the periodic sweep will retry", "scope", scope, "err", err)
			failures = 0
		default:
			failures++
			s.log.Warn("sequencing failed; retrying", "scope", scope, "attempt", failures, "err", err)
			time.Sleep(min(retryPause<<(failures-1), maxRetryPause))
		}
	}
}

// maxPages bounds the pages of the outbox one round sequences.
const maxPages = 100

// round sequences the scope's outbox, a page at a time, until it is empty.
func (s *Service) round(ctx context.Context, scope string) error {
	head, known := s.seq.head(scope)
	for range maxPages {
		pending, err := s.store.PendingEvents(ctx, scope, 256)
		if err != nil || len(pending) == 0 {
			return err
		}
		if !known {
			if head, err = s.savedHead(ctx, scope); err != nil {
				return err
			}
			known = true
		}
		if head, err = s.appendEvents(ctx, head, pending); err != nil {
			return err
		}
	}
	return Errorf(EUNAVAILABLE, "", "sequencing %s did not settle", scope)
}

// savedHead is the scope's saved ledger head, or the ledger folded when none was saved.
func (s *Service) savedHead(ctx context.Context, scope string) (LedgerHead, error) {
	h, err := s.store.LedgerHead(ctx, scope)
	if ErrorCode(err) == ENOTFOUND {
		return s.store.FoldLedger(ctx, scope)
	}
	return h, err
}

// maxCollisions bounds how often one page's append may collide with other instances'.
const maxCollisions = 100

// appendEvents appends events after head, in order, with as few ordered inserts as
// collisions allow, then drops them from the outbox, and returns the head after them (a
// head right for its Seq even on an error: only what the store confirmed is in it).
func (s *Service) appendEvents(ctx context.Context, head LedgerHead, events []Event) (LedgerHead, error) {
	head = LedgerHead{Scope: head.Scope, Seq: head.Seq, Used: maps.Clone(head.Used)}
	if head.Used == nil {
		head.Used = map[string]int{}
	}
	var appended []Event
	var done []string // outbox entries to drop: appended now or sequenced before
	rest := events
	var err error
	for collisions := 0; len(rest) > 0 && err == nil; {
		batch := make([]Event, len(rest))
		used := maps.Clone(head.Used)
		for i, e := range rest {
			applyBalance(&e, used[e.BenefitID])
			e.Seq = head.Seq + int64(i) + 1
			if e.BenefitID != "" {
				used[e.BenefitID] = e.Used
			}
			batch[i] = e
		}
		var n int
		n, err = s.store.AppendEvents(ctx, batch)
		for _, e := range batch[:n] {
			head.Seq = e.Seq
			if e.BenefitID != "" {
				head.Used[e.BenefitID] = e.Used
			}
			appended = append(appended, e)
			done = append(done, e.ID)
		}
		rest = rest[n:]
		switch {
		case err == ErrAlreadySequenced:
			// Sequenced before (a retry, the repair, or another instance): only the outbox
			// entry is left to drop.
			done = append(done, rest[0].ID)
			rest, err = rest[1:], nil
		case err == ErrSeqTaken:
			// Another instance appended: catch up with what it appended, and go on.
			if collisions++; collisions > maxCollisions {
				err = Errorf(EUNAVAILABLE, "", "sequencing %s: too much contention", head.Scope)
				break
			}
			var h LedgerHead
			if h, err = s.store.FoldLedgerAfter(ctx, head); err == nil {
				head = h
			}
		}
	}
	s.seq.setHead(head)
	for _, e := range appended {
		if s.onEvent != nil {
			s.onEvent(e)
		}
	}
	if len(done) > 0 {
		if derr := s.store.DropPending(ctx, head.Scope, done...); derr != nil && err == nil {
			err = derr // sequenced: the next round drops them
		}
	}
	if len(appended) > 0 {
		if serr := s.store.SaveLedgerHead(ctx, head); serr != nil {
			s.log.WarnContext(ctx, "saving the ledger head failed; the next sequencing reads the ledger", "scope", head.Scope, "err", serr)
		}
		for _, e := range appended {
			s.remindLow(ctx, e) // recorded in the outbox: the round's next page takes it
		}
	}
	return head, err
}

// remindLow records the R19 low-balance reminder after e when lowEvent says one is due;
// its ID names the level, so each level reminds once. The round that sequenced e
// sequences it next.
func (s *Service) remindLow(ctx context.Context, e Event) {
	r, ok := s.reminders.lowEvent(e)
	if !ok {
		return
	}
	if err := s.store.RecordEvent(ctx, r); err != nil {
		s.log.WarnContext(ctx, "recording a reminder failed", "err", err)
	}
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
