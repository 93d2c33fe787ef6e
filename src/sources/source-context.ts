import { mkdir, rename, writeFile } from 'node:fs/promises';
import path from 'node:path';
import type { Artifact } from '../bundle/manifest.ts';
import type { CatalogEntry } from '../catalog/schema.ts';
import type { z } from 'zod';
import { UpstreamError, errorCode, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { Downloader, DownloadRequest } from '../fetch/download.ts';
import { HashingFileSink, type BlobDigests, type BlobStore } from '../store/blob-store.ts';
import type { PinnedKeyring } from '../verify/pinned-keys.ts';

export interface FetchedRelease {
  version: string;
  artifacts: Artifact[];
}

export interface SourceContext {
  entry: CatalogEntry;
  downloader: Downloader;
  store: BlobStore;
  keyring: PinnedKeyring;
  logger: Logger;
  quarantineDirectory: string;
  /** Where an admin places files of manual sources: <folder>/<product id>/<file name>. */
  manualDirectory: string;
  /** Digests of every blob this fetch added, as computed while it streamed in. */
  recorded: Map<string, BlobDigests>;
}

/** What `catalog check --live` learns about a version without downloading its payloads. */
export interface LiveProbe {
  artifactUrl: string;
  /** What was verified, in words an operator can act on. */
  verification: string;
}

/** One adapter per vendor family: finds the newest version and fetches + verifies its artifacts. */
export interface SourceAdapter {
  latestVersion(context: SourceContext): Promise<string>;
  fetchRelease(context: SourceContext, version: string): Promise<FetchedRelease>;
  /** Verifies what can be verified cheaply (signed lists, headers) for the live check. */
  probe(context: SourceContext, version: string): Promise<LiveProbe>;
}

/**
 * Downloads into the store's tmp folder and runs `check` on the digests computed while
 * streaming. A failed check moves the file to quarantine with a reason file beside it;
 * only a passed check adopts the blob into the store.
 */
export async function downloadChecked(
  context: SourceContext,
  request: DownloadRequest,
  check: (digests: BlobDigests, temporaryFile: string) => void | Promise<void>,
): Promise<BlobDigests> {
  const downloaded = await context.downloader.download(request);
  try {
    await check(downloaded, downloaded.temporaryFile);
  } catch (error) {
    await quarantine(context, downloaded.temporaryFile, request, error);
    throw error;
  }
  await context.store.adopt(downloaded.temporaryFile, downloaded, { what: request.url });
  context.recorded.set(downloaded.sha256, downloaded);
  return downloaded;
}

async function quarantine(context: SourceContext, file: string, request: DownloadRequest, error: unknown): Promise<void> {
  const stamp = new Date().toISOString().replace(/[:.]/gu, '-');
  const target = path.join(context.quarantineDirectory, `${stamp}-${context.entry.id}-${path.basename(request.label).replace(/[^A-Za-z0-9._-]/gu, '_')}`);
  await mkdir(context.quarantineDirectory, { recursive: true });
  await rename(file, target);
  await writeFile(`${target}.reason.json`, `${JSON.stringify({ product: context.entry.id, url: request.url, code: errorCode(error), reason: errorMessage(error), at: new Date().toISOString() }, null, 2)}\n`);
  context.logger.error({ productId: context.entry.id, url: request.url, quarantined: target, error: errorMessage(error) }, 'verification failed; file quarantined');
}

/**
 * A vendor's JSON answer (a version API, a release list), checked against the part of its
 * shape an adapter reads; `what` names that shape in the error ("a GitHub release").
 */
export async function fetchJson<T>(context: SourceContext, url: string, schema: z.ZodType<T>, what: string, maxBytes = 4 * 1024 * 1024): Promise<T> {
  const text = await context.downloader.fetchText(url, maxBytes);
  let parsed: unknown;
  try {
    parsed = JSON.parse(text);
  } catch (cause) {
    throw new UpstreamError(`${url}: not JSON`, { url }, cause);
  }
  const result = schema.safeParse(parsed);
  if (!result.success) {
    const issue = result.error.issues[0];
    throw new UpstreamError(`${url}: not ${what} (${issue?.path.join('.') || 'the answer'}: ${issue?.message ?? 'unexpected shape'})`, { url });
  }
  return result.data;
}

/** Material (hash lists, signatures, indices) is small: fetched to memory and also stored as a blob. */
export async function storeBuffer(context: SourceContext, data: Buffer, label: string, options: { sha512?: boolean } = {}): Promise<BlobDigests> {
  const { file, handle } = await context.store.createTemporary(label);
  const sink = new HashingFileSink(handle, { maxBytes: data.length, what: label, sha512: options.sha512 });
  try {
    await new Promise<void>((resolve, reject) => sink.end(data, (error?: Error | null) => (error ? reject(error) : resolve())));
  } finally {
    await handle.close();
  }
  const digests = await sink.digests();
  sink.release();
  await context.store.adopt(file, digests, { what: label, size: data.length });
  context.recorded.set(digests.sha256, digests);
  return digests;
}

/** A file a release would download, as `catalog check --live` asks for it. */
export interface ProbedFile {
  url: string;
  label: string;
  /** The size the vendor's own list states, when it states one. */
  expectedSize?: number;
}

/**
 * Asks for every file a release would download (a one-byte range each, Downloader.probeSize):
 * a file that does not answer, or whose stated size differs from the vendor's list, fails the
 * row naming it. Returns what was seen, for the row's verification column.
 */
export async function probeFiles(context: SourceContext, files: readonly ProbedFile[]): Promise<string> {
  let total = 0;
  for (const file of files) {
    const { size } = await context.downloader.probeSize(file.url);
    if (file.expectedSize !== undefined && size !== file.expectedSize) {
      throw new UpstreamError(`${file.url}: the server states ${size} bytes, the vendor's list ${file.expectedSize} (${context.entry.id}, ${file.label})`, { url: file.url });
    }
    total += size;
  }
  return `all ${files.length} file${files.length === 1 ? '' : 's'} answer (${total} bytes in all)`;
}
