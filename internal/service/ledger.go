package service

import (
	"cmp"
	"context"
	"maps"
	"slices"
	"sync"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// Events: every change of a balance is recorded as an event in an outbox, under a
// deterministic ID, after the change itself was written. A sequencer gives each event its
// scope's next sequence number through a unique (scope, seq) key and computes the balance
// after it, in sequence order. Any instance may sequence; two that race collide on the key
// and one retries. The sequenced events are the tenant's ledger and the feed that live
// subscriptions tail (no change streams needed: docs/store.md).

// LedgerService reads a tenant's incident ledger and authorises its live feed (R15, R16,
// R17).
type LedgerService struct {
	*core
	*access
	store ledgerStore
}

// ledgerStore is what reading the ledger and authorising its feed read.
type ledgerStore interface {
	domain.LedgerStore
	domain.TenantStore
	domain.LinkStore
}

// Ledger lists a tenant's incident ledger, newest first, for its admins: every grant,
// consumption, refund, expiry and cap, with who, when, which request and why. (The
// article has no such view; this API goes further.)
func (s *LedgerService) Ledger(ctx context.Context, caller domain.Account, tenantID string, first int, before int64) (domain.LedgerPage, error) {
	if err := s.adminPage(ctx, caller, domain.ActLedger, tenantID, first); err != nil {
		return domain.LedgerPage{}, err
	}
	evs, err := s.store.Events(ctx, tenantID, 0, before, first+1, true)
	if err != nil {
		return domain.LedgerPage{}, err
	}
	p := domain.LedgerPage{}
	p.Events, p.HasMore = trimPage(evs, first)
	return p, nil
}

// adminPage authorises a page of a tenant's admin-only list (the ledger, the audit
// trail): the partner side (R25), a member (R4) with an admin role (R3), and a page size
// of 1..100.
func (s *access) adminPage(ctx context.Context, caller domain.Account, act domain.Action, tenantID string, first int) error {
	if err := s.permit(ctx, caller, act, ""); err != nil {
		return err
	}
	m, err := s.member(ctx, caller, tenantID)
	if err != nil {
		return err
	}
	if err := s.requireRole(ctx, caller, m, "R3", domain.ActivatorRoles...); err != nil {
		return err
	}
	return domain.CheckFirst(first)
}

// trimPage cuts a read of first+1 items to first, and says whether there were more.
func trimPage[T any](xs []T, first int) ([]T, bool) {
	if len(xs) > first {
		return xs[:first], true
	}
	return xs, false
}

// Sequenced is called for every event this process sequences (for local fan-out).
type Sequenced func(domain.Event)

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
	heads  map[string]domain.LedgerHead
	slots  chan struct{}
}

// scopeRounds is one scope's rounds in this process: whether a goroutine runs them, and
// who waits for the next one.
type scopeRounds struct {
	running bool
	next    []chan error
}

// recorder puts the events of balance changes in the outbox and sequences them into
// each scope's ledger, with the low-balance reminders they cause (R19).
type recorder struct {
	*core
	store     domain.LedgerStore
	reminders domain.ReminderPolicy
	onEvent   Sequenced
	seq       sequencer
}

func newSequencer(rounds int) sequencer {
	if rounds <= 0 {
		rounds = SequencingRounds
	}
	return sequencer{scopes: map[string]*scopeRounds{}, heads: map[string]domain.LedgerHead{}, slots: make(chan struct{}, rounds)}
}

func (q *sequencer) head(scope string) (domain.LedgerHead, bool) {
	q.mu.Lock()
	defer q.mu.Unlock()
	h, ok := q.heads[scope]
	return h, ok
}

// busy reports whether this process runs or waits for a round of the scope.
func (q *sequencer) busy(scope string) bool {
	q.mu.Lock()
	defer q.mu.Unlock()
	_, ok := q.scopes[scope]
	return ok
}

