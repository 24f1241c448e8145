/**
 * Switches Switchyard's full pipeline on through its own API, with whatever the build offers, and says what
 * was on. Today only the operator key, the request log and metrics exist; as user accounts, API keys,
 * credits and rate limits land (issues 3, 4 and 7), the harness finds their routes (a 404
 * `route_not_found` means "not built yet") and uses them:
 *
 *   user       POST /api/admin/users, else POST /api/auth/register
 *   key        POST /api/keys with the user's access token, else POST /api/admin/users/{id}/keys
 *   credits    POST /api/admin/credits/add (a grant large enough for the whole run)
 *   limits     PATCH /api/admin/users/{id} {limits} (high, so that the limiter runs on every request but
 *              never refuses one)
 *
 * Rate limiting is reported on when /v1 answers carry `x-ratelimit-limit-requests`.
 */
import { randomBytes } from 'node:crypto';

export interface PipelineFeatures {
  auth: string;
  userKeys: boolean;
  credits: boolean;
  rateLimits: boolean;
  requestLog: boolean;
  metrics: boolean;
}

export interface PipelineSetup {
  /** The key the load is sent with. */
  apiKey: string;
  features: PipelineFeatures;
  notes: string[];
  /** Reads the bench user's credit balance in USD, when credits exist. */
  balanceUsd?: () => Promise<number | undefined>;
  /** The bench user's newest `count` requests of one model from its request log (GET /api/usage), when it has one. */
  usage?: (model: string, count: number) => Promise<UsageRow[]>;
}

/** The fields of a GET /api/usage row the harness reads. */
export interface UsageRow {
  stream: boolean;
  latency_ms: number;
  ttft_ms: number | null;
}

interface ApiAnswer {
  status: number;
  json: any;
  headers: Headers;
}

const CREDIT_GRANT_USD = 100_000;
/** The highest limits the admin API accepts: the limiter runs on every request but never refuses one. */
const HIGH_LIMITS = { rpm: 1_000_000, tpm: 1_000_000_000, rpd: 100_000_000, max_concurrency: 10_000 };

/** Environment for the gateway so that the harness's own grant fits under the admin caps. */
export const GATEWAY_ENV_FOR_SETUP = {
  ADMIN_MAX_CREDIT_GRANT: String(CREDIT_GRANT_USD),
  ADMIN_DAILY_GRANT_LIMIT: String(CREDIT_GRANT_USD * 10),
  // The harness reads the user's balance and usage with the session it signed in with, at the end of a long run.
  ACCESS_TOKEN_TTL_SECONDS: '86400',
};

