import './style.css';
import {
  APIError,
  devAccounts,
  devToken,
  gql,
  LEDGER_QUERY,
  TENANT_QUERY,
  VIEWER_QUERY,
  type BalanceEvent,
  type Benefit,
  type BenefitStatus,
  type DevAccount,
  type LedgerEntry,
  type Tenant,
  type Viewer,
} from './api';
import { byId, h, show } from './dom';
import { LiveBalances, type LiveState } from './live';

// The token lives in this tab's sessionStorage at most: never in the URL, never in a cookie.
const TOKEN_KEY = 'psapi.dashboard.token';
const TENANT_KEY = 'psapi.dashboard.tenant';

const store = {
  get(key: string): string | null {
    try {
      return sessionStorage.getItem(key);
    } catch {
      return null;
    }
  },
  set(key: string, value: string | null): void {
    try {
      if (value === null) sessionStorage.removeItem(key);
      else sessionStorage.setItem(key, value);
    } catch {
      // storage disabled: the session lasts as long as the page
    }
  },
};

const STATUS_LABEL: Record<BenefitStatus, string> = {
  NOT_ACTIVATED: 'Not activated',
  ACTIVATING: 'Activating',
  ACTIVE: 'Active',
  EXPIRED: 'Expired',
  EXHAUSTED: 'No incidents left',
};

const KIND_LABEL: Record<string, string> = {
  GRANT: 'Incidents granted',
  ACTIVATE: 'Benefit activated',
  CONSUME: 'Incident used',
  REFUND: 'Incident refunded',
  EXPIRE: 'Benefit expired',
  CAP: 'Balance capped',
  REMINDER_ENDING_SOON: 'Reminder: ending soon',
  REMINDER_LOW_BALANCE: 'Reminder: low balance',
};

const ROLE_LABEL: Record<string, string> = {
  PARTNER_ADMIN: 'Partner admin',
  GLOBAL_ADMIN: 'Global admin',
  ADMIN_AGENT: 'Admin agent',
  USER: 'User',
};

const ACCOUNT_KIND_LABEL: Record<string, string> = { ENTRA_ID: 'work account', MSA: 'personal account' };

const dateFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'medium', timeZone: 'UTC' });
const dateTimeFmt = new Intl.DateTimeFormat('en-GB', { dateStyle: 'short', timeStyle: 'medium', timeZone: 'UTC' });
const timeFmt = new Intl.DateTimeFormat('en-GB', { timeStyle: 'medium', timeZone: 'UTC' });

interface State {
  token: string | null;
  viewer: Viewer | null;
  tenantId: string | null;
  tenant: Tenant | null;
  /** null until known; false hides the ledger (the viewer is not an admin). */
  ledgerAllowed: boolean | null;
  ledger: LedgerEntry[];
  live: LiveBalances | null;
  /** Events received on the current subscription, numbered, to re-apply after a refetch. */
  received: { n: number; e: BalanceEvent }[];
  receivedCount: number;
  refreshGen: number;
  refreshTimer: number | undefined;
}

const state: State = {
  token: null,
  viewer: null,
  tenantId: null,
  tenant: null,
  ledgerAllowed: null,
  ledger: [],
  live: null,
  received: [],
  receivedCount: 0,
  refreshGen: 0,
  refreshTimer: undefined,
};

/** Whether the first screen is up: from then on a change of screen moves the focus. */
let booted = false;

const el = {
  session: byId('session'),
  viewerEmail: byId('viewer-email'),
  changeTenant: byId<HTMLButtonElement>('change-tenant'),
  signOut: byId<HTMLButtonElement>('sign-out'),
  error: byId('error'),
  signin: byId('signin'),
  signinTitle: byId('signin-title'),
  devAccounts: byId('dev-accounts'),
  accountList: byId('account-list'),
  tokenForm: byId<HTMLFormElement>('token-form'),
  tokenInput: byId<HTMLInputElement>('token-input'),
  picker: byId('tenant-picker'),
  pickerTitle: byId('tenant-picker-title'),
  tenantList: byId('tenant-list'),
  noTenants: byId('no-tenants'),
  view: byId('tenant-view'),
  tenantTitle: byId('tenant-title'),
  liveStatus: byId('live-status'),
  liveRetry: byId<HTMLButtonElement>('live-retry'),
  notice: byId('benefits-notice'),
  benefitList: byId('benefit-list'),
  noBenefits: byId('no-benefits'),
  expired: byId<HTMLDetailsElement>('expired'),
  expiredCount: byId('expired-count'),
  expiredList: byId('expired-list'),
  activityEmpty: byId('activity-empty'),
  activityList: byId('activity-list'),
  ledger: byId('ledger'),
  ledgerError: byId('ledger-error'),
  ledgerBody: byId('ledger-body'),
  announcer: byId('announcer'),
};

