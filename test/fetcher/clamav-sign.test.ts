import { execFile } from 'node:child_process';
import { createPrivateKey } from 'node:crypto';
import { copyFile, mkdir, mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { parseClamavSignFile, verifyClamavSign } from '../../src/verify/clamav-sign.ts';
import { clamavSigningPki, clamavSignFile, issueUnderSameRoot, pinClamavSign } from '../helpers/clamav-signing.ts';
import { manifestOf, readTar, resign, sha256, writeTar } from '../helpers/bundle-surgery.ts';
import { enrollAgent } from '../helpers/console.ts';
import { createEnvironment, projectRoot } from '../helpers/environment.ts';

/*
 * ClamAV 1.5's detached `.sign` files beside the real, ClamAV-signed bytecode.cvd fixture
 * (version 268). ClamAV's signing root is not obtainable here, so the `.sign` files are
 * made per run in ClamAV's format (`#clamsign-1.0`, `flevel::pkcs7-pem:<base64>`) by
 * openssl under a root made for the run and pinned on each side.
 */

const cvdFixture = path.join(projectRoot, 'test', 'fixtures', 'clamav', 'bytecode.cvd');
const signPath = '/clamav/bytecode-268.cvd.sign';

async function catalog(signFiles: boolean, cdiffs = 0): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'clamav-bytecode.yaml'),
    stringify({ id: 'clamav-bytecode', name: 'ClamAV bytecode', vendor: 'Cisco Talos', scheme: 'integer', trust: 'vendor-signature', source: { type: 'clamav', baseUrl: `${simulatorCatalogOrigin}/clamav/`, database: 'bytecode', signFiles, cdiffs } }),
  );
  return directory;
}

async function setup(t: import('ava').ExecutionContext, options: { pinInternet?: boolean; pinLgwan?: boolean; cdiffs?: number } = {}) {
  const environment = await createEnvironment({ catalogs: await catalog(true, options.cdiffs ?? 0) });
  t.teardown(environment.cleanup);
  const pki = await clamavSigningPki(environment.root);
  if (options.pinInternet ?? true) await pinClamavSign(path.join(environment.root, 'internet', 'vendor-keys'), pki);
  if (options.pinLgwan ?? true) await pinClamavSign(path.join(environment.root, 'lgwan', 'vendor-keys'), pki);
  environment.simulator.files.set(signPath, await clamavSignFile(cvdFixture, pki));
  return { environment, pki };
}