function client(origin: string) {
  return async (method: string, path: string, token: string, body?: unknown): Promise<ApiAnswer> => {
    const res = await fetch(origin + path, {
      method,
      headers: { authorization: `Bearer ${token}`, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
      body: body === undefined ? undefined : JSON.stringify(body),
      signal: AbortSignal.timeout(15_000),
    });
    const text = await res.text();
    let json: any;
    try {
      json = text ? JSON.parse(text) : undefined;
    } catch {
      json = { raw: text.slice(0, 200) };
    }
    return { status: res.status, json, headers: res.headers };
  };
}

const missing = (a: ApiAnswer) => a.status === 404 && (a.json?.error?.code === 'route_not_found' || /not found/i.test(a.json?.error?.message ?? ''));
const ok = (a: ApiAnswer) => a.status >= 200 && a.status < 300;
const describe = (what: string, a: ApiAnswer) => `${what}: HTTP ${a.status} ${JSON.stringify(a.json?.error ?? a.json ?? '').slice(0, 160)}`;

export async function setUpPipeline(origin: string, adminKey: string, probeRequest: (apiKey: string) => Promise<ApiAnswer>): Promise<PipelineSetup> {
  const api = client(origin);
  const notes: string[] = [];
  const email = `bench-${randomBytes(4).toString('hex')}@example.com`;
  const password = `Bench-${randomBytes(12).toString('hex')}`;
  let userId: string | undefined;
  let accessToken: string | undefined;

  // 1. A user.
  const created = await api('POST', '/api/admin/users', adminKey, { email, password, name: 'Benchmark', tier: 'team' });
  if (ok(created)) userId = created.json?.user?.id ?? created.json?.id;
  else if (missing(created)) {
    const registered = await api('POST', '/api/auth/register', adminKey, { email, password, name: 'Benchmark' });
    if (ok(registered)) {
      userId = registered.json?.user?.id;
      accessToken = registered.json?.access_token;
    } else if (!missing(registered)) notes.push(describe('register', registered));
  } else notes.push(describe('create user', created));

  if (userId && !accessToken) {
    const login = await api('POST', '/api/auth/login', adminKey, { email, password });
    if (ok(login)) accessToken = login.json?.access_token;
  }

  // 2. Its key.
  let userKey: string | undefined;
  if (accessToken) {
    const key = await api('POST', '/api/keys', accessToken, { name: 'benchmark' });
    if (ok(key)) userKey = key.json?.key;
    else if (!missing(key)) notes.push(describe('create key', key));
  }
  if (!userKey && userId) {
    const key = await api('POST', `/api/admin/users/${encodeURIComponent(userId)}/keys`, adminKey, { name: 'benchmark' });
    if (ok(key)) userKey = key.json?.key;
    else if (!missing(key)) notes.push(describe('provision key', key));
  }

  // 3. Credits and 4. limits, for that user.
  let credits = false;
  if (userId) {
    const grant = await api('POST', '/api/admin/credits/add', adminKey, { user_id: userId, amount_usd: CREDIT_GRANT_USD, reason: 'benchmark harness: credit for the load run' });
    if (ok(grant)) credits = true;
    else if (!missing(grant)) notes.push(describe('grant credits', grant));
    const limits = await api('PATCH', `/api/admin/users/${encodeURIComponent(userId)}`, adminKey, { limits: HIGH_LIMITS });
    if (!ok(limits) && !missing(limits)) notes.push(describe('raise limits', limits));
  }

  // 5. The key must work before anything is measured; otherwise the operator key carries the load.
  let apiKey = adminKey;
  let auth = 'operator key (ADMIN_API_KEY)';
  if (userKey) {
    const check = await probeRequest(userKey);
    if (check.status === 200) {
      apiKey = userKey;
      auth = 'user API key';
    } else notes.push(describe('user key rejected on /v1; using the operator key', check));
  }
  const answer = await probeRequest(apiKey);
  if (answer.status !== 200) throw new Error(describe('Switchyard does not answer the benchmark request', answer));
  const rateLimits = answer.headers.has('x-ratelimit-limit-requests');

  const metricsText = await fetch(`${origin}/metrics`).then((r) => (r.ok ? r.text() : ''));
  const health = await api('GET', '/health', adminKey);
  const features: PipelineFeatures = {
    auth,
    userKeys: apiKey !== adminKey,
    credits,
    rateLimits,
    requestLog: typeof health.json?.request_log === 'object',
    metrics: metricsText.includes('model_inference_requests_total'),
  };

  const balanceUsd = credits && accessToken
    ? async () => {
        const a = await api('GET', '/api/credits', accessToken!);
        const v = Number(a.json?.balance_usd);
        return ok(a) && Number.isFinite(v) ? v : undefined;
      }
    : undefined;
  const usage = features.requestLog && accessToken
    ? async (model: string, count: number) => {
        const rows: UsageRow[] = [];
        let cursor: string | null = null;
        do {
          const page = await api('GET', `/api/usage?model=${encodeURIComponent(model)}&limit=200${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ''}`, accessToken!);
          if (!ok(page) || !Array.isArray(page.json?.data)) throw new Error(describe('read the request log', page));
          rows.push(...(page.json.data as UsageRow[]));
          cursor = page.json.next_cursor ?? null;
        } while (cursor && rows.length < count);
        return rows.slice(0, count);
      }
    : undefined;
  return { apiKey, features, notes, balanceUsd, usage };
}
