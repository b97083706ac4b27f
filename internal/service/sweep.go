package service

import (
	"context"
	"maps"
	"slices"
	"time"

	"github.com/partnersupport/api/internal/domain"
)

// SweepService records what time causes (expiries, caps, reminders) and completes what
// crashes cut short (R16, R19, R24; docs/crash-safety.md).
type SweepService struct {
	*core
	*recorder
	*states
	*refunds
	store     sweepStore
	reminders domain.ReminderPolicy
}

// sweepStore is what the sweep and the repair read and write.
type sweepStore interface {
	domain.HeldOfferStore
	domain.ClaimStore
	domain.LedgerStore
	domain.RepairStore
}

// grantEvents records the grant of each benefit of a held offer.
func (s *recorder) grantEvents(ctx context.Context, h domain.HeldOffer, actor string) {
	s.recordAll(ctx, h.TenantID, grantsOf(h, actor)...)
}

// grantsOf is the grant event of each benefit of a held offer.
func grantsOf(h domain.HeldOffer, actor string) []domain.Event {
	at := h.PurchasedAt
	if h.RenewedAt != nil {
		at = *h.RenewedAt // a renewal grants the year when it is renewed
	}
	events := make([]domain.Event, len(h.Benefits))
	for i, b := range h.Benefits {
		events[i] = domain.Event{ID: "grant/" + b.ID, TenantID: h.TenantID, Kind: domain.EventGrant, BenefitID: b.ID, PlanName: b.Name, ActorID: actor,
			Reason: "offer " + h.OfferID + " for the year from " + h.PeriodStart.Format("2006-01-02"), At: at, Quota: b.Quota, Unlimited: b.Unlimited}
	}
	return events
}

// RecordGrants records the grant events of the tenants' held offers: it reads them, and
// records their grants as RecordHeldGrants does.
func (s *SweepService) RecordGrants(ctx context.Context, tenantIDs ...string) error {
	held, err := s.store.HeldOffersOfTenants(ctx, tenantIDs)
	if err != nil {
		return err
	}
	return s.RecordHeldGrants(ctx, held...)
}

