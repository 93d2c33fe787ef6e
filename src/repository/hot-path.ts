import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TLSSocket } from 'node:tls';
import type { Logger } from '../core/logger.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import type { NativeObservations, TenantStates } from '../admin/client-tenant.ts';
import type { Rollouts } from '../admin/rollouts.ts';
import type { Tenant, TenantDirectory } from '../admin/tenants.ts';
import type { clientAddressResolver } from './client-address.ts';
import { jsonType, matchesEtag, type JsonAnswer, type JsonAnswers } from './json-answers.ts';
import { latestKey, latestOf, releasesKey, releasesOf, type QueryValue } from './listings.ts';
import { frontHeader, type accelRedirects } from './nginx-front.ts';
import { pinOf, recordUpdateCheck, updateCheckOf, updateXmlType, type UpdateAnswers } from './protocols/mozilla-aus.ts';
import { publishedIndex } from './published-index.ts';
import { blobCacheControl, blobEtag, contentTypeFor, isNotModified, type SmallBlobCache } from './serve-file.ts';

/*
 * The answers endpoints ask for most — update.xml, the JSON listings, small published blobs —
 * straight from node:http, without Koa (issue 18: Koa's context, middleware chain and router
 * cost four fifths of an update check). Only what is already decided and in memory is answered
 * here: the published state, the tenant's decisions as last read, the kept update answer, the
 * cached blob. Anything else — a Range, a percent-encoding to reject, a decision not yet read,
 * a blob not yet in memory, an error — is left to the Koa app, which answers it in full and
 * fills what the next request finds here. Both paths share the functions that decide (client
 * address, tenant, ring, answer, record); test/repository/hot-path.test.ts asks both the same
 * questions and requires the same status, headers, body and inventory records.
 */

export interface HotPathOptions {
  state(): LgwanState;
  tenants: TenantDirectory;
  tenantStates: TenantStates;
  rollouts: Rollouts;
  updateAnswers: UpdateAnswers;
  natives: NativeObservations;
  jsonAnswers: JsonAnswers;
  /** The key of the listings when nothing is published (the Koa route uses the same object). */
  noPublication: object;
  smallBlobs: SmallBlobCache;
  accelRedirectFor: ReturnType<typeof accelRedirects>;
  pathOf(sha256: string): string;
  clientAddressOf: ReturnType<typeof clientAddressResolver>;
  contentSecurityPolicy: string;
  logger: Logger;
  now(): Date;
}

/** Answers the request and returns true, or returns false having done nothing (Koa answers it then). */
export type HotPath = ((request: IncomingMessage, response: ServerResponse) => boolean) & {
  /** Requests answered here, and GET/HEAD requests left to the app (read by test/repository/hot-path.test.ts; not yet on /metrics). */
  readonly counts: { answered: number; deferred: number };
};

interface Answer {
  status: 200 | 304;
  headers: string[];
  body: Buffer | undefined;
}

const header = (request: IncomingMessage, name: string): string | undefined => {
  const value = request.headers[name];
  return typeof value === 'string' ? value : undefined;
};

/** One query parameter as Koa reads it (URLSearchParams: absent, one value, or several). */
function queryValue(search: URLSearchParams | undefined, name: string): QueryValue {
  if (!search) return undefined;
  const values = search.getAll(name);
  return values.length === 0 ? undefined : values.length === 1 ? values[0] : values;
}

/** `scheme://host` the client used, as Koa's ctx.protocol and ctx.host give it; undefined where Koa must decide. */
function originOf(request: IncomingMessage, forwardingTrusted: boolean): string | undefined {
  let protocol = (request.socket as TLSSocket).encrypted ? 'https' : 'http';
  let host: string | undefined;
  if (forwardingTrusted) {
    const proto = header(request, 'x-forwarded-proto');
    if (protocol === 'http' && proto) protocol = proto.split(',', 1)[0]!.trim().toLowerCase();
    const forwardedHost = header(request, 'x-forwarded-host');
    if (forwardedHost) host = forwardedHost;
  }
  host ||= header(request, 'host');
  if (!host) return undefined;
  host = host.split(',', 1)[0]!.trim();
  // Koa rewrites a host with userinfo through the URL parser: rare enough to leave to it.
  if (host.includes('@')) return undefined;
  return `${protocol}://${host}`;
}

