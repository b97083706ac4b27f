package domain

import (
	"testing"
	"time"
)

var (
	r19Now    = time.Date(2026, 6, 1, 12, 0, 0, 0, time.UTC)
	r19Policy = ReminderPolicy{Window: 30 * 24 * time.Hour, LowThreshold: 2}
)

func r19Benefit(kind BenefitKind, tenant string, endsIn time.Duration) Benefit {
	return Benefit{ID: tenant + ".offer.b", TenantID: tenant, Kind: kind, Name: "plan", Quota: 5, EndsAt: r19Now.Add(endsIn)}
}

func TestR19_EndingSoon(t *testing.T) {
	day := 24 * time.Hour
	for _, c := range []struct {
		name   string
		b      Benefit
		status BenefitStatus
		want   bool
	}{
		{"ends exactly at the window's end", r19Benefit(BenefitCloudSupport, "t", 30*day), StatusActive, true},
		{"ends just after the window", r19Benefit(BenefitCloudSupport, "t", 30*day+time.Millisecond), StatusActive, false},
		{"ends tomorrow", r19Benefit(BenefitOnPremisesSupport, "t", day), StatusExhausted, true},
		{"still activating", r19Benefit(BenefitCloudSupport, "t", day), StatusActivating, true},
		{"never activated", r19Benefit(BenefitCloudSupport, "t", day), StatusNotActivated, false},
		{"expired", r19Benefit(BenefitCloudSupport, "t", -day), StatusExpired, false},
		{"an activated consultation benefit", r19Benefit(BenefitISVConsultation, "t", day), StatusActive, true},
		{"a pay-per-incident plan is no tenant's benefit", r19Benefit(BenefitOnPremisesSupport, PPIScope("acc"), day), StatusActive, false},
	} {
		if got := r19Policy.EndingSoon(r19Now, c.b, c.status); got != c.want {
			t.Errorf("%s: EndingSoon = %v, want %v", c.name, got, c.want)
		}
	}
}

func TestR19_LowBalance(t *testing.T) {
	capped := func(rem int) Incidents { return Incidents{Total: 5, Used: 5 - rem, Remaining: rem} }
	cloud := r19Benefit(BenefitCloudSupport, "t", 300*24*time.Hour)
	for _, c := range []struct {
		name   string
		b      Benefit
		status BenefitStatus
		bal    Incidents
		want   bool
	}{
		{"at the threshold", cloud, StatusActive, capped(2), true},
		{"one above the threshold", cloud, StatusActive, capped(3), false},
		{"none left", cloud, StatusExhausted, capped(0), true},
		{"unlimited", cloud, StatusActive, Incidents{Used: 99, Unlimited: true}, false},
		{"never activated", cloud, StatusNotActivated, capped(1), false},
		{"expired", cloud, StatusExpired, capped(1), false},
		{"a consultation benefit has no incidents", r19Benefit(BenefitISVConsultation, "t", time.Hour), StatusActive, capped(1), false},
		{"a pay-per-incident plan is no tenant's benefit", r19Benefit(BenefitOnPremisesSupport, PPIScope("acc"), time.Hour), StatusExhausted, capped(0), false},
	} {
		if got := r19Policy.LowBalance(c.b, c.status, c.bal); got != c.want {
			t.Errorf("%s: LowBalance = %v, want %v", c.name, got, c.want)
		}
	}
}

// The read view (Reminders) and the live feed (the sweep's ending-soon event, the
// sequencer's low-balance event after a consumption) remind the same benefits for the
// same state. Before, a pay-per-incident plan got a low-balance reminder on the feed that
// the read view never showed, and a consultation benefit an ending-soon reminder on the
// read view that the feed never sent.
func TestR19_ReadViewAndFeedAgree(t *testing.T) {
	day := 24 * time.Hour
	for _, kind := range []BenefitKind{BenefitCloudSupport, BenefitOnPremisesSupport, BenefitISVConsultation} {
		for _, scope := range []string{"contoso", PPIScope("acc")} {
			for _, endsIn := range []time.Duration{-day, day, 30 * day, 31 * day} {
				for _, status := range []BenefitStatus{StatusNotActivated, StatusActivating, StatusActive, StatusExhausted, StatusExpired} {
					for _, remaining := range []int{0, 1, 2, 3, 5} {
						b := r19Benefit(kind, scope, endsIn)
						bal := b.Balance(b.Quota - remaining)
						read := map[ReminderKind]bool{}
						for _, r := range r19Policy.Reminders(r19Now, b, status, bal) {
							read[r.Kind] = true
						}
						// The sweep records the ending-soon event when EndingSoon says so.
						if got := r19Policy.EndingSoon(r19Now, b, status); got != read[ReminderEndingSoon] {
							t.Errorf("%s %s ends in %v %s: feed ending-soon %v, read view %v", kind, scope, endsIn, status, got, read[ReminderEndingSoon])
						}
						// A consumption happens only on a benefit of incidents that is in use
						// (R15, R23): after one, the feed reminds as the read view does.
						if !kind.Incidental() || (status != StatusActive && status != StatusExhausted) || endsIn < 0 {
							continue
						}
						consume := Event{ID: "consume/r", TenantID: scope, Kind: EventConsume, BenefitID: b.ID, Quota: b.Quota, Delta: -1}
						ApplyBalance(&consume, b.Quota-remaining-1)
						if _, got := r19Policy.LowEvent(consume); got != read[ReminderLowBalance] {
							t.Errorf("%s %s %s with %d left: feed low-balance %v, read view %v", kind, scope, status, remaining, got, read[ReminderLowBalance])
						}
					}
				}
			}
		}
	}
}

func TestR19_LowEventOnlyAfterAConsumption(t *testing.T) {
	e := Event{ID: "refund/r", TenantID: "t", Kind: EventRefund, BenefitID: "b", Quota: 5, Used: 4, Remaining: 1}
	if _, ok := r19Policy.LowEvent(e); ok {
		t.Fatal("a refund reminds nothing")
	}
	e.Kind = EventConsume
	r, ok := r19Policy.LowEvent(e)
	if !ok || r.ID != "remind-low/b/4" || r.Kind != EventLow {
		t.Fatalf("a consumption to 1 left reminds once per level: %+v %v", r, ok)
	}
}
