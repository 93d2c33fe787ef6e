import { createHash, createPrivateKey, generateKeyPairSync, sign } from 'node:crypto';
import { createSocket } from 'node:dgram';
import { mkdtemp, readdir, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import fc from 'fast-check';
import { catalogEntrySchema, keyPinsSchema } from '../../src/catalog/schema.ts';
import { configSchema } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { parseYamlWithSchema } from '../../src/core/yaml-file.ts';
import { signManifest } from '../../src/bundle/transfer-key.ts';
import { bundleFileName, partFileName, tocFileName } from '../../src/transfer/spool-names.ts';
import { UdpReceiver } from '../../src/transfer/udp/udp-receiver.ts';
import { decodeDatagram, encodeDatagram, headerLength, signedPayload } from '../../src/transfer/udp/wire-format.ts';
import { projectRoot } from '../helpers/environment.ts';
import { manifestOf, readTar, resign, writeTar } from '../helpers/bundle-surgery.ts';
import { createEnvironment } from '../helpers/environment.ts';

/*
 * Issue 13: random and mutated bundles, parts, UDP datagrams and catalog files, fed to the
 * importer, the receivers and the loader for a bounded time. Nothing may crash, hang, or
 * change the published state. fast-check prints the seed and the shrunk input of a failure;
 * replay it with `seed` and `path` in the fc.assert options.
 */

const budget = { interruptAfterTimeLimit: 15_000, markInterruptAsFailure: false } as const;

/** Byte-level mutations of a genuine input: flips, truncation, insertion, overwrite. */
function mutated(original: Buffer): fc.Arbitrary<Buffer> {
  return fc.oneof(
    fc.array(fc.tuple(fc.nat({ max: original.length - 1 }), fc.integer({ min: 1, max: 255 })), { minLength: 1, maxLength: 8 }).map((flips) => {
      const copy = Buffer.from(original);
      for (const [at, mask] of flips) copy[at]! ^= mask;
      return copy;
    }),
    fc.nat({ max: original.length - 1 }).map((length) => original.subarray(0, length)),
    fc.tuple(fc.nat({ max: original.length }), fc.uint8Array({ minLength: 1, maxLength: 600 })).map(([at, bytes]) => Buffer.concat([original.subarray(0, at), Buffer.from(bytes), original.subarray(at)])),
    fc.uint8Array({ maxLength: 4096 }).map((bytes) => Buffer.from(bytes)),
  );
}

test('random and mutated bundles and parts never crash or hang the importer and never change the published state', async (t) => {
  const environment = await createEnvironment({ lgwan: { quarantineQuotaBytes: 1024 * 1024 } });
  t.teardown(environment.cleanup);
  const { bundle } = await (await environment.openInternet()).runOnce();
  const genuine = await readFile((bundle as { file: string }).file);
  const lgwan = await environment.openLgwan();
  t.teardown(() => lgwan.close());
  t.deepEqual((await lgwan.importOnce()).map((outcome) => outcome.status), ['published']);
  const published = structuredClone(lgwan.database.data.published);
  const entries = await readTar((bundle as { file: string }).file);
  const manifest = manifestOf(entries);
  const key = createPrivateKey(await readFile(environment.config.internet.transferKey));
  const spool = environment.config.lgwan.spool;

  // Signed with the stolen key: sequence 1 is imported, so any other content is equivocation or worse.
  const signedVariant = fc
    .record({
      field: fc.constantFrom('products', 'artifacts', 'blobs', 'createdAt', 'expiresAt', 'previousManifestSha256', 'nextTransferKey', 'format', 'transferKeyId'),
      value: fc.jsonValue({ maxDepth: 3 }),
    })
    .map(({ field, value }) => ({ ...manifest, [field]: value }));

  const importsSafely = async (files: Map<string, Buffer>) => {
    for (const [name, bytes] of files) await writeFile(path.join(spool, name), bytes);
    const outcomes = await lgwan.importOnce();
    for (const name of files.keys()) {
      delete lgwan.database.data.processed[name];
      await rm(path.join(spool, name), { force: true });
    }
    for (const outcome of outcomes) if (outcome.status === 'published') return false;
    return JSON.stringify(lgwan.database.data.published) === JSON.stringify(published) && lgwan.database.data.transfer.highestSequence === 1;
  };

  let runs = 0;
  await fc.assert(
    fc
      .asyncProperty(
        fc.oneof(
          mutated(genuine).map((bytes) => new Map([[bundleFileName(900), bytes]])),
          signedVariant.map((variant) => ({ variant })),
          fc.tuple(fc.jsonValue({ maxDepth: 3 }), fc.uint8Array({ minLength: 0, maxLength: 64 }), fc.array(fc.uint8Array({ maxLength: 2048 }), { maxLength: 3 })).map(([toc, signature, parts]) => {
            const tocBytes = Buffer.from(JSON.stringify(toc));
            const files = new Map<string, Buffer>([[`${tocFileName(901)}.sig`, Buffer.from(signature)], [tocFileName(901), tocBytes]]);
            parts.forEach((part, index) => files.set(partFileName(901, index + 1), Buffer.from(part)));
            return files;
          }),
          // A validly signed TOC whose parts are junk.
          fc.array(fc.uint8Array({ minLength: 1, maxLength: 2048 }), { minLength: 1, maxLength: 3 }).map((parts) => {
            const toc = Buffer.from(JSON.stringify({ format: 'lgwan-mirror-parts/1', sequence: 902, transferKeyId: manifest.transferKeyId, createdAt: manifest.createdAt, bundleSize: parts.reduce((sum, part) => sum + part.length, 0), bundleSha256: '0'.repeat(64), parts: parts.map((part, index) => ({ index: index + 1, name: partFileName(902, index + 1), size: part.length, sha256: createHash('sha256').update(part).digest('hex') })) }));
            const files = new Map<string, Buffer>([[`${tocFileName(902)}.sig`, signManifest(toc, key)], [tocFileName(902), toc]]);
            parts.forEach((part, index) => files.set(partFileName(902, index + 1), Buffer.from(part)));
            return files;
          }),
        ),
        async (input) => {
          runs += 1;
          if (input instanceof Map) return importsSafely(input);
          const file = path.join(spool, bundleFileName(900));
          await writeTar(file, resign(entries, input.variant as typeof manifest, key));
          const bytes = await readFile(file);
          await rm(file);
          return importsSafely(new Map([[bundleFileName(900), bytes]]));
        },
      ),
    // A run that does not finish in this long is a hang, reported with its input.
    { numRuns: 400, timeout: 20_000, ...budget },
  );
  t.log(`${runs} hostile spool inputs`);
  t.deepEqual(lgwan.database.data.published, published);
  t.true(runs > 0);
});

test('random and mutated UDP datagrams never crash the receiver nor put a file into the spool', async (t) => {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-fuzz-udp-'));
  t.teardown(() => rm(root, { recursive: true, force: true }));
  const inbox = path.join(root, 'inbox');
  const transferKey = generateKeyPairSync('ed25519');
  const receiver = new UdpReceiver({ host: '127.0.0.1', port: 0, senders: ['127.0.0.1'], inbox, staging: path.join(root, 'staging'), keys: () => [{ keyId: 'k', publicKey: transferKey.publicKey }], heartbeatFile: path.join(root, 'hb.json'), maxFileBytes: 1 << 20, reassemblySeconds: 30, logger: silentLogger });
  const { port } = await receiver.start();
  t.teardown(() => receiver.stop());
  const socket = createSocket('udp4');
  t.teardown(() => socket.close());
  const content = Buffer.alloc(3000, 5);
  const sha256 = createHash('sha256').update(content).digest();
  const genuine = encodeDatagram({ type: 1, k: 1, m: 0, session: 9n, fileId: 1, fileSize: content.length, shardSize: 4096, blockIndex: 0, shardIndex: 0, name: bundleFileName(1), fileSha256: sha256 }, Buffer.concat([content, Buffer.alloc(4096 - content.length)]));
  const datagram = fc.oneof(
    mutated(genuine),
    fc.uint8Array({ maxLength: 1500 }).map((bytes) => Buffer.from(bytes)),
    // Well-formed (CRC right) with hostile fields: the receiver must not trust any of them.
    fc.record({ type: fc.constantFrom(1, 2, 3), k: fc.integer({ min: 0, max: 255 }), m: fc.integer({ min: 0, max: 255 }), fileSize: fc.nat(), shardSize: fc.constantFrom(8, 512, 1024), blockIndex: fc.nat(), shardIndex: fc.integer({ min: 0, max: 255 }), payload: fc.uint8Array({ maxLength: 1100 }) }).map((fields) => {
      const header = { type: fields.type as 1, k: fields.k, m: fields.m, session: 9n, fileId: 1, fileSize: fields.fileSize, shardSize: fields.shardSize, blockIndex: fields.blockIndex, shardIndex: fields.shardIndex, name: bundleFileName(2), fileSha256: sha256 };
      return encodeDatagram(header, fields.type === 1 ? Buffer.from(fields.payload) : signedPayload(Buffer.from(fields.payload.subarray(0, 100)), Buffer.alloc(64)));
    }),
  );
  let sent = 0;
  fc.assert(
    fc.property(datagram, (bytes) => {
      // The decoder is pure: it answers for every input and never throws.
      const decoded = decodeDatagram(bytes);
      if (!('error' in decoded) && decoded.header.type === 1) fc.pre(decoded.payload.length + headerLength === bytes.length);
      socket.send(bytes, port, '127.0.0.1');
      sent += 1;
    }),
    { numRuns: 3000, ...budget },
  );
  for (const deadline = Date.now() + 20_000; receiver.stats.datagrams < sent && Date.now() < deadline; ) await sleep(20);
  await sleep(300);
  t.deepEqual(await readdir(inbox), [], 'nothing unannounced reached the spool');
  // Still alive: an announced genuine file arrives.
  const body = Buffer.from(JSON.stringify({ session: (9n).toString(16), fileId: 1, name: bundleFileName(1), size: content.length, sha256: sha256.toString('hex') }));
  socket.send(encodeDatagram({ type: 3, session: 9n }, signedPayload(body, sign(null, body, transferKey.privateKey))), port, '127.0.0.1');
  await sleep(50);
  socket.send(genuine, port, '127.0.0.1');
  for (const deadline = Date.now() + 20_000; (await readdir(inbox)).length === 0 && Date.now() < deadline; ) await sleep(50);
  t.deepEqual(await readdir(inbox), [bundleFileName(1)]);
  t.log(`${sent} datagrams`);
});

test('random and mutated catalog, pins and config files are problems naming the file, never a crash', async (t) => {
  const catalogs = path.join(projectRoot, 'catalogs');
  const texts = await Promise.all((await readdir(catalogs)).filter((name) => name.endsWith('.yaml')).map((name) => readFile(path.join(catalogs, name), 'utf8')));
  texts.push(await readFile(path.join(catalogs, 'keys', 'pins.yaml'), 'utf8'), await readFile(path.join(projectRoot, 'deploy', 'lgwan-mirror.example.yaml'), 'utf8'));
  const yamlNoise = fc.constantFrom('&a ', '*a', '<<: *a', '!!binary ', '- ', ': ', '\n  ', '{', '[', '"', "'", '#', '\t', '\u0000', '%YAML 1.1\n', '---\n', '? ', '|', '>');
  const text = fc.oneof(
    fc.tuple(fc.constantFrom(...texts), fc.array(fc.tuple(fc.nat(), fc.oneof(yamlNoise, fc.string({ maxLength: 12 }))), { minLength: 1, maxLength: 6 })).map(([original, edits]) => {
      let result = original;
      for (const [at, insert] of edits) {
        const position = at % (result.length + 1);
        result = result.slice(0, position) + insert + result.slice(position);
      }
      return result;
    }),
    fc.string({ maxLength: 400 }),
  );
  fc.assert(
    fc.property(text, fc.constantFrom(catalogEntrySchema, keyPinsSchema, configSchema), (input, schema) => {
      const result = parseYamlWithSchema('fuzz.yaml', input, schema);
      if (!result.ok) for (const problem of result.problems) if (problem.file !== 'fuzz.yaml' || problem.message === '') return false;
      return true;
    }),
    { numRuns: 2000, ...budget },
  );
  t.pass();
});

test('the catalog loader refuses files with alias bombs of any depth without expanding them', (t) => {
  fc.assert(
    fc.property(fc.integer({ min: 2, max: 12 }), fc.integer({ min: 2, max: 12 }), (levels, width) => {
      const lines = ['l0: &l0 [x]'];
      for (let level = 1; level <= levels; level += 1) lines.push(`l${level}: &l${level} [${Array.from({ length: width }, () => `*l${level - 1}`).join(', ')}]`);
      const result = parseYamlWithSchema('bomb.yaml', lines.join('\n'), catalogEntrySchema);
      return !result.ok;
    }),
    { numRuns: 100, ...budget },
  );
  t.pass();
});
