import { createPrivateKey } from 'node:crypto';
import { readFile } from 'node:fs/promises';
import type { Config } from '../config/config.ts';
import { UserFacingError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { UdpSender } from '../transfer/udp/udp-sender.ts';

/** `send --udp`: carries the internet side's spool over a one-way UDP link, without end. */
export async function startUdpSender(config: Config['internet'], logger: Logger): Promise<UdpSender> {
  if (!config.udp) throw new UserFacingError('E_CONFIG_INVALID', 'internet.udp (host, port, rateMbps, …) is not configured');
  const privateKey = createPrivateKey(await readFile(config.transferKey));
  const sender = new UdpSender({
    outbox: config.spool,
    host: config.udp.host,
    port: config.udp.port,
    rateBitsPerSecond: config.udp.rateMbps * 1e6,
    shardSize: config.udp.shardSize,
    dataShards: config.udp.dataShards,
    repairRatio: config.udp.repairRatio,
    interleave: config.udp.interleave,
    heartbeatSeconds: config.udp.heartbeatSeconds,
    privateKey,
    logger,
  });
  void sender.run();
  return sender;
}
