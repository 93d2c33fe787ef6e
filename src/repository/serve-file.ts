import { createHash } from 'node:crypto';
import { open, type FileHandle } from 'node:fs/promises';
import type { Context } from 'koa';
import { IntegrityError } from '../core/errors.ts';
import { FilePump } from './file-pump.ts';

const contentTypes: Record<string, string> = {
  '.exe': 'application/vnd.microsoft.portable-executable',
  '.msi': 'application/x-msi',
  '.msp': 'application/octet-stream',
  '.mar': 'application/octet-stream',
  '.deb': 'application/vnd.debian.binary-package',
  '.cvd': 'application/octet-stream',
  '.xz': 'application/x-xz',
  '.gz': 'application/gzip',
  '.bz2': 'application/x-bzip2',
  '.asc': 'application/pgp-signature',
  '.json': 'application/json',
  '.dmg': 'application/x-apple-diskimage',
};

export function contentTypeFor(fileName: string): string {
  const extension = /\.[A-Za-z0-9]+$/u.exec(fileName)?.[0]?.toLowerCase() ?? '';
  if (contentTypes[extension]) return contentTypes[extension];
  // Hash lists and apt indices are text (InRelease, Packages, SHA512SUMS).
  if (/^(InRelease|Release|Packages|Sources|SHA\d+SUMS|Translation-[A-Za-z_]+)$/u.test(fileName)) return 'text/plain; charset=utf-8';
  return 'application/octet-stream';
}

function parseSingleRange(header: string, size: number): { start: number; end: number } | 'unsatisfiable' | undefined {
  const match = /^bytes=(\d*)-(\d*)$/u.exec(header.trim());
  // Multi-range and other units: answer with the whole file, as RFC 9110 allows.
  if (!match || (match[1] === '' && match[2] === '')) return undefined;
  let start: number;
  let end: number;
  if (match[1] === '') {
    const suffix = Number(match[2]);
    if (suffix === 0) return 'unsatisfiable';
    start = Math.max(0, size - suffix);
    end = size - 1;
  } else {
    start = Number(match[1]);
    end = match[2] === '' ? size - 1 : Math.min(Number(match[2]), size - 1);
    if (start > end || start >= size) return 'unsatisfiable';
  }
  return { start, end };
}

/**
 * Small blobs from memory, bounded in bytes and in count, least recently used out first.
 * Keyed by sha256 and checked against it when filled, so an entry can never be other bytes
 * than the ones its name promises: a blob's content cannot change under its name.
 */
export class SmallBlobCache {
  readonly maxEntryBytes: number;
  readonly maxBytes: number;
  readonly maxEntries: number;
  #bytes = 0;
  readonly #entries = new Map<string, Buffer>();

  constructor(options: { maxEntryBytes?: number; maxBytes?: number; maxEntries?: number } = {}) {
    this.maxEntryBytes = options.maxEntryBytes ?? 256 * 1024;
    this.maxBytes = options.maxBytes ?? 64 * 1024 * 1024;
    this.maxEntries = options.maxEntries ?? 4096;
  }

