import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { createEnvironment } from '../helpers/environment.ts';
import { signIn } from '../helpers/console.ts';

const installer = Buffer.from('MZ pretend this is the JustSystems update a municipality received from the vendor');
const sha256 = createHash('sha256').update(installer).digest('hex');

async function manualCatalog(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'ichitaro.yaml'),
    stringify({
      id: 'justsystems-ichitaro', name: 'Ichitaro 2024', vendor: 'JustSystems', scheme: 'dotted', trust: 'manually-confirmed',
      source: { type: 'manual', files: [{ version: '2024.1', platform: 'win64', fileName: 'ichitaro2024-update1.exe' }] },
    }),
  );
  return directory;
}

const confirmation = (hash: string) => stringify({ files: [{ product: 'justsystems-ichitaro', version: '2024.1', fileName: 'ichitaro2024-update1.exe', sha256: hash, confirmedBy: 'Sato (IT)', confirmedAt: '2026-11-20', how: 'vendor support portal, hash read back by phone' }] });

async function setup(lgwanConfirms: boolean, fileContent = installer) {
  const environment = await createEnvironment({ catalogs: await manualCatalog() });
  await writeFile(path.join(environment.root, 'internet', 'vendor-keys', 'manual-confirmations.yaml'), confirmation(sha256));
  if (lgwanConfirms) await writeFile(path.join(environment.root, 'lgwan', 'vendor-keys', 'manual-confirmations.yaml'), confirmation(sha256));
  const manual = path.join(environment.config.internet.storage, 'manual', 'justsystems-ichitaro');
  await mkdir(manual, { recursive: true });
  await writeFile(path.join(manual, 'ichitaro2024-update1.exe'), fileContent);
  return environment;
}

test('a product without a feed is published from a file an admin confirmed on both sides, marked "manually confirmed"', async (t) => {
  const environment = await setup(true);
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.deepEqual(fetched, [{ productId: 'justsystems-ichitaro', status: 'fetched', version: '2024.1' }]);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  const body = Buffer.from(await (await fetch(`${url}/pool/justsystems-ichitaro/2024.1/win64/any/ichitaro2024-update1.exe`)).arrayBuffer());
  t.deepEqual(body, installer);
  t.regex(await (await signIn(lgwan.admin, url)).text('/?lang=en'), /manually confirmed/u);
});

test('the LGWAN side refuses a "manual" file it has no confirmation of: a stolen transfer key is not enough', async (t) => {
  const environment = await setup(false);
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  const [outcome] = await lgwan.importOnce();
  t.like(outcome, { status: 'refused', code: 'E_SIGNATURE' });
  t.regex((outcome as { reason: string }).reason, new RegExp(`sha256 ${sha256} is not confirmed for justsystems-ichitaro 2024\\.1`, 'u'));
});

test('a file that does not hash to the confirmed value is not taken', async (t) => {
  const environment = await setup(true, Buffer.from('a different file with the same name'));
  t.teardown(environment.cleanup);
  const { fetched } = await (await environment.openInternet()).runOnce();
  t.is(fetched[0]!.status, 'failed');
  t.regex(fetched[0]!.error!, /ichitaro2024-update1\.exe: \d+ bytes, expected|sha256 [0-9a-f]{64}, expected/u);
});
