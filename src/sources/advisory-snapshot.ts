import { readFile } from 'node:fs/promises';
import type { Artifact, Verification } from '../bundle/manifest.ts';
import type { SourceContext } from './source-context.ts';

/*
 * What the advisory sources share: their version is the snapshot a fetch takes (UTC
 * YYYYMMDDHHMMSS, scheme integer), and each document becomes an artifact under the source's
 * own pool folder, served on the LGWAN side as a local copy.
 */

export function snapshotVersion(now = new Date()): string {
  return now.toISOString().replace(/[-:T]/gu, '').slice(0, 14);
}

export function advisoryArtifact(context: SourceContext, version: string, fileName: string, digests: { sha256: string; size: number }, verification: Verification, role: Artifact['role'] = 'payload'): Artifact {
  return {
    productId: context.entry.id, version, platform: 'any', locale: 'any', fileName, path: `pool/${context.entry.id}/${version}/any/any/${fileName}`,
    size: digests.size, sha256: digests.sha256, role, verification,
  };
}

/** Reads a downloaded document from its temporary file, for the parser to refuse a malformed one before it is kept. */
export const readDownloaded = (file: string): Promise<Buffer> => readFile(file);
