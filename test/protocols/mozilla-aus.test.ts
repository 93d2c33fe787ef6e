import { createHash } from 'node:crypto';
import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test, { type ExecutionContext } from 'ava';
import { parse, stringify } from 'yaml';
import { simulatedBuildId } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment, fixtures } from '../helpers/environment.ts';

async function repositoryWithTwoReleases(t: ExecutionContext) {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  environment.simulator.options.mozilla.latest = '131.0.1';
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published', 'published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const check = async (query: { version: string; target?: string; locale?: string; channel?: string; product?: string; pin?: string }) => {
    const parts = [query.product ?? 'Firefox', query.version, '20240101000000', query.target ?? 'WINNT_x86_64-msvc-x64', query.locale ?? 'ja', query.channel ?? 'release', 'Windows_NT%2010.0.0.0.19045.3803%20(x64)', 'ISET:SSE4_2,MEM:16000', 'default', 'default'];
    const response = await fetch(`${url}/mozilla/update/6/${parts.join('/')}/update.xml${query.pin ? `?force=1&pin=${encodeURIComponent(query.pin)}` : ''}`, { headers: { 'cache-control': 'no-cache' } });
    t.is(response.status, 200);
    return response.text();
  };
  return { url, lgwan, check };
}

function parseUpdate(xml: string) {
  const update = /<update ([^>]*)>/u.exec(xml)?.[1];
  const patch = /<patch ([^>]*)\/>/u.exec(xml)?.[1];
  if (!update || !patch) return undefined;
  const attributes = (text: string) => Object.fromEntries([...text.matchAll(/(\w+)="([^"]*)"/gu)].map((match) => [match[1], match[2]]));
  return { update: attributes(update), patch: attributes(patch) };
}

test('an older Firefox is offered the newest published complete MAR with its exact size, SHA-512 and build ID', async (t) => {
  const { check } = await repositoryWithTwoReleases(t);
  const xml = await check({ version: '130.0' });
  t.regex(xml, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<updates>/u);
  const parsed = parseUpdate(xml)!;
  t.like(parsed.update, { type: 'minor', appVersion: '131.0.1', displayVersion: '131.0.1', buildID: simulatedBuildId('131.0.1', 'win64') });
  t.like(parsed.patch, { type: 'complete', hashFunction: 'sha512' });
  t.regex(parsed.patch.URL!, /^http:\/\/127\.0\.0\.1:\d+\/pool\/demo-firefox\/131\.0\.1\/win64\/ja\/firefox-131\.0\.1\.complete\.mar$/u);
  const mar = Buffer.from(await (await fetch(parsed.patch.URL!)).arrayBuffer());
  t.is(Number(parsed.patch.size), mar.length);
  t.true(mar.length > 0);
  t.is(parsed.patch.hashValue, createHash('sha512').update(mar).digest('hex'));
});

test('a current or newer client, an unknown locale, platform or channel get an empty <updates/>', async (t) => {
  const { check } = await repositoryWithTwoReleases(t);
  for (const query of [{ version: '131.0.1' }, { version: '132.0' }, { version: '130.0', locale: 'de' }, { version: '130.0', channel: 'esr' }, { version: '130.0', target: 'SunOS_sparc' }, { version: '130.0', product: 'Thunderbird' }]) {
    const xml = await check(query);
    t.is(parseUpdate(xml), undefined, JSON.stringify(query));
    t.regex(xml, /<updates><\/updates>/u);
  }
});

test('the pin parameter is enforced by the server and an older release is never offered', async (t) => {
  const { check } = await repositoryWithTwoReleases(t);
  t.is(parseUpdate(await check({ version: '130.0', pin: '131.0.' }))?.update.appVersion, '131.0.1');
  t.is(parseUpdate(await check({ version: '130.0', pin: '131.' }))?.update.appVersion, '131.0.1');
  t.is(parseUpdate(await check({ version: '130.0', pin: '130.' })), undefined, 'nothing newer inside the pin');
  t.is(parseUpdate(await check({ version: '131.0' }))?.update.appVersion, '131.0.1');
  t.is(parseUpdate(await check({ version: '131.0.1', pin: '131.0' })), undefined);
});

test('Linux clients get the Linux MAR, and every check is an inventory record of version, platform, locale and channel', async (t) => {
  const { check, lgwan } = await repositoryWithTwoReleases(t);
  const parsed = parseUpdate(await check({ version: '130.0', target: 'Linux_x86_64-gcc3', locale: 'en-US' }))!;
  t.regex(parsed.patch.URL!, /\/linux-x86_64\/en-US\/firefox-131\.0\.1\.complete\.mar$/u);
  t.is(parsed.update.buildID, simulatedBuildId('131.0.1', 'linux-x86_64'));
  const endpoint = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).find((candidate) => candidate.kind === 'address');
  t.truthy(endpoint);
  t.like(endpoint!.products['demo-firefox/linux-x86_64/release'], { product: 'demo-firefox', version: '130.0', platform: 'linux-x86_64', locale: 'en-US', channel: 'release', source: 'mozilla-aus' });
  t.deepEqual(Object.keys(endpoint!.products['demo-firefox/linux-x86_64/release']!).sort(), ['channel', 'firstSeen', 'locale', 'platform', 'product', 'seenAt', 'source', 'version'], 'nothing more than that is stored');
});

