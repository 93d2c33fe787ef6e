import { open } from 'node:fs/promises';
import { gunzipSync } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import tar from 'tar-stream';
import { IntegrityError } from '../core/errors.ts';

/*
 * The control fields of a binary Debian package, read without dpkg (the internet side may be
 * a tarball installation on a host without it). The format is Debian's deb(5): an ar archive
 * ("!<arch>\n", then 60-byte member headers, each member padded to an even length) whose
 * members are, in this order, `debian-binary` ("2.0\n"; a newer minor number is read the
 * same), `control.tar[.gz|.xz|.zst]` and `data.tar[…]`, with members named `_…` allowed (and
 * ignored) between the first and the second. The control tar holds `./control`, fields as in deb-control(5).
 * test/fixtures/SOURCES.md cites the pages.
 */

const arMagic = '!<arch>\n';
const headerBytes = 60;
/** A control member is a few KiB; anything much larger is not one. */
const maxControlMemberBytes = 16 * 1024 * 1024;

export interface DebControl {
  package: string;
  version: string;
  architecture: string;
  /** Every field of the control file, by name as written. */
  fields: Map<string, string>;
}

interface ArMember {
  name: string;
  offset: number;
  size: number;
}

async function readExactly(handle: Awaited<ReturnType<typeof open>>, position: number, length: number, what: string, field: string): Promise<Buffer> {
  const buffer = Buffer.alloc(length);
  const { bytesRead } = await handle.read(buffer, 0, length, position);
  if (bytesRead !== length) throw new IntegrityError(`${what}: ends inside ${field} (deb(5) ar archive cut short)`, { what, field });
  return buffer;
}

async function readMemberHeader(handle: Awaited<ReturnType<typeof open>>, position: number, what: string): Promise<ArMember> {
  const header = (await readExactly(handle, position, headerBytes, what, `the ar member header at byte ${position}`)).toString('latin1');
  if (header.slice(58, 60) !== '`\n') throw new IntegrityError(`${what}: the ar member header at byte ${position} does not end with "\`\\n" (not a deb(5) archive)`, { what, field: 'ar header' });
  const sizeText = header.slice(48, 58).trim();
  if (!/^\d{1,10}$/u.test(sizeText)) throw new IntegrityError(`${what}: the ar member header at byte ${position} has size "${sizeText}"`, { what, field: 'ar header size' });
  // GNU ar ends names with "/"; dpkg-deb writes them without. Either way the name is the first field.
  return { name: header.slice(0, 16).trim().replace(/\/$/u, ''), offset: position + headerBytes, size: Number(sizeText) };
}

function decompressControl(name: string, bytes: Buffer, what: string): Buffer {
  try {
    if (name === 'control.tar') return bytes;
    if (name === 'control.tar.gz') return gunzipSync(bytes, { maxOutputLength: maxControlMemberBytes * 4 });
    if (name === 'control.tar.xz') {
      const plain = xz.decompressSync(bytes);
      if (plain.length > maxControlMemberBytes * 4) throw new Error(`more than ${maxControlMemberBytes * 4} bytes`);
      return plain;
    }
  } catch (cause) {
    throw new IntegrityError(`${what}: member ${name} cannot be decompressed (${String(cause)})`, { what, field: name });
  }
  throw new IntegrityError(`${what}: member "${name}" is not control.tar, control.tar.gz or control.tar.xz (zstd and others are not read here)`, { what, field: name });
}

async function controlFileOf(tarBytes: Buffer, what: string): Promise<string> {
  const extract = tar.extract();
  let control: string | undefined;
  const done = new Promise<void>((resolve, reject) => {
    extract.on('entry', (header, stream, next) => {
      const chunks: Buffer[] = [];
      stream.on('data', (chunk: unknown) => {
        chunks.push(chunk as Buffer);
      });
      stream.on('end', () => {
        if (header.type === 'file' && (header.name === './control' || header.name === 'control')) control = Buffer.concat(chunks).toString('utf8');
        next();
      });
      stream.on('error', reject);
    });
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(tarBytes);
  await done.catch((cause: unknown) => {
    throw new IntegrityError(`${what}: its control tar does not read (${String(cause)})`, { what, field: 'control.tar' });
  });
  if (control === undefined) throw new IntegrityError(`${what}: its control tar has no ./control file`, { what, field: 'control' });
  return control;
}

/** deb-control(5): `Field: value` lines, continuation lines start with a space or tab. */
export function parseControlFields(text: string, what: string): Map<string, string> {
  const fields = new Map<string, string>();
  let last: string | undefined;
  text.split('\n').forEach((line, index) => {
    if (line === '') return;
    if (/^[ \t]/u.test(line)) {
      if (last === undefined) throw new IntegrityError(`${what}: control line ${index + 1} continues no field`, { what, field: 'control' });
      fields.set(last, `${fields.get(last)}\n${line.trim()}`);
      return;
    }
    const match = /^([!-9;-~][!-9;-~]*):[ \t]*(.*)$/u.exec(line);
    if (!match) throw new IntegrityError(`${what}: control line ${index + 1} is not "Field: value"`, { what, field: 'control' });
    last = match[1]!;
    fields.set(last, match[2]!.trim());
  });
  return fields;
}

/**
 * The Package, Version and Architecture a .deb states in its own control file. Reads only
 * the archive's first two members (the control part, a few KiB), never the data.
 */
export async function readDebControl(file: string, what: string): Promise<DebControl> {
  const handle = await open(file, 'r');
  try {
    const magic = (await readExactly(handle, 0, arMagic.length, what, 'the ar magic')).toString('latin1');
    if (magic !== arMagic) throw new IntegrityError(`${what}: does not start with "!<arch>" (not a deb(5) archive)`, { what, field: 'ar magic' });
    const first = await readMemberHeader(handle, arMagic.length, what);
    if (first.name !== 'debian-binary') throw new IntegrityError(`${what}: the first ar member is "${first.name}", deb(5) requires debian-binary`, { what, field: 'debian-binary' });
    const formatVersion = (await readExactly(handle, first.offset, Math.min(first.size, 16), what, 'debian-binary')).toString('latin1');
    if (!/^2\.\d+\n/u.test(formatVersion)) throw new IntegrityError(`${what}: debian-binary says ${JSON.stringify(formatVersion)}, not format 2.x`, { what, field: 'debian-binary' });
    // Members named "_…" between debian-binary and control.tar are to be ignored (deb(5)).
    let second = await readMemberHeader(handle, first.offset + first.size + (first.size % 2), what);
    for (let skipped = 0; second.name.startsWith('_') && skipped < 16; skipped++) second = await readMemberHeader(handle, second.offset + second.size + (second.size % 2), what);
    if (!second.name.startsWith('control.tar')) throw new IntegrityError(`${what}: the second ar member is "${second.name}", deb(5) requires control.tar[.gz|.xz]`, { what, field: 'control.tar' });
    if (second.size > maxControlMemberBytes) throw new IntegrityError(`${what}: member ${second.name} has ${second.size} bytes, more than a control part holds`, { what, field: second.name });
    const member = await readExactly(handle, second.offset, second.size, what, second.name);
    const fields = parseControlFields(await controlFileOf(decompressControl(second.name, member, what), what), what);
    const required = (name: string): string => {
      const value = fields.get(name);
      if (value === undefined || value === '') throw new IntegrityError(`${what}: its control file has no "${name}" field`, { what, field: name });
      return value;
    };
    return { package: required('Package'), version: required('Version'), architecture: required('Architecture'), fields };
  } finally {
    await handle.close();
  }
}
