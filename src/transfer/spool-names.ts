/** Zero-padded so that a plain directory listing sorts bundles by sequence. */
export function bundleFileName(sequence: number): string {
  return `bundle-${String(sequence).padStart(10, '0')}.tar`;
}

export const bundleFilePattern = /^bundle-(\d{10})\.tar$/u;
