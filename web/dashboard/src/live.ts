// Live balance updates: incidentBalanceChanged over graphql-ws (graphql-transport-ws).
//
// Resuming without gaps or duplicates: graphql-ws re-sends every active subscription when
// it reconnects, serialising the same payload object again. The payload's variables.after
// is kept at the cursor of the last event received, so a reconnect asks the server to
// replay exactly what came after it. Events at or below the last sequence number seen are
// dropped as a second guard.

import { createClient, type Client } from 'graphql-ws';
import { BALANCE_SUBSCRIPTION, websocketURL, type BalanceEvent } from './api';

export type LiveState =
  | { kind: 'connecting' }
  | { kind: 'live' }
  | { kind: 'reconnecting'; attempt: number }
  | { kind: 'stopped'; message: string; fatal: boolean };

export interface LiveHandlers {
  event(e: BalanceEvent): void;
  state(s: LiveState): void;
  /** The socket is (again) acknowledged; resumed says whether a cursor was sent. */
  connected(resumed: boolean): void;
}

/** The forbidden close code of graphql-transport-ws: the token was refused. */
const FORBIDDEN = 4403;

interface CloseLike {
  code: number;
  reason: string;
}

function isClose(v: unknown): v is CloseLike {
  return typeof v === 'object' && v !== null && 'code' in v && 'reason' in v;
}

function describe(err: unknown): string {
  if (Array.isArray(err)) {
    return err.map((e) => (e && typeof e === 'object' && 'message' in e ? String(e.message) : String(e))).join('; ');
  }
  if (isClose(err)) return err.reason ? `${err.reason} (${err.code})` : `connection closed (${err.code})`;
  if (err instanceof Error) return err.message;
  return 'the connection failed';
}

/** One subscription to a tenant's balance changes, resumed by cursor across reconnects. */
export class LiveBalances {
  private client: Client | null = null;
  private dispose: (() => void) | null = null;
  private stopped = false;
  private attempt = 0;
  private lastSeq = -1;
  private readonly variables: { tenantId: string; after: string | null };

  constructor(
    private readonly token: string,
    tenantId: string,
    private readonly on: LiveHandlers,
  ) {
    this.variables = { tenantId, after: null };
  }

  /** The cursor of the last event received, if any. */
  get cursor(): string | null {
    return this.variables.after;
  }

  start(): void {
    this.stopped = false;
    this.on.state({ kind: 'connecting' });
    this.client = createClient({
      url: websocketURL(),
      connectionParams: { Authorization: `Bearer ${this.token}` },
      lazy: true,
      retryAttempts: Number.POSITIVE_INFINITY,
      // Retry every drop but a refused token: that will not get better by itself.
      shouldRetry: (e) => !(isClose(e) && e.code === FORBIDDEN),
      retryWait: async (retries) => {
        const ms = Math.min(500 * 2 ** retries, 10_000) + Math.floor(Math.random() * 500);
        await new Promise((resolve) => setTimeout(resolve, ms));
      },
      connectionAckWaitTimeout: 15_000,
      on: {
        connected: () => {
          this.attempt = 0;
          this.on.state({ kind: 'live' });
          this.on.connected(this.variables.after !== null);
        },
        closed: () => {
          if (this.stopped) return;
          this.attempt++;
          this.on.state({ kind: 'reconnecting', attempt: this.attempt });
        },
      },
    });
    const payload = { query: BALANCE_SUBSCRIPTION, variables: this.variables };
    this.dispose = this.client.subscribe<{ incidentBalanceChanged: BalanceEvent }>(payload, {
      next: (result) => {
        if (result.errors && result.errors.length > 0) {
          this.on.state({ kind: 'stopped', message: describe(result.errors), fatal: false });
          return;
        }
        const e = result.data?.incidentBalanceChanged;
        if (!e) return;
        if (e.seq <= this.lastSeq) return; // already seen: never apply twice
        this.lastSeq = e.seq;
        this.variables.after = e.cursor; // a reconnect resumes right after this event
        this.on.event(e);
      },
      error: (err) => {
        if (this.stopped) return;
        this.stopped = true; // until restart(): the socket's close is not a reconnect
        const fatal = isClose(err) && err.code === FORBIDDEN;
        this.on.state({ kind: 'stopped', message: describe(err), fatal });
        this.teardown();
      },
      complete: () => {
        if (this.stopped) return;
        this.stopped = true;
        this.on.state({ kind: 'stopped', message: 'The server ended the live updates.', fatal: false });
        this.teardown();
      },
    });
  }

  /** Starts again after a stop, from the last cursor. */
  restart(): void {
    this.teardown();
    this.start();
  }

  stop(): void {
    this.stopped = true;
    this.teardown();
  }

  private teardown(): void {
    const d = this.dispose;
    const c = this.client;
    this.dispose = null;
    this.client = null;
    d?.();
    void c?.dispose();
  }
}