// ---------------------------------------------------------------------------------------
// Screens

type Screen = 'signin' | 'picker' | 'tenant';

function showScreen(screen: Screen, focus = booted): void {
  show(el.signin, screen === 'signin');
  show(el.picker, screen === 'picker');
  show(el.view, screen === 'tenant');
  show(el.session, screen !== 'signin');
  const multi = (state.viewer?.memberships.length ?? 0) > 1;
  show(el.changeTenant, screen === 'tenant' && multi);
  if (focus) {
    const heading = screen === 'signin' ? el.signinTitle : screen === 'picker' ? el.pickerTitle : el.tenantTitle;
    heading.focus();
  }
}

function showError(message: string | null): void {
  el.error.textContent = message ?? '';
  show(el.error, message !== null);
}

function announce(message: string): void {
  // Clear first so that the same message twice is announced twice.
  el.announcer.textContent = '';
  window.setTimeout(() => {
    el.announcer.textContent = message;
  }, 50);
}

function messageOf(err: unknown): string {
  return err instanceof Error ? err.message : String(err);
}

/** An expired or refused token ends the session. */
function handleAuthError(err: unknown): boolean {
  if (err instanceof APIError && (err.code === 'UNAUTHENTICATED' || err.status === 401)) {
    signOut(`Your sign-in is no longer accepted (${err.message}). Sign in again.`);
    return true;
  }
  return false;
}

// ---------------------------------------------------------------------------------------
// Sign-in

// The demo accounts are read once per page: signing out shows the same buttons again, so
// focus and what the keyboard acts on never change under the user.
let accountsLoaded: Promise<void> | null = null;

async function renderSignIn(): Promise<void> {
  showScreen('signin', booted);
  accountsLoaded ??= devAccounts().then((accounts) => {
    el.accountList.replaceChildren(...(accounts ?? []).map(accountItem));
    show(el.devAccounts, accounts !== null && accounts.length > 0);
    el.accountList.dataset.ready = 'true';
  });
  await accountsLoaded;
}

function accountItem(a: DevAccount): HTMLLIElement {
  const roles = a.roles.length
    ? a.roles
        .map((r) => {
          const [tenant, role] = r.split(':');
          return `${tenant} ${ROLE_LABEL[role] ?? role}`;
        })
        .join(', ')
    : 'no tenant';
  const button = h(
    'button',
    { type: 'button', class: 'choice', 'data-testid': `account-${a.email}`, 'data-email': a.email },
    h('span', { class: 'choice-main' }, a.email),
    h('span', { class: 'choice-sub' }, `${ACCOUNT_KIND_LABEL[a.kind] ?? a.kind} · ${roles}`),
  );
  button.addEventListener('click', async () => {
    button.disabled = true;
    showError(null);
    try {
      await signIn(await devToken(a.email));
    } catch (err) {
      showError(`Could not sign in as ${a.email}: ${messageOf(err)}`);
    } finally {
      button.disabled = false;
    }
  });
  return h('li', {}, button);
}

el.tokenForm.addEventListener('submit', async (ev) => {
  ev.preventDefault();
  const token = el.tokenInput.value.trim().replace(/^Bearer\s+/i, '');
  if (!token) {
    showError('Paste an access token first.');
    el.tokenInput.focus();
    return;
  }
  showError(null);
  try {
    await signIn(token);
    el.tokenInput.value = '';
  } catch (err) {
    showError(`That token was not accepted: ${messageOf(err)}`);
    el.tokenInput.focus();
  }
});

async function signIn(token: string): Promise<void> {
  const data = await gql<{ viewer: Viewer }>(token, VIEWER_QUERY);
  state.token = token;
  state.viewer = data.viewer;
  store.set(TOKEN_KEY, token);
  el.viewerEmail.textContent = data.viewer.email;
  const remembered = store.get(TENANT_KEY);
  if (remembered && data.viewer.memberships.some((m) => m.tenant.id === remembered)) {
    await openTenant(remembered);
    return;
  }
  renderPicker();
}

