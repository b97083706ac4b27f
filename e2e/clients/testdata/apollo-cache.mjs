// Apollo Client 4 with a default InMemoryCache asks supportPlans for two products in turn,
// then reads the first answer back from the cache: it must be what the server said.
// Env: API (the /query URL), TOKEN, PLAN (a plan available for Azure and not for Windows
// Server 2025). Exit 0 when the cached answer is right; 1 with the difference otherwise.
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';

const client = new ApolloClient({
  link: new HttpLink({ uri: process.env.API, headers: { Authorization: `Bearer ${process.env.TOKEN}` } }),
  cache: new InMemoryCache(),
});

const PLANS = gql`
  query Plans($p: ID!, $v: String, $portal: Portal!) {
    supportPlans(productId: $p, version: $v, portal: $portal) {
      available { id kind name linked incidents { total used remaining unlimited } }
      unavailable { plan { id kind name linked incidents { total used remaining unlimited } } reasons { code rule message } }
    }
  }
`;
const azure = { p: 'azure', portal: 'AZURE' };
const windows = { p: 'windows-server', v: 'Windows Server 2025', portal: 'SERVICES_HUB' };

const first = await client.query({ query: PLANS, variables: azure, fetchPolicy: 'network-only' });
const second = await client.query({ query: PLANS, variables: windows, fetchPolicy: 'network-only' });
const plan = process.env.PLAN;

// The question matters: the plan is available for Azure and not for Windows Server.
assert.ok(first.data.supportPlans.available.some((p) => p.id === plan), `${plan} is available for Azure`);
const refused = second.data.supportPlans.unavailable.find((u) => u.plan.id === plan);
assert.ok(refused, `${plan} is unavailable for Windows Server 2025`);
assert.ok(refused.reasons.some((r) => r.code === 'CLOUD_PRODUCTS_ONLY'), 'because it serves cloud products only');

// What the cache answers for Azure now is what the server answered.
const cached = client.readQuery({ query: PLANS, variables: azure });
assert.deepEqual(cached, first.data, 'the cached Azure answer changed after asking about Windows Server');
const again = await client.query({ query: PLANS, variables: azure, fetchPolicy: 'cache-only' });
assert.deepEqual(again.data, first.data);
assert.ok(!again.data.supportPlans.unavailable.some((u) => u.plan.id === plan), `${plan} is not unavailable for Azure`);
console.log('apollo: the cached answers are right');
