// Apollo Client 4 with a default InMemoryCache and global object identification: an object
// read through node(id:), nodes(ids:) or its typed field is one cache entry, keyed by
// __typename and its global ID; two types never share an ID, even for one thing (a benefit
// and the support plan it is).
// Env: API (the /query URL), TOKEN (a member of contoso who linked PLAN), PLAN (a benefit
// key). Exit 0 when the cache holds what the server said; 1 with the difference otherwise.
import assert from 'node:assert/strict';
import { ApolloClient, HttpLink, InMemoryCache, gql } from '@apollo/client';

const cache = new InMemoryCache();
const client = new ApolloClient({
  link: new HttpLink({ uri: process.env.API, headers: { Authorization: `Bearer ${process.env.TOKEN}` } }),
  cache,
});

// The typed fields, by legacy keys (still accepted).
const typed = await client.query({
  query: gql`query Typed($plan: ID!) {
    tenant(id: "contoso") { id key name benefits { id name } }
    supportPlans(productId: "azure", portal: AZURE) { available { id name } }
    rules(ids: ["R9"]) { id key title }
    node(id: $plan) { id }
  }`,
  variables: { plan: process.env.PLAN },
  fetchPolicy: 'network-only',
});
const tenant = typed.data.tenant;
assert.equal(tenant.key, 'contoso');
assert.notEqual(tenant.id, 'contoso', 'the id is the global ID, not the key');
assert.equal(typed.data.node, null, 'a legacy key is no global ID: node answers null');

// node and nodes answer the same objects, and the cache keeps one entry for each.
const viaNode = await client.query({
  query: gql`query ViaNode($t: ID!, $ids: [ID!]!) {
    node(id: $t) { __typename id ... on Tenant { key name } }
    nodes(ids: $ids) { __typename id ... on Rule { key title } ... on SupportPlan { name } }
  }`,
  variables: { t: tenant.id, ids: [typed.data.rules[0].id, 'not-an-id', typed.data.supportPlans.available[0].id] },
  fetchPolicy: 'network-only',
});
assert.equal(viaNode.data.node.id, tenant.id);
assert.equal(viaNode.data.node.name, tenant.name);
assert.deepEqual(viaNode.data.nodes.map((n) => n && n.__typename), ['Rule', null, 'SupportPlan']);

const store = cache.extract();
const key = cache.identify({ __typename: 'Tenant', id: tenant.id });
assert.equal(key, `Tenant:${tenant.id}`);
assert.equal(store[key].key, 'contoso', 'the tenant read through node is the cached tenant');
assert.equal(Object.keys(store).filter((k) => k.startsWith('Tenant:')).length, 1, 'one tenant entry');
const fragment = cache.readFragment({ id: key, fragment: gql`fragment T on Tenant { key name }` });
assert.equal(fragment.name, tenant.name);

// Unique across types: no two cache entries of different types share an id, though the
// benefit and the support plan share their key.
const byID = new Map();
for (const k of Object.keys(store)) {
  const i = k.indexOf(':');
  if (i < 0 || k === 'ROOT_QUERY') continue;
  const [type, id] = [k.slice(0, i), k.slice(i + 1)];
  assert.ok(!byID.has(id) || byID.get(id) === type, `${type} and ${byID.get(id)} share the id ${id}`);
  byID.set(id, type);
}
const benefit = tenant.benefits.find((b) => store[`Benefit:${b.id}`]);
assert.ok(benefit, 'the benefits are cached by their global IDs');
assert.ok([...byID.values()].includes('SupportPlan') && [...byID.values()].includes('Benefit'));
console.log('apollo: node, nodes and the typed fields share one cache entry per object');
