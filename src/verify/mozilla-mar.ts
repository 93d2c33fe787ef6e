import { spawn } from 'node:child_process';
import { open } from 'node:fs/promises';
import { IntegrityError } from '../core/errors.ts';

/**
 * Reading Mozilla's MAR container (modules/libmar: mar.h, mar_read.c; test/fixtures/SOURCES.md):
 * big-endian; "MAR1", a uint32 offset to the index, then (signed MARs) a uint64 file size,
 * the signatures and additional sections; the index is a uint32 byte count followed by
 * entries of uint32 offset, uint32 length, uint32 flags and a NUL-terminated name. Only the
 * index and the entries asked for are read, so a 100 MB MAR costs a few small reads.
 */

/** Random access to a MAR's bytes: a local file, or ranged requests for the live check. */
export interface ByteSource {
  size: number;
  read(offset: number, length: number): Promise<Buffer>;
}

export interface MarEntry {
  name: string;
  offset: number;
  length: number;
  flags: number;
}

const headerLength = 8;
/** libmar refuses MARs over 500 MiB; a complete Firefox MAR is about 60–130 MB. */
const maxIndexLength = 4 * 1024 * 1024;

export async function readMarIndex(source: ByteSource, what: string): Promise<MarEntry[]> {
  if (source.size < headerLength + 4) throw new IntegrityError(`${what}: ${source.size} bytes, too short for a MAR`, { what });
  const header = await source.read(0, headerLength);
  if (header.toString('latin1', 0, 4) !== 'MAR1') throw new IntegrityError(`${what}: not a MAR (no "MAR1" at offset 0)`, { what });
  const indexOffset = header.readUInt32BE(4);
  if (indexOffset < headerLength || indexOffset + 4 > source.size) throw new IntegrityError(`${what}: offset to index ${indexOffset} lies outside the file (${source.size} bytes)`, { what });
  const indexLength = (await source.read(indexOffset, 4)).readUInt32BE(0);
  if (indexLength > maxIndexLength || indexOffset + 4 + indexLength > source.size) {
    throw new IntegrityError(`${what}: index of ${indexLength} bytes at ${indexOffset} does not fit the file (${source.size} bytes)`, { what });
  }
  const index = await source.read(indexOffset + 4, indexLength);
  const entries: MarEntry[] = [];
  let position = 0;
  while (position < index.length) {
    if (position + 13 > index.length) throw new IntegrityError(`${what}: index entry ${entries.length + 1} is cut short`, { what });
    const offset = index.readUInt32BE(position);
    const length = index.readUInt32BE(position + 4);
    const flags = index.readUInt32BE(position + 8);
    const end = index.indexOf(0, position + 12);
    if (end < 0) throw new IntegrityError(`${what}: index entry ${entries.length + 1} has no NUL-terminated name`, { what });
    const name = index.toString('utf8', position + 12, end);
    // As libmar checks: content lies between the header and the index, never over it.
    if (offset < headerLength || offset + length > indexOffset) {
      throw new IntegrityError(`${what}: entry "${name}" (${length} bytes at ${offset}) lies outside the content area (${headerLength}–${indexOffset})`, { what, entry: name });
    }
    entries.push({ name, offset, length, flags });
    position = end + 1;
  }
  return entries;
}

const xzMagic = Buffer.from([0xfd, 0x37, 0x7a, 0x58, 0x5a, 0x00]);
const maxIniLength = 64 * 1024;

/** An entry's bytes as the updater would write them: MAR entries are xz-compressed since Firefox 57 (bzip2 before). */
async function entryText(source: ByteSource, entry: MarEntry, what: string): Promise<string> {
  if (entry.length > maxIniLength) throw new IntegrityError(`${what}: entry "${entry.name}" is ${entry.length} bytes, more than an ini file can be`, { what, entry: entry.name });
  const bytes = await source.read(entry.offset, entry.length);
  if (bytes.subarray(0, 3).toString('latin1') === 'BZh') {
    throw new IntegrityError(`${what}: entry "${entry.name}" is bzip2-compressed (MARs older than Firefox 57); this version reads xz entries only`, { what, entry: entry.name });
  }
  if (!bytes.subarray(0, xzMagic.length).equals(xzMagic)) throw new IntegrityError(`${what}: entry "${entry.name}" is not xz-compressed`, { what, entry: entry.name });
  return (await decompressXz(bytes, `${what}: entry "${entry.name}"`)).toString('utf8');
}

/**
 * xz through Debian's xz-utils: Mozilla compresses MAR entries with the x86 BCJ filter
 * before LZMA2 (tools/update-packaging/make_full_update.sh: xz --x86 --lzma2), which
 * @napi-rs/lzma cannot decode ("Unknown filter id 4"). The output is held to an ini's size.
 */