// RecordHeldGrants records the grant events of held offers as stored (a fixture's, from
// seed.Load, which reads back only those that existed). A first start records thousands
// of tenants' grants before it answers (issue 13), so they go in bulk: the grants the
// ledger has are skipped (looked up by key, in bulk), and the rest appended to many
// scopes' ledgers per command (appendMany); the grants of a scope whose append collides
// are recorded and sequenced as every other event is.
func (s *SweepService) RecordHeldGrants(ctx context.Context, held ...domain.HeldOffer) error {
	var grants []domain.Event
	for _, h := range held {
		grants = append(grants, grantsOf(h, "")...)
	}
	have, err := s.store.SequencedEvents(ctx, grants)
	if err != nil {
		return err
	}
	var missing []domain.Event
	for i, e := range grants {
		if !have[i] {
			missing = append(missing, e)
		}
	}
	left := s.appendMany(ctx, missing)
	for len(left) > 0 {
		n := 1
		for n < len(left) && left[n].TenantID == left[0].TenantID {
			n++
		}
		s.recordAll(ctx, left[0].TenantID, left[:n]...)
		left = left[n:]
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
func (s *SweepService) Sweep(ctx context.Context) error {
	now := s.Now()
	since, err := s.since(ctx, "sweep", now)
	if err != nil {
		return err
	}
	held, err := s.store.HeldOffersStartingOrEnding(ctx, since, now.Add(s.reminders.Window))
	if err != nil {
		return err
	}
	byTenant := map[string][]domain.HeldOffer{}
	for _, h := range held {
		byTenant[h.TenantID] = append(byTenant[h.TenantID], h)
	}
	for _, tid := range slices.Sorted(maps.Keys(byTenant)) {
		var st *domain.TenantState // read only when a reminder needs the benefit's status
		for _, h := range byTenant[tid] {
			for _, b := range h.Benefits {
				// R19: every benefit in use reminds before its end, as the read view shows it.
				// Whether it could be due, whatever its status, before reading its status.
				if e := domain.EndingEvent(now, b); s.reminders.EndingSoon(now, b, domain.StatusActive) && !s.sequenced(ctx, e) {
					if st == nil {
						if st, err = s.loadTenantState(ctx, tid); err != nil {
							return err
						}
					}
					if v := st.View(now, b, false); s.reminders.EndingSoon(now, b, v.Status) {
						s.record(ctx, e)
					}
				}
				if !b.Kind.Incidental() {
					continue // a consultation benefit (R22) has no balance to cap or expire
				}
				if domain.CapDue(b, now) {
					s.recordOnce(ctx, domain.Event{ID: "cap/" + b.ID, TenantID: tid, Kind: domain.EventCap, BenefitID: b.ID, PlanName: b.Name,
						Reason: "R24: the unlimited balance is capped for the year from the renewal anniversary", At: b.StartsAt, Quota: b.Quota})
				}
				if b.Expired(now) {
					s.recordOnce(ctx, domain.Event{ID: "expire/" + b.ID, TenantID: tid, Kind: domain.EventExpire, BenefitID: b.ID, PlanName: b.Name,
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
func (s *SweepService) recordOnce(ctx context.Context, e domain.Event) {
	if !s.sequenced(ctx, e) {
		s.record(ctx, e)
	}
}

// sequenced reports whether the ledger has the event; when unsure (an error), it says no,
// and recording it again is a no-op.
func (s *SweepService) sequenced(ctx context.Context, e domain.Event) bool {
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
func (s *SweepService) Repair(ctx context.Context) error {
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
	// A request created before the window may have been closed within it.
	closed, err := s.store.RequestsClosedSince(ctx, since)
	if err != nil {
		return err
	}
	// Lookups by key, maxInIDs to a query, skip what the ledger has: the outbox gets only
	// what is missing, not every recent request again, and a refund whose event is
	// sequenced was recorded after its refund and its claim's release (refundIfDue), so it
	// is complete.
	var probes []domain.Event
	for _, r := range rs {
		probes = append(probes, domain.Event{ID: "consume/" + r.ID, TenantID: r.TenantID}, domain.Event{ID: "refund/" + r.ID, TenantID: r.TenantID})
	}
	for _, r := range closed {
		probes = append(probes, domain.Event{ID: "refund/" + r.ID, TenantID: r.TenantID})
	}
	done, err := s.store.SequencedEvents(ctx, probes)
	if err != nil {
		return err
	}
	for i, r := range rs {
		if r.Consumed && !done[2*i] {
			e := domain.Event{ID: "consume/" + r.ID, TenantID: r.TenantID, Kind: domain.EventConsume, BenefitID: r.BenefitID,
				RequestID: r.ID, ActorID: r.AccountID, Reason: string(r.Type), At: r.CreatedAt, Delta: -1}
			e.Quota, e.Unlimited, e.PlanName = s.planQuota(ctx, r)
			if err := s.store.RecordEvent(ctx, e); err != nil {
				return err
			}
		}
		if r.Closure != nil && !done[2*i+1] {
			if _, err := s.refundIfDue(ctx, r, *r.Closure); err != nil {
				return err
			}
		}
	}
	for i, r := range closed {
		if !done[2*len(rs)+i] {
			if _, err := s.refundIfDue(ctx, r, *r.Closure); err != nil {
				return err
			}
		}
	}
	if err := s.Sweep(ctx); err != nil {
		return err
	}
	return s.store.SaveCheckpoint(ctx, "repair", now)
}

// since is where a run of job at now starts reading: the start of its last completed run
// less repairOverlap, or the beginning when it never completed.
func (s *SweepService) since(ctx context.Context, job string, now time.Time) (time.Time, error) {
	checkpoint, err := s.store.Checkpoint(ctx, job)
	if err != nil || checkpoint.IsZero() {
		return time.Time{}, err
	}
	if now.Before(checkpoint) {
		checkpoint = now // the business clock was set back
	}
	return checkpoint.Add(-repairOverlap), nil
}
