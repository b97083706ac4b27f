package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net/http"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.mongodb.org/mongo-driver/v2/bson"
	"go.mongodb.org/mongo-driver/v2/mongo"
	"go.mongodb.org/mongo-driver/v2/mongo/options"

	"github.com/partnersupport/api/graph"
	"github.com/partnersupport/api/internal/testenv"
)

const (
	spdCloud = "contoso.solutions_partner_designation.20260901.cloud_support" // 50 incidents
	expanded = "contoso.partner_success_expanded.20260901.cloud_support"      // 5 incidents
)

// cluster is one embedded store process and API processes sharing it.
type cluster struct {
	t     testing.TB
	uri   string
	keys  string
	store *testenv.Process
	apis  []*testenv.Process
}

func newCluster(t testing.TB, apis int, env ...string) *cluster {
	c := &cluster{t: t, keys: t.TempDir()}
	c.store = testenv.Start(t, []string{"store", "--data-dir", t.TempDir(), "--store-addr", "127.0.0.1:0"})
	uri, err := c.store.WaitOutput(storeURIRE, 60*time.Second)
	require.NoError(t, err)
	c.uri = uri
	for range apis {
		c.apis = append(c.apis, c.startAPI(env...))
	}
	return c
}

func (c *cluster) startAPI(extra ...string) *testenv.Process {
	c.t.Helper()
	return startAPI(c.t, c.keys, append([]string{"MONGODB_URI=" + c.uri}, extra...)...)
}

func (c *cluster) url(i int) string { return "http://" + c.apis[i%len(c.apis)].Addr + "/query" }

func (c *cluster) token(email string) string { return devToken(c.t, c.keys, email) }

// db opens the shared store directly, for checks.
func (c *cluster) db() *mongo.Database {
	cl, err := mongo.Connect(options.Client().ApplyURI(c.uri))
	require.NoError(c.t, err)
	c.t.Cleanup(func() { _ = cl.Disconnect(context.Background()) })
	return cl.Database("partnersupport")
}

// setup activates a benefit and links it for lee; returns lee's token.
func (c *cluster) setup(benefit string) string {
	admin, lee := c.token("megan@contoso.com"), c.token("lee@contoso.com")
	var act struct {
		ActivateBenefit struct {
			Benefit struct{ Contract map[string]string }
		}
	}
	testenv.Post(c.t, c.url(0), admin, `mutation($b: ID!) { activateBenefit(benefitId: $b) { benefit { contract { accessId contractId } } } }`, map[string]any{"b": benefit}).MustData(c.t, &act)
	var l struct{ LinkSupportPlan struct{ UserErrors []any } }
	testenv.Post(c.t, c.url(1), lee, `mutation($a: String!, $c: String!) { linkSupportPlan(input: {accessId: $a, contractId: $c, portal: AZURE}) { userErrors { code } } }`,
		map[string]any{"a": act.ActivateBenefit.Benefit.Contract["accessId"], "c": act.ActivateBenefit.Benefit.Contract["contractId"]}).MustData(c.t, &l)
	require.Empty(c.t, l.LinkSupportPlan.UserErrors)
	return lee
}

// used is a benefit's used incidents as its tenant's admin sees them (R15, R16).
func (c *cluster) used(benefit string) int {
	c.t.Helper()
	var out struct {
		Tenant struct {
			Benefits []struct {
				ID        string
				Incidents struct{ Used int }
			}
		}
	}
	testenv.Post(c.t, c.url(0), c.token("megan@contoso.com"), `{ tenant(id: "contoso") { benefits { id incidents { used } } } }`, nil).MustData(c.t, &out)
	for _, b := range out.Tenant.Benefits {
		if _, key, _ := graph.ParseGlobalID(b.ID); key == benefit {
			return b.Incidents.Used
		}
	}
	c.t.Fatalf("contoso has no benefit %s", benefit)
	return 0
}

// ledgerEntries counts the entries of a kind for a request in contoso's ledger, as its
// admin reads it (R16, R19).
func (c *cluster) ledgerEntries(kind, requestID string) int {
	c.t.Helper()
	var out struct {
		IncidentLedger struct {
			Edges []struct {
				Node struct{ Kind, RequestID string }
			}
		}
	}
	testenv.Post(c.t, c.url(1), c.token("megan@contoso.com"), `{ incidentLedger(tenantId: "contoso", first: 100) { edges { node { kind requestId } } } }`, nil).MustData(c.t, &out)
	n := 0
	for _, e := range out.IncidentLedger.Edges {
		if e.Node.Kind == kind && e.Node.RequestID == requestID {
			n++
		}
	}
	return n
}

type createResult struct {
	CreateSupportRequest struct {
		Request    *struct{ ID string }
		UserErrors []struct{ Code string }
	}
}

const createMutation = `mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { request { id } userErrors { code } } }`

func createInput(key, plan string) map[string]any {
	return map[string]any{"in": map[string]any{"idempotencyKey": key, "planId": plan, "productId": "azure", "portal": "AZURE", "type": "TECHNICAL", "title": "race"}}
}

