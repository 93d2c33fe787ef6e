export * from './model.ts';
export { parseMozillaAdvisory, mozillaFix } from './mozilla-advisories.ts';
export { parseKev, type KevCatalog } from './cisa-kev.ts';
export { parseDebianTracker } from './debian-tracker.ts';
export { parseCsafDocument } from './csaf.ts';
export { parseJvnDetail, parseJvnOverview } from './jvn.ts';
export { advisoryDataOf, blobFileReader, type AdvisoryBlobs, type PublishedAdvisoryState } from './published-advisories.ts';
