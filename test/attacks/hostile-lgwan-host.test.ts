import { createHash, generateKeyPairSync, sign } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { silentLogger } from '../../src/core/logger.ts';
import { buildStatus } from '../../src/repository/status-model.ts';
import { bundleFileName } from '../../src/transfer/spool-names.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { encodeDatagram, signedPayload } from '../../src/transfer/udp/wire-format.ts';
import { createEnvironment } from '../helpers/environment.ts';
import { publishedRepository } from '../helpers/published-repository.ts';

/*
 * Threat: a hostile host on the LGWAN network (docs/transfer.md, "Threat model"). It can reach
 * the repository, the UDP receiver's port and, through a misconfigured share, the inbox. What
 * must hold: it cannot put a file into the spool over UDP, cannot choose the address it is
 * counted under, cannot grow the inventory without bound, cannot fill the disk through
 * quarantine, and cannot change what is published. What does not hold: it can still report
 * false versions for itself (endpoints are not authenticated) and use its share of bandwidth.
 */

function raw(url: string, pathname: string, method = 'GET', headers: Record<string, string> = {}): Promise<number> {
  const { hostname, port } = new URL(url);
  return new Promise((resolve, reject) => {
    const outgoing = request({ hostname, port, path: pathname, method, agent: false, headers }, (response) => {
      response.resume();
      response.on('end', () => resolve(response.statusCode ?? 0));
    });
    outgoing.on('error', reject);
    outgoing.end();
  });
}

test('hostile LGWAN host: datagrams to the UDP receiver from any address but the sender put nothing into the spool, even correctly announced', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-attack-udp-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const key = generateKeyPairSync('ed25519');
  const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, senders: ['192.0.2.9'], inbox: path.join(root, 'inbox'), staging: path.join(root, 'staging'), keys: () => [{ keyId: 'k', publicKey: key.publicKey }], heartbeatFile: path.join(root, 'hb.json'), maxFileBytes: 1 << 20, reassemblySeconds: 30, logger: silentLogger });
  const { port } = await receiver.start();
  t.teardown(() => receiver.stop());
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  const content = Buffer.alloc(1024, 1);
  const sha256 = createHash('sha256').update(content).digest();
  const body = Buffer.from(JSON.stringify({ session: '1', fileId: 1, name: bundleFileName(1), size: content.length, sha256: sha256.toString('hex') }));
  socket.send(encodeDatagram({ type: 3, session: 1n }, signedPayload(body, sign(null, body, key.privateKey))), port, '127.0.0.1');
  socket.send(encodeDatagram({ type: 1, k: 1, m: 0, session: 1n, fileId: 1, fileSize: content.length, shardSize: 1024, blockIndex: 0, shardIndex: 0, name: bundleFileName(1), fileSha256: sha256 }, content), port, '127.0.0.1');
  for (const deadline = Date.now() + 10_000; receiver.stats.foreignSender < 2 && Date.now() < deadline; ) await sleep(20);
  t.is(receiver.stats.foreignSender, 2);
  t.deepEqual(await readdir(path.join(root, 'inbox')), []);
});

test('hostile LGWAN host: it cannot set its address, flood the inventory, or change anything with odd methods', async (t) => {
  const { url, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, trustedProxies: ['192.0.2.1'] } });
  const published = structuredClone(lgwan.database.data.published);
  for (let index = 0; index < 100; index += 1) await raw(url, `/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/channel-${index}/x/y/z/w/update.xml`, 'GET', { 'x-forwarded-for': `10.0.${index}.1` });
  await raw(url, '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/z/w/update.xml', 'GET', { 'x-forwarded-for': '10.9.9.9' });
  for (const method of ['PUT', 'DELETE', 'PROPFIND', 'TRACE']) t.is(await raw(url, '/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar', method), 405, method);
  await lgwan.inventory.flush();
  const endpoints = await lgwan.inventory.listEndpoints({ offset: 0, limit: 100 });
  t.deepEqual(endpoints.map((endpoint) => endpoint.id), ['127.0.0.1'], 'counted under its own address, not the one it claimed');
  t.deepEqual(Object.keys(endpoints[0]!.products), ['demo-firefox/win64/release'], 'no invented channel recorded');
  t.deepEqual(lgwan.database.data.published, published);
});

test('hostile LGWAN host: junk written into the inbox is refused, quarantined within the quota, and the next genuine bundle publishes', async (t) => {
  const environment = await createEnvironment({ lgwan: { quarantineQuotaBytes: 2 * 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const internet = await environment.openInternet();
  await internet.runOnce();
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  const spool = environment.config.lgwan.spool;
  await mkdir(spool, { recursive: true });
  for (let index = 0; index < 5; index += 1) await writeFile(path.join(spool, bundleFileName(800 + index)), Buffer.alloc(1024 * 1024, 0x41 + index));
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published', ...Array.from({ length: 5 }, () => 'refused')]);
  const quarantine = path.join(environment.config.lgwan.storage, 'quarantine');
  t.true((await readdir(quarantine)).filter((name) => !name.endsWith('.json')).length <= 2, 'copies within the quota');
  await internet.send({ force: true });
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  t.deepEqual(buildStatus(lgwan.database.data, new Date()).alarms.filter((alarm) => alarm.kind === 'refused-bundle'), []);
});