func (q *sequencer) setHead(h domain.LedgerHead) {
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
func (s *recorder) record(ctx context.Context, e domain.Event) { s.recordAll(ctx, e.TenantID, e) }

// recordAll is record for events of one scope: each is put in the outbox, then one
// sequencing round gives them their numbers (a held offer's grants: one round, not one
// per benefit; issue 13, a first start records thousands of tenants' grants).
func (s *recorder) recordAll(ctx context.Context, scope string, events ...domain.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	recorded := false
	for _, e := range events {
		if err := s.store.RecordEvent(ctx, e); err != nil {
			s.log.WarnContext(ctx, "recording an event failed; repair will record it", "event", e.ID, "err", err)
			continue
		}
		recorded = true
	}
	if !recorded {
		return
	}
	if err := s.Sequence(ctx, scope); err != nil {
		s.log.WarnContext(ctx, "sequencing failed; it is retried", "scope", scope, "err", err)
	}
}

// recordNow is record for the event of a change that happens once per benefit (an
// activation, R4), appended straight to the scope's ledger without the outbox, as
// appendMany appends grants: two writes fewer (the outbox entry and its removal), which
// is what bounds activations on the embedded store, whose writes take turns (issue 13).
// Only when nothing of the scope waits, in the outbox or in this process's sequencer:
// an event whose change answered is then in the ledger already, so the ledger's order is
// still the order in which changes answered. It appends after the head this process
// knows, else the saved one, else an empty ledger's; a stale head collides on the unique
// (scope, seq) key and is caught up as in a round. When the outbox is not empty, or the
// append fails, the event goes through the outbox as record puts it. A crash before the
// append loses the event as a crash before record's outbox entry does.
func (s *recorder) recordNow(ctx context.Context, e domain.Event) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), recordTimeout)
	defer cancel()
	if !s.appendNow(ctx, e) {
		s.record(ctx, e)
	}
}

// appendNow appends e to its scope's ledger when nothing of the scope waits, and reports
// whether the ledger has it.
func (s *recorder) appendNow(ctx context.Context, e domain.Event) bool {
	scope := e.TenantID
	if s.seq.busy(scope) {
		return false
	}
	// The outbox and the saved head are read at once: two reads, one wait.
	head, known := s.seq.head(scope)
	saved := make(chan error, 1)
	if !known {
		go func() {
			var err error
			head, err = s.savedHead(ctx, scope)
			saved <- err
		}()
	} else {
		saved <- nil
	}
	pending, err := s.store.HasPendingEvents(ctx, scope)
	if herr := <-saved; err != nil || herr != nil || pending {
		return false
	}
	_, reminded, err := s.appendEvents(ctx, head, []domain.Event{e}, false)
	if err != nil {
		return false // recorded through the outbox: a second append is a no-op (its _id)
	}
	if reminded {
		if err := s.Sequence(ctx, scope); err != nil {
			s.log.WarnContext(ctx, "sequencing failed; it is retried", "scope", scope, "err", err)
		}
	}
	return true
}

// Record is record, for the tests over a real store (internal/app).
func (s *recorder) Record(ctx context.Context, e domain.Event) { s.record(ctx, e) }

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
func (s *recorder) Sequence(ctx context.Context, scope string) error {
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
		return domain.Errorf(domain.EUNAVAILABLE, "", "sequencing %s did not end in time; it goes on", scope)
	}
}

// rounds runs the scope's rounds while anyone waits for one, or one failed.
func (s *recorder) rounds(scope string, r *scopeRounds) {
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

// pageSize is how many outbox entries a round reads at a time.
const pageSize = 256

// round sequences the scope's outbox, a page at a time, until it is empty: until a page
// is not full and sequencing it recorded no reminder. Every event its waiters recorded
// was in the outbox before the round started, so the first pages read them; what is
// recorded meanwhile has waiters of its own, for the next round.
func (s *recorder) round(ctx context.Context, scope string) error {
	head, known := s.seq.head(scope)
	for range maxPages {
		pending, err := s.store.PendingEvents(ctx, scope, pageSize)
		if err != nil || len(pending) == 0 {
			return err
		}
		if !known {
			if head, err = s.savedHead(ctx, scope); err != nil {
				return err
			}
			known = true
		}
		var reminded bool
		if head, reminded, err = s.appendEvents(ctx, head, pending, true); err != nil || (len(pending) < pageSize && !reminded) {
			return err
		}
	}
	return domain.Errorf(domain.EUNAVAILABLE, "", "sequencing %s did not settle", scope)
}

// savedHead is the scope's saved ledger head, or, when none was saved, the head of an
// empty ledger, as appendMany takes it: a scope's first round (an activation's, issue
// 13) then costs no read of its ledger. If the ledger is not empty after all (a head
// whose save failed), the append at seq 1 collides on the unique (scope, seq) key and
// appendEvents catches up from the ledger (FoldLedgerAfter) before it goes on.
func (s *recorder) savedHead(ctx context.Context, scope string) (domain.LedgerHead, error) {
	h, err := s.store.LedgerHead(ctx, scope)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return domain.LedgerHead{Scope: scope, Used: map[string]int{}}, nil
	}
	return h, err
}

// maxCollisions bounds how often one page's append may collide with other instances'.
const maxCollisions = 100