test('macOS Japanese is fetched as Mozilla spells it (ja-JP-mac, .dmg) and offered to a Mac that reports that locale', async (t) => {
  const catalogs = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  const demo = parse(await readFile(new URL('../../catalogs/demo/firefox.yaml', import.meta.url), 'utf8')) as { source: Record<string, unknown> };
  await writeFile(path.join(catalogs, 'firefox.yaml'), stringify({ ...demo, source: { ...demo.source, platforms: ['mac'], locales: ['ja'] } }));
  const environment = await createEnvironment({ catalogs, mozilla: { platforms: ['mac'], locales: ['ja'] } });
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.like(fetched.find((outcome) => outcome.productId === 'demo-firefox'), { status: 'fetched', version: '131.0' });
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const payloads = lgwan.database.data.published!.artifacts.filter((artifact) => artifact.role === 'payload').map((artifact) => artifact.path).sort();
  t.deepEqual(payloads, ['pool/demo-firefox/131.0/mac/ja-JP-mac/Firefox 131.0.dmg', 'pool/demo-firefox/131.0/mac/ja-JP-mac/firefox-131.0.complete.mar']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const parts = ['Firefox', '130.0', '20240101000000', 'Darwin_aarch64-gcc3', 'ja-JP-mac', 'release', 'Darwin%2023.6.0', 'ISET:SSE4_2,MEM:16384', 'default', 'default'];
  const xml = await (await fetch(`${url}/mozilla/update/6/${parts.join('/')}/update.xml`)).text();
  t.like(parseUpdate(xml)?.update, { appVersion: '131.0', buildID: simulatedBuildId('131.0', 'mac') });
  t.regex(parseUpdate(xml)!.patch.URL!, /\/pool\/demo-firefox\/131\.0\/mac\/ja-JP-mac\/firefox-131\.0\.complete\.mar$/u);
});

test('update.xml has the shape of a real AppUpdateURL answer: the same nesting, and every <update> and <patch> attribute Firefox reads that a published one carries', async (t) => {
  // A real answer in Balrog's format, published by the Tor Project for Mullvad Browser (a Firefox ESR build with Mozilla's updater).
  const real = await readFile(path.join(fixtures, 'mozilla', 'mullvad-browser-13.5a6-13.5a7-windows-x86_64-ALL.xml'), 'utf8');
  const names = (text: string, element: string) => new Set([...(new RegExp(`<${element} ([^>]*?)/?>`, 'u').exec(text)?.[1] ?? '').matchAll(/(\w+)="/gu)].map((match) => match[1]!));
  const { check } = await repositoryWithTwoReleases(t);
  const ours = await check({ version: '130.0' });
  t.regex(real, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<updates><update /u);
  t.regex(ours, /^<\?xml version="1\.0" encoding="UTF-8"\?>\n<updates>\s*<update [^>]*>\s*<patch [^>]*\/>\s*<\/update>\s*<\/updates>\s*$/u);
  // Optional attributes of the real one that an update offered to every client does not need.
  const optional = new Set(['actions', 'openURL', 'minSupportedOSVersion', 'minSupportedInstructionSet']);
  for (const name of names(real, 'update')) if (!optional.has(name)) t.true(names(ours, 'update').has(name), `<update ${name}>`);
  for (const name of names(real, 'patch')) t.true(names(ours, 'patch').has(name), `<patch ${name}>`);
  t.is(/hashFunction="([^"]+)"/u.exec(ours)?.[1]?.toLowerCase(), /hashFunction="([^"]+)"/u.exec(real)?.[1]?.toLowerCase());
});
