import { execFile } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { signIn } from '../helpers/console.ts';
import { createEnvironment, fixtures } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { aptGet } from '../helpers/real-clients.ts';
import { syntheticAptCatalog, syntheticAptSuite } from '../helpers/synthetic-apt.ts';
import { logRequests } from '../helpers/request-log.ts';
import { parseRelease } from '../../src/verify/apt-index.ts';

const run = promisify(execFile);
const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');



test('a stock apt-get (default languages) updates from the mirrored suite with Debian signature checking, with no Err: and no W:, and downloads ca-certificates', async (t) => {
  const { environment, lgwan, url, requests } = await publishedRepository(t);
  const update = await aptGet(environment.root, url, ['update']);
  t.is(update.code, 0, update.output);
  t.notRegex(update.output, /(NO_PUBKEY|not signed|insecure|BADSIG|Hash Sum mismatch)/iu);
  t.notRegex(update.output, /^(Err|W|E):/mu, update.output);
  // A stock client asks for Translation-en (apt.conf(5): Languages defaults to environment,en), in the
  // compression InRelease lists first; every index it asked for was there.
  t.true(requests.some((request) => /^\/apt\/debian\/dists\/bookworm-updates\/main\/i18n\/(by-hash\/SHA256\/d1b635aa|Translation-en\.xz)/u.test(request.url) && request.status === 200), JSON.stringify(requests.map((request) => `${request.status} ${request.url}`)));
  t.deepEqual(requests.filter((request) => request.url.startsWith('/apt/') && request.status !== 200).map((request) => `${request.status} ${request.url}`), []);
  const download = await aptGet(environment.root, url, ['download', 'ca-certificates']);
  t.is(download.code, 0, download.output);
  const deb = await readFile(path.join(download.cwd, 'ca-certificates_20230311+deb12u1_all.deb'));
  t.is(sha256(deb), '0d5f444f594e48c1e16a41d8fc628a09b24c658916a1274025c2330f2a802bed');
  t.deepEqual(deb, await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'ca-certificates_20230311+deb12u1_all.deb')));

  // InRelease verbatim; the index fetched by its hash (Acquire-By-Hash: yes) in the form a client prefers (xz), byte for byte.
  t.true(requests.some((request) => request.url === '/apt/debian/dists/bookworm-updates/InRelease' && request.status === 200));
  t.true(requests.some((request) => request.url === '/apt/debian/dists/bookworm-updates/main/binary-amd64/by-hash/SHA256/87e7e94047fb7fb6f4ceecc7022d4bee55b66031cc2a7666d3196f3e0aabb846' && request.status === 200));
  t.false(requests.some((request) => request.status >= 500 || request.status === 403));

  await lgwan.inventory.flush();
  // Recorded under the mirrored suite's product, at the snapshot it fetched: the suite's row counts it.
  const suite = lgwan.database.data.published!.artifacts.find((artifact) => artifact.verification.method === 'apt-inrelease')!;
  const endpoint = (await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).find((candidate) => candidate.products[suite.productId]);
  t.like(endpoint?.products[suite.productId], { product: suite.productId, source: 'apt', version: suite.version });
  t.false((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).some((candidate) => 'apt' in candidate.products), 'no made-up product "apt"');
  const operator = await signIn(lgwan.admin, url);
  const coverage = await operator.json<{ products: { productId: string; endpoints: number; current: number }[] }>('/api/v1/coverage');
  t.like(coverage.products.find((product) => product.productId === suite.productId), { endpoints: 1, current: 1 });
});

test('an InRelease whose signed text was altered is refused by the real apt-get', async (t) => {
  const { environment, lgwan, url } = await publishedRepository(t);
  const original = await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'InRelease'), 'utf8');
  const tampered = Buffer.from(original.replace('Debian 12 - Updates', 'Debian 12 - Updatez'));
  const digest = sha256(tampered);
  await mkdir(path.dirname(lgwan.store.pathOf(digest)), { recursive: true });
  await writeFile(lgwan.store.pathOf(digest), tampered);
  const published = lgwan.database.data.published!;
  lgwan.database.data.published = { ...published, artifacts: published.artifacts.map((artifact) => (artifact.fileName === 'InRelease' ? { ...artifact, sha256: digest, size: tampered.length } : artifact)) };

  const update = await aptGet(environment.root, url, ['update']);
  t.regex(update.output, /(BADSIG|signatures were invalid|is not signed)/u, update.output);
  const lists = await readdir(path.join(environment.root, 'apt', 'state', 'lists'));
  t.false(lists.some((name) => name.includes('InRelease')), 'apt kept no list from the forged suite');
});

