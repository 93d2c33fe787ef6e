/** Zero-padded so that a plain directory listing sorts bundles by sequence. */
export function bundleFileName(sequence: number): string {
  return `bundle-${String(sequence).padStart(10, '0')}.tar`;
}

export const bundleFilePattern = /^bundle-(\d{10})\.tar$/u;

/** A bundle too large for the appliance travels as parts plus a signed table of contents. */
export function partFileName(sequence: number, index: number): string {
  return `bundle-${String(sequence).padStart(10, '0')}.part-${String(index).padStart(4, '0')}`;
}

export function tocFileName(sequence: number): string {
  return `bundle-${String(sequence).padStart(10, '0')}.toc`;
}

export const tocFilePattern = /^bundle-(\d{10})\.toc$/u;
export const partFilePattern = /^bundle-(\d{10})\.part-(\d{4})$/u;
