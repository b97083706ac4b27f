// GraphiQL for the Partner Support Benefits API, bundled with React and its CSS so that
// the page works with no network: everything it loads comes from this server.
import { createElement } from 'react';
import { createRoot } from 'react-dom/client';
import { GraphiQL } from 'graphiql';
import type { Fetcher, FetcherParams, FetcherOpts } from '@graphiql/toolkit';
import { getOperationAST, parse } from 'graphql';
import { createClient, type Client } from 'graphql-ws';
import 'graphiql/style.css';

const httpUrl = new URL('query', location.href).toString();
const wsUrl = httpUrl.replace(/^http/, 'ws');

// One websocket client per set of headers: the token of the headers pane goes into
// connection_init, where the server reads it for subscriptions.
const wsClients = new Map<string, Client>();
function wsClient(headers: Record<string, unknown>): Client {
  const key = JSON.stringify(headers);
  let c = wsClients.get(key);
  if (!c) {
    c = createClient({ url: wsUrl, connectionParams: headers, lazy: true, retryAttempts: 0 });
    wsClients.set(key, c);
  }
  return c;
}

function isSubscription(p: FetcherParams): boolean {
  try {
    return getOperationAST(parse(p.query), p.operationName ?? undefined)?.operation === 'subscription';
  } catch {
    return false; // the server answers the parse error
  }
}

const fetcher: Fetcher = async (params: FetcherParams, opts?: FetcherOpts) => {
  const headers: Record<string, string> = { ...(opts?.headers as Record<string, string> | undefined) };
  if (isSubscription(params)) {
    return wsClient(headers).iterate({
      query: params.query,
      operationName: params.operationName ?? undefined,
      variables: params.variables ?? undefined,
    });
  }
  const res = await fetch(httpUrl, {
    method: 'POST',
    headers: {
      'Content-Type': 'application/json',
      Accept: 'application/graphql-response+json, application/json',
      ...headers,
    },
    body: JSON.stringify(params),
  });
  return res.json();
};

const defaultQuery = `# Partner Support Benefits API
#
# Sign in: put your bearer token in the Headers pane below (open it with "Headers"):
#
#   { "Authorization": "Bearer <token>" }
#
# With the development signer (make run), get one with: make token EMAIL=megan@contoso.com
# Headers are not saved in the browser: they are gone when the tab is closed.

{
  viewer {
    email
    kind
    memberships { roles tenant { id name } }
  }
}
`;

const root = document.getElementById('graphiql')!;
root.textContent = '';
createRoot(root).render(
  createElement(GraphiQL, {
    fetcher,
    defaultQuery,
    defaultEditorToolsVisibility: 'headers',
    isHeadersEditorEnabled: true,
    shouldPersistHeaders: false,
  }),
);
