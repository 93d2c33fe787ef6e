import { isIP, type BlockList } from 'node:net';
import { proxyList } from '../core/address-list.ts';
import type { Middleware } from 'koa';

/*
 * Endpoints are counted by client address where the protocol carries no id (Firefox, apt,
 * winget). Behind the operator's edge cache the address is in X-Forwarded-For, but only the
 * cache may say so: issue 13 found that with trustProxy on, a client reaching the repository
 * directly set its own address with that header. Forwarding headers are honoured only from a
 * configured proxy address, and the client is the rightmost address no trusted proxy added.
 */

/** IPv4-mapped IPv6 (`::ffff:10.0.0.1`, as Node reports IPv4 peers on a dual-stack socket) as plain IPv4. */
function plainAddress(address: string): string {
  const mapped = /^::ffff:(\d{1,3}(?:\.\d{1,3}){3})$/iu.exec(address);
  return mapped ? mapped[1]! : address;
}

function isTrusted(list: BlockList, address: string): boolean {
  const family = isIP(address);
  return family !== 0 && list.check(address, family === 6 ? 'ipv6' : 'ipv4');
}

const forwardingHeaders = ['x-forwarded-for', 'x-forwarded-host', 'x-forwarded-proto', 'forwarded'];

/** Who sent a request: the client's address, and whether its peer is a proxy whose forwarding headers count. */
export interface ClientOrigin {
  ip: string;
  /** True when X-Forwarded-Host/Proto may be read (the peer is a trusted proxy and trustProxy is on). */
  forwardingTrusted: boolean;
}

/** The one rule for a client's address, used by the Koa middleware and by the hot path alike. */
export function clientAddressResolver(options: { trustProxy: boolean; trustedProxies: readonly string[] }): (peerAddress: string | undefined, forwardedFor: string | undefined) => ClientOrigin {
  const list = proxyList(options.trustedProxies);
  // The proxy list is fixed while the process runs; each request asks about one or two addresses.
  const verdicts = new Map<string, boolean>();
  const trusted = {
    check(address: string): boolean {
      let verdict = verdicts.get(address);
      if (verdict === undefined) {
        verdict = isTrusted(list, address);
        if (verdicts.size >= 65_536) verdicts.clear();
        verdicts.set(address, verdict);
      }
      return verdict;
    },
  };
  return (peerAddress, forwardedFor) => {
    const peer = plainAddress(peerAddress ?? '');
    if (!options.trustProxy || !trusted.check(peer)) return { ip: peer, forwardingTrusted: false };
    const chain = (forwardedFor || '')
      .split(',')
      .map((entry) => plainAddress(entry.trim()))
      .filter((entry) => isIP(entry) !== 0);
    let client = peer;
    // From the right: each trusted proxy vouches for the address it received the request from.
    for (let index = chain.length - 1; index >= 0 && trusted.check(client); index -= 1) client = chain[index]!;
    return { ip: client, forwardingTrusted: true };
  };
}

/**
 * Sets `ctx.request.ip` for every request. Koa itself runs with `proxy` on when trustProxy is
 * set, so X-Forwarded-Host/Proto count too: they are removed from requests of untrusted peers.
 */
export function clientAddress(options: { trustProxy: boolean; trustedProxies: readonly string[] }): Middleware {
  const resolve = clientAddressResolver(options);
  return async (ctx, next) => {
    const origin = resolve(ctx.req.socket.remoteAddress, ctx.get('x-forwarded-for'));
    if (!origin.forwardingTrusted) for (const header of forwardingHeaders) delete ctx.req.headers[header];
    ctx.request.ip = origin.ip;
    return next();
  };
}
