import { createHash } from 'node:crypto';

/** Reproducible stand-in content for a vendor file: sha256 in counter mode over a seed. */
export function deterministicBytes(seed: string, size: number): Buffer {
  const output = Buffer.allocUnsafe(size);
  let offset = 0;
  for (let counter = 0; offset < size; counter += 1) {
    const block = createHash('sha256').update(`${seed}\u0000${counter}`).digest();
    offset += block.copy(output, offset, 0, Math.min(block.length, size - offset));
  }
  return output;
}
