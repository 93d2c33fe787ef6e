export * from './schema.ts';
export { loadCatalog, readCatalogDirectory, type LoadedCatalogEntry, type CatalogLoadResult } from './load-catalog.ts';