// R15 across two processes: 120 creates at once, alternating between the processes, on a
// plan of 50 incidents (the 500 of BenchmarkContention500On50 are for make bench).
func TestR15_TwoProcesses_ManyCreatesOnOnePlanNeverOverdraw(t *testing.T) {
	const n, quota = 120, 50
	c := newCluster(t, 2)
	lee := c.setup(spdCloud)
	var ok, exhausted atomic.Int64
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range n {
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var r createResult
			testenv.Post(t, c.url(i), lee, createMutation, createInput(fmt.Sprintf("xproc-%05d", i), spdCloud)).MustData(t, &r)
			if r.CreateSupportRequest.Request != nil {
				ok.Add(1)
			} else if assert.Len(t, r.CreateSupportRequest.UserErrors, 1) {
				assert.Equal(t, "NO_INCIDENTS_LEFT", r.CreateSupportRequest.UserErrors[0].Code)
				exhausted.Add(1)
			}
		}()
	}
	close(start)
	wg.Wait()
	assert.EqualValues(t, quota, ok.Load(), "exactly the plan's 50 incidents, across two processes")
	assert.EqualValues(t, n-quota, exhausted.Load())
	assert.Equal(t, quota, c.used(spdCloud), "the plan shows its 50 incidents used, no more")
}

func TestR16_TwoProcesses_ManyClosesOfOneDuplicateRefundOnce(t *testing.T) {
	c := newCluster(t, 2)
	lee := c.setup(expanded)
	prov := providerDevToken(t, c.keys, "acme-support") // duplicates are the provider's findings (R25)
	var r createResult
	testenv.Post(t, c.url(0), lee, createMutation, createInput("xproc-close-1", expanded)).MustData(t, &r)
	require.NotNil(t, r.CreateSupportRequest.Request)
	id := r.CreateSupportRequest.Request.ID
	start := make(chan struct{})
	var wg sync.WaitGroup
	for i := range 32 { // at once, alternating between the processes
		wg.Add(1)
		go func() {
			defer wg.Done()
			<-start
			var out struct{ ResolveSupportRequest struct{ UserErrors []any } }
			testenv.Post(t, c.url(i), prov, `mutation($id: ID!) { resolveSupportRequest(id: $id, resolution: DUPLICATE) { userErrors { code } } }`, map[string]any{"id": id}).MustData(t, &out)
			assert.Empty(t, out.ResolveSupportRequest.UserErrors)
		}()
	}
	close(start)
	wg.Wait()
	assert.Equal(t, 0, c.used(expanded), "the incident is back, once")
	testenv.WaitFor(t, 10*time.Second, "the refund to be in the ledger", func() bool { return c.ledgerEntries("REFUND", id) > 0 })
	assert.Equal(t, 1, c.ledgerEntries("REFUND", id), "one refund, however many closes")
	assert.Equal(t, 1, c.ledgerEntries("CONSUME", id))
}

func TestR15_TwoProcesses_RetriesOfOneKeyMakeOneRequest(t *testing.T) {
	c := newCluster(t, 2)
	lee := c.setup(expanded)
	ids := make([]string, 40)
	var wg sync.WaitGroup
	for i := range ids {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var r createResult
			testenv.Post(t, c.url(i), lee, createMutation, createInput("xproc-same-key", expanded)).MustData(t, &r)
			if assert.NotNil(t, r.CreateSupportRequest.Request) {
				ids[i] = r.CreateSupportRequest.Request.ID
			}
		}()
	}
	wg.Wait()
	for _, id := range ids {
		assert.Equal(t, ids[0], id)
	}
	assert.Equal(t, 1, c.used(expanded), "one request, one incident")
}

