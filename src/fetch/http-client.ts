import { got, type Got } from 'got';
import { Agent, interceptors, type Dispatcher } from 'undici';

export interface HttpPolicy {
  /** Per-phase timeouts in ms; there is deliberately no whole-request timeout (large bodies). */
  timeouts: { lookup: number; connect: number; secureConnect: number; send: number; response: number; socket: number };
  userAgent: string;
  /**
   * Replaces an origin in every catalog URL, e.g. the demo's `https://vendor-simulator.invalid`
   * → the simulator's `http://127.0.0.1:<port>`. Empty in production.
   */
  originRewrites: ReadonlyMap<string, string>;
  /** DNS servers for TXT lookups (ClamAV's version record), `ip` or `ip:port`; empty: the system's resolver. */
  dnsServers: readonly string[];
}

export const defaultHttpPolicy: HttpPolicy = {
  timeouts: { lookup: 10_000, connect: 15_000, secureConnect: 15_000, send: 30_000, response: 60_000, socket: 60_000 },
  userAgent: 'lgwan-mirror/0.1 (+fetcher)',
  originRewrites: new Map(),
  dnsServers: [],
};

/** The one network policy, made once (STYLE.md §6): per-phase timeouts, no silent decompression, explicit retries. */
export function createHttpClient(policy: HttpPolicy): Got {
  return got.extend({
    timeout: policy.timeouts,
    headers: { 'user-agent': policy.userAgent },
    // Bytes are hashed as they arrive: they must be the vendor's bytes, not a decoded form.
    decompress: false,
    // Retries are ours (with Range resume); got's stream retries cannot reopen the file.
    retry: { limit: 0 },
    followRedirect: true,
    maxRedirects: 5,
    throwHttpErrors: false,
  });
}

/**
 * The client for artifact bodies (installers, databases, packages): undici, with the same
 * policy. On the same download it needs a quarter less CPU per byte than got's stream, and
 * on a two-core machine the download is CPU-bound (docs/benchmarks.md, "Fetch"); got stays
 * for feeds, hash lists and signatures, where its conveniences matter and bytes do not.
 * undici's connect timeout runs from before the name lookup to the end of the TLS
 * handshake, so it is given those three phases' sum.
 */
export function createBodyDispatcher(policy: HttpPolicy): Dispatcher {
  return new Agent({
    connect: { timeout: policy.timeouts.lookup + policy.timeouts.connect + policy.timeouts.secureConnect },
    headersTimeout: policy.timeouts.response,
    bodyTimeout: policy.timeouts.socket,
  }).compose(interceptors.redirect({ maxRedirections: 5 }));
}

export function rewriteOrigin(url: string, policy: HttpPolicy): string {
  for (const [from, to] of policy.originRewrites) {
    if (url === from || url.startsWith(`${from}/`)) return to + url.slice(from.length);
  }
  return url;
}
