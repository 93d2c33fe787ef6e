import { readFile, readdir } from 'node:fs/promises';
import type { AddressInfo } from 'node:net';
import path from 'node:path';
import test from 'ava';
import { issueEnrollmentToken, signIn } from '../helpers/console.ts';
import { endpointNetwork } from '../helpers/endpoint-network.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { aptGet, freshclam } from '../helpers/real-clients.ts';
import { shAgentHost } from '../helpers/sh-agent-host.ts';
import { syntheticAptCatalog, syntheticAptSuite } from '../helpers/synthetic-apt.ts';

/*
 * Issue 15, point 3: every protocol offers each endpoint what its ring's policy allows. The
 * real clients run from two rings of one tenant: apt-get and freshclam, which cannot say who
 * they are, from two network namespaces (the ring is the address's); the sh agent by the tag
 * it reports; Firefox's update check and winget by address (X-Forwarded-For from the trusted
 * edge, as behind deploy/nginx). Pilot is automatic, general needs an approval.
 */

const approveFor = 'general';

test("the real apt-get in each ring gets a complete, vendor-signed suite of its ring's snapshot, never a mix; an approval moves the general ring on", async (t) => {
  const [pilot, general] = [await endpointNetwork(t), await endpointNetwork(t)];
  const environment = await createEnvironment({
    catalogs: await syntheticAptCatalog(),
    lgwan: {
      tenants: [{ id: 'a', name: 'A市', networks: ['10.0.0.0/8'], rings: [{ id: 'pilot', networks: [pilot.cidr] }, { id: 'general' }], policies: { 'simulator-stable': { general: 'approval' } } }],
    },
  });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  t.deepEqual((await internet.runOnce()).fetched.map((outcome) => outcome.status), ['fetched']);
  const lgwan = await environment.openLgwan();
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const { server } = await lgwan.listen(0, '0.0.0.0');
  t.teardown(() => void server.close());
  const port = (server.address() as AddressInfo).port;
  const suite = await syntheticAptSuite(environment);
  const snapshots = () => [...new Set(lgwan.database.data.published!.artifacts.filter((artifact) => artifact.productId === 'simulator-stable').map((artifact) => artifact.version))].sort();
  const [first] = snapshots();

  const client = (network: typeof pilot, name: string) => {
    const root = path.join(environment.root, name);
    const options = { network };
    return {
      update: () => aptGet(root, `http://${network.hostAddress}:${port}`, ['update'], suite, options),
      /** apt's own answer to "could you install hello-doc?" (simulated: only what the lists say). */
      knowsHelloDoc: async () => (await aptGet(root, `http://${network.hostAddress}:${port}`, ['-s', 'install', 'hello-doc'], suite, options)).code === 0,
      /** The Date of the InRelease apt keeps: which snapshot it took. */
      keptDate: async () => {
        const lists = path.join(root, 'apt', 'state', 'lists');
        const name = (await readdir(lists)).find((file) => file.endsWith('_InRelease'));
        return name ? /^Date: (.+)$/mu.exec(await readFile(path.join(lists, name), 'utf8'))?.[1] : undefined;
      },
    };
  };
  const [pilotHost, generalHost] = [client(pilot, 'pilot'), client(general, 'general')];
  const clean = (result: { code: number; output: string }) => {
    t.is(result.code, 0, result.output);
    t.notRegex(result.output, /^(Err|W|E):/mu, result.output);
    t.notRegex(result.output, /(NO_PUBKEY|not signed|insecure|BADSIG|Hash Sum mismatch)/iu, result.output);
  };

  clean(await pilotHost.update());
  const generalBefore = await generalHost.update();
  t.regex(generalBefore.output, /404/u, 'general: nothing is approved yet, so no suite is offered at all');
  t.is(await generalHost.keptDate(), undefined);

  const admin = await signIn(lgwan.admin, `http://127.0.0.1:${port}`, { role: 'tenant-admin', tenant: 'a' });
  t.is((await admin.post('/approvals/approve', { product: 'simulator-stable', version: first!, ring: approveFor })).status, 303);
  clean(await generalHost.update());
  t.is(await generalHost.keptDate(), await pilotHost.keptDate(), 'both rings on the approved snapshot');
  t.false(await generalHost.knowsHelloDoc());

  // The vendor republishes the suite (it adds hello-doc); both snapshots are retained here.
  environment.simulator.republishSyntheticApt();
  t.deepEqual((await internet.runOnce()).fetched.map((outcome) => outcome.status), ['fetched']);
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const [, second] = snapshots();
  t.truthy(second);
  const firstDate = await generalHost.keptDate();

  clean(await pilotHost.update());
  t.true(await pilotHost.knowsHelloDoc(), 'pilot: the new snapshot, automatically');
  t.not(await pilotHost.keptDate(), firstDate);
  clean(await generalHost.update());
  t.false(await generalHost.knowsHelloDoc(), 'general: still the approved snapshot, whole and signed');
  t.is(await generalHost.keptDate(), firstDate);

  t.is((await admin.post('/approvals/approve', { product: 'simulator-stable', version: second!, ring: approveFor })).status, 303);
  clean(await generalHost.update());
  t.true(await generalHost.knowsHelloDoc(), 'general: the approved new snapshot at the next update');
  t.is(await generalHost.keptDate(), await pilotHost.keptDate());
});

