package domain

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// Reminders (R19): a tenant is reminded before a benefit's end date and when its balance
// runs low. The read view (Service.Reminders) and the live feed (the sweep's ending-soon
// event, the sequencer's low-balance event) ask the same two questions below, EndingSoon
// and LowBalance, so they cannot disagree.

// Reminder tells a tenant that a benefit ends soon or runs low (R19).
type Reminder struct {
	Kind    ReminderKind
	Benefit Benefit
	EndsAt  time.Time
	Balance Incidents
	Message string
}

// ReminderKind says why a reminder is shown.
type ReminderKind string

// Reminder kinds.
const (
	ReminderEndingSoon ReminderKind = "ENDING_SOON"
	ReminderLowBalance ReminderKind = "LOW_BALANCE"
)

// ReminderPolicy sets when reminders are due (R19).
type ReminderPolicy struct {
	Window       time.Duration // remind when a benefit ends within this window
	LowThreshold int           // remind when remaining incidents are at or below this
}

// inUse: activated and not yet expired.
func inUse(s BenefitStatus) bool {
	return s == StatusActive || s == StatusExhausted || s == StatusActivating
}

// reminds decides whether a benefit reminds at all (R19): a tenant's benefit in use
// (activated, not yet expired). A pay-per-incident plan is an account's one-incident
// purchase (R21), not a tenant's benefit: it never reminds.
func reminds(b Benefit, status BenefitStatus) bool {
	return inUse(status) && !IsPPIScope(b.TenantID)
}

// EndingSoon decides R19's reminder before the end date: a benefit that reminds and ends
// within the window. The boundary is inclusive: ending exactly Window from now reminds.
func (p ReminderPolicy) EndingSoon(now time.Time, b Benefit, status BenefitStatus) bool {
	return reminds(b, status) && b.EndsAt.Sub(now) <= p.Window
}

// LowBalance decides R19's reminder when the balance runs low: a benefit of incidents
// that reminds, with a capped balance at or below the threshold (so exhausted too). An
// unlimited balance, and an ISV consultation benefit (R22), never run low.
func (p ReminderPolicy) LowBalance(b Benefit, status BenefitStatus, bal Incidents) bool {
	return reminds(b, status) && b.Kind.Incidental() && !bal.Unlimited && bal.Remaining <= p.LowThreshold
}

// Reminders lists the reminders due at now for one benefit (R19): the read view.
func (p ReminderPolicy) Reminders(now time.Time, b Benefit, status BenefitStatus, bal Incidents) []Reminder {
	var out []Reminder
	if p.EndingSoon(now, b, status) {
		days := int(b.EndsAt.Sub(now).Hours() / 24)
		out = append(out, Reminder{Kind: ReminderEndingSoon, Benefit: b, EndsAt: b.EndsAt, Balance: bal,
			Message: fmt.Sprintf("%s ends on %s (in %d days).", b.Name, b.EndsAt.Format("2006-01-02"), days)})
	}
	if p.LowBalance(b, status, bal) {
		out = append(out, Reminder{Kind: ReminderLowBalance, Benefit: b, EndsAt: b.EndsAt, Balance: bal,
			Message: fmt.Sprintf("%s has %d of %d incidents left.", b.Name, bal.Remaining, bal.Total)})
	}
	return out
}

// EndingEvent is the live feed's ending-soon reminder of a benefit (R19), recorded by the
// sweep when EndingSoon says so; its ID names the benefit, so it reminds once.
func EndingEvent(now time.Time, b Benefit) Event {
	return Event{ID: "remind-ending/" + b.ID, TenantID: b.TenantID, Kind: EventEnding, BenefitID: b.ID, PlanName: b.Name,
		Reason: "R19: ends on " + b.EndsAt.Format("2006-01-02"), At: now, Quota: b.Quota, Unlimited: b.Unlimited}
}

// LowEvent is the live feed's low-balance reminder after a sequenced event e (R19): due
// when e is a consumption that leaves the balance low, as LowBalance decides it for the
// benefit e consumed from (a benefit of incidents in use, R15). Its ID names the level,
// so each level reminds once.
func (p ReminderPolicy) LowEvent(e Event) (Event, bool) {
	consumed := Benefit{ID: e.BenefitID, TenantID: e.TenantID, Kind: BenefitCloudSupport, Name: e.PlanName, Quota: e.Quota, Unlimited: e.Unlimited}
	if e.Kind != EventConsume || !p.LowBalance(consumed, StatusActive, e.Balance()) {
		return Event{}, false
	}
	return Event{ID: "remind-low/" + e.BenefitID + "/" + strconv.Itoa(e.Used), TenantID: e.TenantID, Kind: EventLow, BenefitID: e.BenefitID,
		PlanName: e.PlanName, RequestID: e.RequestID, Reason: "R19: " + strconv.Itoa(e.Remaining) + " incidents left", At: e.At, Quota: e.Quota}, true
}

// IsPPIScope reports whether a ledger scope is an account's pay-per-incident scope
// (PPIScope) rather than a tenant.
func IsPPIScope(scope string) bool { return strings.HasPrefix(scope, PPIScope("")) }
