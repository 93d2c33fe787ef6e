import { LgwanMirrorError } from './errors.ts';

/* Names that arrive from a vendor or across the boundary become path segments; they are
   checked before any filesystem call (ONEWAY.md, design rule 4). */
const forbidden = /[\u0000-\u001f\u007f/\\]/u;

export function assertSafeSegment(segment: string, what: string): string {
  if (
    segment.length === 0 ||
    segment.length > 255 ||
    segment === '.' ||
    segment === '..' ||
    forbidden.test(segment) ||
    /^[A-Za-z]:/u.test(segment)
  ) {
    throw new LgwanMirrorError('E_UNSAFE_NAME', `${what}: ${JSON.stringify(segment)} is not a safe file name (no '/', '\\', '..', drive letters or control characters)`, {
      details: { what, segment },
    });
  }
  return segment;
}

/** A relative path of safe segments separated by '/', as used inside vendor trees (e.g. `main/binary-amd64/Packages`). */
export function assertSafeRelativePath(relativePath: string, what: string): string {
  if (relativePath.startsWith('/') || relativePath.length > 1024) {
    throw new LgwanMirrorError('E_UNSAFE_NAME', `${what}: ${JSON.stringify(relativePath)} must be a relative path`, { details: { what, relativePath } });
  }
  for (const segment of relativePath.split('/')) assertSafeSegment(segment, what);
  return relativePath;
}

export function isSha256Hex(value: string): boolean {
  return /^[0-9a-f]{64}$/u.test(value);
}
