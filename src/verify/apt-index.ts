import { gunzipSync } from 'node:zlib';
import { xz } from '@napi-rs/lzma';
import { IntegrityError } from '../core/errors.ts';

export interface ReleaseFile {
  fields: Map<string, string>;
  /** path relative to dists/<suite>/ → SHA-256 and size, from the `SHA256:` section. */
  sha256: Map<string, { sha256: string; size: number }>;
  date?: Date;
  validUntil?: Date;
}

/** Parses deb822 stanzas; continuation lines (starting with a space) belong to the previous field. */
function parseStanzas(text: string): Map<string, string>[] {
  const stanzas: Map<string, string>[] = [];
  let current = new Map<string, string>();
  let lastField: string | undefined;
  for (const line of text.split('\n')) {
    if (line.trim() === '') {
      if (current.size > 0) stanzas.push(current);
      current = new Map();
      lastField = undefined;
    } else if (line.startsWith(' ') || line.startsWith('\t')) {
      if (lastField !== undefined) current.set(lastField, `${current.get(lastField)}\n${line.slice(1)}`);
    } else {
      const colon = line.indexOf(':');
      if (colon <= 0) continue;
      lastField = line.slice(0, colon);
      current.set(lastField, line.slice(colon + 1).trim());
    }
  }
  if (current.size > 0) stanzas.push(current);
  return stanzas;
}

export function parseRelease(text: string, what: string): ReleaseFile {
  const [fields] = parseStanzas(text);
  if (!fields) throw new IntegrityError(`${what}: empty Release file`, { what });
  const sha256 = new Map<string, { sha256: string; size: number }>();
  for (const line of (fields.get('SHA256') ?? '').split('\n')) {
    const match = /^([0-9a-f]{64})\s+(\d+)\s+(\S+)$/u.exec(line.trim());
    if (match) sha256.set(match[3]!, { sha256: match[1]!, size: Number(match[2]) });
  }
  if (sha256.size === 0) throw new IntegrityError(`${what}: no SHA256 section`, { what });
  const dateOf = (field: string): Date | undefined => {
    const value = fields.get(field);
    if (value === undefined) return undefined;
    const date = new Date(value);
    if (Number.isNaN(date.getTime())) throw new IntegrityError(`${what}: field ${field} is not a date: ${value}`, { what, field });
    return date;
  };
  return { fields, sha256, date: dateOf('Date'), validUntil: dateOf('Valid-Until') };
}

export interface PackageEntry {
  package: string;
  version: string;
  architecture: string;
  filename: string;
  size: number;
  sha256: string;
}

/**
 * Index names the mirror can select packages from. Debian's archives serve Packages only
 * compressed: the main archive as .gz and .xz, the security archive as .xz alone.
 */
export function isPackagesIndex(fileName: string): boolean {
  return fileName === 'Packages' || fileName === 'Packages.gz' || fileName === 'Packages.xz';
}

const maxPackagesText = 1024 * 1024 * 1024;

/**
 * The text of a Packages index whose bytes were already checked against InRelease (so only
 * an index the archive signed is ever decompressed). gzip is inflated with a ceiling; xz
 * (liblzma through @napi-rs/lzma) is decompressed whole and then held to the same ceiling.
 */
export function packagesIndexText(bytes: Buffer, what: string): string {
  let text: Buffer;
  try {
    if (what.endsWith('.gz')) text = gunzipSync(bytes, { maxOutputLength: maxPackagesText });
    else if (what.endsWith('.xz')) text = xz.decompressSync(bytes);
    else return bytes.toString('utf8');
  } catch (cause) {
    throw new IntegrityError(`${what}: cannot be decompressed (${String(cause)})`, { what });
  }
  if (text.length > maxPackagesText) throw new IntegrityError(`${what}: decompresses to more than ${maxPackagesText} bytes`, { what });
  return text.toString('utf8');
}

export function parsePackages(text: string, what: string): PackageEntry[] {
  return parseStanzas(text).map((stanza, index) => {
    const entry = {
      package: stanza.get('Package'),
      version: stanza.get('Version'),
      architecture: stanza.get('Architecture'),
      filename: stanza.get('Filename'),
      size: Number(stanza.get('Size')),
      sha256: stanza.get('SHA256'),
    };
    if (!entry.package || !entry.version || !entry.filename || !entry.sha256 || !/^[0-9a-f]{64}$/u.test(entry.sha256) || !Number.isSafeInteger(entry.size)) {
      throw new IntegrityError(`${what}: stanza ${index + 1} lacks Package, Version, Filename, Size or SHA256`, { what, stanza: index + 1 });
    }
    return entry as PackageEntry;
  });
}

/** A suite snapshot is named by its InRelease `Date`, as a dotted version: 20261120.021110. */
export function snapshotVersion(release: ReleaseFile, what: string): string {
  if (!release.date) throw new IntegrityError(`${what}: no Date field`, { what });
  const iso = release.date.toISOString();
  return `${iso.slice(0, 10).replaceAll('-', '')}.${iso.slice(11, 19).replaceAll(':', '')}`;
}
