export { BlobStore, HashingFileSink, type BlobDigests } from './blob-store.ts';
export { openJsonState } from './json-state.ts';
