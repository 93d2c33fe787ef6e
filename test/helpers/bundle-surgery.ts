import { createHash, createPublicKey, type KeyObject } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import tar from 'tar-stream';
import type { Manifest } from '../../src/bundle/manifest.ts';
import { signManifest, transferKeyId } from '../../src/bundle/transfer-key.ts';

export interface TarEntry {
  name: string;
  data: Buffer;
}

/** Reads a (small, test-sized) bundle into memory so a test can play the attacker. */
export async function readTar(file: string): Promise<TarEntry[]> {
  const extract = tar.extract();
  const entries: TarEntry[] = [];
  const done = (async () => {
    for await (const entry of extract) {
      const chunks: Buffer[] = [];
      for await (const chunk of entry) chunks.push(chunk as Buffer);
      entries.push({ name: entry.header.name, data: Buffer.concat(chunks) });
    }
  })();
  extract.end(await readFile(file));
  await done;
  return entries;
}

export async function writeTar(file: string, entries: TarEntry[]): Promise<void> {
  const pack = tar.pack();
  for (const entry of entries) pack.entry({ name: entry.name, size: entry.data.length }, entry.data);
  pack.finalize();
  const chunks: Buffer[] = [];
  for await (const chunk of pack) chunks.push(chunk as Buffer);
  await writeFile(file, Buffer.concat(chunks));
}

export function manifestOf(entries: TarEntry[]): Manifest {
  return JSON.parse(entries.find((entry) => entry.name === 'manifest.json')!.data.toString('utf8')) as Manifest;
}

/** Replaces the manifest and signs it with `privateKey` (the real one when the test models a stolen key). */
export function resign(entries: TarEntry[], manifest: Manifest, privateKey: KeyObject): TarEntry[] {
  const signed = { ...manifest, transferKeyId: transferKeyId(createPublicKey(privateKey)) };
  const bytes = Buffer.from(JSON.stringify(signed));
  return entries.map((entry) => {
    if (entry.name === 'manifest.json') return { name: entry.name, data: bytes };
    if (entry.name === 'manifest.sig') return { name: entry.name, data: signManifest(bytes, privateKey) };
    return entry;
  });
}

export const sha256 = (data: Uint8Array): string => createHash('sha256').update(data).digest('hex');
