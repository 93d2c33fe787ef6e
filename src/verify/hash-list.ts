import { IntegrityError } from '../core/errors.ts';

/**
 * Parses a `SHA512SUMS`/`SHA256SUMS` list (`<hex>  <path>` or `<hex> *<path>`).
 * Returns path → lower-case hex. A malformed line is an error, never skipped: a hash list
 * that cannot be read completely cannot vouch for anything.
 */
export function parseHashList(text: string, what: string, hexLength = 128): Map<string, string> {
  const entries = new Map<string, string>();
  const linePattern = new RegExp(`^([0-9a-fA-F]{${hexLength}}) [ *](.+)$`, 'u');
  text.split('\n').forEach((line, index) => {
    if (line.trim() === '') return;
    const match = linePattern.exec(line);
    if (!match) throw new IntegrityError(`${what}:${index + 1}: not a "<${hexLength}-hex-digit hash>  <path>" line`, { what, line: index + 1 });
    const [, digest, entryPath] = match;
    const existing = entries.get(entryPath!);
    if (existing !== undefined && existing !== digest!.toLowerCase()) {
      throw new IntegrityError(`${what}:${index + 1}: "${entryPath}" is listed twice with different hashes`, { what, line: index + 1 });
    }
    entries.set(entryPath!, digest!.toLowerCase());
  });
  return entries;
}
