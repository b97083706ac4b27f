package domain

import (
	"reflect"
	"slices"
	"strings"
	"testing"
	"time"
)

var (
	planNow = time.Date(2026, 6, 1, 0, 0, 0, 0, time.UTC)
	day     = 24 * time.Hour
)

func date(y int, m time.Month, d int) time.Time { return time.Date(y, m, d, 0, 0, 0, 0, time.UTC) }

// windowsServer has N = 2025, N-1 = 2022, N-2 = 2019 (out of mainstream since 2024-01-09),
// and a version announced but not yet released.
var windowsServer = Product{ID: "windows-server", Name: "Windows Server", Deployment: DeploymentOnPremises, Portal: PortalServicesHub,
	LifecyclePolicy: LifecycleFixed, NeedsLink: true, Versions: []Version{
		{Name: "2019", ReleasedAt: date(2018, 11, 13), MainstreamEndsAt: date(2024, 1, 9)},
		{Name: "2022", ReleasedAt: date(2021, 8, 18), MainstreamEndsAt: date(2026, 10, 13)},
		{Name: "2025", ReleasedAt: date(2024, 11, 1), MainstreamEndsAt: date(2029, 11, 13)},
		{Name: "2028", ReleasedAt: date(2028, 1, 1), MainstreamEndsAt: date(2033, 1, 1)},
	}}

var azure = Product{ID: "azure", Name: "Azure", Deployment: DeploymentCloud, Portal: PortalAzure, NeedsLink: true}

func TestR8_Coverage(t *testing.T) {
	for _, c := range []struct {
		version string
		now     time.Time
		want    bool
		why     string
	}{
		{"2025", planNow, true, ""},
		{"2022", planNow, true, ""},                            // N-1
		{"2019", planNow, false, "not the current version"},    // N-2
		{"2022", date(2026, 10, 13), false, "left mainstream"}, // the day mainstream ends is out
		{"2022", date(2026, 10, 12), true, ""},
		{"2028", planNow, false, "not released"},
		{"2019", date(2024, 12, 1), false, "not the current version"}, // N-2 once 2025 was released
		{"2019", date(2023, 6, 1), true, ""},                          // N-1 before 2025 was released
		{"1.0", planNow, false, "not released"},
	} {
		got, why := Coverage(windowsServer, c.version, c.now)
		if got != c.want || !strings.Contains(why, c.why) {
			t.Errorf("Coverage(%s, %s) = %v %q, want %v %q", c.version, c.now.Format("2006-01-02"), got, why, c.want, c.why)
		}
	}
	if ok, _ := Coverage(azure, "", planNow); ok {
		t.Error("partner on-premises support never covers a cloud product")
	}
}

func TestR23_Lapsed(t *testing.T) {
	end := date(2026, 9, 1)
	for _, c := range []struct {
		status BenefitStatus
		code   ReasonCode
	}{
		{StatusExpired, ReasonExpired},
		{StatusExhausted, ReasonNoIncidentsLeft},
		{StatusActive, ""},
		{StatusActivating, ""},
		{StatusNotActivated, ""},
	} {
		r, ok := Lapsed(c.status, end)
		if ok != (c.code != "") || r.Code != c.code || (ok && r.Rule != "R23") {
			t.Errorf("Lapsed(%s) = %+v %v, want %q", c.status, r, ok, c.code)
		}
	}
	// Available yesterday, not today: the status is computed at request time.
	b := Benefit{Kind: BenefitCloudSupport, Quota: 5, EndsAt: end}
	ready := &Contract{}
	if _, ok := Lapsed(b.Status(end.Add(-time.Millisecond), ready, false, 4), end); ok {
		t.Error("available the instant before its end")
	}
	if _, ok := Lapsed(b.Status(end, ready, false, 4), end); !ok {
		t.Error("unavailable from its end date")
	}
	if _, ok := Lapsed(b.Status(planNow, ready, false, 5), end); !ok {
		t.Error("unavailable with no incident left")
	}
}