function signOut(message: string | null = null): void {
  closeTenant();
  state.token = null;
  state.viewer = null;
  store.set(TOKEN_KEY, null);
  store.set(TENANT_KEY, null);
  el.viewerEmail.textContent = '';
  void renderSignIn().then(() => showError(message));
}

el.signOut.addEventListener('click', () => signOut());
el.changeTenant.addEventListener('click', () => {
  closeTenant();
  store.set(TENANT_KEY, null);
  renderPicker();
});

// ---------------------------------------------------------------------------------------
// Tenant picker

function renderPicker(): void {
  const memberships = state.viewer?.memberships ?? [];
  el.tenantList.replaceChildren(
    ...memberships.map((m) => {
      const button = h(
        'button',
        { type: 'button', class: 'choice', 'data-testid': `tenant-${m.tenant.id}` },
        h('span', { class: 'choice-main' }, m.tenant.name),
        h('span', { class: 'choice-sub' }, m.roles.map((r) => ROLE_LABEL[r] ?? r).join(', ')),
      );
      button.addEventListener('click', () => void openTenant(m.tenant.id));
      return h('li', {}, button);
    }),
  );
  show(el.noTenants, memberships.length === 0);
  showScreen('picker');
}

// ---------------------------------------------------------------------------------------
// Tenant view

async function openTenant(id: string): Promise<void> {
  closeTenant();
  showError(null);
  state.tenantId = id;
  store.set(TENANT_KEY, id);
  const m = state.viewer?.memberships.find((x) => x.tenant.id === id);
  el.tenantTitle.textContent = m?.tenant.name ?? id;
  el.benefitList.replaceChildren();
  el.expiredList.replaceChildren();
  el.activityList.replaceChildren();
  show(el.activityEmpty, true);
  show(el.ledger, false);
  showScreen('tenant');

  // Subscribe first, then read the snapshot: events that arrive meanwhile are re-applied
  // on top of it (each event carries the balance after it, not a difference).
  startLive(id);
  await refresh();
}

function closeTenant(): void {
  state.live?.stop();
  state.live = null;
  window.clearTimeout(state.refreshTimer);
  state.refreshGen++;
  state.tenantId = null;
  state.tenant = null;
  state.ledgerAllowed = null;
  state.ledger = [];
  state.received = [];
  state.receivedCount = 0;
}

function startLive(tenantId: string): void {
  if (!state.token) return;
  const live = new LiveBalances(state.token, tenantId, {
    event: (e) => {
      if (state.live !== live) return;
      onBalanceEvent(e);
    },
    state: (s) => {
      if (state.live !== live) return;
      renderLiveState(s);
    },
    connected: () => {
      if (state.live !== live) return;
      // Read the snapshot again once the subscription surely runs: covers a change made
      // between the first read and the server registering the subscription, and anything
      // (reminders, statuses) a reconnect may have missed.
      scheduleRefresh(1000);
    },
  });
  state.live = live;
  live.start();
}

el.liveRetry.addEventListener('click', () => {
  state.live?.restart();
});

function renderLiveState(s: LiveState): void {
  el.liveStatus.dataset.state = s.kind;
  switch (s.kind) {
    case 'connecting':
      el.liveStatus.textContent = 'Connecting to live updates…';
      break;
    case 'live':
      el.liveStatus.textContent = 'Live: balances update as they change';
      break;
    case 'reconnecting':
      el.liveStatus.textContent = `Connection lost; reconnecting (attempt ${s.attempt})…`;
      break;
    case 'stopped':
      el.liveStatus.textContent = `Live updates stopped: ${s.message}`;
      break;
  }
  show(el.liveRetry, s.kind === 'stopped' && !s.fatal);
  if (s.kind === 'stopped' && s.fatal) {
    signOut(`Live updates refused your sign-in (${s.message}). Sign in again.`);
  }
}

function scheduleRefresh(delay = 300): void {
  window.clearTimeout(state.refreshTimer);
  state.refreshTimer = window.setTimeout(() => void refresh(), delay);
}

