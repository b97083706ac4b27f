// The HTTP side of the API: GraphQL queries over POST, and the development sign-in.
// Every URL is relative to the page (/dashboard/), so the dashboard works behind any
// prefix the API is served under.

export interface Incidents {
  total: number | null;
  used: number;
  remaining: number | null;
  unlimited: boolean;
}

export type BenefitStatus = 'NOT_ACTIVATED' | 'ACTIVATING' | 'ACTIVE' | 'EXPIRED' | 'EXHAUSTED';

export interface Benefit {
  id: string;
  name: string;
  legacyName: string | null;
  kind: string;
  status: BenefitStatus;
  endsAt: string;
  incidents: Incidents;
}

export interface Reminder {
  kind: 'ENDING_SOON' | 'LOW_BALANCE';
  benefitId: string;
  benefitName: string;
  message: string;
}

export interface Tenant {
  id: string;
  name: string;
  hasActiveOffer: boolean;
  benefitsNotice: string | null;
  benefits: Benefit[];
  reminders: Reminder[];
}

export interface Membership {
  roles: string[];
  tenant: { id: string; name: string };
}

export interface Viewer {
  email: string;
  kind: string;
  memberships: Membership[];
}

export interface LedgerEntry {
  seq: number;
  kind: string;
  benefitId: string | null;
  planName: string | null;
  requestId: string | null;
  actorId: string | null;
  reason: string | null;
  at: string;
  delta: number;
  incidents: { remaining: number | null; total: number | null; unlimited: boolean };
}

export interface BalanceEvent {
  cursor: string;
  seq: number;
  kind: string;
  benefitId: string | null;
  planName: string | null;
  remaining: number | null;
  total: number | null;
  used: number;
  unlimited: boolean;
  cause: string | null;
  requestId: string | null;
  actorId: string | null;
  at: string;
}

export interface DevAccount {
  email: string;
  kind: string;
  roles: string[];
}

/** The GraphQL endpoint, resolved against the page: /dashboard/ → /query. */
export function queryURL(): URL {
  return new URL('../query', document.baseURI);
}

/** The websocket URL of the same endpoint (ws: or wss: after the page's scheme). */
export function websocketURL(): string {
  const u = queryURL();
  u.protocol = u.protocol === 'https:' ? 'wss:' : 'ws:';
  return u.toString();
}

interface GraphQLErrorBody {
  message: string;
  path?: (string | number)[];
  extensions?: { code?: string; rule?: string };
}

/** A request that failed: transport, HTTP or GraphQL errors. code is extensions.code. */
export class APIError extends Error {
  constructor(
    message: string,
    readonly code: string | undefined,
    readonly status: number,
  ) {
    super(message);
    this.name = 'APIError';
  }
}

/** Posts a GraphQL operation with the bearer token; throws APIError on any error. */
export async function gql<T>(token: string, query: string, variables: Record<string, unknown> = {}): Promise<T> {
  let res: Response;
  try {
    res = await fetch(queryURL(), {
      method: 'POST',
      headers: {
        'Content-Type': 'application/json',
        Accept: 'application/json',
        Authorization: `Bearer ${token}`,
      },
      body: JSON.stringify({ query, variables }),
      credentials: 'omit',
      cache: 'no-store',
    });
  } catch {
    throw new APIError('The server cannot be reached.', 'UNAVAILABLE', 0);
  }
  let body: { data?: T | null; errors?: GraphQLErrorBody[] };
  try {
    body = await res.json();
  } catch {
    throw new APIError(`The server answered ${res.status} without GraphQL.`, undefined, res.status);
  }
  if (body.errors && body.errors.length > 0) {
    const first = body.errors[0];
    throw new APIError(first.message, first.extensions?.code, res.status);
  }
  if (!res.ok || body.data == null) {
    throw new APIError(`The server answered ${res.status}.`, undefined, res.status);
  }
  return body.data;
}

/** The demo accounts of the development sign-in, or null when the server has none. */
export async function devAccounts(): Promise<DevAccount[] | null> {
  try {
    const res = await fetch(new URL('../dev/accounts', document.baseURI), { cache: 'no-store', credentials: 'omit' });
    if (!res.ok) return null;
    const list: unknown = await res.json();
    return Array.isArray(list) ? (list as DevAccount[]) : null;
  } catch {
    return null;
  }
}

/** Mints a development token for a demo account. */
export async function devToken(email: string): Promise<string> {
  const res = await fetch(new URL('../dev/token', document.baseURI), {
    method: 'POST',
    headers: { 'Content-Type': 'application/json' },
    body: JSON.stringify({ email }),
    credentials: 'omit',
    cache: 'no-store',
  });
  const body = (await res.json().catch(() => ({}))) as { token?: string; error?: string };
  if (!res.ok || !body.token) {
    throw new APIError(body.error ?? `The development sign-in answered ${res.status}.`, undefined, res.status);
  }
  return body.token;
}

export const VIEWER_QUERY = /* GraphQL */ `
  query Viewer {
    viewer { email kind memberships { roles tenant { id name } } }
  }
`;

export const TENANT_QUERY = /* GraphQL */ `
  query Tenant($id: ID!) {
    tenant(id: $id) {
      id name hasActiveOffer benefitsNotice
      benefits { id name legacyName kind status endsAt incidents { total used remaining unlimited } }
      reminders { kind benefitId benefitName message }
    }
  }
`;

export const LEDGER_QUERY = /* GraphQL */ `
  query Ledger($id: ID!) {
    incidentLedger(tenantId: $id, first: 20) {
      edges { cursor node { seq kind benefitId planName requestId actorId reason at delta incidents { remaining total unlimited } } }
    }
  }
`;

export const BALANCE_SUBSCRIPTION = /* GraphQL */ `
  subscription Balance($tenantId: ID!, $after: String) {
    incidentBalanceChanged(tenantId: $tenantId, after: $after) {
      cursor seq kind benefitId planName remaining total used unlimited cause requestId actorId at
    }
  }
`;