// appendEvents appends events after head, in order, with as few ordered inserts as
// collisions allow, then drops them from the outbox, and returns the head after them (a
// head right for its Seq even on an error: only what the store confirmed is in it), and
// whether it recorded a reminder in the outbox (remindLow). Events not taken from the
// outbox (boxed false: recordNow) have no entry to drop.
func (s *recorder) appendEvents(ctx context.Context, head domain.LedgerHead, events []domain.Event, boxed bool) (_ domain.LedgerHead, reminded bool, err error) {
	head = domain.LedgerHead{Scope: head.Scope, Seq: head.Seq, Used: maps.Clone(head.Used)}
	if head.Used == nil {
		head.Used = map[string]int{}
	}
	var appended []domain.Event
	var done []string // outbox entries to drop: appended now or sequenced before
	rest := events
	for collisions := 0; len(rest) > 0 && err == nil; {
		batch := make([]domain.Event, len(rest))
		used := maps.Clone(head.Used)
		for i, e := range rest {
			domain.ApplyBalance(&e, used[e.BenefitID])
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
		case err == domain.ErrAlreadySequenced:
			// Sequenced before (a retry, the repair, or another instance): only the outbox
			// entry is left to drop.
			done = append(done, rest[0].ID)
			rest, err = rest[1:], nil
		case err == domain.ErrSeqTaken:
			// Another instance appended: catch up with what it appended, and go on.
			if collisions++; collisions > maxCollisions {
				err = domain.Errorf(domain.EUNAVAILABLE, "", "sequencing %s: too much contention", head.Scope)
				break
			}
			var h domain.LedgerHead
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
	if boxed && len(done) > 0 {
		if derr := s.store.DropPending(ctx, head.Scope, done...); derr != nil && err == nil {
			err = derr // sequenced: the next round drops them
		}
	}
	if len(appended) > 0 {
		if serr := s.store.SaveLedgerHead(ctx, head); serr != nil {
			s.log.WarnContext(ctx, "saving the ledger head failed; the next sequencing reads the ledger", "scope", head.Scope, "err", serr)
		}
		for _, e := range appended {
			if s.remindLow(ctx, e) { // recorded in the outbox: the round's next page takes it
				reminded = true
			}
		}
	}
	return head, reminded, err
}

// appendMany appends events of many scopes without the outbox, each scope's in the
// outbox's order after its head (the one this process knows, else the saved one, read in
// bulk; none: an empty ledger), in one ordered insert for all scopes: the first events of
// many scopes at once (a fixture's grants, RecordGrants), where one round per scope costs
// a few commands each. The heads after are saved in bulk, as a round saves its own (the
// live feeds of other instances learn of events from them). The insert stops at the first
// event it cannot store, so no scope gets an event after a gap, and a wrong head collides
// on the unique (scope, seq) key as in appendEvents: the colliding scope's events are
// returned, for the caller to record and sequence through the outbox, and the scopes
// after it are tried again. Another error, or more than maxBulkCollisions collisions,
// returns the events of every scope not stored whole.
func (s *recorder) appendMany(ctx context.Context, events []domain.Event) (left []domain.Event) {
	byScope := map[string][]domain.Event{}
	var scopes []string
	for _, e := range events {
		if _, ok := byScope[e.TenantID]; !ok {
			scopes = append(scopes, e.TenantID)
		}
		byScope[e.TenantID] = append(byScope[e.TenantID], e)
	}
	saved, err := s.store.LedgerHeads(ctx, scopes)
	if err != nil {
		s.log.WarnContext(ctx, "reading ledger heads failed; each scope is sequenced on its own", "err", err)
		return events
	}
	for collisions := 0; len(scopes) > 0; collisions++ {
		if collisions > maxBulkCollisions {
			// The heads are stale (another instance sequences these scopes): each goes
			// through the outbox, rather than one insert of all the rest per collision.
			for _, sc := range scopes {
				left = append(left, byScope[sc]...)
			}
			return left
		}
		var batch []domain.Event
		heads := make(map[string]domain.LedgerHead, len(scopes))
		for _, sc := range scopes {
			es := byScope[sc]
			slices.SortFunc(es, func(a, b domain.Event) int { return cmp.Or(a.At.Compare(b.At), cmp.Compare(a.ID, b.ID)) })
			h, ok := s.seq.head(sc)
			if !ok {
				h = saved[sc]
			}
			h = domain.LedgerHead{Scope: sc, Seq: h.Seq, Used: maps.Clone(h.Used)}
			if h.Used == nil {
				h.Used = map[string]int{}
			}
			for _, e := range es {
				domain.ApplyBalance(&e, h.Used[e.BenefitID])
				h.Seq++
				e.Seq = h.Seq
				if e.BenefitID != "" {
					h.Used[e.BenefitID] = e.Used
				}
				batch = append(batch, e)
			}
			heads[sc] = h
		}
		n, err := s.store.AppendEvents(ctx, batch)
		next := len(scopes) // the first scope not stored whole
		if n < len(batch) {
			next = slices.Index(scopes, batch[n].TenantID)
		}
		stored := make([]domain.LedgerHead, next)
		for i, sc := range scopes[:next] {
			s.seq.setHead(heads[sc])
			stored[i] = heads[sc]
		}
		if serr := s.store.SaveLedgerHeads(ctx, stored); serr != nil {
			s.log.WarnContext(ctx, "saving ledger heads failed; the next sequencing reads the ledger", "err", serr)
		}
		for _, e := range batch[:n] {
			if s.onEvent != nil {
				s.onEvent(e)
			}
			if r, ok := s.reminders.LowEvent(e); ok {
				s.record(ctx, r)
			}
		}
		if err == nil {
			return left
		}
		if err != domain.ErrSeqTaken && err != domain.ErrAlreadySequenced {
			s.log.WarnContext(ctx, "appending many scopes' events failed; each is sequenced on its own", "err", err)
			for _, sc := range scopes[next:] {
				left = append(left, byScope[sc]...)
			}
			return left
		}
		left = append(left, byScope[scopes[next]]...)
		scopes = scopes[next+1:]
	}
	return left
}

// maxBulkCollisions bounds the collisions of one appendMany before it leaves the rest to
// the outbox.
const maxBulkCollisions = 4

// remindLow records the R19 low-balance reminder after e when LowEvent says one is due;
// its ID names the level, so each level reminds once. The round that sequenced e
// sequences it next. It reports whether it recorded one.
func (s *recorder) remindLow(ctx context.Context, e domain.Event) bool {
	r, ok := s.reminders.LowEvent(e)
	if !ok {
		return false
	}
	if err := s.store.RecordEvent(ctx, r); err != nil {
		s.log.WarnContext(ctx, "recording a reminder failed", "err", err)
		return false
	}
	return true
}

// FeedView authorises a subscription to a scope's balance events and returns what the
// caller sees of each event, and whether it sees it at all (replay and live alike): an
// admin of the tenant sees everything; another member sees every balance without who or
// which; an outside user who linked some of its plans sees those plans' balances without
// who or which; the support provider (R25) sees a tenant's balances without who or which;
// an account sees its own pay-per-incident scope whole. Anyone else is refused with the
// one FORBIDDEN answer.
func (s *LedgerService) FeedView(ctx context.Context, caller domain.Account, scope string) (func(domain.Event) (domain.Event, bool), error) {
	whole := func(e domain.Event) (domain.Event, bool) { return e, true }
	balances := func(e domain.Event) (domain.Event, bool) { return e.WithoutWhoOrWhich(), true }
	if err := s.permit(ctx, caller, domain.ActBalances, ""); err != nil {
		return nil, err
	}
	if caller.Kind == domain.KindSupportProvider {
		if _, err := s.store.Tenant(ctx, scope); domain.ErrorCode(err) == domain.ENOTFOUND {
			return nil, s.refused(ctx, caller, "", domain.Forbidden())
		} else if err != nil {
			return nil, err
		}
		return balances, nil
	}
	if scope == domain.PPIScope(caller.ID) {
		return whole, nil
	}
	m, err := s.store.Membership(ctx, scope, caller.ID)
	if err == nil {
		if domain.LedgerDetailVisible(caller.Kind, m.Roles) {
			return whole, nil
		}
		return balances, nil
	} else if domain.ErrorCode(err) != domain.ENOTFOUND {
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
		return nil, s.refused(ctx, caller, "", domain.Forbidden())
	}
	return func(e domain.Event) (domain.Event, bool) {
		if !linked[e.BenefitID] {
			return domain.Event{}, false
		}
		return e.WithoutWhoOrWhich(), true
	}, nil
}

// LedgerCursor is the sequence number of the tenant's latest event, for a member to
// subscribe from right after reading balances, so that nothing in between is missed.
func (s *LedgerService) LedgerCursor(ctx context.Context, caller domain.Account, tenantID string) (int64, error) {
	if _, err := s.member(ctx, caller, tenantID); err != nil {
		return 0, err
	}
	e, err := s.store.LastEvent(ctx, tenantID)
	if domain.ErrorCode(err) == domain.ENOTFOUND {
		return 0, nil
	}
	return e.Seq, err
}
