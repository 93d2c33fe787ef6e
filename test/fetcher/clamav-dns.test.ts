import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { stringify } from 'yaml';
import { simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { versionFromTxt } from '../../src/sources/clamav.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { startDnsmasq } from '../helpers/dnsmasq.ts';

/*
 * ClamAV version discovery as freshclam does it: the TXT record first (asked of a real
 * dnsmasq on 127.0.0.1, the configurable resolver), the CVD header probe as the fallback.
 * The fixture bytecode.cvd is version 268, signed by ClamAV.
 */

const record = 'current.cvd.lgwan-mirror.test';

async function catalog(): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  await writeFile(
    path.join(directory, 'clamav-bytecode.yaml'),
    stringify({ id: 'clamav-bytecode', name: 'ClamAV bytecode', vendor: 'Cisco Talos', scheme: 'integer', trust: 'vendor-signature', source: { type: 'clamav', baseUrl: `${simulatorCatalogOrigin}/clamav/`, database: 'bytecode', versionDns: record } }),
  );
  return directory;
}

async function setup(t: import('ava').ExecutionContext, txt: string | undefined) {
  const dns = txt === undefined ? undefined : await startDnsmasq({ [record]: txt });
  if (dns) t.teardown(dns.stop);
  // Without a record, point at a port where nothing answers: the lookup times out.
  const environment = await createEnvironment({ catalogs: await catalog(), internet: { dnsServers: [dns?.server ?? '127.0.0.1:9'] } });
  t.teardown(environment.cleanup);
  const headerProbes = () => environment.simulator.requests.filter((request) => request.path === '/clamav/bytecode.cvd' && request.range === 'bytes=0-511').length;
  return { environment, headerProbes };
}

test('the version comes from the TXT record, so no header probe is sent; the CVD must then carry it', async (t) => {
  const { environment, headerProbes } = await setup(t, '1.4.1:62:27471:1732000000:1:90:49192:268');
  const internet = await environment.openInternet();
  t.deepEqual((await internet.runOnce()).fetched, [{ productId: 'clamav-bytecode', status: 'fetched', version: '268' }]);
  t.is(headerProbes(), 0);
  // Up to date: the next check is one DNS question and nothing for the mirror.
  const before = environment.simulator.requests.length;
  t.deepEqual((await internet.runOnce()).fetched, [{ productId: 'clamav-bytecode', status: 'up-to-date', version: '268' }]);
  t.is(environment.simulator.requests.length, before);
});

test('a record announcing a version the mirror does not serve yet fails this run, naming both versions', async (t) => {
  const { environment } = await setup(t, '1.4.1:62:27471:1732000000:1:90:49192:269');
  const [outcome] = (await (await environment.openInternet()).runOnce()).fetched;
  t.like(outcome, { status: 'failed' });
  t.regex(outcome!.error!, /bytecode\.cvd: announced version 269 but the file is version 268/u);
});

test('an unreachable DNS server or a malformed record falls back to the CVD header probe', async (t) => {
  for (const txt of [undefined, 'not-a-clamav-record', '1.4.1:62:27471:1732000000:1:90:49192:latest']) {
    const { environment, headerProbes } = await setup(t, txt);
    t.deepEqual((await (await environment.openInternet()).runOnce()).fetched, [{ productId: 'clamav-bytecode', status: 'fetched', version: '268' }], String(txt));
    t.is(headerProbes(), 1, String(txt));
  }
});

test('the TXT record is read field by field: main 1, daily 2, bytecode 7', (t) => {
  const records = ['v=spf1 -all', '1.4.1:62:27471:1732000000:1:90:49192:336'];
  t.is(versionFromTxt(records, 'main', record), '62');
  t.is(versionFromTxt(records, 'daily', record), '27471');
  t.is(versionFromTxt(records, 'bytecode', record), '336');
  t.throws(() => versionFromTxt(['1.4.1:62'], 'daily', record), { message: /DNS TXT current\.cvd\.lgwan-mirror\.test: no record of the form/u });
  t.throws(() => versionFromTxt(['1.4.1:62::1732000000:1:90:49192:336'], 'daily', record), { message: /field 2 \(daily\) is "", not a version number/u });
});