/** Reads the tenant (and the ledger for admins), then re-applies events received since. */
async function refresh(): Promise<void> {
  const token = state.token;
  const id = state.tenantId;
  if (!token || !id) return;
  const gen = ++state.refreshGen;
  const mark = state.receivedCount;
  const ledger = state.ledgerAllowed === false ? Promise.resolve(null) : loadLedger(token, id);
  try {
    const data = await gql<{ tenant: Tenant }>(token, TENANT_QUERY, { id });
    if (gen !== state.refreshGen) return; // a newer read is under way
    state.tenant = data.tenant;
    for (const r of state.received) if (r.n >= mark) applyEvent(r.e);
    renderTenant();
  } catch (err) {
    if (gen !== state.refreshGen) return;
    if (!handleAuthError(err)) showError(`Could not load the tenant: ${messageOf(err)}`);
    return;
  }
  const entries = await ledger;
  if (gen !== state.refreshGen || entries === null) return;
  state.ledger = entries;
  renderLedger();
}

/** The ledger's latest entries; null (and the section hidden) for a viewer who is no admin. */
async function loadLedger(token: string, id: string): Promise<LedgerEntry[] | null> {
  try {
    const data = await gql<{ incidentLedger: { edges: { node: LedgerEntry }[] } }>(token, LEDGER_QUERY, { id });
    state.ledgerAllowed = true;
    show(el.ledgerError, false);
    return data.incidentLedger.edges.map((e) => e.node);
  } catch (err) {
    if (err instanceof APIError && (err.code === 'ROLE_REQUIRED' || err.code === 'FORBIDDEN')) {
      state.ledgerAllowed = false;
      show(el.ledger, false);
      return null;
    }
    if (state.ledgerAllowed) {
      el.ledgerError.textContent = `Could not load the ledger: ${messageOf(err)}`;
      show(el.ledgerError, true);
    }
    return null;
  }
}

function onBalanceEvent(e: BalanceEvent): void {
  const n = state.receivedCount++;
  state.received.push({ n, e });
  if (state.received.length > 200) state.received.shift();
  const b = applyEvent(e);
  if (b) updateBenefitCard(b, cardKey(b.id, 0), true);
  addActivity(e);
  announce(describeEvent(e));
  scheduleRefresh();
}

/** Sets a benefit's balance to the one an event carries. Returns the benefit changed. */
function applyEvent(e: BalanceEvent): Benefit | null {
  const b = state.tenant?.benefits.find((x) => x.id === e.benefitId);
  if (!b) return null;
  b.incidents = { total: e.total, used: e.used, remaining: e.remaining, unlimited: e.unlimited };
  if (b.status === 'ACTIVE' && !e.unlimited && e.remaining === 0) b.status = 'EXHAUSTED';
  if (b.status === 'EXHAUSTED' && (e.unlimited || (e.remaining ?? 0) > 0)) b.status = 'ACTIVE';
  return b;
}

function balanceText(i: { remaining: number | null; total: number | null; unlimited: boolean }): string {
  if (i.unlimited) return 'unlimited';
  return `${i.remaining ?? 0} of ${i.total ?? 0}`;
}

function describeEvent(e: BalanceEvent): string {
  const what = KIND_LABEL[e.kind] ?? e.kind;
  const plan = planLabel(e.benefitId, e.planName) || 'a benefit';
  const balance = e.unlimited ? 'unlimited incidents' : `${e.remaining ?? 0} of ${e.total ?? 0} incidents remaining`;
  return `${what}: ${plan}, ${balance}${e.cause ? ` (${e.cause})` : ''}.`;
}

// ---------------------------------------------------------------------------------------
// Rendering the tenant

const cards = new Map<string, HTMLLIElement>();
let cardSeq = 0;

function renderTenant(): void {
  const t = state.tenant;
  if (!t) return;
  el.tenantTitle.textContent = t.name;
  el.notice.textContent = t.benefitsNotice ?? '';
  show(el.notice, !!t.benefitsNotice);

  const current = t.benefits.filter((b) => b.status !== 'EXPIRED');
  const expired = t.benefits.filter((b) => b.status === 'EXPIRED');
  // Cards are keyed by benefit id and occurrence: the API has been seen to list two
  // benefits under one id (two grants of one kind in one offer); both are shown.
  const seen = new Map<string, number>();
  const keyed = t.benefits.map((b) => {
    const n = seen.get(b.id) ?? 0;
    seen.set(b.id, n + 1);
    return { b, key: cardKey(b.id, n) };
  });
  placeCards(el.benefitList, keyed.filter((x) => x.b.status !== 'EXPIRED'));
  placeCards(el.expiredList, keyed.filter((x) => x.b.status === 'EXPIRED'));
  const keys = new Set(keyed.map((x) => x.key));
  for (const key of [...cards.keys()]) {
    if (!keys.has(key)) cards.delete(key);
  }
  show(el.noBenefits, current.length === 0 && !t.benefitsNotice);
  el.expiredCount.textContent = String(expired.length);
  show(el.expired, expired.length > 0);
}