// A create chooses its plan among exactly what supportPlans lists to the caller (R23): the
// listed plan itself when it is available, its reasons when it is not, and a plan the list
// does not hold (another tenant's, one never linked) is refused as unknown to the caller.
func TestR23_ChoosePlanRefusesAnUnavailablePlanWithItsReasons(t *testing.T) {
	expired := Plan{ID: "a", Name: "A", Reasons: []Reason{{Code: ReasonExpired, Rule: "R23", Message: "ended"}, {Code: ReasonCloudOnly, Rule: "R8"}}}
	empty := Plan{ID: "b", Name: "B", Reasons: []Reason{{Code: ReasonNoIncidentsLeft, Rule: "R23"}}}
	ok := Plan{ID: "c", Name: "C", TenantID: "contoso", Kind: PlanPartnerCloud, Incidents: Incidents{Total: 5, Remaining: 4}, Quota: 5}
	plans := Plans{Available: []Plan{ok}, Unavailable: []Plan{expired, empty}}
	for _, c := range []struct {
		id   string
		code Code
		rule string
	}{
		{"c", "", ""},
		{"a", EPLANUNAVAILABLE, "R23"},
		{"b", EEXHAUSTED, "R23"},
		{"nope", EINVALID, ""},
		{"fabrikam.spd.20260901.cloud_support", EINVALID, ""}, // a real benefit, not listed to this caller
	} {
		p, err := ChoosePlan(plans, c.id)
		if ErrorCode(err) != c.code {
			t.Errorf("ChoosePlan(%s): %v, want %s", c.id, err, c.code)
			continue
		}
		if err == nil {
			if !reflect.DeepEqual(p, ok) {
				t.Errorf("ChoosePlan(%s) = %+v, not the listed plan %+v", c.id, p, ok)
			}
			continue
		}
		e, _ := AsError(err)
		if e.Rule != c.rule || !slices.Equal(e.Field, []string{"planId"}) {
			t.Errorf("ChoosePlan(%s): rule %q field %v", c.id, e.Rule, e.Field)
		}
	}
	_, err := ChoosePlan(plans, "a")
	if e, _ := AsError(err); !slices.Equal(e.Meta["reasons"].([]string), []string{"EXPIRED", "CLOUD_PRODUCTS_ONLY"}) {
		t.Errorf("every reason is given: %v", e.Meta)
	}
}

func TestR6_Listed(t *testing.T) {
	for _, c := range []struct {
		linked, member, activated, expired, want bool
	}{
		{true, false, false, false, true},  // an outside user's link
		{true, false, true, true, true},    // linked, even once expired (shown unavailable, R23)
		{false, true, true, false, true},   // a member's activated plan
		{false, true, false, false, false}, // not activated
		{false, true, true, true, false},   // a member's expired plan
		{false, false, true, false, false}, // neither member nor linked
	} {
		if got := Listed(c.linked, c.member, c.activated, c.expired); got != c.want {
			t.Errorf("Listed%+v = %v", c, got)
		}
	}
}

// evaluate gives a partner benefit's plan its reasons for one product, version and
// portal: R8 (what a plan serves), R10 (no link for Microsoft 365), R12 (Premier in
// Azure), R13 (Action Pack in Azure), R23 (lapsed), R4 (not active), R6 (not linked).
func TestR8_R10_R12_R13_EvaluatePlanReasons(t *testing.T) {
	end := date(2026, 9, 1)
	m365 := Product{ID: "microsoft-365", Name: "Microsoft 365", Deployment: DeploymentCloud, Portal: PortalMicrosoft365}
	premier := Account{Kind: KindEntraID, PremierLinked: true}
	for _, c := range []struct {
		name      string
		kind      PlanKind
		actionPak bool
		account   Account
		product   Product
		version   string
		portal    Portal
		status    BenefitStatus
		needsLink bool
		linked    bool
		want      []ReasonCode
	}{
		{"cloud plan, cloud product", PlanPartnerCloud, false, Account{}, azure, "", PortalAzure, StatusActive, true, true, nil},
		{"R8 cloud plan, on-premises product", PlanPartnerCloud, false, Account{}, windowsServer, "2025", PortalServicesHub, StatusActive, true, true, []ReasonCode{ReasonCloudOnly}},
		{"R8 on-premises plan, cloud product", PlanPartnerOnPremise, false, Account{}, azure, "", PortalAzure, StatusActive, true, true, []ReasonCode{ReasonOnPremisesOnly}},
		{"R8 on-premises plan, N-2", PlanPartnerOnPremise, false, Account{}, windowsServer, "2019", PortalServicesHub, StatusActive, true, true, []ReasonCode{ReasonVersionNotCovered}},
		{"R8 on-premises plan, N-1", PlanPartnerOnPremise, false, Account{}, windowsServer, "2022", PortalServicesHub, StatusActive, true, true, nil},
		{"R12 Premier linked, Azure", PlanPartnerCloud, false, premier, azure, "", PortalAzure, StatusActive, true, true, []ReasonCode{ReasonPremierLinked}},
		{"R12 Premier linked, another portal", PlanPartnerCloud, false, premier, m365, "", PortalMicrosoft365, StatusActive, false, false, nil},
		{"R13 Action Pack in Azure", PlanPartnerOnPremise, true, Account{}, azure, "", PortalAzure, StatusActive, true, true, []ReasonCode{ReasonActionPackAzure, ReasonOnPremisesOnly}},
		{"R13 Action Pack on-premises", PlanPartnerOnPremise, true, Account{}, windowsServer, "2025", PortalServicesHub, StatusActive, true, true, nil},
		{"R10 Microsoft 365 needs no link", PlanPartnerCloud, false, Account{}, m365, "", PortalMicrosoft365, StatusActive, false, false, nil},
		{"R6 not linked", PlanPartnerCloud, false, Account{}, azure, "", PortalAzure, StatusActive, true, false, []ReasonCode{ReasonNotLinked}},
		{"R23 expired", PlanPartnerCloud, false, Account{}, azure, "", PortalAzure, StatusExpired, true, true, []ReasonCode{ReasonExpired}},
		{"R23 exhausted", PlanPartnerCloud, false, Account{}, azure, "", PortalAzure, StatusExhausted, true, true, []ReasonCode{ReasonNoIncidentsLeft}},
		{"R4 still activating", PlanPartnerCloud, false, Account{}, azure, "", PortalAzure, StatusActivating, true, true, []ReasonCode{ReasonNotActive}},
	} {
		p := Plan{Kind: c.kind, ActionPack: c.actionPak, Linked: c.linked, EndsAt: &end}
		PlanContext{Now: planNow, Account: c.account, Product: c.product, Version: c.version, Portal: c.portal}.evaluate(&p, c.status, c.needsLink)
		var got []ReasonCode
		for _, r := range p.Reasons {
			got = append(got, r.Code)
		}
		if !slices.Equal(got, c.want) {
			t.Errorf("%s: reasons %v, want %v", c.name, got, c.want)
		}
	}
}