export function createHotPath(options: HotPathOptions): HotPath {
  const common = ['Content-Security-Policy', options.contentSecurityPolicy, 'X-Content-Type-Options', 'nosniff'];

  const jsonAnswer = (request: IncomingMessage, answer: JsonAnswer): Answer =>
    matchesEtag(header(request, 'if-none-match'), answer.etag)
      ? { status: 304, headers: [...common, 'Cache-Control', 'no-cache', 'ETag', answer.etag], body: undefined }
      : { status: 200, headers: [...common, 'Cache-Control', 'no-cache', 'Content-Type', jsonType, 'ETag', answer.etag, 'Content-Length', String(answer.body.length)], body: answer.body };

  /** What the request is answered, or undefined when Koa must answer it. Touches nothing. */
  const decide = (request: IncomingMessage): { answer: Answer; record?: () => void } | undefined => {
    const url = request.url ?? '';
    if (url.charCodeAt(0) !== 0x2f) return undefined;
    const query = url.indexOf('?');
    let path = query === -1 ? url : url.slice(0, query);
    let tenant: Tenant | undefined;
    let prefixed = false;
    if (path.startsWith('/t/')) {
      const match = /^\/t\/([a-z0-9-]+)(\/.*)$/u.exec(path);
      tenant = match ? options.tenants.byId(match[1]!) : undefined;
      if (!tenant) return undefined;
      path = match![2]!;
      prefixed = true;
    }
    let route: 'update' | 'latest' | 'releases' | 'blob' | 'pool';
    if (path.startsWith('/mozilla/update/')) route = 'update';
    else if (path === '/api/v1/latest') route = 'latest';
    else if (/^\/api\/v1\/products\/[A-Za-z0-9._-]+\/releases$/u.test(path)) route = 'releases';
    else if (/^\/blobs\/sha256\/[0-9a-f]{64}$/u.test(path)) route = 'blob';
    else if (path.startsWith('/pool/')) route = 'pool';
    else return undefined;

    const client = options.clientAddressOf(request.socket.remoteAddress, header(request, 'x-forwarded-for'));
    if (!prefixed) tenant = options.tenants.forAddress(client.ip);
    const state = options.tenantStates.of(options.state(), tenant);
    const search = query === -1 || query === url.length - 1 ? undefined : new URLSearchParams(url.slice(query + 1));

    if (route === 'update') {
      const parsed = updateCheckOf(path.slice('/mozilla/update/'.length));
      if (!('check' in parsed)) return undefined;
      const rollout = options.rollouts.viewNow(tenant, state, { address: client.ip });
      const origin = originOf(request, client.forwardingTrusted);
      if (!rollout || origin === undefined) return undefined;
      const { check } = parsed;
      const answer = options.updateAnswers.answer(state, check, pinOf(search?.getAll('pin') ?? []), origin, tenant?.id ?? '', rollout, options.now().getTime());
      const record = () => recordUpdateCheck(state, check, client.ip, rollout.ring, options.natives.sinkFor(tenant, client.ip));
      if (header(request, 'if-none-match') === answer.etag) return { answer: { status: 304, headers: [...common, 'Cache-Control', 'no-cache', 'ETag', answer.etag], body: undefined }, record };
      return { answer: { status: 200, headers: [...common, 'Content-Type', updateXmlType, 'Cache-Control', 'no-cache', 'ETag', answer.etag, 'Content-Length', String(answer.bytes.length)], body: answer.bytes }, record };
    }
    if (route === 'latest') {
      const filter = { product: queryValue(search, 'product'), platform: queryValue(search, 'platform'), locale: queryValue(search, 'locale') };
      return { answer: jsonAnswer(request, options.jsonAnswers.of(state.published ?? options.noPublication, latestKey(filter), () => latestOf(state.published, filter))) };
    }
    if (route === 'releases') {
      const id = path.slice('/api/v1/products/'.length, -'/releases'.length);
      const published = state.published;
      const product = published?.products.find((candidate) => candidate.id === id);
      if (!product) return undefined;
      return { answer: jsonAnswer(request, options.jsonAnswers.of(published!, releasesKey(product.id), () => releasesOf(options.state(), published!, product))) };
    }

    // A published blob, by digest or under its versioned pool/ path: immutable either way.
    if (header(request, 'range') !== undefined) return undefined;
    const index = publishedIndex(state.published);
    let artifact;
    if (route === 'blob') {
      artifact = index.bySha256.get(path.slice('/blobs/sha256/'.length));
    } else {
      if (path.includes('%')) return undefined;
      const relative = path.slice(1);
      // One path with several published versions is a snapshot file whose version the ring chooses.
      if ((index.allByPath.get(relative)?.length ?? 0) > 1) return undefined;
      artifact = index.byPath.get(relative);
    }
    // Not published (404) and ClamAV databases (Last-Modified from the CVD header) are Koa's.
    if (!artifact || artifact.verification.method === 'clamav-cvd') return undefined;
    const global = options.state();
    const lastModified = new Date(global.firstPublished[artifact.productId]?.[artifact.version] ?? global.published?.publishedAt ?? options.now().toISOString());
    const etag = blobEtag(artifact.sha256);
    const headers = [...common, 'ETag', etag, 'Last-Modified', lastModified.toUTCString(), 'Accept-Ranges', 'bytes', 'Cache-Control', blobCacheControl(true)];
    if (isNotModified(header(request, 'if-none-match') ?? '', header(request, 'if-modified-since') ?? '', etag, lastModified)) return { answer: { status: 304, headers, body: undefined } };
    headers.push('Content-Type', contentTypeFor(artifact.fileName));
    const accelRedirect = options.accelRedirectFor(header(request, frontHeader), request.socket.remoteAddress, options.pathOf(artifact.sha256));
    if (accelRedirect) return { answer: { status: 200, headers: [...headers, 'X-Accel-Redirect', accelRedirect, 'Content-Length', '0'], body: undefined } };
    const bytes = options.smallBlobs.get(artifact.sha256);
    if (!bytes) return undefined;
    return { answer: { status: 200, headers: [...headers, 'Content-Length', String(bytes.length)], body: bytes } };
  };

  const counts = { answered: 0, deferred: 0 };
  const hotPath = (request: IncomingMessage, response: ServerResponse): boolean => {
    if (request.method !== 'GET' && request.method !== 'HEAD') return false;
    let decided: ReturnType<typeof decide>;
    try {
      decided = decide(request);
    } catch (error) {
      // Koa answers it, and logs it if it is a failure there too.
      options.logger.debug({ err: error, url: request.url }, 'hot path deferred to the app');
      decided = undefined;
    }
    if (!decided) {
      counts.deferred += 1;
      return false;
    }
    counts.answered += 1;
    try {
      decided.record?.();
    } catch (error) {
      options.logger.warn({ err: error }, 'an update check could not be recorded');
    }
    const { answer } = decided;
    response.writeHead(answer.status, answer.headers);
    if (answer.body && request.method === 'GET') response.end(answer.body);
    else response.end();
    return true;
  };
  return Object.assign(hotPath, { counts });
}