/** Keeps one card per benefit and updates it in place, so focus and reading position stay. */
function cardKey(benefitId: string, occurrence: number): string {
  return `${benefitId}#${occurrence}`;
}

/** Keeps one card per benefit and updates it in place, so focus and reading position stay. */
function placeCards(list: HTMLElement, benefits: { b: Benefit; key: string }[]): void {
  const wanted = benefits.map(({ b, key }) => {
    let card = cards.get(key);
    if (!card) {
      card = buildCard(b);
      cards.set(key, card);
    }
    updateBenefitCard(b, key, false);
    return card;
  });
  const same = wanted.length === list.children.length && wanted.every((c, i) => list.children[i] === c);
  if (!same) list.replaceChildren(...wanted);
}

function buildCard(b: Benefit): HTMLLIElement {
  const n = ++cardSeq;
  const nameId = `benefit-${n}-name`;
  const meterId = `benefit-${n}-meter`;
  return h(
    'li',
    { class: 'benefit', 'data-testid': 'benefit', 'data-benefit-id': b.id },
    h(
      'article',
      { 'aria-labelledby': nameId },
      h(
        'div',
        { class: 'benefit-head' },
        h('h3', { id: nameId, class: 'benefit-name', 'data-testid': 'benefit-name' }),
        h('span', { class: 'status', 'data-testid': 'benefit-status' }),
      ),
      h('p', { class: 'legacy', 'data-testid': 'benefit-legacy' }),
      h(
        'div',
        { class: 'balance' },
        h('label', { for: meterId, class: 'meter-label' }, 'Incidents remaining'),
        h('meter', { id: meterId, min: 0, max: 1, value: 0, 'data-testid': 'benefit-meter' }),
        h(
          'p',
          { class: 'count' },
          h('span', { class: 'remaining', 'data-testid': `remaining-${b.id}` }),
          h('span', { class: 'of' }),
        ),
      ),
      h('p', { class: 'ends' }, 'Ends ', h('time', { 'data-testid': 'benefit-ends' })),
      h('ul', { class: 'reminders', 'aria-label': 'Reminders', 'data-testid': 'benefit-reminders' }),
    ),
  );
}

function updateBenefitCard(b: Benefit, key: string, flash: boolean): void {
  const card = cards.get(key);
  if (!card) return;
  const q = <T extends Element>(sel: string) => card.querySelector(sel) as T;
  q<HTMLElement>('.benefit-name').textContent = b.name;
  const legacy = q<HTMLElement>('.legacy');
  legacy.textContent = b.legacyName ? `Formerly ${b.legacyName}` : '';
  legacy.hidden = !b.legacyName;

  const status = q<HTMLElement>('.status');
  status.textContent = STATUS_LABEL[b.status] ?? b.status;
  status.dataset.status = b.status;
  card.dataset.status = b.status;

  const i = b.incidents;
  const unit = b.kind === 'ISV_CONSULTATION' ? 'consultations' : 'incidents';
  q<HTMLElement>('.meter-label').textContent = unit === 'incidents' ? 'Incidents remaining' : 'Consultations remaining';
  const meter = q<HTMLMeterElement>('meter');
  const remaining = q<HTMLElement>('.remaining');
  const of = q<HTMLElement>('.of');
  if (i.unlimited || i.total === null) {
    meter.hidden = true;
    q<HTMLElement>('.meter-label').hidden = true;
    remaining.textContent = 'Unlimited';
    of.textContent = ` ${unit} · ${i.used} used`;
  } else {
    const total = i.total;
    const left = i.remaining ?? 0;
    meter.hidden = false;
    q<HTMLElement>('.meter-label').hidden = false;
    meter.max = Math.max(total, 1);
    meter.low = Math.min(meter.max, 2.5); // the server reminds at 2 or fewer by default
    meter.high = Math.min(meter.max, Math.max(meter.low, total / 2));
    meter.optimum = meter.max;
    meter.value = left;
    meter.setAttribute('aria-valuetext', `${left} of ${total} ${unit} remaining`);
    remaining.textContent = String(left);
    of.textContent = ` of ${total} remaining · ${i.used} used`;
  }
  card.dataset.remaining = i.unlimited ? 'unlimited' : String(i.remaining ?? 0);

  const time = q<HTMLTimeElement>('time');
  time.dateTime = b.endsAt;
  time.textContent = dateFmt.format(new Date(b.endsAt));

  const reminders = (state.tenant?.reminders ?? []).filter((r) => r.benefitId === b.id);
  const list = q<HTMLUListElement>('.reminders');
  list.replaceChildren(
    ...reminders.map((r) =>
      h(
        'li',
        { class: `reminder reminder-${r.kind.toLowerCase()}`, 'data-kind': r.kind },
        h('strong', {}, r.kind === 'ENDING_SOON' ? 'Ending soon' : 'Low balance'),
        ' ',
        r.message,
      ),
    ),
  );
  list.hidden = reminders.length === 0;

  if (flash) {
    card.classList.remove('updated');
    void card.offsetWidth; // restart the animation
    card.classList.add('updated');
  }
}

