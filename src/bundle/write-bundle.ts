import { createReadStream, createWriteStream } from 'node:fs';
import { open } from 'node:fs/promises';
import { pipeline } from 'node:stream/promises';
import { createHash, type KeyObject } from 'node:crypto';
import { Transform } from 'node:stream';
import tar from 'tar-stream';
import type { BlobStore } from '../store/blob-store.ts';
import { blobEntryName, manifestEntryName, signatureEntryName, type Manifest } from './manifest.ts';
import { signManifest } from './transfer-key.ts';


/**
 * Writes a bundle as a POSIX tar (inspectable with `tar tvf`): the manifest, its Ed25519
 * signature, then each blob the manifest lists, in that order, so the reader can check
 * the signature before it reads a single payload byte.
 */
export async function writeBundle(options: { manifest: Manifest; manifestBytes?: Buffer; privateKey: KeyObject; store: BlobStore; outputFile: string }): Promise<{ manifestBytes: Buffer; size: number; sha256: string }> {
  // Given bytes (a reserved bundle sent again) are used as they are: a re-serialisation might differ.
  const manifestBytes = options.manifestBytes ?? Buffer.from(JSON.stringify(options.manifest), 'utf8');
  const signature = signManifest(manifestBytes, options.privateKey);
  const pack = tar.pack();
  const destination = createWriteStream(options.outputFile, { flags: 'wx', mode: 0o644, highWaterMark: 1 << 20 });
  // The whole file's digest, for the approver's summary, computed on the way to disk.
  const whole = createHash('sha256');
  let size = 0;
  const digest = new Transform({
    transform(chunk: Buffer, _encoding, done) {
      whole.update(chunk);
      size += chunk.length;
      done(null, chunk);
    },
  });
  const writing = pipeline(pack, digest, destination);
  const mtime = new Date(options.manifest.createdAt);
  pack.entry({ name: manifestEntryName, size: manifestBytes.length, mtime, mode: 0o644 }, manifestBytes);
  pack.entry({ name: signatureEntryName, size: signature.length, mtime, mode: 0o644 }, signature);
  try {
    for (const blob of options.manifest.blobs) {
      const entry = pack.entry({ name: blobEntryName(blob.sha256), size: blob.size, mtime, mode: 0o644 });
      await pipeline(createReadStream(options.store.pathOf(blob.sha256), { highWaterMark: 1 << 20 }), entry);
    }
    pack.finalize();
  } catch (error) {
    pack.destroy(error as Error);
    throw error;
  } finally {
    await writing.catch(() => undefined);
  }
  await writing;
  // The stream closed its descriptor; fsync through a new one (same inode, same dirty pages).
  const handle = await open(options.outputFile, 'r+');
  try {
    await handle.sync();
  } finally {
    await handle.close();
  }
  return { manifestBytes, size, sha256: whole.digest('hex') };
}
