import path from 'node:path';
import { readInternetState } from '../fetcher/internet-state.ts';
import { readLgwanState } from '../importer/lgwan-state.ts';
import { BlobStore } from '../store/blob-store.ts';
import { checkStore, type NamedBlob, type StoreCheckReport } from '../store/check-store.ts';

/**
 * The files a side's state names, checked against its store: on the LGWAN side what is
 * published, on the internet side every kept release (what the next bundles carry).
 */
export async function checkSideStore(side: 'internet' | 'lgwan', storage: string): Promise<StoreCheckReport> {
  const store = new BlobStore(path.join(storage, 'blobs'));
  const stateFile = path.join(storage, 'state.json');
  if (side === 'lgwan') {
    const state = await readLgwanState(stateFile);
    return checkStore(store, state.published?.artifacts ?? [], state.digests);
  }
  const state = await readInternetState(stateFile);
  const named: NamedBlob[] = Object.values(state.products).flatMap((product) => product.releases.flatMap((release) => release.artifacts));
  return checkStore(store, named, state.digests);
}
