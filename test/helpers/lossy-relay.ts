import { createSocket } from 'node:dgram';

export interface RelayFaults {
  /** Share of datagrams dropped at random. */
  loss: number;
  /** Share of datagrams sent twice. */
  duplicate: number;
  /** Share of datagrams held back and sent after the next few. */
  reorder: number;
  /** Datagram numbers (1-based, inclusive) dropped as one burst: a link outage. */
  outage?: { from: number; to: number };
}

/**
 * A userspace relay standing in for a bad one-way link: it forwards datagrams from the
 * sender to the receiver, dropping, duplicating and reordering them on request. It only
 * ever sends forward, like the diode it models.
 */
export async function startLossyRelay(target: { host: string; port: number } | { host: string; port: number }[], faults: RelayFaults) {
  // Several targets model a broadcast: a one-way link feeding more than one receiver.
  const targets = Array.isArray(target) ? target : [target];
  const socket = createSocket({ type: 'udp4', recvBufferSize: 32 * 1024 * 1024, sendBufferSize: 32 * 1024 * 1024 });
  const stats = { received: 0, forwarded: 0, dropped: 0, duplicated: 0, reordered: 0 };
  const held: Buffer[] = [];
  const forward = (datagram: Buffer) => {
    for (const { host, port } of targets) socket.send(datagram, port, host);
    stats.forwarded += 1;
  };
  socket.on('message', (datagram) => {
    stats.received += 1;
    const inOutage = faults.outage && stats.received >= faults.outage.from && stats.received <= faults.outage.to;
    if (inOutage || Math.random() < faults.loss) {
      stats.dropped += 1;
      return;
    }
    if (Math.random() < faults.reorder) {
      held.push(datagram);
      stats.reordered += 1;
      return;
    }
    forward(datagram);
    if (Math.random() < faults.duplicate) {
      forward(datagram);
      stats.duplicated += 1;
    }
    if (held.length > 0 && Math.random() < 0.3) forward(held.shift()!);
  });
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', resolve));
  return {
    port: socket.address().port,
    stats,
    /** Sends what is still held back (the end of a reordered stream). */
    flush: () => {
      while (held.length > 0) forward(held.shift()!);
    },
    close: () => new Promise<void>((resolve) => socket.close(() => resolve())),
  };
}
