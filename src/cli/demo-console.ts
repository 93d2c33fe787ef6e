import { randomBytes } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { signedCheckInHeaders } from '../admin/agent-auth.ts';
import { JsonAdminStore } from '../admin/json-admin-store.ts';
import { hashPassword } from '../admin/passwords.ts';
import { randomToken, sha256Hex } from '../admin/sessions.ts';

/*
 * The demo's console: an operator account `demo` with a new password at every start (printed,
 * never written to disk), and simulated agents that enroll once with a token, as real agents
 * do, and sign their check-ins. Production accounts are made with `lgwan-mirror accounts add`.
 */
export const demoUsername = 'demo';

export async function prepareDemoConsole(lgwanStorage: string): Promise<{ password: string; enrollmentToken: string }> {
  await mkdir(lgwanStorage, { recursive: true });
  const store = await JsonAdminStore.open(lgwanStorage);
  try {
    const password = randomBytes(12).toString('base64url');
    const now = new Date().toISOString();
    await store.putAccount({ username: demoUsername, source: 'local', passwordHash: await hashPassword(password), grants: [{ role: 'operator' }], createdAt: (await store.getAccount(demoUsername))?.createdAt ?? now });
    // One token for the demo's simulated agents, kept beside them: restarts do not pile up tokens.
    const tokenFile = path.join(lgwanStorage, '..', 'demo-enrollment-token');
    let enrollmentToken = (await readFile(tokenFile, 'utf8').catch(() => '')).trim();
    const known = enrollmentToken ? await store.findEnrollmentToken(sha256Hex(enrollmentToken)) : undefined;
    if (!known || known.revokedAt !== undefined) {
      enrollmentToken = randomToken();
      await store.addEnrollmentToken({ id: `demo-${randomBytes(4).toString('hex')}`, tenant: 'default', tokenHash: sha256Hex(enrollmentToken), label: 'demo: simulated endpoints', createdAt: now, createdBy: 'demo' });
      await writeFile(tokenFile, `${enrollmentToken}\n`, { mode: 0o600 });
    }
    await store.appendAudit({ at: now, tenant: null, actor: 'demo', address: 'local', action: 'account-create', outcome: 'success', subject: demoUsername, detail: 'demo operator, new password at every demo start' });
    return { password, enrollmentToken };
  } finally {
    await store.close();
  }
}

/** Signs in through the form as a browser would; the session cookie, or undefined while the repository is not up. */
export async function demoSession(url: string, password: string): Promise<string | undefined> {
  try {
    const page = await fetch(`${url}/sign-in`);
    const cookie = /(__Host-lgwan-sign-in=[^;]+)/u.exec(page.headers.get('set-cookie') ?? '')?.[1];
    const csrf = /name="_csrf" value="([^"]+)"/u.exec(await page.text())?.[1];
    if (!cookie || !csrf) return undefined;
    const response = await fetch(`${url}/sign-in`, { method: 'POST', redirect: 'manual', headers: { 'content-type': 'application/x-www-form-urlencoded', cookie }, body: new URLSearchParams({ _csrf: csrf, username: demoUsername, password, next: '/' }).toString() });
    return /(__Host-lgwan-session=[^;]+)/u.exec(response.headers.getSetCookie().join('\n'))?.[1];
  } catch {
    return undefined;
  }
}

interface SimulatedAgent {
  hostname: string;
  agentId: string;
  secret: string;
}

/** A simulated agent of the demo: enrolled at its first demo run, its id and secret kept in the demo folder. */
export async function simulatedAgent(root: string, url: string, enrollmentToken: string, hostname: string): Promise<(body: object) => Promise<Response | undefined>> {
  const file = path.join(root, 'simulated-agents.json');
  const known = JSON.parse(await readFile(file, 'utf8').catch(() => '{}')) as Record<string, SimulatedAgent>;
  let agent = known[hostname];
  if (!agent) {
    const response = await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify({ token: enrollmentToken, hostname }) });
    if (response.status !== 201) throw new Error(`demo: enrolling ${hostname} answered ${response.status}: ${await response.text()}`);
    agent = { hostname, ...((await response.json()) as { agentId: string; secret: string }) };
    known[hostname] = { hostname, agentId: agent.agentId, secret: agent.secret };
    await writeFile(file, JSON.stringify(known, null, 1), { mode: 0o600 });
  }
  const { agentId, secret } = agent;
  return async (body) => {
    const text = JSON.stringify({ agentId, ...body });
    return fetch(`${url}/api/v1/agent/checkin`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...signedCheckInHeaders(agentId, secret, text) },
      body: text,
    }).catch(() => undefined);
  };
}
