import path from 'node:path';
import { isIP } from 'node:net';
import { proxyList } from '../core/address-list.ts';

/** The request header the shipped nginx front sets on blob routes (deploy/nginx/lgwan-mirror-front.conf). */
export const frontHeader = 'x-lgwan-mirror-front';
export const frontHeaderValue = 'sendfile';

/**
 * Behind an nginx on the same host the repository need not send a file's bytes itself: it
 * answers with `X-Accel-Redirect` to an internal location of that nginx, which sends the file
 * with sendfile (issue 18). Only a request that came through that front may get such an
 * answer: its peer is one of `trustedProxies` and it carries the header the front sets (nginx
 * replaces a client's own value of it). A client reaching the repository directly gets the
 * bytes as always, never an internal path; the repository reads no X-Accel header from requests.
 */
export function accelRedirects(options: { prefix?: string; trustedProxies: readonly string[]; blobRoot: string }): (frontHeaderValue: string | undefined, peerAddress: string | undefined, file: string) => string | undefined {
  const { prefix } = options;
  if (!prefix) return () => undefined;
  const trusted = proxyList(options.trustedProxies);
  return (sent, peerAddress, file) => {
    if (sent !== frontHeaderValue) return undefined;
    const peer = (peerAddress ?? '').replace(/^::ffff:(?=\d+\.\d+\.\d+\.\d+$)/iu, '');
    const family = isIP(peer);
    if (family === 0 || !trusted.check(peer, family === 6 ? 'ipv6' : 'ipv4')) return undefined;
    const relative = path.relative(options.blobRoot, file);
    // Blob paths are sha256/<2 hex>/<64 hex>: nothing to encode, nothing that climbs out.
    if (!/^sha256\/[0-9a-f]{2}\/[0-9a-f]{64}$/u.test(relative.split(path.sep).join('/'))) return undefined;
    return `${prefix}${relative.split(path.sep).join('/')}`;
  };
}
