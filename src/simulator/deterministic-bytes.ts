import { createCipheriv, createHash } from 'node:crypto';

/**
 * Reproducible stand-in content for a vendor file: AES-128-CTR keystream keyed by the seed
 * (fast enough for hundreds of MiB, and the same bytes for the same seed on every run).
 */
export function deterministicBytes(seed: string, size: number): Buffer {
  const key = createHash('sha256').update(seed).digest().subarray(0, 16);
  const cipher = createCipheriv('aes-128-ctr', key, Buffer.alloc(16));
  return Buffer.concat([cipher.update(Buffer.alloc(size)), cipher.final()]);
}
