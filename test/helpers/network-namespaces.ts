import { execFile } from 'node:child_process';
import { randomBytes } from 'node:crypto';
import { promisify } from 'node:util';

const run = promisify(execFile);
// Absolute paths: under npm, node_modules/.bin comes first in PATH, and it has an unrelated "nft".
const ipCommand = '/usr/sbin/ip';
const nftCommand = '/usr/sbin/nft';

export interface NamespacePair {
  sender: string;
  receiver: string;
  senderAddress: string;
  receiverAddress: string;
  /** Runs a command inside one of the namespaces. */
  exec(namespace: string, command: string, args: string[]): Promise<{ stdout: string; stderr: string }>;
  /** Drops this share (0–100 %) of UDP datagrams arriving at the receiver, at random (nftables numgen). */
  setLoss(percent: number): Promise<void>;
  /** Drops every datagram while set: a link outage. */
  setOutage(on: boolean): Promise<void>;
  /** Datagrams the loss rules dropped since they were set. */
  dropped(): Promise<number>;
  remove(): Promise<void>;
}

/**
 * Two test hosts of our own: network namespaces joined by a veth pair, with nftables in the
 * receiver's namespace to lose datagrams on purpose (this kernel has no netem). Traffic
 * never leaves the two namespaces. Needs root, as CI has.
 */
export async function createNamespacePair(): Promise<NamespacePair> {
  const tag = randomBytes(3).toString('hex');
  const sender = `lgwm-tx-${tag}`;
  const receiver = `lgwm-rx-${tag}`;
  const subnet = 100 + (randomBytes(1)[0]! % 100);
  const senderAddress = `10.${subnet}.77.1`;
  const receiverAddress = `10.${subnet}.77.2`;
  const ip = (...args: string[]) => run(ipCommand, args);
  await ip('netns', 'add', sender);
  await ip('netns', 'add', receiver);
  await ip('link', 'add', `tx-${tag}`, 'type', 'veth', 'peer', 'name', `rx-${tag}`);
  await ip('link', 'set', `tx-${tag}`, 'netns', sender);
  await ip('link', 'set', `rx-${tag}`, 'netns', receiver);
  const exec = (namespace: string, command: string, args: string[]) => run(ipCommand, ['netns', 'exec', namespace, command === 'nft' ? nftCommand : command, ...args]);
  for (const [namespace, device, address] of [
    [sender, `tx-${tag}`, senderAddress],
    [receiver, `rx-${tag}`, receiverAddress],
  ] as const) {
    await exec(namespace, 'ip', ['addr', 'add', `${address}/24`, 'dev', device]);
    await exec(namespace, 'ip', ['link', 'set', device, 'mtu', '9000', 'up']);
    await exec(namespace, 'ip', ['link', 'set', 'lo', 'up']);
  }
  await exec(receiver, 'nft', ['add', 'table', 'inet', 'diode']);
  await exec(receiver, 'nft', ['add chain inet diode input { type filter hook input priority 0 ; policy accept ; }']);
  const flush = () => exec(receiver, 'nft', ['flush', 'chain', 'inet', 'diode', 'input']);
  return {
    sender,
    receiver,
    senderAddress,
    receiverAddress,
    exec,
    async setLoss(percent) {
      await flush();
      if (percent > 0) await exec(receiver, 'nft', [`add rule inet diode input udp dport 1-65535 numgen random mod 100 < ${percent} counter drop`]);
    },
    async setOutage(on) {
      await flush();
      if (on) await exec(receiver, 'nft', ['add rule inet diode input udp dport 1-65535 counter drop']);
    },
    async dropped() {
      const { stdout } = await exec(receiver, 'nft', ['list', 'chain', 'inet', 'diode', 'input']);
      return [...stdout.matchAll(/counter packets (\d+)/gu)].reduce((sum, match) => sum + Number(match[1]), 0);
    },
    async remove() {
      await ip('netns', 'del', sender).catch(() => undefined);
      await ip('netns', 'del', receiver).catch(() => undefined);
    },
  };
}