// TestCrash_KilledDuringCreatesAndClosesLeavesAgreeingState kills an API process (SIGKILL)
// at random points while creates and closes are in flight, restarts it, lets clients retry
// with their keys, and then checks that claims, refunds, requests and the ledger agree:
// nothing double-spent, nothing lost (docs/crash-safety.md).
func TestCrash_KilledDuringCreatesAndClosesLeavesAgreeingState(t *testing.T) {
	c := newCluster(t, 1)
	lee := c.setup(spdCloud)
	prov := providerDevToken(t, c.keys, "acme-support")
	keys := []string{}
	created := map[string]string{} // key -> request ID
	var mu sync.Mutex
	rng := rand.New(rand.NewPCG(1, uint64(time.Now().UnixNano())))
	client := &http.Client{Timeout: 5 * time.Second}
	_ = client
	for round := range 5 {
		api := c.apis[0]
		url := "http://" + api.Addr + "/query"
		killAfter := 5 + rng.IntN(25) // responses before the kill
		var done atomic.Int64
		var wg sync.WaitGroup
		for i := range 40 {
			key := fmt.Sprintf("crash-%d-%03d", round, i)
			mu.Lock()
			keys = append(keys, key)
			mu.Unlock()
			wg.Add(1)
			go func() {
				defer wg.Done()
				r, ok := tryPost(url, lee, createMutation, createInput(key, spdCloud))
				if !ok {
					return
				}
				var out createResult
				if decode(r, &out) && out.CreateSupportRequest.Request != nil {
					mu.Lock()
					created[key] = out.CreateSupportRequest.Request.ID
					mu.Unlock()
					if i%2 == 0 { // close half as duplicates: refunds race the kill too
						tryPost(url, prov, `mutation($id: ID!) { resolveSupportRequest(id: $id, resolution: DUPLICATE) { userErrors { code } } }`, map[string]any{"id": out.CreateSupportRequest.Request.ID})
					}
				}
				if done.Add(1) == int64(killAfter) {
					api.Kill()
				}
			}()
		}
		wg.Wait()
		api.Kill()
		c.apis[0] = c.startAPI() // its repair runs beside the creates that follow
	}
	// Clients retry every key they sent (same content): each completes or is refused.
	url := c.url(0)
	for _, key := range keys {
		var out createResult
		testenv.Post(t, url, lee, createMutation, createInput(key, spdCloud)).MustData(t, &out)
		if out.CreateSupportRequest.Request != nil {
			created[key] = out.CreateSupportRequest.Request.ID
		}
	}
	// A restart two hours later frees claims no request ever followed.
	c.apis[0].Kill()
	off, _ := time.ParseDuration(clockOffset)
	restarted := time.Now().Add(off + 2*time.Hour) // on the restarted API's clock
	c.apis[0] = startAPIWithOffset(t, c.keys, "2h", "MONGODB_URI="+c.uri)

	db := c.db()
	ctx := t.Context()
	// The restart answers before its repair is done (app.Maintain): the checks below are
	// of the state the repair leaves, so they wait for its checkpoint.
	testenv.WaitFor(t, 30*time.Second, "the restart's repair to complete", func() bool {
		var cp struct {
			StartedAt time.Time `bson:"startedAt"`
		}
		err := db.Collection("checkpoints").FindOne(ctx, bson.D{{Key: "_id", Value: "repair"}}).Decode(&cp)
		return err == nil && cp.StartedAt.After(restarted.Add(-time.Minute))
	})
	claims := idsOf(t, db.Collection("claims"), bson.D{{Key: "benefitId", Value: spdCloud}})
	refunds := idsOf(t, db.Collection("refunds"), bson.D{{Key: "benefitId", Value: spdCloud}})
	requests := idsOf(t, db.Collection("requests"), bson.D{{Key: "benefitId", Value: spdCloud}})
	for id := range refunds {
		assert.False(t, claims[id], "a refunded request holds no claim: %s", id)
		assert.True(t, requests[id], "a refund belongs to a request")
	}
	for id := range claims {
		assert.True(t, requests[id], "every claim is backed by a request: %s", id)
	}
	for id := range requests {
		assert.True(t, claims[id] != refunds[id], "a request holds its claim or was refunded, not both, not neither: %s", id)
	}
	assert.LessOrEqual(t, len(claims), 50, "never overdrawn")
	// The ledger's last balance agrees with the claims.
	testenv.WaitFor(t, 20*time.Second, "the ledger to agree with the claims", func() bool {
		var last struct {
			Remaining int `bson:"remaining"`
		}
		err := db.Collection("events").FindOne(ctx, bson.D{{Key: "benefitId", Value: spdCloud}}, options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})).Decode(&last)
		return err == nil && last.Remaining == 50-len(claims)
	})
	consumes, err := db.Collection("events").CountDocuments(ctx, bson.D{{Key: "benefitId", Value: spdCloud}, {Key: "kind", Value: "CONSUME"}})
	require.NoError(t, err)
	assert.EqualValues(t, len(requests), consumes, "one CONSUME event per request that took an incident")
	refundEvents, err := db.Collection("events").CountDocuments(ctx, bson.D{{Key: "benefitId", Value: spdCloud}, {Key: "kind", Value: "REFUND"}})
	require.NoError(t, err)
	assert.EqualValues(t, len(refunds), refundEvents, "one REFUND event per refund")
	for key, id := range created {
		assert.True(t, requests[id], "a request a client saw created exists: %s", key)
	}
}

func idsOf(t *testing.T, col *mongo.Collection, filter bson.D) map[string]bool {
	t.Helper()
	cur, err := col.Find(t.Context(), filter, options.Find().SetProjection(bson.D{{Key: "_id", Value: 1}}))
	require.NoError(t, err)
	var rows []struct {
		ID string `bson:"_id"`
	}
	require.NoError(t, cur.All(t.Context(), &rows))
	out := map[string]bool{}
	for _, r := range rows {
		out[graph.GlobalID("SupportRequest", r.ID)] = true // as the API names the request
	}
	return out
}

func mongodbSortSeqDesc() *options.FindOneOptionsBuilder {
	return options.FindOne().SetSort(bson.D{{Key: "seq", Value: -1}})
}