  get size(): { entries: number; bytes: number } {
    return { entries: this.#entries.size, bytes: this.#bytes };
  }

  get(sha256: string): Buffer | undefined {
    const bytes = this.#entries.get(sha256);
    if (bytes) {
      // Map keeps insertion order: re-inserting marks the entry as the most recently used.
      this.#entries.delete(sha256);
      this.#entries.set(sha256, bytes);
    }
    return bytes;
  }

  /** Keeps the bytes if they hash to sha256 and fit; throws IntegrityError if they do not match. */
  fill(sha256: string, bytes: Buffer, file: string): void {
    const actual = createHash('sha256').update(bytes).digest('hex');
    if (actual !== sha256) throw new IntegrityError(`${file}: the stored file does not match its name (sha256 ${actual}); run "lgwan-mirror store check --side lgwan"`, { file, expected: sha256, actual });
    if (bytes.length > this.maxEntryBytes || bytes.length > this.maxBytes || this.#entries.has(sha256)) return;
    this.#entries.set(sha256, bytes);
    this.#bytes += bytes.length;
    for (const [oldest, evicted] of this.#entries) {
      if (this.#bytes <= this.maxBytes && this.#entries.size <= this.maxEntries) break;
      this.#entries.delete(oldest);
      this.#bytes -= evicted.length;
    }
  }
}

export interface ImmutableFileOptions {
  file: string;
  sha256: string;
  fileName: string;
  lastModified: Date;
  immutable: boolean;
  /** Small blobs are answered from here (and put here on first read). */
  cache?: SmallBlobCache;
  /**
   * The internal URI of this blob at the trusted nginx front (`X-Accel-Redirect`): nginx then
   * sends the file itself with sendfile, and applies Range and HEAD as the repository would.
   * Only for requests that came through that front (nginx-front.ts).
   */
  accelRedirect?: string;
}

/** The strong validator of a content-addressed file: its sha256. */
export const blobEtag = (sha256: string) => `"sha256-${sha256}"`;

/** The cache headers of a served file, as both the Koa path and the hot path send them. */
export const blobCacheControl = (immutable: boolean) => (immutable ? 'public, max-age=31536000, immutable' : 'public, max-age=0, must-revalidate');

/**
 * Whether a conditional GET/HEAD is answered 304: If-None-Match when sent (a list, `*`, weak
 * forms compared weakly), else If-Modified-Since at whole-second precision.
 */
export function isNotModified(ifNoneMatch: string, ifModifiedSince: string, etag: string, lastModified: Date): boolean {
  if (ifNoneMatch) return ifNoneMatch.split(',').some((candidate) => candidate.trim() === etag || candidate.trim() === '*' || candidate.trim() === `W/${etag}`);
  return ifModifiedSince !== '' && !Number.isNaN(Date.parse(ifModifiedSince)) && Math.floor(lastModified.getTime() / 1000) <= Math.floor(Date.parse(ifModifiedSince) / 1000);
}

/**
 * Serves an immutable, content-addressed file: strong ETag from its sha256, Last-Modified,
 * conditional GET/HEAD, a single byte range (206/416) and the exact Content-Length.
 * Update clients (Firefox, BITS, freshclam) resume with Range, so this path must be right.
 * Conditional requests are answered before the disk is touched; small files come from memory;
 * behind the nginx front the file is nginx's to send; otherwise it is streamed in 1 MiB reads
 * straight into the response, without Koa's stream pipeline.
 */
export async function serveImmutableFile(ctx: Context, options: ImmutableFileOptions): Promise<void> {
  const etag = blobEtag(options.sha256);
  ctx.set('ETag', etag);
  ctx.set('Last-Modified', options.lastModified.toUTCString());
  ctx.set('Accept-Ranges', 'bytes');
  ctx.set('Cache-Control', blobCacheControl(options.immutable));
  ctx.type = contentTypeFor(options.fileName);

  if (isNotModified(ctx.get('If-None-Match'), ctx.get('If-Modified-Since'), etag, options.lastModified)) {
    ctx.status = 304;
    return;
  }
  if (options.accelRedirect) {
    // nginx serves the body (and Range, HEAD, 416) from the file; it sends the headers set here
    // that it passes on X-Accel-Redirect or that the front's internal location adds back.
    ctx.set('X-Accel-Redirect', options.accelRedirect);
    ctx.status = 200;
    ctx.body = '';
    return;
  }

  let cached = options.cache?.get(options.sha256);
  let handle: FileHandle | undefined;
  let size: number;
  if (cached) {
    size = cached.length;
  } else {
    handle = await open(options.file, 'r');
    try {
      size = (await handle.stat()).size;
      if (options.cache && size <= options.cache.maxEntryBytes) {
        cached = await handle.readFile();
        options.cache.fill(options.sha256, cached, options.file);
      }
    } catch (error) {
      await handle.close();
      throw error;
    }
    if (cached) {
      await handle.close();
      handle = undefined;
    }
  }
  try {
    let start = 0;
    let end = size - 1;
    const rangeHeader = ctx.get('Range');
    const ifRange = ctx.get('If-Range');
    const rangeApplies = rangeHeader !== '' && (ifRange === '' || ifRange === etag);
    if (rangeApplies) {
      const range = parseSingleRange(rangeHeader, size);
      if (range === 'unsatisfiable') {
        ctx.status = 416;
        ctx.set('Content-Range', `bytes */${size}`);
        ctx.body = '';
        return;
      }
      if (range) {
        ({ start, end } = range);
        ctx.status = 206;
        ctx.set('Content-Range', `bytes ${start}-${end}/${size}`);
      }
    }
    if (ctx.status !== 206) ctx.status = 200;
    ctx.length = size === 0 ? 0 : end - start + 1;
    // HEAD: status and length are set; Koa sends no body (and none may be opened).
    if (ctx.method === 'HEAD') return;
    if (size === 0) {
      ctx.body = Buffer.alloc(0);
      return;
    }
    if (cached) {
      ctx.body = start === 0 && end === size - 1 ? cached : cached.subarray(start, end + 1);
      return;
    }
    streamInto(ctx, handle!, start, end, options.file);
    handle = undefined;
  } finally {
    await handle?.close();
  }
}

/** Every download of this process shares one read budget (file-pump.ts). */
const pump = new FilePump();

/** The file's bytes written to the response directly: Koa does not respond for us. */
function streamInto(ctx: Context, handle: FileHandle, start: number, end: number, file: string): void {
  ctx.respond = false;
  pump.send(handle, start, end, ctx.res, file);
}
