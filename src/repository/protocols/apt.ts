import type { Context } from 'koa';
import type { Artifact } from '../../bundle/manifest.ts';
import type { ObservationSink } from '../../coverage/inventory.ts';

/* apt's User-Agent: "Debian APT-HTTP/1.3 (2.6.1)". */
const userAgentPattern = /^Debian APT-HTTP\/[\d.]+ \(/u;

/**
 * An apt request carries no endpoint id: the client address is the documented fallback. The
 * observation is the mirrored suite's catalog product at the snapshot the client just fetched
 * (the InRelease it asked for), so that suite's row on the status page counts its endpoints.
 */
export function recordApt(ctx: Context, inventory: ObservationSink | undefined, artifact: Artifact | undefined): void {
  if (!inventory || !artifact || artifact.verification.method !== 'apt-inrelease') return;
  if (!userAgentPattern.test(ctx.get('User-Agent'))) return;
  inventory.record({ endpoint: { kind: 'address', id: ctx.ip }, source: 'apt', product: artifact.productId, version: artifact.version });
}
