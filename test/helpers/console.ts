import { randomBytes } from 'node:crypto';
import type { AdminStore } from '../../src/admin/admin-store.ts';
import { signedCheckInHeaders } from '../../src/admin/agent-auth.ts';
import { hashPassword } from '../../src/admin/passwords.ts';
import type { Grant } from '../../src/admin/roles.ts';
import { randomToken, sha256Hex } from '../../src/admin/sessions.ts';

/** A fetch that carries a console session, signed in through the real sign-in form. */
export interface SignedIn {
  fetch(path: string, init?: RequestInit): Promise<Response>;
  json<T = unknown>(path: string): Promise<T>;
  text(path: string): Promise<string>;
  /** POSTs a form with the session's CSRF token, as the console's pages do. */
  post(path: string, fields?: Record<string, string>): Promise<Response>;
  cookie: string;
  csrf: string;
  username: string;
}

let accounts = 0;

/** Creates a local account in `store` and signs in at `url` as a browser would (CSRF cookie, form post). */
export async function signIn(store: AdminStore, url: string, grant: Grant = { role: 'operator' }, username = `admin-${process.pid}-${(accounts += 1)}`): Promise<SignedIn> {
  const password = randomBytes(12).toString('base64url');
  await store.putAccount({ username, source: 'local', passwordHash: await hashPassword(password), grants: [grant], createdAt: new Date().toISOString() });
  return signInAs(url, username, password);
}

export async function signInAs(url: string, username: string, password: string): Promise<SignedIn> {
  const page = await fetch(`${url}/sign-in`);
  const signInCookie = /(__Host-lgwan-sign-in=[^;]+)/u.exec(page.headers.get('set-cookie') ?? '')![1]!;
  const formCsrf = /name="_csrf" value="([^"]+)"/u.exec(await page.text())![1]!;
  const response = await fetch(`${url}/sign-in`, {
    method: 'POST',
    redirect: 'manual',
    headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: signInCookie },
    body: new URLSearchParams({ _csrf: formCsrf, username, password, next: '/' }).toString(),
  });
  if (response.status !== 303) throw new Error(`sign-in as ${username} answered ${response.status}: ${await response.text()}`);
  const cookie = /(__Host-lgwan-session=[^;]+)/u.exec(response.headers.getSetCookie().join('\n'))![1]!;
  const overview = await (await fetch(`${url}/`, { headers: { cookie } })).text();
  const csrf = /action="\/sign-out"[^>]*><input type="hidden" name="_csrf" value="([^"]+)"/u.exec(overview)?.[1] ?? '';
  const withCookie = (path: string, init: RequestInit = {}) => fetch(`${url}${path}`, { redirect: 'manual', ...init, headers: { ...(init.headers as Record<string, string> | undefined), cookie } });
  return {
    cookie,
    csrf,
    username,
    fetch: withCookie,
    json: async <T>(path: string) => (await (await withCookie(path)).json()) as T,
    text: async (path: string) => (await withCookie(path)).text(),
    post: (path: string, fields: Record<string, string> = {}) =>
      withCookie(path, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: new URLSearchParams({ _csrf: csrf, ...fields }).toString() }),
  };
}

/** An enrollment token of `tenant`, put in the store as `agents token` does. */
export async function issueEnrollmentToken(store: AdminStore, tenant = 'default'): Promise<string> {
  const token = randomToken();
  await store.addEnrollmentToken({ id: randomBytes(6).toString('hex'), tenant, tokenHash: sha256Hex(token), label: 'test', createdAt: new Date().toISOString(), createdBy: 'test' });
  return token;
}

export interface TestAgent {
  agentId: string;
  secret: string;
  /** POSTs a signed check-in; `installed` and the rest of the body as the agents send them. */
  checkIn(body: Record<string, unknown>, headers?: Record<string, string>): Promise<Response>;
}

/** Enrolls an agent over HTTP with a fresh token of `tenant`, and signs its check-ins like the agents do. */
export async function enrollAgent(store: AdminStore, url: string, options: { tenant?: string; hostname?: string; token?: string } = {}): Promise<TestAgent> {
  const token = options.token ?? (await issueEnrollmentToken(store, options.tenant));
  const response = await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token, ...(options.hostname ? { hostname: options.hostname } : {}) }) });
  if (response.status !== 201) throw new Error(`enrollment answered ${response.status}: ${await response.text()}`);
  const { agentId, secret } = (await response.json()) as { agentId: string; secret: string };
  return {
    agentId,
    secret,
    checkIn(body, headers = {}) {
      const text = JSON.stringify({ agentId, os: 'windows', ...body });
      return fetch(`${url}/api/v1/agent/checkin`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', ...signedCheckInHeaders(agentId, secret, text), ...headers },
        body: text,
      });
    },
  };
}