test('a .sign chaining to the pinned root, by the pinned signer, is carried beside its CVD, checked again on the LGWAN side and served under its versioned name', async (t) => {
  const { environment } = await setup(t);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched, [{ productId: 'clamav-bytecode', status: 'fetched', version: '268' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const artifacts = lgwan.database.data.published!.artifacts;
  const cvd = artifacts.find((artifact) => artifact.fileName === 'bytecode.cvd')!;
  const sign = artifacts.find((artifact) => artifact.fileName === 'bytecode-268.cvd.sign')!;
  t.like(sign, { path: 'clamav/bytecode-268.cvd.sign', role: 'material', verification: { method: 'clamav-sign', subject: cvd.sha256 } });
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const served = Buffer.from(await (await fetch(`${url}${signPath}`)).arrayBuffer());
  t.true(served.equals(environment.simulator.files.get(signPath)!));
});

test('a .sign from a root that is not pinned, by another signer, or over other bytes is refused and the CVD is not published with it', async (t) => {
  const { environment, pki } = await setup(t);
  const other = await clamavSigningPki(environment.root, 'other-root');
  const impostor = await issueUnderSameRoot(pki, 'ClamAV_somebody_else');
  const otherBytes = path.join(environment.root, 'other.cvd');
  await writeFile(otherBytes, Buffer.concat([await readFile(cvdFixture), Buffer.from('x')]));
  const cases: [string, Buffer, RegExp][] = [
    ['unpinned root', await clamavSignFile(cvdFixture, other), /bytecode-268\.cvd\.sign: no signature verifies: line 2: .*does not chain to a root pinned under clamavSign\.roots/u],
    ['signed over other bytes', await clamavSignFile(otherBytes, pki), /bytecode-268\.cvd\.sign: no signature verifies: line 2: .*changed after it was signed/u],
    ['another signer under the pinned root', await clamavSignFile(cvdFixture, impostor), /line 2: signed by "ClamAV_somebody_else", not by "ClamAV_datafiles_release"/u],
  ];
  const internet = await environment.openInternet();
  for (const [name, bytes, expected] of cases) {
    environment.simulator.files.set(signPath, bytes);
    const { fetched } = await internet.runOnce();
    t.like(fetched[0], { productId: 'clamav-bytecode', status: 'failed' }, name);
    t.regex(fetched[0]!.error!, expected, name);
  }
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  t.falsy(lgwan.database.data.published?.artifacts.some((artifact) => artifact.productId === 'clamav-bytecode'), 'nothing of the refused release reached the LGWAN side');
});

test('the LGWAN side checks .sign files with its own pins: without clamavSign there it refuses the bundle, naming what to pin', async (t) => {
  const { environment } = await setup(t, { pinLgwan: false });
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.is(fetched[0]!.status, 'fetched');
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused' });
  t.regex((outcome as { reason: string }).reason, /no ClamAV \.sign roots pinned: add "clamavSign/u);
  t.is(lgwan.database.data.published, null, 'nothing published');
});

test('a catalog asking for .sign files on a side without clamavSign pins fails that product with what to add', async (t) => {
  const { environment } = await setup(t, { pinInternet: false });
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.like(fetched[0], { productId: 'clamav-bytecode', status: 'failed' });
  t.regex(fetched[0]!.error!, /no ClamAV \.sign roots pinned/u);
});

test('only the pinned roots count: a root in the system certificate folder does not make a .sign valid', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-clamav-sign-'));
  const pinned = await clamavSigningPki(root, 'pinned');
  const system = await clamavSigningPki(root, 'system');
  // OpenSSL reads its default certificate folder from SSL_CERT_DIR: put the other root there, hashed as c_rehash does.
  const certificateFolder = path.join(root, 'system-certs');
  await mkdir(certificateFolder);
  await copyFile(system.caCertificate, path.join(certificateFolder, 'system-root.pem'));
  await promisify(execFile)('openssl', ['rehash', certificateFolder]);
  const previous = process.env.SSL_CERT_DIR;
  process.env.SSL_CERT_DIR = certificateFolder;
  t.teardown(() => {
    if (previous === undefined) delete process.env.SSL_CERT_DIR;
    else process.env.SSL_CERT_DIR = previous;
  });
  const trust = { caFile: pinned.caCertificate, signers: ['ClamAV_datafiles_release'] };
  await t.throwsAsync(verifyClamavSign(cvdFixture, await clamavSignFile(cvdFixture, system), 'bytecode-268.cvd.sign', trust), { message: /does not chain to a root pinned under clamavSign\.roots/u });
  t.like(await verifyClamavSign(cvdFixture, await clamavSignFile(cvdFixture, pinned), 'bytecode-268.cvd.sign', trust), { signer: 'ClamAV_datafiles_release', line: 2 });
});

test('.sign files are parsed strictly: every malformed line is refused with its line and field named', (t) => {
  const body = 'MIIB'.repeat(10);
  t.is(parseClamavSignFile(Buffer.from(`#clamsign-1.0\n# a comment\n\n220::pkcs7-pem:${body}\n230:240:pkcs7-pem:${body}\n`), 'x.sign').length, 2);
  const cases: [string, RegExp][] = [
    [`220::pkcs7-pem:${body}\n`, /x\.sign: line 1 must be "#clamsign-1\.0"/u],
    [`#clamsign-2.0\n220::pkcs7-pem:${body}\n`, /line 1: format version "2\.0" is not 1\.0/u],
    [`#clamsign-1.0\n220:pkcs7-pem:${body}\n`, /line 2: field count is 3, expected 4/u],
    [`#clamsign-1.0\nabc::pkcs7-pem:${body}\n`, /line 2: field min_flevel "abc" is not a feature level/u],
    [`#clamsign-1.0\n220:x:pkcs7-pem:${body}\n`, /line 2: field max_flevel "x" is neither empty nor a feature level/u],
    [`#clamsign-1.0\n220::pkcs7-der:${body}\n`, /line 2: field signature_format "pkcs7-der" is not pkcs7-pem/u],
    [`#clamsign-1.0\n\n220::pkcs7-pem:not base64!\n`, /line 3: field signature_bytes is not base64/u],
    ['#clamsign-1.0\n# only a comment\n', /x\.sign: holds no signature line/u],
  ];
  for (const [text, expected] of cases) t.throws(() => parseClamavSignFile(Buffer.from(text), 'x.sign'), { message: expected }, text.slice(0, 30));
});

/** Patches in the simulator as ClamAV's mirror holds them: `<db>-<n>.cdiff` beside `<db>-<n>.cdiff.sign`. */
async function servePatch(environment: Awaited<ReturnType<typeof createEnvironment>>, pki: Awaited<ReturnType<typeof clamavSigningPki>>, number: number, options: { sign?: boolean; signedBytes?: Buffer } = {}): Promise<Buffer> {
  const bytes = Buffer.from(`ClamAV-Diff:${number}:simulated patch ${number}\n`);
  environment.simulator.files.set(`/clamav/bytecode-${number}.cdiff`, bytes);
  if (options.sign ?? true) {
    const file = path.join(environment.root, `bytecode-${number}.cdiff.signed`);
    await writeFile(file, options.signedBytes ?? bytes);
    environment.simulator.files.set(`/clamav/bytecode-${number}.cdiff.sign`, await clamavSignFile(file, pki));
  }
  return bytes;
}

test('cdiffs: the newest N patches are carried with their .sign and served; a patch the mirror lacks, or lacks a .sign for, is left out', async (t) => {
  const { environment, pki } = await setup(t, { cdiffs: 4 });
  const patch268 = await servePatch(environment, pki, 268);
  const patch267 = await servePatch(environment, pki, 267);
  await servePatch(environment, pki, 266, { sign: false });
  // 265 is not on the mirror at all.
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched, [{ productId: 'clamav-bytecode', status: 'fetched', version: '268' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const names = lgwan.database.data.published!.artifacts.map((artifact) => artifact.fileName).sort();
  t.deepEqual(names, ['bytecode-267.cdiff', 'bytecode-267.cdiff.sign', 'bytecode-268.cdiff', 'bytecode-268.cdiff.sign', 'bytecode-268.cvd.sign', 'bytecode.cvd']);
  const patch = lgwan.database.data.published!.artifacts.find((artifact) => artifact.fileName === 'bytecode-268.cdiff')!;
  t.like(patch, { path: 'clamav/bytecode-268.cdiff', verification: { method: 'clamav-cdiff' } });
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  t.true(Buffer.from(await (await fetch(`${url}/clamav/bytecode-268.cdiff`)).arrayBuffer()).equals(patch268));
  t.true(Buffer.from(await (await fetch(`${url}/clamav/bytecode-267.cdiff`)).arrayBuffer()).equals(patch267));
  t.is((await fetch(`${url}/clamav/bytecode-266.cdiff`)).status, 404);
  // Patches are for freshclam, not installers an agent would run.
  const agent = await enrollAgent(lgwan.admin, url, { hostname: 'server-1' });
  const answer = await agent.checkIn({ os: 'linux', installed: [{ product: 'clamav-bytecode', version: '1' }] });
  t.is(answer.status, 200);
  t.deepEqual(((await answer.json()) as { actions: unknown[] }).actions, []);
});

test('cdiffs: a patch whose .sign does not verify refuses the release instead of being left out', async (t) => {
  const { environment, pki } = await setup(t, { cdiffs: 2 });
  await servePatch(environment, pki, 268, { signedBytes: Buffer.from('some other patch') });
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.like(fetched[0], { productId: 'clamav-bytecode', status: 'failed' });
  t.regex(fetched[0]!.error!, /bytecode-268\.cdiff\.sign: no signature verifies: line 2: .*changed after it was signed/u);
});

test('cdiffs: a stolen transfer key cannot swap a patch on its way to the LGWAN side', async (t) => {
  const { environment, pki } = await setup(t, { cdiffs: 1 });
  await servePatch(environment, pki, 268);
  const { bundle } = await (await environment.openInternet()).runOnce();
  const file = (bundle as { file: string }).file;
  const entries = await readTar(file);
  const manifest = manifestOf(entries);
  const patch = manifest.artifacts.find((artifact) => artifact.fileName === 'bytecode-268.cdiff')!;
  const evil = Buffer.from('ClamAV-Diff:268:a patch that deletes every signature\n');
  const swap = (digest: string) => (digest === patch.sha256 ? sha256(evil) : digest);
  const forged = {
    ...manifest,
    artifacts: manifest.artifacts.map((artifact) => {
      const verification = { ...artifact.verification } as Record<string, unknown>;
      if (typeof verification.subject === 'string') verification.subject = swap(verification.subject);
      return { ...artifact, sha256: swap(artifact.sha256), size: artifact.sha256 === patch.sha256 ? evil.length : artifact.size, verification: verification as typeof artifact.verification };
    }),
    blobs: manifest.blobs.map((blob) => (blob.sha256 === patch.sha256 ? { sha256: sha256(evil), size: evil.length } : blob)),
  };
  const tampered = entries.map((entry) => (entry.name === `blobs/${patch.sha256}` ? { name: `blobs/${sha256(evil)}`, data: evil } : entry));
  await writeTar(file, resign(tampered, forged, createPrivateKey(await readFile(environment.config.internet.transferKey))));
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused' });
  t.regex((outcome as { reason: string }).reason, /bytecode-268\.cdiff\.sign: no signature verifies/u);
  t.is(lgwan.database.data.published, null, 'nothing published');
});

test('a catalog asking for cdiffs without .sign files is refused: nothing else could check a patch', async (t) => {
  const { loadCatalog } = await import('../../src/catalog/index.ts');
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(path.join(directory, 'clamav-daily.yaml'), stringify({ id: 'clamav-daily', name: 'ClamAV daily', vendor: 'Cisco Talos', scheme: 'integer', trust: 'vendor-signature', source: { type: 'clamav', baseUrl: 'https://database.example.invalid/', database: 'daily', cdiffs: 5 } }));
  const error = await t.throwsAsync(loadCatalog(directory));
  t.regex(error!.message, /clamav-daily\.yaml.*field "source\.cdiffs": cdiffs are checked by their \.cdiff\.sign files: set signFiles: true as well/su);
});
