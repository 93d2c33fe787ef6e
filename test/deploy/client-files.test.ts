import { mkdtemp, readdir, readFile, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test from 'ava';
import { parse } from 'yaml';
import { loadCatalog } from '../../src/catalog/index.ts';
import { projectRoot } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { aptGet } from '../helpers/real-clients.ts';

/*
 * Every file under deploy/clients/ must name what a shipped production catalog (catalogs/*.yaml,
 * not catalogs/demo/) serves, exactly as shipped: an admin copies these files unchanged but for
 * the host name.
 */

const clients = path.join(projectRoot, 'deploy', 'clients');
const host = 'lgwan-mirror.example';

async function filesUnder(directory: string): Promise<string[]> {
  const entries = await readdir(directory, { withFileTypes: true, recursive: true });
  return entries.filter((entry) => entry.isFile()).map((entry) => path.relative(clients, path.join(entry.parentPath, entry.name))).sort();
}

const shipped = async () => loadCatalog(path.join(projectRoot, 'catalogs'));

/** deb822 stanzas of a .sources file (comments dropped). */
function stanzas(text: string): Map<string, string>[] {
  return text
    .split(/\n\s*\n/u)
    .map((block) => new Map(block.split('\n').filter((line) => line.trim() !== '' && !line.startsWith('#')).map((line) => [line.slice(0, line.indexOf(':')), line.slice(line.indexOf(':') + 1).trim()] as [string, string])))
    .filter((stanza) => stanza.size > 0);
}

test('every file under deploy/clients/ is one this test knows how to check', async (t) => {
  const known = /^(apt\/[a-z0-9-]+\.sources|firefox\/policies\.json|thunderbird\/policies\.json|clamav\/freshclam\.conf|winget\/README\.md)$/u;
  const files = await filesUnder(clients);
  t.true(files.length >= 6);
  t.deepEqual(files.filter((file) => !known.test(file)), []);
});

test('each shipped apt .sources file names a suite, components and keyring a shipped apt catalog publishes', async (t) => {
  const catalogs = await shipped();
  const pins = parse(await readFile(path.join(projectRoot, 'catalogs', 'keys', 'pins.yaml'), 'utf8')) as { keys: Record<string, { file: string }> };
  const sources = (await filesUnder(clients)).filter((file) => file.endsWith('.sources'));
  t.true(sources.length >= 2);
  for (const file of sources) {
    for (const stanza of stanzas(await readFile(path.join(clients, file), 'utf8'))) {
      const uri = new RegExp(`^http://${host}:8080/apt/([a-z0-9-]+)$`, 'u').exec(stanza.get('URIs') ?? '');
      t.truthy(uri, `${file}: URIs`);
      const catalog = catalogs.find((entry) => entry.source.type === 'apt' && entry.source.mirror === uri?.[1] && entry.source.suite === stanza.get('Suites'));
      t.truthy(catalog, `${file}: no shipped catalog mirrors ${uri?.[1]} ${stanza.get('Suites')}`);
      if (catalog?.source.type !== 'apt') continue;
      for (const component of (stanza.get('Components') ?? '').split(/\s+/u)) t.true(catalog.source.components.includes(component), `${file}: component ${component} is not in ${catalog.id}`);
      t.is(path.basename(stanza.get('Signed-By') ?? ''), pins.keys[catalog.source.signingKey]?.file ?? '(no pin)', `${file}: Signed-By must be the keyring of ${catalog.source.signingKey}`);
      t.false(stanza.has('Trusted') || stanza.has('Check-Valid-Until'), `${file}: no Trusted or Check-Valid-Until`);
    }
  }
});

test('the real apt-get, given each shipped .sources file unchanged, asks for exactly the InRelease path the shipped catalog publishes', async (t) => {
  const catalogs = await shipped();
  // A proxy stands in for the host name (apt sends it the absolute URL); it answers 404 to everything.
  const asked: string[] = [];
  const proxy = createServer((request, response) => {
    asked.push(request.url ?? '');
    response.writeHead(404).end();
  });
  await new Promise<void>((resolve) => proxy.listen(0, '127.0.0.1', resolve));
  t.teardown(() => void proxy.close());
  const proxyUrl = `http://127.0.0.1:${(proxy.address() as AddressInfo).port}`;
  for (const file of (await filesUnder(clients)).filter((name) => name.endsWith('.sources'))) {
    asked.length = 0;
    const root = await mkdtemp(path.join(tmpdir(), 'lgwan-client-files-'));
    t.teardown(() => rm(root, { recursive: true, force: true }));
    await aptGet(root, '', ['update'], undefined, { sources: await readFile(path.join(clients, file), 'utf8'), proxy: proxyUrl });
    const [stanza] = stanzas(await readFile(path.join(clients, file), 'utf8'));
    const catalog = catalogs.find((entry) => entry.source.type === 'apt' && entry.source.suite === stanza!.get('Suites'))!;
    if (catalog.source.type !== 'apt') continue;
    t.true(asked.includes(`http://${host}:8080/apt/${catalog.source.mirror}/dists/${catalog.source.suite}/InRelease`), `${file}: apt asked for ${asked.join(', ')}`);
  }
});

test('the shipped Firefox and Thunderbird policies name the update URL the repository answers, for products a shipped catalog carries', async (t) => {
  const catalogs = await shipped();
  const { url } = await publishedRepository(t);
  for (const product of ['firefox', 'thunderbird'] as const) {
    const policies = JSON.parse(await readFile(path.join(clients, product, 'policies.json'), 'utf8')) as { policies: { AppUpdateURL: string } };
    const template = new URL(policies.policies.AppUpdateURL.replaceAll('%', '%25'));
    t.is(template.host, `${host}:8080`);
    t.true(catalogs.some((entry) => entry.source.type === 'mozilla' && entry.source.product === product), `a shipped catalog for ${product}`);
    // The placeholders filled in as Firefox fills them (the same template serves Thunderbird; the demo repository carries Firefox 131.0).
    const filled = policies.policies.AppUpdateURL.replace(`http://${host}:8080`, url)
      .replace('%PRODUCT%', 'Firefox').replace('%VERSION%', '130.0').replace('%BUILD_ID%', '20240901000000').replace('%BUILD_TARGET%', 'WINNT_x86_64-msvc-x64')
      .replace('%LOCALE%', 'ja').replace('%CHANNEL%', 'release').replace('%OS_VERSION%', 'Windows_NT%2010.0').replace('%SYSTEM_CAPABILITIES%', 'ISET:SSE4_2').replace('%DISTRIBUTION%', 'default').replace('%DISTRIBUTION_VERSION%', 'default');
    t.notRegex(filled, /%[A-Z_]+%/u);
    const response = await fetch(filled);
    t.is(response.status, 200);
    t.regex(await response.text(), /<update type="minor" displayVersion="131\.0"/u, `${product}'s shipped URL is the one the repository answers`);
  }
});

test('the shipped freshclam.conf points at the repository folder that serves the databases the shipped catalogs carry', async (t) => {
  const catalogs = await shipped();
  const conf = await readFile(path.join(clients, 'clamav', 'freshclam.conf'), 'utf8');
  const mirror = /^PrivateMirror (\S+)$/mu.exec(conf)?.[1];
  t.is(mirror, `http://${host}:8080/clamav`);
  // freshclam asks for main, daily and bytecode unless told otherwise: each has a shipped catalog.
  t.deepEqual(catalogs.flatMap((entry) => (entry.source.type === 'clamav' ? [entry.source.database] : [])).sort(), ['bytecode', 'daily', 'main']);
  const { url } = await publishedRepository(t);
  t.is((await fetch(`${mirror!.replace(`http://${host}:8080`, url)}/bytecode.cvd`)).status, 200);
});

test('the winget README names the REST source path and package identifiers of shipped catalogs', async (t) => {
  const catalogs = await shipped();
  const readme = await readFile(path.join(clients, 'winget', 'README.md'), 'utf8');
  t.regex(readme, new RegExp(`-a https://${host}:8443/winget\\b`, 'u'));
  const identifiers = [...readme.matchAll(/--id (\S+)/gu)].map((match) => match[1]!);
  t.true(identifiers.length > 0);
  const shippedIds = catalogs.flatMap((entry) => (entry.winget ? [entry.winget.packageIdentifier] : []));
  for (const identifier of identifiers) t.true(shippedIds.includes(identifier), `${identifier} is a shipped catalog's winget packageIdentifier`);
});
