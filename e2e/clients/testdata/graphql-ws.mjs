// The graphql-ws client (graphql-transport-ws) against the server: a subscription from a
// cursor receives the event of the request it opens (without the request ID: lee is no
// admin, and the ledger's who and which are for admins), and a bad token ends the
// connection with 4403, which the client does not retry.
// Env: API (the /query URL), TOKEN, PLAN (a plan the token's account has linked).
import assert from 'node:assert/strict';
import { createClient } from 'graphql-ws';
import WebSocket from 'ws';

const api = process.env.API;
const wsUrl = api.replace(/^http/, 'ws');
const auth = { Authorization: `Bearer ${process.env.TOKEN}` };

async function post(query, variables) {
  const res = await fetch(api, { method: 'POST', headers: { 'content-type': 'application/json', ...auth }, body: JSON.stringify({ query, variables }) });
  const body = await res.json();
  assert.equal(body.errors, undefined, JSON.stringify(body.errors));
  return body.data;
}

const { tenant } = await post('{ tenant(id: "contoso") { ledgerCursor } }');
const client = createClient({ url: wsUrl, webSocketImpl: WebSocket, connectionParams: auth, retryAttempts: 0 });
const events = client.iterate({
  query: 'subscription($after: String) { incidentBalanceChanged(tenantId: "contoso", after: $after) { seq kind benefitId remaining requestId } }',
  variables: { after: tenant.ledgerCursor },
});
const created = await post(`mutation($in: CreateSupportRequestInput!) { createSupportRequest(input: $in) { request { id } userErrors { code message } } }`, {
  in: { idempotencyKey: 'graphql-ws-client-0001', planId: process.env.PLAN, productId: 'azure', portal: 'AZURE', type: 'TECHNICAL', title: 'VM does not boot' },
});
assert.deepEqual(created.createSupportRequest.userErrors, []);
assert.ok(created.createSupportRequest.request.id);
const timer = setTimeout(() => { console.error('no event within 30 s'); process.exit(1); }, 30_000);
for await (const result of events) {
  assert.equal(result.errors, undefined, JSON.stringify(result.errors));
  const ev = result.data.incidentBalanceChanged;
  if (ev.kind === 'CONSUME') {
    // The first consumption after the cursor is this request's; lee is no admin, so the
    // event does not say which request it was (the ledger's who and which are admins').
    assert.equal(ev.requestId, null, `a USER must not see the request behind ${JSON.stringify(ev)}`);
    console.log(`graphql-ws: received ${ev.kind} seq ${ev.seq}, ${ev.remaining} remaining`);
    break; // ends the subscription: the client sends complete
  }
}
clearTimeout(timer);
await client.dispose();

// A bad token: the server closes with 4403 (Forbidden).
const closed = await new Promise((resolve) => {
  const bad = createClient({
    url: wsUrl, webSocketImpl: WebSocket, connectionParams: { Authorization: 'Bearer not-a-token' }, retryAttempts: 0,
    on: { closed: (ev) => resolve(ev.code) },
  });
  bad.subscribe({ query: 'subscription { incidentBalanceChanged(tenantId: "contoso") { seq } }' }, { next() {}, error() {}, complete() {} });
});
assert.equal(closed, 4403);
console.log('graphql-ws: a bad token is closed with 4403');
