import { fileURLToPath } from 'node:url';

/** The installed project's root (where catalogs/ and test/fixtures/ live), wherever the command runs from. */
export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const binPath = fileURLToPath(new URL('../../bin/lgwan-mirror.js', import.meta.url));