test('freshclam, the sh agent, Firefox and winget from two rings each get what their ring allows, and what an approval adds', async (t) => {
  const [pilot, general] = [await endpointNetwork(t), await endpointNetwork(t)];
  const pilotAddress = '10.1.5.20';
  const generalAddress = '10.1.9.30';
  const environment = await createEnvironment({
    lgwan: {
      trustProxy: true,
      tenants: [
        {
          id: 'a',
          name: 'A市',
          networks: ['10.0.0.0/8'],
          rings: [{ id: 'pilot', networks: [pilot.cidr, '10.1.5.0/24'], agentTags: ['pilot'] }, { id: 'general' }],
          // Antivirus signatures are automatic unless named; named here, the general ring waits for an approval.
          policies: { 'demo-firefox': { general: 'approval' }, 'demo-clamav-bytecode': { general: 'approval' } },
        },
      ],
    },
  });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const { server } = await lgwan.listen(0, '0.0.0.0');
  t.teardown(() => void server.close());
  const port = (server.address() as AddressInfo).port;
  const url = `http://127.0.0.1:${port}`;
  const published = lgwan.database.data.published!;
  const bytecode = published.artifacts.find((artifact) => artifact.productId === 'demo-clamav-bytecode')!.version;
  const firefox = published.artifacts.find((artifact) => artifact.productId === 'demo-firefox' && artifact.role === 'payload')!.version;

  // freshclam, by the address of its namespace.
  const clamav = async (network: typeof pilot, name: string) => {
    const result = await freshclam(path.join(environment.root, name), `http://${network.hostAddress}:${port}/clamav`, 'PrivateMirror', network);
    const files = await readdir(result.database);
    return { ...result, has: files.includes('bytecode.cvd') };
  };
  const pilotClam = await clamav(pilot, 'clam-pilot');
  t.is(pilotClam.code, 0, pilotClam.output);
  t.true(pilotClam.has, 'pilot: bytecode.cvd');
  const generalClam = await clamav(general, 'clam-general');
  t.false(generalClam.has, `general: no bytecode.cvd before an approval\n${generalClam.output}`);
  t.notRegex(generalClam.output, /\b403\b|forbidden/iu, 'a 404, never a 403 (freshclam would back off for a day)');

  // Firefox's update check and winget, by address.
  const updateXml = async (address: string) => /displayVersion="([^"]+)"/u.exec(await (await fetch(`${url}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml`, { headers: { 'x-forwarded-for': address } })).text())?.[1];
  const winget = async (address: string) => {
    const response = await fetch(`${url}/winget/packageManifests/Mozilla.FirefoxDemo`, { headers: { 'x-forwarded-for': address, 'user-agent': 'winget-cli WindowsPackageManager/1.9.25200 DesktopAppInstaller/Microsoft.DesktopAppInstaller v1.24.25200.0' } });
    return response.status === 200 ? ((await response.json()) as { Data: { Versions: { PackageVersion: string }[] } }).Data.Versions.map((version) => version.PackageVersion) : response.status;
  };
  t.is(await updateXml(pilotAddress), firefox);
  t.is(await updateXml(generalAddress), undefined, 'general: an empty <updates>');
  t.deepEqual(await winget(pilotAddress), [firefox]);
  t.is(await winget(generalAddress), 404, 'general: winget lists no version it may not have');

  // The sh agent, by the tag it reports.
  const agents = {
    pilot: await shAgentHost(path.join(environment.root, 'agent-pilot'), url, '130.0', await issueEnrollmentToken(lgwan.admin, 'a'), { tags: 'pilot' }),
    general: await shAgentHost(path.join(environment.root, 'agent-general'), url, '130.0', await issueEnrollmentToken(lgwan.admin, 'a')),
  };
  t.is(await agents.pilot.runAgent(), 0, await agents.pilot.log().catch(() => ''));
  t.is(await agents.pilot.version(), firefox, 'pilot agent installed the release');
  t.is(await agents.general.runAgent(), 0, await agents.general.log().catch(() => ''));
  t.is(await agents.general.version(), '130.0', 'general agent was offered nothing');

  const admin = await signIn(lgwan.admin, url, { role: 'tenant-admin', tenant: 'a' });
  for (const product of [{ product: 'demo-firefox', version: firefox }, { product: 'demo-clamav-bytecode', version: bytecode }]) {
    t.is((await admin.post('/approvals/approve', { ...product, ring: approveFor })).status, 303, product.product);
  }
  const generalClamAfter = await clamav(general, 'clam-general');
  t.is(generalClamAfter.code, 0, generalClamAfter.output);
  t.true(generalClamAfter.has, 'general: bytecode.cvd once approved');
  t.is(await updateXml(generalAddress), firefox);
  t.deepEqual(await winget(generalAddress), [firefox]);
  t.is(await agents.general.runAgent(), 0);
  t.is(await agents.general.version(), firefox, 'general agent installed it at its next run');

});
