import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import { hostname } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { signedCheckInHeaders } from '../../src/admin/agent-auth.ts';
import { enrollAgent, issueEnrollmentToken, signIn, type TestAgent } from '../helpers/console.ts';
import { projectRoot } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { shAgentHost } from '../helpers/sh-agent-host.ts';

const run = promisify(execFile);
const agentScript = path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.sh');
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');


/** A Linux host whose "Firefox" is a version file and whose install command copies the verified file; it enrolls with `enrollmentToken`. */
const host = (root: string, repositoryUrl: string, installedVersion: string, enrollmentToken: string) => shAgentHost(path.join(root, 'host'), repositoryUrl, installedVersion, enrollmentToken);

test('the sh agent checks in, downloads, verifies and installs the newer release, then reports it', async (t) => {
  const { environment, lgwan, url } = await publishedRepository(t);
  const machine = await host(environment.root, url, '130.0', await issueEnrollmentToken(lgwan.admin));
  t.is(await machine.runAgent(), 0);
  const installed = await readFile(path.join(machine.directory, 'installed', 'firefox-131.0.tar.xz'));
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.path === 'pool/demo-firefox/131.0/linux-x86_64/ja/firefox-131.0.tar.xz')!;
  t.is(sha256(installed), artifact.sha256);
  t.is((await readFile(path.join(machine.directory, 'firefox.version'), 'utf8')).trim(), '131.0');
  t.regex(await machine.log(), /demo-firefox: 130\.0 -> 131\.0, downloading firefox-131\.0\.tar\.xz/u);
  t.regex(await machine.log(), /demo-firefox: installed 131\.0/u);
  t.deepEqual(await readdir(path.join(machine.directory, 'state', 'downloads')), [], 'no leftovers');

  await lgwan.inventory.flush();
  const endpoint = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).find((candidate) => candidate.kind === 'agent');
  t.like(endpoint?.products['demo-firefox/linux-x86_64'], { version: '131.0', source: 'agent', locale: 'ja' }, 'the second check-in reported the new version');
  t.is(endpoint?.hostname, hostname().replace(/[^A-Za-z0-9._-]/gu, ''), 'the agent reports its host name');
  const { server, url: pages } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const operator = await signIn(lgwan.admin, pages);
  t.true((await operator.text('/endpoints')).includes(`<strong>${endpoint!.hostname!}</strong>`), 'the endpoints page shows it');

  // Up to date: the next run, at once, downloads nothing (each check-in has its own nonce, so
  // the same body in the same second is no replay).
  const before = await machine.log();
  t.is(await machine.runAgent(), 0);
  t.notRegex((await machine.log()).slice(before.length), /downloading/u);
});

test('the sh agent resumes a partial download with Range and refuses a file whose SHA-256 does not match', async (t) => {
  const { environment, lgwan, url, requests } = await publishedRepository(t);
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.path === 'pool/demo-firefox/131.0/linux-x86_64/ja/firefox-131.0.tar.xz')!;
  const bytes = Buffer.from(await (await fetch(`${url}/blobs/sha256/${artifact.sha256}`)).arrayBuffer());

  const resumed = await host(path.join(environment.root, 'resume'), url, '130.0', await issueEnrollmentToken(lgwan.admin));
  await mkdir(path.join(resumed.directory, 'state', 'downloads'), { recursive: true });
  await writeFile(path.join(resumed.directory, 'state', 'downloads', `${artifact.sha256}.part`), bytes.subarray(0, 100_000));
  t.is(await resumed.runAgent(), 0);
  t.true(requests.some((request) => request.url.endsWith('firefox-131.0.tar.xz') && request.range === 'bytes=100000-' && request.status === 206));
  t.is(sha256(await readFile(path.join(resumed.directory, 'installed', 'firefox-131.0.tar.xz'))), artifact.sha256);

  // A partial file damaged on disk: the completed file no longer matches, so nothing is installed.
  const damaged = await host(path.join(environment.root, 'damaged'), url, '130.0', await issueEnrollmentToken(lgwan.admin));
  await mkdir(path.join(damaged.directory, 'state', 'downloads'), { recursive: true });
  const wrong = Buffer.from(bytes.subarray(0, 100_000));
  wrong[10]! ^= 0xff;
  await writeFile(path.join(damaged.directory, 'state', 'downloads', `${artifact.sha256}.part`), wrong);
  t.is(await damaged.runAgent(), 0);
  t.regex(await damaged.log(), /SHA-256 mismatch for firefox-131\.0\.tar\.xz .*nothing installed/u);
  t.deepEqual(await readdir(path.join(damaged.directory, 'installed')), []);
  t.is((await readFile(path.join(damaged.directory, 'firefox.version'), 'utf8')).trim(), '130.0');
  t.deepEqual(await readdir(path.join(damaged.directory, 'state', 'downloads')), [], 'the bad file is discarded; the next run starts over');
});

/** POSTs `body` as it is, signed with `agent`'s secret as the agents sign (so only the input itself is wrong). */
const signedPost = (url: string, agent: TestAgent, body: string, type = 'application/json') => {
  return fetch(`${url}/api/v1/agent/checkin`, {
    method: 'POST',
    headers: { 'content-type': type, ...signedCheckInHeaders(agent.agentId, agent.secret, body) },
    body,
  });
};

