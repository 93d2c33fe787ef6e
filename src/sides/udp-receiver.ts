import { readFile } from 'node:fs/promises';
import path from 'node:path';
import type { Config } from '../config/config.ts';
import { UserFacingError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { loadTransferPublicKey, publicKeyFromSpki, type TrustedTransferKey } from '../bundle/transfer-key.ts';
import { UdpReceiver } from '../transfer/udp/udp-receiver.ts';

/**
 * `receive --udp`: writes files arriving over the diode into the LGWAN side's spool. It
 * reads the trusted transfer keys (for heartbeats) from the LGWAN state, written by the
 * importer; it never writes that state.
 */
export async function startUdpReceiver(config: Config['lgwan'], logger: Logger): Promise<{ receiver: UdpReceiver; port: number }> {
  if (!config.udp) throw new UserFacingError('E_CONFIG_INVALID', 'lgwan.udp (host, port, …) is not configured');
  const pinned = await loadTransferPublicKey(config.transferPublicKey);
  let keys: TrustedTransferKey[] = [pinned];
  const refreshKeys = async () => {
    const state = await readFile(path.join(config.storage, 'state.json'), 'utf8').then((text) => JSON.parse(text) as { transferKeys?: { current?: { keyId: string; spki: string } | null; next?: { keyId: string; spki: string } | null } }, () => undefined);
    const current = state?.transferKeys?.current;
    const next = state?.transferKeys?.next;
    keys = [current ? { keyId: current.keyId, publicKey: publicKeyFromSpki(current.spki) } : pinned, ...(next ? [{ keyId: next.keyId, publicKey: publicKeyFromSpki(next.spki) }] : [])];
  };
  await refreshKeys();
  setInterval(() => void refreshKeys(), 60_000).unref();
  const receiver = new UdpReceiver({
    host: config.udp.host,
    port: config.udp.port,
    senders: config.udp.senders,
    inbox: config.spool,
    staging: path.join(config.storage, 'udp-staging'),
    keys: () => keys,
    heartbeatFile: path.join(config.storage, 'udp-heartbeat.json'),
    maxFileBytes: config.udp.maxFileBytes,
    reassemblySeconds: config.udp.reassemblySeconds,
    logger,
  });
  const { port } = await receiver.start();
  return { receiver, port };
}