func TestR21_PPIRefusal(t *testing.T) {
	modern := Product{Name: "Exchange Online", Deployment: DeploymentOnPremises, LifecyclePolicy: "MODERN"}
	for _, c := range []struct {
		name string
		kind AccountKind
		p    *Product
		ok   bool
	}{
		{"an MSA, the account alone", KindMSA, nil, true},
		{"an MSA, a fixed-policy on-premises product", KindMSA, &windowsServer, true},
		{"an Entra ID account is told it cannot", KindEntraID, nil, false},
		{"an Entra ID account, a fitting product", KindEntraID, &windowsServer, false},
		{"the support provider", KindSupportProvider, nil, false},
		{"a cloud product", KindMSA, &azure, false},
		{"the modern lifecycle policy", KindMSA, &modern, false},
	} {
		err := PPIRefusal(c.kind, c.p)
		if (err == nil) != c.ok || (err != nil && (err.Code != EPPIREFUSED || err.Rule != "R21")) {
			t.Errorf("%s: %v", c.name, err)
		}
	}
}

// One pay-per-incident plan has one name, the product's, on the plan and on every ledger
// event of it: before, its grant said "Windows Server" and its consumption "windows-server".
func TestR21_PPIPlanNameIsTheProductsName(t *testing.T) {
	pp := PPIPlan{ID: "ppi_x", AccountID: "acc", ProductID: "windows-server", BoughtAt: planNow, EndsAt: planNow.AddDate(1, 0, 0)}
	b := PPIBenefit(pp, windowsServer)
	if b.Name != "Pay per incident: Windows Server" || b.Name != PPIPlanName(windowsServer) {
		t.Fatalf("name %q", b.Name)
	}
	if b.TenantID != PPIScope("acc") || b.Quota != 1 || b.Unlimited {
		t.Fatalf("a one-incident plan of the account's scope: %+v", b)
	}
	// R23 on a PPI plan: active from its purchase, used up by one request, ended a year on.
	for _, c := range []struct {
		now  time.Time
		used int
		want BenefitStatus
	}{
		{planNow, 0, StatusActive}, {planNow, 1, StatusExhausted}, {pp.EndsAt, 0, StatusExpired}, {pp.EndsAt.Add(-time.Millisecond), 0, StatusActive},
	} {
		if got := PPIStatus(b, c.now, c.used); got != c.want {
			t.Errorf("PPIStatus(%s, %d) = %s, want %s", c.now, c.used, got, c.want)
		}
	}
}