test('the check-in API validates its input and answers clear 4xx errors', async (t) => {
  const { lgwan, url } = await publishedRepository(t);
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'pc-001' });
  const post = (body: string, type = 'application/json') => signedPost(url, agent, body, type);
  const invalid = await post('{not json');
  t.is(invalid.status, 400);
  t.deepEqual(await invalid.json(), { error: 'the check-in is not valid JSON' });
  const field = await post(JSON.stringify({ agentId: agent.agentId, os: 'windows', installed: [{ product: 'demo-firefox', version: '130.0; rm -rf /' }] }));
  t.is(field.status, 400);
  t.regex(((await field.json()) as { error: string }).error, /^field "installed\.0\.version": letters, digits/u);
  t.is((await post(JSON.stringify({ agentId: agent.agentId, os: 'windows', installed: [] }), 'text/plain')).status, 415);
  t.is((await post(JSON.stringify({ agentId: agent.agentId, os: 'windows', installed: [], extra: 'x'.repeat(70_000) }))).status, 413);
  const valid = JSON.stringify({ agentId: agent.agentId, os: 'windows', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }, { product: 'unknown-product', version: '1.0' }] });
  // Issue 14: a well-formed check-in that is not signed by an enrolled agent is refused.
  const unsigned = await fetch(`${url}/api/v1/agent/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: valid });
  t.is(unsigned.status, 401);
  const ok = await post(valid);
  t.is(ok.status, 200);
  const answer = (await ok.json()) as { actions: { product: string; version: string; files: { fileName: string; url: string }[] }[]; checkInIntervalSeconds: number };
  t.deepEqual(answer.actions.map((action) => [action.product, action.version, action.files.map((file) => file.fileName)]), [['demo-firefox', '131.0', ['Firefox Setup 131.0.exe']]]);
  t.is((await fetch(`${url}${answer.actions[0]!.files[0]!.url}`)).status, 200);
});

test('a product id the repository does not know is named by the server and the sh agent (exit 2), and never recorded as a product', async (t) => {
  const { environment, lgwan, url } = await publishedRepository(t);
  const machine = await host(environment.root, url, '131.0', await issueEnrollmentToken(lgwan.admin));
  // The admin misspells an id, as the shipped Windows example once did ("google-chrome" for "chrome").
  const config = await readFile(machine.config, 'utf8');
  await writeFile(machine.config, config.replace(/'\n$/u, `demo-firefx|linux-x86_64|ja|echo 1.0|true\n'\n`));
  let stderr = '';
  let code = 0;
  try {
    await run('sh', [agentScript, machine.config], { timeout: 60_000 });
  } catch (error) {
    ({ code, stderr } = error as { code: number; stderr: string });
  }
  t.is(code, 2, 'the run says something is wrong with its config');
  t.regex(stderr, /unknown product id "demo-firefx" in .*lgwan-agent\.conf/u);
  t.regex(await machine.log(), /demo-firefx: the repository has no product with this id; check LGWAN_PRODUCTS/u);

  const typoHost = await enrollAgent(lgwan.admin, url, { hostname: 'typo-host' });
  const answer = (await (await typoHost.checkIn({ os: 'windows', installed: [{ product: 'google-chrome', version: '120.0' }] })).json()) as { unknownProducts: string[] };
  t.deepEqual(answer.unknownProducts, ['google-chrome']);
  await lgwan.inventory.flush();
  const endpoints = await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 });
  t.false(endpoints.some((endpoint) => Object.keys(endpoint.products).some((key) => key.startsWith('demo-firefx') || key.startsWith('google-chrome'))), 'unknown ids are not products in the inventory');
  t.true(endpoints.some((endpoint) => Object.keys(endpoint.products).some((key) => key.startsWith('demo-firefox'))), 'the known product of the same check-in is recorded');
});

test('the shipped Windows agent example names product ids a shipped catalog has', async (t) => {
  const source = await readFile(path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.ps1'), 'utf8');
  const ids = [...source.matchAll(/"id": "([^"]+)"/gu)].map((match) => match[1]!);
  t.true(ids.length > 0);
  const catalogIds = new Set<string>();
  for (const name of await readdir(path.join(projectRoot, 'catalogs'))) {
    if (!name.endsWith('.yaml')) continue;
    const id = /^id: (.+)$/mu.exec(await readFile(path.join(projectRoot, 'catalogs', name), 'utf8'))?.[1];
    if (id) catalogIds.add(id.trim());
  }
  for (const id of ids) t.true(catalogIds.has(id), `${id} is a shipped catalog id`);
});

test('the sh agent reports the tags of its config (LGWAN_TAGS), cleaned to what the check-in accepts, and lands in the ring that selects them', async (t) => {
  const { environment, lgwan, url } = await publishedRepository(t, { lgwan: { rings: [{ id: 'pilot', agentTags: ['pilot'] }, { id: 'general' }] } });
  const machine = await host(environment.root, url, '131.0', await issueEnrollmentToken(lgwan.admin));
  await writeFile(machine.config, `${await readFile(machine.config, 'utf8')}LGWAN_TAGS="-pilot floor.3 $(printf 'x%.0s' $(seq 1 100))"\n`);
  t.is(await machine.runAgent(), 0, await machine.log().catch(() => ''));
  await lgwan.inventory.flush();
  const endpoint = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10 })).find((candidate) => candidate.kind === 'agent');
  t.is(endpoint?.ring, 'pilot', 'the leading "-" is dropped, so "pilot" selects the ring; an over-long tag is cut to 64 characters, not refused');
});
