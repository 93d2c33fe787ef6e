import { createRequire } from 'node:module';

/*
 * Reed–Solomon erasure coding through @ronomon/reed-solomon (a native addon working in
 * libuv's thread pool, GB/s): any k of the k + m shards of a block rebuild it.
 */
interface ReedSolomon {
  MAX_K: number;
  MAX_M: number;
  create(k: number, m: number): unknown;
  encode(
    context: unknown, sources: number, targets: number,
    buffer: Buffer, bufferOffset: number, bufferSize: number,
    parity: Buffer, parityOffset: number, paritySize: number,
    callback: (error?: Error) => void,
  ): void;
}

const reedSolomon = createRequire(import.meta.url)('@ronomon/reed-solomon') as ReedSolomon;
export const maxDataShards = reedSolomon.MAX_K;
export const maxParityShards = reedSolomon.MAX_M;

const contexts = new Map<string, unknown>();
function contextFor(k: number, m: number): unknown {
  let context = contexts.get(`${k}/${m}`);
  if (!context) contexts.set(`${k}/${m}`, (context = reedSolomon.create(k, m)));
  return context;
}

function run(k: number, m: number, sources: number, targets: number, data: Buffer, parity: Buffer): Promise<void> {
  return new Promise((resolve, reject) => {
    reedSolomon.encode(contextFor(k, m), sources, targets, data, 0, data.length, parity, 0, parity.length, (error) => (error ? reject(error) : resolve()));
  });
}

/** Fills `parity` (m shards) from `data` (k shards). */
export function encodeParity(k: number, m: number, data: Buffer, parity: Buffer): Promise<void> {
  let sources = 0;
  for (let index = 0; index < k; index += 1) sources |= 1 << index;
  let targets = 0;
  for (let index = k; index < k + m; index += 1) targets |= 1 << index;
  return run(k, m, sources, targets, data, parity);
}

/** Rebuilds the missing shards of a block in place; `present` has a bit per shard received. */
export function rebuildShards(k: number, m: number, present: number, data: Buffer, parity: Buffer): Promise<void> {
  let targets = 0;
  for (let index = 0; index < k + m; index += 1) if (!(present & (1 << index))) targets |= 1 << index;
  return run(k, m, present, targets, data, parity);
}
