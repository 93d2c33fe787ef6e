import { Resolver } from 'node:dns/promises';
import { rm } from 'node:fs/promises';
import { setTimeout as sleep } from 'node:timers/promises';
import { pipeline } from 'node:stream/promises';
import type { Got } from 'got';
import { request as httpRequest, type Dispatcher } from 'undici';
import pLimit, { type LimitFunction } from 'p-limit';
import { LgwanMirrorError, UpstreamError, errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { HashingFileSink, type BlobDigests, type BlobStore } from '../store/blob-store.ts';
import { createBodyDispatcher, rewriteOrigin, type HttpPolicy } from './http-client.ts';
import type { DownloadProgress } from './progress.ts';

export interface DownloadRequest {
  url: string;
  /** Byte count promised by vendor metadata, when known: more is refused, less is an error. */
  expectedSize?: number;
  /** Used when no size is known. */
  maxBytes?: number;
  label: string;
  /** Also compute SHA-512 (for a check against a SHA-512 hash list). */
  sha512?: boolean;
}

export interface Downloaded extends BlobDigests {
  url: string;
  /** Temporary file inside the blob store; adopt it or remove it. */
  temporaryFile: string;
}

export interface DownloaderOptions {
  /** Small documents (feeds, hash lists, signatures). */
  client: Got;
  /** Artifact bodies; made from `policy` when not given. */
  bodies?: Dispatcher;
  policy: HttpPolicy;
  store: BlobStore;
  logger: Logger;
  progress?: DownloadProgress;
  concurrencyPerHost?: number;
  attempts?: number;
  /** First backoff; doubles each attempt. */
  backoffMs?: number;
}

const defaultMaxBytes = 16 * 1024 ** 3;

/** HTTP statuses after which another attempt can succeed. */
const retriableStatuses = new Set([408, 425, 429, 500, 502, 503, 504]);

/**
 * Downloads into the blob store's tmp folder, hashing while streaming, so the file is
 * never read a second time. A broken connection resumes with `Range` from the bytes
 * already on disk, continuing the same hash state.
 */
export class Downloader {
  readonly #options: Required<Omit<DownloaderOptions, 'progress' | 'bodies'>> & { progress?: DownloadProgress };
  readonly #bodies: Dispatcher;
  readonly #limits = new Map<string, LimitFunction>();

  constructor(options: DownloaderOptions) {
    this.#options = { concurrencyPerHost: 4, attempts: 4, backoffMs: 1000, ...options };
    this.#bodies = options.bodies ?? createBodyDispatcher(options.policy);
  }

  #limitFor(url: string): LimitFunction {
    const host = new URL(url).host;
    let limit = this.#limits.get(host);
    if (!limit) {
      limit = pLimit(this.#options.concurrencyPerHost);
      this.#limits.set(host, limit);
    }
    return limit;
  }

  /**
   * A DNS TXT record, its strings joined, with the policy's lookup timeout and servers. One
   * attempt: a vendor's DNS answer is only a hint that callers fall back from.
   */
  async resolveTxt(name: string): Promise<string[]> {
    const resolver = new Resolver({ timeout: this.#options.policy.timeouts.lookup, tries: 1 });
    if (this.#options.policy.dnsServers.length > 0) resolver.setServers([...this.#options.policy.dnsServers]);
    try {
      return (await resolver.resolveTxt(name)).map((chunks) => chunks.join(''));
    } catch (cause) {
      const servers = this.#options.policy.dnsServers.length > 0 ? this.#options.policy.dnsServers.join(', ') : 'the system resolver';
      throw new UpstreamError(`DNS TXT ${name} via ${servers}: ${(cause as NodeJS.ErrnoException).code ?? errorMessage(cause)}`, { name }, cause);
    }
  }

  /** Small documents (feeds, hash lists, signatures) read into memory, with the same policy. */
  async fetchText(url: string, maxBytes = 16 * 1024 * 1024): Promise<string> {
    return (await this.fetchBuffer(url, maxBytes)).toString('utf8');
  }

  async fetchBuffer(url: string, maxBytes = 16 * 1024 * 1024, headers: Record<string, string> = {}): Promise<Buffer> {
    const target = rewriteOrigin(url, this.#options.policy);
    return this.#limitFor(target)(async () => {
      for (let attempt = 1; ; attempt += 1) {
        // Stopped as soon as it passes maxBytes: a feed that never ends, or a server that ignores
        // a one-byte Range and sends a whole installer, must not fill memory.
        let tooLarge = false;
        try {
          const pending = this.#options.client.get(target, { responseType: 'buffer', headers });
          pending.on('downloadProgress', (progress: { transferred: number }) => {
            if (progress.transferred > maxBytes && !tooLarge) {
              tooLarge = true;
              pending.cancel();
            }
          });
          const response = await pending;
          const accepted = response.statusCode === 200 || (headers.range !== undefined && response.statusCode === 206);
          if (!accepted) throw new UpstreamError(`GET ${url}: HTTP ${response.statusCode}`, { url, status: response.statusCode });
          if (response.rawBody.length > maxBytes) throw new LgwanMirrorError('E_SIZE_LIMIT', `GET ${url}: larger than ${maxBytes} bytes`, { details: { url } });
          return response.rawBody;
        } catch (caught) {
          const error = tooLarge ? new LgwanMirrorError('E_SIZE_LIMIT', `GET ${url}: larger than ${maxBytes} bytes; stopped reading`, { details: { url } }) : caught;
          if (!this.#shouldRetry(error, attempt)) throw wrapUpstream(error, url);
          await this.#backoff(url, attempt, error);
        }
      }
    });
  }

  /**
   * The size of a file as the server states it, without its body: a one-byte Range request
   * (what CDNs answer reliably; some refuse HEAD), the total read from Content-Range, or the
   * Content-Length of a server that ignores Range (the body is then not read). `catalog check
   * --live` asks this of every file a release would download.
   */
  async probeSize(url: string): Promise<{ size: number }> {
    const target = rewriteOrigin(url, this.#options.policy);
    return this.#limitFor(target)(async () => {
      for (let attempt = 1; ; attempt += 1) {
        try {
          const response = await httpRequest(target, { dispatcher: this.#bodies, method: 'GET', headers: { 'user-agent': this.#options.policy.userAgent, range: 'bytes=0-0' } });
          discard(response.body);
          const total = /^bytes \d+-\d+\/(\d+)$/u.exec(String(response.headers['content-range'] ?? ''))?.[1];
          const length = response.headers['content-length'];
          if (response.statusCode === 206 && total !== undefined) return { size: Number(total) };
          if (response.statusCode === 200 && length !== undefined) return { size: Number(length) };
          if (response.statusCode === 200 || response.statusCode === 206) throw new UpstreamError(`GET ${url} (bytes=0-0): HTTP ${response.statusCode} without a Content-Range total or Content-Length`, { url, status: response.statusCode });
          throw new UpstreamError(`GET ${url} (bytes=0-0): HTTP ${response.statusCode}`, { url, status: response.statusCode });
        } catch (error) {
          if (!this.#shouldRetry(error, attempt)) throw wrapUpstream(error, url);
          await this.#backoff(url, attempt, error);
        }
      }
    });
  }

  async download(request: DownloadRequest): Promise<Downloaded> {
    const target = rewriteOrigin(request.url, this.#options.policy);
    return this.#limitFor(target)(async () => {
      const maxBytes = request.expectedSize ?? request.maxBytes ?? defaultMaxBytes;
      const { file, handle } = await this.#options.store.createTemporary(request.label);
      const bar = this.#options.progress?.start(request.label, request.expectedSize);
      let resume: Awaited<ReturnType<HashingFileSink['settledHashState']>> | undefined;
      let succeeded = false;
      let sink: HashingFileSink | undefined;
      try {
        for (let attempt = 1; ; attempt += 1) {
          if (resume === undefined) sink?.release();
          sink = new HashingFileSink(handle, { maxBytes, what: `GET ${request.url}`, sha512: request.sha512, resumeFrom: resume, onWritten: (bytes) => bar?.update(bytes) });
          const offset = sink.bytesWritten;
          try {
            const headers: Record<string, string> = { 'user-agent': this.#options.policy.userAgent, ...(offset > 0 ? { range: `bytes=${offset}-` } : {}) };
            const response = await httpRequest(target, { dispatcher: this.#bodies, method: 'GET', headers });
            const contentRange = String(response.headers['content-range'] ?? '');
            const resumed = offset > 0 && response.statusCode === 206 && contentRange.startsWith(`bytes ${offset}-`);
            if (response.statusCode === 200 && offset > 0) {
              // The server ignored Range: start over rather than append a second copy.
              discard(response.body);
              throw new RestartFromZero();
            }
            if (response.statusCode !== 200 && !resumed) {
              discard(response.body);
              throw new UpstreamError(`GET ${request.url}: HTTP ${response.statusCode}`, { url: request.url, status: response.statusCode });
            }
            await pipeline(response.body, sink);
            const digests = await sink.digests();
            if (request.expectedSize !== undefined && digests.size !== request.expectedSize) {
              throw new UpstreamError(`GET ${request.url}: connection ended after ${digests.size} of ${request.expectedSize} bytes`, { url: request.url });
            }
            succeeded = true;
            return { ...digests, url: request.url, temporaryFile: file };
          } catch (error) {
            resume = error instanceof RestartFromZero ? undefined : await sink.settledHashState();
            if (error instanceof RestartFromZero) {
              await handle.truncate(0);
              continue;
            }
            if (!this.#shouldRetry(error, attempt)) throw wrapUpstream(error, request.url);
            await this.#backoff(request.url, attempt, error);
          }
        }
      } finally {
        sink?.release();
        bar?.done();
        await handle.close();
        if (!succeeded) await rm(file, { force: true });
      }
    });
  }

  #shouldRetry(error: unknown, attempt: number): boolean {
    if (attempt >= this.#options.attempts) return false;
    if (error instanceof UpstreamError) {
      const status = error.details.status as number | undefined;
      return status === undefined || retriableStatuses.has(status);
    }
    // Size limits and local I/O errors do not get better by asking again.
    if (error instanceof LgwanMirrorError) return false;
    const code = (error as NodeJS.ErrnoException).code ?? '';
    return (code.startsWith('E') && code !== 'ENOSPC' && code !== 'EACCES') || retriableUndiciCodes.has(code);
  }

  async #backoff(url: string, attempt: number, error: unknown): Promise<void> {
    const delay = this.#options.backoffMs * 2 ** (attempt - 1);
    this.#options.logger.warn({ url, attempt, delayMs: delay, error: errorMessage(error) }, 'download failed, retrying');
    await sleep(delay);
  }
}

class RestartFromZero extends Error {}

/** Closes a body that will not be read; undici reports that as an abort, which is expected here. */
function discard(body: Dispatcher.ResponseData['body']): void {
  body.on('error', () => undefined);
  body.destroy();
}

/** undici's names for a connection that failed, stalled or ended early: another attempt can succeed. */
const retriableUndiciCodes = new Set(['UND_ERR_SOCKET', 'UND_ERR_CLOSED', 'UND_ERR_CONNECT_TIMEOUT', 'UND_ERR_HEADERS_TIMEOUT', 'UND_ERR_BODY_TIMEOUT', 'UND_ERR_RES_CONTENT_LENGTH_MISMATCH']);

/** What undici's failures mean, in the words of the timeouts an admin can set. */
const undiciMeanings: Record<string, string> = {
  UND_ERR_BODY_TIMEOUT: 'the server stopped sending mid-file (socket timeout)',
  UND_ERR_HEADERS_TIMEOUT: 'the server did not answer in time (response timeout)',
  UND_ERR_CONNECT_TIMEOUT: 'could not connect in time (lookup + connect + TLS timeouts)',
  UND_ERR_SOCKET: 'the connection closed mid-transfer',
};

function wrapUpstream(error: unknown, url: string): Error {
  if (error instanceof LgwanMirrorError) return error;
  const meaning = undiciMeanings[(error as NodeJS.ErrnoException).code ?? ''];
  return new UpstreamError(`GET ${url}: ${meaning ? `${meaning}: ` : ''}${errorMessage(error)}`, { url }, error);
}
