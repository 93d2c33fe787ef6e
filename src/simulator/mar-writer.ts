import { execFileSync } from 'node:child_process';

/**
 * Writes a MAR as Mozilla's tools lay it out (modules/libmar, tools/update-packaging;
 * test/fixtures/SOURCES.md): "MAR1", the offset to the index, the file size, no signatures
 * (the simulator has no Mozilla MAR key), one product-information block, the entries, then
 * the index. Entries named in `compress` are compressed as make_full_update.sh does
 * (xz --x86 --lzma2 --check=crc64, through Debian's xz-utils); others are stored as given.
 */
export function writeMar(entries: { name: string; bytes: Buffer; compress?: boolean }[], productInfo: { channel: string; version: string }): Buffer {
  const contents = entries.map((entry) => ({
    name: entry.name,
    bytes: entry.compress ? execFileSync('xz', ['--compress', '--x86', '--lzma2', '--format=xz', '--check=crc64', '--stdout'], { input: entry.bytes }) : entry.bytes,
  }));
  const info = Buffer.concat([Buffer.from(`${productInfo.channel}\0${productInfo.version}\0`, 'utf8')]);
  const block = Buffer.alloc(8);
  block.writeUInt32BE(8 + info.length, 0);
  block.writeUInt32BE(1, 4); // PRODUCT_INFO_BLOCK_ID
  const signatures = Buffer.alloc(4); // no signatures
  const additional = Buffer.alloc(4);
  additional.writeUInt32BE(1, 0);
  const headerLength = 8 + 8 + signatures.length + additional.length + block.length + info.length;
  let offset = headerLength;
  const indexEntries: Buffer[] = [];
  for (const content of contents) {
    const entry = Buffer.alloc(12);
    entry.writeUInt32BE(offset, 0);
    entry.writeUInt32BE(content.bytes.length, 4);
    entry.writeUInt32BE(0o644, 8);
    indexEntries.push(entry, Buffer.from(`${content.name}\0`, 'utf8'));
    offset += content.bytes.length;
  }
  const index = Buffer.concat(indexEntries);
  const indexHeader = Buffer.alloc(4);
  indexHeader.writeUInt32BE(index.length, 0);
  const total = offset + 4 + index.length;
  const header = Buffer.alloc(16);
  header.write('MAR1', 0, 'latin1');
  header.writeUInt32BE(offset, 4);
  header.writeBigUInt64BE(BigInt(total), 8);
  return Buffer.concat([header, signatures, additional, block, info, ...contents.map((content) => content.bytes), indexHeader, index]);
}