test('a suite that also publishes Release and Release.gpg is mirrored with both, verified, and the real gpgv accepts them', async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  const { fetched } = await internet.runOnce();
  t.deepEqual(fetched.map((outcome) => outcome.status), ['fetched']);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());

  const served = async (name: string) => Buffer.from(await (await fetch(`${url}/apt/simulator/dists/stable/${name}`)).arrayBuffer());
  const vendor = async (name: string) => Buffer.from(await (await fetch(`${environment.simulator.url}/synthetic-apt/dists/stable/${name}`)).arrayBuffer());
  for (const name of ['InRelease', 'Release', 'Release.gpg']) t.deepEqual(await served(name), await vendor(name), `${name} byte for byte`);

  const directory = path.join(environment.root, 'gpgv');
  await mkdir(directory, { recursive: true });
  await writeFile(path.join(directory, 'key.asc'), environment.vendorKey.publicKey);
  await run('gpg', ['--batch', '--yes', '--dearmor', '--output', path.join(directory, 'key.gpg'), path.join(directory, 'key.asc')]);
  await writeFile(path.join(directory, 'Release'), await served('Release'));
  await writeFile(path.join(directory, 'Release.gpg'), await served('Release.gpg'));
  const { stderr } = await run('gpgv', ['--keyring', path.join(directory, 'key.gpg'), path.join(directory, 'Release.gpg'), path.join(directory, 'Release')]);
  t.regex(stderr, /Good signature/u);

  // The same suite's Valid-Until was recorded at import for the status page.
  const inRelease = lgwan.database.data.published!.artifacts.find((artifact) => artifact.fileName === 'InRelease')!;
  t.truthy(lgwan.database.data.releaseValidUntil[inRelease.sha256]);
});

test('a Release whose detached signature does not verify is left out; the suite is published from its signed InRelease only', async (t) => {
  // Debian's security archive has been seen serving a Release.gpg weeks older than its Release.
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  environment.simulator.faults.corrupt.add('/synthetic-apt/dists/stable/Release');
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched.map((outcome) => outcome.status), ['fetched']);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const names = lgwan.database.data.published!.artifacts.map((artifact) => artifact.fileName);
  t.true(names.includes('InRelease'));
  t.false(names.includes('Release'), 'an unverified Release is never published');
  t.false(names.includes('Release.gpg'));
  const health = (await (await environment.openInternet()).runOnce()).fetched;
  t.deepEqual(health.map((outcome) => outcome.status), ['up-to-date']);
});

test('an index whose decompressed text differs from the uncompressed index InRelease lists is refused', async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  environment.simulator.faults.mislistUncompressedPackages = true;
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.is(fetched[0]!.status, 'failed');
  t.regex(fetched[0]!.error!, /main\/binary-amd64\/Packages\.(xz|gz): decompressed, it differs from the uncompressed index InRelease lists/u);
});

test('an index InRelease lists for the configured component that the archive serves in no form is refused, naming it and the catalog fields', async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  for (const suffix of ['.gz', '.xz']) environment.simulator.faults.missing.add(`/synthetic-apt/dists/stable/main/i18n/Translation-en${suffix}`);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.is(fetched[0]!.status, 'failed');
  t.regex(fetched[0]!.error!, /lists main\/i18n\/Translation-en\.xz, main\/i18n\/Translation-en\.gz, main\/i18n\/Translation-en but the archive serves none of them \(catalog simulator-stable, fields source\.components and source\.architectures\)/u);
});

test('indices are fetched by hash where InRelease says Acquire-By-Hash: yes, as apt does, so a plain path already holding a newer copy does not fail the suite', async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  // Debian's security archive was seen serving a binary-all/Packages.xz of another size than its InRelease listed.
  environment.simulator.faults.corrupt.add('/synthetic-apt/dists/stable/main/binary-amd64/Packages.xz');
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched.map((outcome) => outcome.status), ['fetched'], fetched[0]?.error);
  t.true(environment.simulator.requests.some((request) => /\/main\/binary-amd64\/by-hash\/SHA256\/[0-9a-f]{64}$/u.test(request.path)));
  t.false(environment.simulator.requests.some((request) => request.path === '/synthetic-apt/dists/stable/main/binary-amd64/Packages.xz'), 'the plain path is not needed');
});

test('after the suite is published anew, a stock apt-get that has the old lists updates again with no Err: and no W:, though the new InRelease lists a pdiff the mirror does not carry', async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  t.deepEqual((await internet.runOnce()).fetched.map((outcome) => outcome.status), ['fetched']);
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const requests = logRequests(server);
  const suite = await syntheticAptSuite(environment);
  const first = await aptGet(environment.root, url, ['update'], suite);
  t.is(first.code, 0, first.output);
  const lastModified = async () => (await fetch(`${url}/apt/simulator/dists/stable/InRelease`, { method: 'HEAD' })).headers.get('last-modified');
  const before = await lastModified();

  environment.simulator.republishSyntheticApt();
  t.deepEqual((await internet.runOnce()).fetched.map((outcome) => outcome.status), ['fetched']);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  // Even within the second of the last publication: HTTP dates have whole seconds, apt compares them.
  t.not(await lastModified(), before, 'the new InRelease has a later Last-Modified');
  const second = await aptGet(environment.root, url, ['update'], suite);
  t.is(second.code, 0, second.output);
  t.notRegex(second.output, /^(Err|W|E):/mu, second.output);
  t.regex(second.output, /^Get:\d+ .* amd64 Packages/mu, 'the new index was fetched');
  // apt asked for the pdiff index (by hash, then plain); the 404 made it fetch the whole index instead.
  const missing = requests.filter((request) => request.status !== 200).map((request) => request.url);
  t.true(missing.length > 0 && missing.every((asked) => /\/main\/binary-amd64\/Packages\.diff\/(Index|by-hash\/SHA256\/[0-9a-f]{64})$/u.test(asked)), missing.join(', '));
});

