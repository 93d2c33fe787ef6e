import type { Context } from 'koa';
import type { InventoryStore } from '../../coverage/inventory.ts';

/* apt's User-Agent: "Debian APT-HTTP/1.3 (2.6.1)"; the version in brackets is apt's own. */
const userAgentPattern = /^Debian APT-HTTP\/[\d.]+ \(([0-9][0-9A-Za-z.+~:-]*)/u;

/** An apt request carries no endpoint id: the client address is the documented fallback. */
export function recordApt(ctx: Context, inventory: InventoryStore | undefined): void {
  const match = userAgentPattern.exec(ctx.get('User-Agent'));
  if (!match || !inventory) return;
  inventory.record({ endpoint: { kind: 'address', id: ctx.ip }, source: 'apt', product: 'apt', version: match[1]! });
}
