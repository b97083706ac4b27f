// graphql-http's serverAudits (GraphQL over HTTP) against a running server, plus what the
// audits leave out: a mutation over GET is refused with 405 and Allow: POST, and is not run.
// Env: API (the /query URL). Prints each audit; exits 1 when a MUST or a SHOULD fails.
import { auditServer } from 'graphql-http';

const url = process.env.API;
const results = await auditServer({ url, fetchFn: fetch });
let failed = 0;
for (const r of results) {
  const level = r.name.split(' ')[0];
  const line = `${r.status.padEnd(5)} ${r.id} ${r.name}${r.status === 'ok' ? '' : `: ${r.reason}`}`;
  if (r.status !== 'ok' && (level === 'MUST' || level === 'SHOULD')) {
    failed++;
    console.log(`FAIL  ${line}`);
  } else {
    console.log(`      ${line}`);
  }
}

// A mutation over GET: 405 with Allow: POST (the spec's "Method Not Allowed").
const get = await fetch(`${url}?query=${encodeURIComponent('mutation { __typename }')}`, {
  headers: { accept: 'application/graphql-response+json' },
});
const allow = get.headers.get('allow') ?? '';
const body = await get.text();
if (get.status !== 405 || !/\bPOST\b/.test(allow)) {
  failed++;
  console.log(`FAIL  a mutation over GET answered ${get.status} (Allow: ${allow}): ${body}`);
} else {
  console.log(`      ok    a mutation over GET answers 405 with Allow: ${allow}: ${body}`);
}
console.log(`${results.length} audits, ${failed} MUST or SHOULD failed`);
process.exit(failed ? 1 : 0);
