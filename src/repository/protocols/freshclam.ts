import { open } from 'node:fs/promises';
import type { Context } from 'koa';
import type { ObservationSink } from '../../coverage/inventory.ts';
import { cvdHeaderLength, parseCvdHeader } from '../../verify/clamav-cvd.ts';

const buildTimes = new Map<string, Date>();

/** The build time in a published CVD's header (blobs are immutable, so it is read once per blob). */
export async function cvdBuildTime(file: string, sha256: string): Promise<Date> {
  let time = buildTimes.get(sha256);
  if (!time) {
    const handle = await open(file, 'r');
    try {
      const header = Buffer.alloc(cvdHeaderLength);
      await handle.read(header, 0, cvdHeaderLength, 0);
      time = new Date(parseCvdHeader(header, file).buildTimeSeconds * 1000);
    } finally {
      await handle.close();
    }
    buildTimes.set(sha256, time);
  }
  return time;
}

/*
 * freshclam's User-Agent: "ClamAV/1.4.6 (OS: linux-gnu, ARCH: x86_64, CPU: x86_64, UUID: <uuid>)".
 * The UUID persists per installation (freshclam.dat): the endpoint identity for coverage.
 */
const userAgentPattern = /^ClamAV\/([0-9][0-9A-Za-z.+-]*)\s*\((?:.*?UUID:\s*([0-9A-Fa-f-]{36}))?/u;

export function recordFreshclam(ctx: Context, inventory: ObservationSink | undefined): void {
  const match = userAgentPattern.exec(ctx.get('User-Agent'));
  if (!match || !inventory) return;
  inventory.record({ endpoint: freshclamIdentity(ctx, match), source: 'freshclam', product: 'clamav', version: match[1]! });
}

function freshclamIdentity(ctx: Context, match: RegExpExecArray) {
  return match[2] ? { kind: 'freshclam-uuid' as const, id: match[2].toLowerCase() } : { kind: 'address' as const, id: ctx.ip };
}

/**
 * After a database answer: a 304 means the endpoint holds the served version, a whole 200
 * means it is about to. (A 206 header probe alone says nothing yet.)
 */
export function recordDatabaseVersion(ctx: Context, inventory: ObservationSink | undefined, artifact: { productId: string; version: string; platform: string }): void {
  const match = userAgentPattern.exec(ctx.get('User-Agent'));
  if (!match || !inventory) return;
  if (ctx.status !== 304 && !(ctx.status === 200 && ctx.get('Range') === '' && ctx.method === 'GET')) return;
  inventory.record({ endpoint: freshclamIdentity(ctx, match), source: 'freshclam', product: artifact.productId, version: artifact.version, platform: artifact.platform });
}
