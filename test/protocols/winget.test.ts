import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { loadConfig } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openLgwanSide } from '../../src/sides/lgwan.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { errorResponse, informationResponse, manifestResponse, manifestSearchResponse } from '../helpers/winget-schemas.ts';

const run = promisify(execFile);

/** An internal CA and a server certificate for 127.0.0.1, as docs/clients.md tells an admin to make. */
async function internalCa(directory: string) {
  const file = (name: string) => path.join(directory, name);
  await run('openssl', ['req', '-x509', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-days', '2', '-subj', '/CN=Test Municipality Internal CA', '-keyout', file('ca.key'), '-out', file('ca.crt')]);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-subj', '/CN=127.0.0.1', '-keyout', file('repository.key'), '-out', file('repository.csr')]);
  await writeFile(file('san.cnf'), 'subjectAltName=IP:127.0.0.1\nextendedKeyUsage=serverAuth\n');
  await run('openssl', ['x509', '-req', '-in', file('repository.csr'), '-CA', file('ca.crt'), '-CAkey', file('ca.key'), '-CAcreateserial', '-days', '2', '-extfile', file('san.cnf'), '-out', file('repository.crt')]);
  return { ca: await readFile(file('ca.crt')), cert: file('repository.crt'), key: file('repository.key') };
}

function https(url: string, ca: Buffer, options: { method?: string; body?: unknown; headers?: Record<string, string> } = {}): Promise<{ status: number; json: unknown; headers: Record<string, unknown> }> {
  return new Promise((resolve, reject) => {
    const body = options.body === undefined ? undefined : Buffer.from(typeof options.body === 'string' ? options.body : JSON.stringify(options.body));
    const outgoing = request(url, { method: options.method ?? 'GET', ca, headers: { 'user-agent': 'winget-cli WindowsPackageManager/1.9.25200 DesktopAppInstaller/Microsoft.DesktopAppInstaller v1.24.25200.0', ...(body ? { 'content-type': 'application/json', 'content-length': String(body.length) } : {}), ...options.headers } }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => {
        const text = Buffer.concat(chunks).toString('utf8');
        resolve({ status: response.statusCode ?? 0, json: text === '' ? undefined : JSON.parse(text), headers: response.headers });
      });
    });
    outgoing.on('error', reject);
    outgoing.end(body);
  });
}

test('the winget REST source answers over HTTPS with responses valid under the published schema and exact installer hashes', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const tls = await internalCa(environment.root);
  const configFile = path.join(environment.root, 'lgwan-mirror.yaml');
  const config = parse(await readFile(configFile, 'utf8')) as { lgwan: Record<string, unknown> };
  config.lgwan.tls = { cert: tls.cert, key: tls.key, port: 0 };
  await writeFile(configFile, stringify(config));
  const lgwan = await openLgwanSide((await loadConfig(configFile)).lgwan, silentLogger);
  await lgwan.importOnce();
  const { server, url } = await lgwan.listenTls(0);
  t.teardown(() => void server.close());
  t.regex(url, /^https:\/\/127\.0\.0\.1:\d+$/u);
  const base = `${url}/winget`;

  const information = await https(`${base}/information`, tls.ca);
  t.is(information.status, 200);
  const info = informationResponse.parse(information.json);
  t.true(info.Data.ServerSupportedVersions.includes('1.10.0'));

  const search = await https(`${base}/manifestSearch`, tls.ca, { method: 'POST', body: { Query: { KeyWord: 'firefox', MatchType: 'Substring' }, MaximumResults: 10 } });
  t.is(search.status, 200);
  const found = manifestSearchResponse.parse(search.json);
  t.deepEqual(found.Data.map((item) => [item.PackageIdentifier, item.Versions.map((version) => version.PackageVersion)]), [['Mozilla.FirefoxDemo', ['131.0']]]);

  const exact = await https(`${base}/manifestSearch`, tls.ca, { method: 'POST', body: { Filters: [{ PackageMatchField: 'PackageIdentifier', RequestMatch: { KeyWord: 'Mozilla.FirefoxDemo', MatchType: 'Exact' } }] } });
  t.is(manifestSearchResponse.parse(exact.json).Data.length, 1);
  const none = await https(`${base}/manifestSearch`, tls.ca, { method: 'POST', body: { Query: { KeyWord: 'no such thing', MatchType: 'Exact' } } });
  t.is(none.status, 204);

  const manifest = await https(`${base}/packageManifests/Mozilla.FirefoxDemo`, tls.ca);
  t.is(manifest.status, 200);
  const parsed = manifestResponse.parse(manifest.json);
  const installers = parsed.Data.Versions[0]!.Installers;
  t.deepEqual(installers.map((item) => [item.Architecture, item.InstallerLocale, item.InstallerType]).sort(), [['x64', 'en-US', 'nullsoft'], ['x64', 'ja', 'nullsoft']]);
  for (const item of installers) {
    t.true(item.InstallerUrl.startsWith(`${url}/pool/demo-firefox/131.0/win64/`), item.InstallerUrl);
    const bytes = await new Promise<Buffer>((resolve, reject) => {
      request(item.InstallerUrl, { ca: tls.ca }, (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => resolve(Buffer.concat(chunks)));
      }).on('error', reject).end();
    });
    t.is(createHash('sha256').update(bytes).digest('hex').toUpperCase(), item.InstallerSha256);
  }
  t.is(parsed.Data.Versions[0]!.Installers[0]!.InstallerSwitches?.Silent, '/S');

  const missing = await https(`${base}/packageManifests/Contoso.Nothing`, tls.ca);
  t.is(missing.status, 404);
  errorResponse.parse(missing.json);
  const badVersion = await https(`${base}/packageManifests/Mozilla.FirefoxDemo?Version=1.0`, tls.ca);
  t.is(badVersion.status, 404);
  const invalid = await https(`${base}/manifestSearch`, tls.ca, { method: 'POST', body: '{oops' });
  t.is(invalid.status, 400);
  errorResponse.parse(invalid.json);

  await lgwan.inventory.flush();
  t.true((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).some((endpoint) => endpoint.products.winget?.version === '1.9.25200'));
});
