import type { BlobStore, RecordedDigests } from './blob-store.ts';

/** A file a side's state names: the blob and the path it is published or kept under. */
export interface NamedBlob {
  sha256: string;
  size: number;
  path: string;
}

export interface StoreProblem {
  sha256: string;
  /** Every path the state names this blob under. */
  paths: string[];
  kind: 'missing' | 'size' | 'content';
  detail: string;
}

export interface StoreCheckReport {
  blobs: number;
  bytes: number;
  problems: StoreProblem[];
}

/**
 * Reads every blob the state names again and compares it with its name (SHA-256), its size
 * and the SHA-512 recorded when it arrived. Read-only, so it can run beside the side's daemon;
 * one blob at a time (the disk is the limit), each streamed.
 */
export async function checkStore(store: BlobStore, named: Iterable<NamedBlob>, recorded: Readonly<Record<string, RecordedDigests>>): Promise<StoreCheckReport> {
  const blobs = new Map<string, { size: number; paths: string[] }>();
  for (const { sha256, size, path } of named) {
    const entry = blobs.get(sha256);
    if (entry) entry.paths.push(path);
    else blobs.set(sha256, { size, paths: [path] });
  }
  const problems: StoreProblem[] = [];
  let bytes = 0;
  for (const [sha256, { size, paths }] of blobs) {
    const problem = (kind: StoreProblem['kind'], detail: string) => problems.push({ sha256, paths, kind, detail });
    const onDisk = await store.size(sha256);
    if (onDisk === undefined) problem('missing', 'is not in the store');
    else if (onDisk !== size) problem('size', `has ${onDisk} bytes, the state says ${size}`);
    else {
      const expectedSha512 = recorded[sha256]?.sha512;
      const digests = await store.hashAgain(sha256, { sha512: expectedSha512 !== undefined });
      bytes += digests.size;
      if (digests.sha256 !== sha256) problem('content', `now has sha256 ${digests.sha256}`);
      else if (expectedSha512 !== undefined && digests.sha512 !== expectedSha512) problem('content', 'has another SHA-512 than the one recorded when it arrived');
    }
  }
  return { blobs: blobs.size, bytes, problems };
}
