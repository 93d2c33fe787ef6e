export { importBundle, importFromSpool, type ImportOutcome, type ImporterOptions } from './import-bundle.ts';
export { openLgwanState, emptyLgwanState, type LgwanState, type LgwanDatabase, type PublishedState, type Refusal } from './lgwan-state.ts';