function decompressXz(bytes: Buffer, what: string): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const child = spawn('xz', ['--decompress', '--stdout', '--format=xz', '--memlimit=64MiB'], { stdio: ['pipe', 'pipe', 'pipe'] });
    const chunks: Buffer[] = [];
    let length = 0;
    let stderr = '';
    let settled = false;
    const fail = (message: string) => {
      if (settled) return;
      settled = true;
      child.kill();
      reject(new IntegrityError(`${what}: ${message}`, { what }));
    };
    child.stdout.on('data', (chunk: Buffer) => {
      length += chunk.length;
      if (length > maxIniLength) fail(`decompresses to more than ${maxIniLength} bytes`);
      else chunks.push(chunk);
    });
    child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString('utf8')));
    child.on('error', (error: NodeJS.ErrnoException) => fail(error.code === 'ENOENT' ? 'cannot be decompressed: the xz program (Debian package xz-utils) is not installed' : `cannot be decompressed (${error.message})`));
    child.on('close', (code) => {
      if (settled) return;
      if (code !== 0) return fail(`cannot be decompressed (xz: ${stderr.trim() || `exit ${code}`})`);
      settled = true;
      resolve(Buffer.concat(chunks));
    });
    child.stdin.on('error', () => undefined);
    child.stdin.end(bytes);
  });
}

/** The value of `key` in `[section]` of an ini text (Mozilla's application.ini / platform.ini). */
function iniValue(text: string, section: string, key: string): string | undefined {
  let current = '';
  for (const raw of text.split(/\r?\n/u)) {
    const line = raw.trim();
    const header = /^\[([^\]]+)\]$/u.exec(line);
    if (header) current = header[1]!;
    else if (current === section && line.startsWith(`${key}=`)) return line.slice(key.length + 1);
  }
  return undefined;
}

/**
 * Where a complete MAR carries the build ID: application.ini ([App] BuildID) in the install
 * folder, Contents/Resources/ on macOS; platform.ini ([Build] BuildID) beside it. Paths are
 * relative to the install folder (tools/update-packaging: list_files strips "./").
 */
const buildIdFiles: { name: string; section: string }[] = [
  { name: 'application.ini', section: 'App' },
  { name: 'Contents/Resources/application.ini', section: 'App' },
  { name: 'platform.ini', section: 'Build' },
  { name: 'Contents/Resources/platform.ini', section: 'Build' },
];

/**
 * The build ID Mozilla wrote into the MAR (14 digits, YYYYMMDDhhmmss). Callers read it only
 * from a MAR whose SHA-512 the signed SHA512SUMS vouches for; a MAR without one is refused,
 * never given a made-up ID.
 */
export async function marBuildId(source: ByteSource, what: string): Promise<{ buildId: string; from: string; version?: string }> {
  const entries = await readMarIndex(source, what);
  for (const candidate of buildIdFiles) {
    const entry = entries.find((found) => found.name === candidate.name);
    if (!entry) continue;
    const text = await entryText(source, entry, what);
    const value = iniValue(text, candidate.section, 'BuildID');
    if (value === undefined) continue;
    if (!/^\d{14}$/u.test(value)) throw new IntegrityError(`${what}: ${entry.name} says BuildID=${value}, not 14 digits`, { what, entry: entry.name });
    // application.ini's [App] Version is the application's version (gecko's version.txt: no "esr").
    const version = candidate.section === 'App' ? iniValue(text, 'App', 'Version') : undefined;
    return { buildId: value, from: entry.name, ...(version === undefined ? {} : { version }) };
  }
  throw new IntegrityError(`${what}: no application.ini or platform.ini with a BuildID among its ${entries.length} entries; the build ID cannot be established, so update.xml cannot offer it`, { what });
}

/**
 * Whether application.ini's Version names the recorded version. An ESR's "esr" and a beta's
 * "bN" are display suffixes (gecko's version_display.txt) that version.txt, and so
 * application.ini, leaves out; both sides are compared without them.
 */
export function marVersionMatches(inside: string, recorded: string): boolean {
  const bare = (version: string) => version.replace(/esr$/u, '').replace(/b\d+$/u, '');
  return bare(inside) === bare(recorded);
}

/** A local file as a ByteSource. */
export async function withFileSource<T>(file: string, work: (source: ByteSource) => Promise<T>): Promise<T> {
  const handle = await open(file, 'r');
  try {
    const { size } = await handle.stat();
    return await work({
      size,
      async read(offset, length) {
        const buffer = Buffer.alloc(length);
        const { bytesRead } = await handle.read(buffer, 0, length, offset);
        if (bytesRead !== length) throw new IntegrityError(`${file}: read ${bytesRead} of ${length} bytes at ${offset}`, { file });
        return buffer;
      },
    });
  } finally {
    await handle.close();
  }
}
