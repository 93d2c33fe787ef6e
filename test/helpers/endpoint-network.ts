import type { ExecutionContext } from 'ava';
import { shell } from './root-shell.ts';

/*
 * Clients that cannot say who they are (apt-get, freshclam) are placed in a ring by their
 * address. To run the real clients from two addresses on one machine, each runs in a network
 * namespace of its own, joined to this host by a veth pair: the repository sees the client's
 * own address, as it would see a PC on a municipal LAN. Needs root (CAP_NET_ADMIN), as the
 * test machine and CI have.
 */

export interface EndpointNetwork {
  /** This host's end of the pair: where the client reaches the repository. */
  hostAddress: string;
  /** The client's address, as the repository sees it. */
  clientAddress: string;
  /** The /30 of the pair, for a ring's `networks`. */
  cidr: string;
  /** The namespace's name, for `ip netns exec`. */
  namespace: string;
}

let created = 0;

/**
 * A namespace with one address, removed when the test ends. Addresses come from 10.0.0.0/8 by
 * process id, so that AVA's worker processes never share a pair.
 */
export async function endpointNetwork(t: ExecutionContext): Promise<EndpointNetwork> {
  const slot = ((process.pid % 0x10000) << 4) | (created++ % 16);
  const base = 0x0a000000 + slot * 4;
  const address = (offset: number) => [24, 16, 8, 0].map((shift) => ((base + offset) >>> shift) & 0xff).join('.');
  const name = `lgw${process.pid}x${created}`;
  const hostSide = `lgh${process.pid}x${created}`.slice(0, 15);
  const clientSide = `lgc${process.pid}x${created}`.slice(0, 15);
  const network: EndpointNetwork = { hostAddress: address(1), clientAddress: address(2), cidr: `${address(0)}/30`, namespace: name };
  const steps: string[][] = [
    ['netns', 'add', name],
    ['link', 'add', hostSide, 'type', 'veth', 'peer', 'name', clientSide],
    ['link', 'set', clientSide, 'netns', name],
    ['addr', 'add', `${network.hostAddress}/30`, 'dev', hostSide],
    ['link', 'set', hostSide, 'up'],
    ['netns', 'exec', name, 'ip', 'addr', 'add', `${network.clientAddress}/30`, 'dev', clientSide],
    ['netns', 'exec', name, 'ip', 'link', 'set', clientSide, 'up'],
    ['netns', 'exec', name, 'ip', 'link', 'set', 'lo', 'up'],
  ];
  t.teardown(async () => {
    // Removing the namespace removes its end of the pair, and with it the pair.
    await shell('ip', ['netns', 'del', name]);
    await shell('ip', ['link', 'del', hostSide]);
  });
  for (const step of steps) {
    const result = await shell('ip', step);
    if (result.code !== 0) throw new Error(`ip ${step.join(' ')}: ${result.output}`);
  }
  return network;
}

/** `command args…` run inside the namespace (environment and working folder as given). */
export function inNetwork(network: EndpointNetwork, command: string, args: string[]): [string, string[]] {
  return ['ip', ['netns', 'exec', network.namespace, command, ...args]];
}
