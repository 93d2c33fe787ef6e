import { open } from 'node:fs/promises';
import type { Context } from 'koa';
import type { Inventory } from '../../coverage/inventory.ts';
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

export function recordFreshclam(ctx: Context, inventory: Inventory | undefined): void {
  const match = userAgentPattern.exec(ctx.get('User-Agent'));
  if (!match || !inventory) return;
  inventory.record({
    endpoint: match[2] ? { kind: 'freshclam-uuid', id: match[2].toLowerCase() } : { kind: 'address', id: ctx.ip },
    source: 'freshclam',
    product: 'clamav',
    version: match[1]!,
  });
}
