import { open } from 'node:fs/promises';

/*
 * A transfer appliance that writes straight under the final name shows the importer a bundle
 * that is still growing. Issue 13: such a bundle was refused 8 times while it grew. Before a
 * bundle is read, its tar structure is walked header by header (512-byte headers, no payload
 * read): a file that ends before tar's end-of-archive block is incomplete, not hostile.
 */

const block = 512;
/** The name field (100 bytes) of a bundle's first tar header. */
const firstName = Buffer.concat([Buffer.from('manifest.json'), Buffer.alloc(100 - 'manifest.json'.length)]);

export type TarCompleteness = 'complete' | 'incomplete' | 'not-tar';

function isZero(buffer: Buffer): boolean {
  for (const byte of buffer) if (byte !== 0) return false;
  return true;
}

/** The entry size field: octal ASCII, or GNU base-256 when the high bit is set. */
function entrySize(header: Buffer): number | undefined {
  const field = header.subarray(124, 136);
  if ((field[0]! & 0x80) !== 0) {
    let size = 0;
    for (let index = 1; index < field.length; index += 1) size = size * 256 + field[index]!;
    return Number.isSafeInteger(size) ? size : undefined;
  }
  const text = field.toString('latin1').replace(/[\0 ]+$/u, '').trim();
  return /^[0-7]{1,12}$/u.test(text) ? Number.parseInt(text, 8) : undefined;
}

function checksumMatches(header: Buffer): boolean {
  const stored = header.subarray(148, 156).toString('latin1').replace(/[\0 ]+$/u, '').trim();
  if (!/^[0-7]{1,8}$/u.test(stored)) return false;
  let sum = 0;
  for (let index = 0; index < block; index += 1) sum += index >= 148 && index < 156 ? 0x20 : header[index]!;
  return sum === Number.parseInt(stored, 8);
}

/** Walks the headers of `file` up to its size; reads at most `maxHeaders` of them. */
export async function tarCompleteness(file: string, maxHeaders = 1_000_000): Promise<TarCompleteness> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    // A bundle's first entry is manifest.json: a short file that does not start like one is
    // junk, not a bundle still arriving.
    const start = Buffer.alloc(Math.min(size, firstName.length));
    await handle.read(start, 0, start.length, 0);
    if (!start.equals(firstName.subarray(0, start.length))) return 'not-tar';
    const header = Buffer.alloc(block);
    let offset = 0;
    for (let count = 0; count < maxHeaders; count += 1) {
      if (offset + block > size) return 'incomplete';
      const { bytesRead } = await handle.read(header, 0, block, offset);
      if (bytesRead < block) return 'incomplete';
      if (isZero(header)) return 'complete';
      if (!checksumMatches(header)) return 'not-tar';
      const entry = entrySize(header);
      if (entry === undefined) return 'not-tar';
      offset += block + Math.ceil(entry / block) * block;
    }
    return 'not-tar';
  } finally {
    await handle.close();
  }
}