test("the simulator's apt suite lists, for main/amd64, exactly the index entries Ubuntu's real noble-security InRelease lists", async (t) => {
  const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
  t.teardown(environment.cleanup);
  const mainAmd64 = (text: string) =>
    [...parseRelease(text.replace(/^[\s\S]*?\n\n/u, '').replace(/\n-----BEGIN PGP SIGNATURE-----[\s\S]*$/u, ''), 'InRelease').sha256.keys()]
      .filter((name) => /^(main\/(binary-amd64\/Packages|i18n\/Translation-en|cnf\/Commands-amd64|dep11\/(Components-amd64|icons-))|Contents-amd64)/u.test(name))
      .sort();
  const real = mainAmd64(await readFile(path.join(fixtures, 'ubuntu', 'noble-security', 'InRelease'), 'utf8'));
  const simulated = mainAmd64(await (await fetch(`${environment.simulator.url}/synthetic-apt/dists/stable/InRelease`)).text());
  t.true(real.length > 20);
  t.deepEqual(simulated, real);
});

for (const [withheld, readFrom] of [[undefined, 'Packages.xz'], ['Packages.xz', 'Packages.gz']] as const) {
  const what = withheld ? `${readFrom}, the archive serving no ${withheld}` : readFrom;
  test(`packages are selected from a compressed index (${what}), every index a stock client with appstream and command-not-found asks for is mirrored, the importer checks them again and the real apt-get updates and downloads them`, async (t) => {
    const environment = await createEnvironment({ catalogs: await syntheticAptCatalog() });
    t.teardown(environment.cleanup);
    if (withheld) environment.simulator.faults.missing.add(`/synthetic-apt/dists/stable/main/binary-amd64/${withheld}`);
    const { fetched } = await (await environment.openInternet()).runOnce();
    t.deepEqual(fetched.map((outcome) => outcome.status), ['fetched'], fetched[0]?.error);
    const lgwan = await environment.openLgwan();
    t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
    const paths = lgwan.database.data.published!.artifacts.map((artifact) => artifact.path);
    for (const index of [`main/binary-amd64/${readFrom}`, 'main/i18n/Translation-en.xz', 'main/i18n/Translation-en.gz', 'main/cnf/Commands-amd64.xz', 'main/dep11/Components-amd64.yml.gz', 'main/dep11/icons-64x64.tar.gz', 'main/dep11/icons-48x48@2.tar.gz']) {
      t.true(paths.includes(`apt/simulator/dists/stable/${index}`), index);
    }
    t.false(paths.some((artifact) => artifact.includes('Contents-')), 'Contents only when the catalog asks (contents: true)');
    t.true(paths.includes('apt/simulator/pool/main/h/hello/hello_2.10-3_all.deb'));
    const { server, url } = await lgwan.listen(0);
    t.teardown(() => void server.close());
    const requests = logRequests(server);
    // The real apt-get, trusting only the vendor's key, as a stock Ubuntu desktop (appstream, command-not-found).
    const suite = await syntheticAptSuite(environment);
    const update = await aptGet(environment.root, url, ['update'], suite, { installed: ['appstream', 'command-not-found'] });
    t.is(update.code, 0, update.output);
    t.notRegex(update.output, /(NO_PUBKEY|not signed|insecure|BADSIG|Hash Sum mismatch)/iu);
    if (withheld) {
      // apt asks for the form it prefers among those InRelease lists (xz) and falls back: against the vendor itself too.
      t.regex(update.output, new RegExp(`^Err:\\d+ .* amd64 Packages\\n +404`, 'mu'));
    } else {
      t.notRegex(update.output, /^(Err|W|E):/mu, update.output);
      t.deepEqual(requests.filter((request) => request.status !== 200).map((request) => `${request.status} ${request.url}`), []);
    }
    for (const asked of ['Translation-en', 'c-n-f Metadata', 'DEP-11 Metadata']) t.regex(update.output, new RegExp(`^Get:\\d+ .*${asked}`, 'mu'), `a stock client asked for ${asked}`);
    const download = await aptGet(environment.root, url, ['download', 'hello'], suite, { installed: ['appstream', 'command-not-found'] });
    t.is(download.code, 0, download.output);
    const vendorDeb = Buffer.from(await (await fetch(`${environment.simulator.url}/synthetic-apt/pool/main/h/hello/hello_2.10-3_all.deb`)).arrayBuffer());
    t.deepEqual(await readFile(path.join(download.cwd, 'hello_2.10-3_all.deb')), vendorDeb);
  });
}

