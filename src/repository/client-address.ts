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

/**
 * Sets `ctx.request.ip` for every request. Koa itself runs with `proxy` on when trustProxy is
 * set, so X-Forwarded-Host/Proto count too: they are removed from requests of untrusted peers.
 */
export function clientAddress(options: { trustProxy: boolean; trustedProxies: readonly string[] }): Middleware {
  const trusted = proxyList(options.trustedProxies);
  return async (ctx, next) => {
    const peer = plainAddress(ctx.req.socket.remoteAddress ?? '');
    if (!options.trustProxy || !isTrusted(trusted, peer)) {
      for (const header of forwardingHeaders) delete ctx.req.headers[header];
      ctx.request.ip = peer;
      return next();
    }
    const chain = (ctx.get('x-forwarded-for') || '')
      .split(',')
      .map((entry) => plainAddress(entry.trim()))
      .filter((entry) => isIP(entry) !== 0);
    let client = peer;
    // From the right: each trusted proxy vouches for the address it received the request from.
    for (let index = chain.length - 1; index >= 0 && isTrusted(trusted, client); index -= 1) client = chain[index]!;
    ctx.request.ip = client;
    return next();
  };
}