function addActivity(e: BalanceEvent): void {
  show(el.activityEmpty, false);
  const delta = e.kind === 'CONSUME' ? 'minus' : e.kind === 'REFUND' ? 'plus' : 'info';
  const item = h(
    'li',
    { class: `activity activity-${delta}`, 'data-kind': e.kind, 'data-seq': e.seq },
    h('time', { datetime: e.at }, timeFmt.format(new Date(e.at))),
    ' ',
    h('strong', {}, KIND_LABEL[e.kind] ?? e.kind),
    ` · ${planLabel(e.benefitId, e.planName)} · ${balanceText(e)} left`,
    e.cause ? h('span', { class: 'cause' }, ` · ${e.cause}`) : null,
  );
  el.activityList.prepend(item);
  while (el.activityList.children.length > 8) el.activityList.lastElementChild?.remove();
}

function renderLedger(): void {
  show(el.ledger, state.ledgerAllowed === true);
  el.ledgerBody.replaceChildren(
    ...state.ledger.map((x) => {
      const delta = x.delta > 0 ? `+${x.delta}` : x.delta < 0 ? `−${-x.delta}` : '0';
      const deltaClass = x.delta > 0 ? 'plus' : x.delta < 0 ? 'minus' : 'zero';
      return h(
        'tr',
        { 'data-kind': x.kind, 'data-seq': x.seq },
        h('td', { class: 'num' }, x.seq),
        h('td', { class: 'when' }, h('time', { datetime: x.at }, dateTimeFmt.format(new Date(x.at)))),
        h(
          'td',
          { class: 'change' },
          h('span', { class: 'cell-main' }, KIND_LABEL[x.kind] ?? x.kind),
          h('span', { class: 'cell-sub' }, planLabel(x.benefitId, x.planName)),
        ),
        h('td', { class: `num delta delta-${deltaClass}` }, delta),
        h('td', { class: 'nowrap' }, balanceText(x.incidents)),
        h(
          'td',
          { class: 'ids' },
          x.requestId ? h('span', { class: 'cell-main mono' }, x.requestId) : null,
          x.actorId ? h('span', { class: 'cell-sub mono' }, `by ${x.actorId}`) : null,
          !x.requestId && !x.actorId ? '—' : null,
        ),
        h('td', { class: 'reason' }, x.reason ?? '—'),
      );
    }),
  );
  if (state.ledger.length === 0) {
    el.ledgerBody.append(h('tr', {}, h('td', { colspan: 7 }, 'No entries yet.')));
  }
}

/** A plan's name for an event or ledger entry; some (refunds) carry only the benefit id. */
function planLabel(benefitId: string | null, planName: string | null): string {
  if (planName) return planName;
  const b = state.tenant?.benefits.find((x) => x.id === benefitId);
  return b?.name ?? benefitId ?? '';
}

// ---------------------------------------------------------------------------------------
// Start

async function boot(): Promise<void> {
  try {
    await start();
  } finally {
    booted = true;
  }
}

async function start(): Promise<void> {
  const token = store.get(TOKEN_KEY);
  if (token) {
    try {
      await signIn(token);
      return;
    } catch (err) {
      store.set(TOKEN_KEY, null);
      await renderSignIn();
      showError(`Your earlier sign-in is no longer accepted: ${messageOf(err)}`);
      return;
    }
  }
  await renderSignIn();
}

void boot();
