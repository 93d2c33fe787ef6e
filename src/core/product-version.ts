import { readFileSync } from 'node:fs';

/**
 * This program's own version, from the package.json beside src/ or dist/ (a checkout and
 * an installed package alike). Read once: it names who wrote a data root (storage-format.ts).
 */
export const productVersion: string = (JSON.parse(readFileSync(new URL('../../package.json', import.meta.url), 'utf8')) as { version: string }).version;
