import type { Manifest } from '../bundle/manifest.ts';
import { BundleRefusedError } from '../core/errors.ts';
import { compareVersions, InvalidVersionError } from '../versions/index.ts';

/*
 * What the schema alone cannot say about a signed manifest, checked before a single blob is
 * read: every version parses under its product's scheme, and every artifact belongs to a
 * product the manifest describes. Issue 13: a published version that did not parse made the
 * status page, the catalog, the JSON API and /metrics answer 500 until the next bundle.
 */
export function checkManifestConsistency(manifest: Manifest, bundleName: string): void {
  const schemes = new Map<string, Manifest['products'][number]['scheme']>();
  const parses = (field: string, scheme: Manifest['products'][number]['scheme'], version: string) => {
    try {
      compareVersions(scheme, version, version);
    } catch (error) {
      if (!(error instanceof InvalidVersionError)) throw error;
      throw new BundleRefusedError('E_VERSION_INVALID', `${bundleName}: ${field}: ${error.message}`, { details: { field, version, scheme } });
    }
  };
  manifest.products.forEach((product, index) => {
    if (schemes.has(product.id)) throw new BundleRefusedError('E_BUNDLE_INVALID', `${bundleName}: products[${index}].id: "${product.id}" is described twice`, { details: { field: `products[${index}].id` } });
    schemes.set(product.id, product.scheme);
    if (product.latestSeen) parses(`products[${index}].latestSeen.version`, product.scheme, product.latestSeen.version);
    product.releases?.forEach((release, releaseIndex) => parses(`products[${index}].releases[${releaseIndex}].version`, product.scheme, release.version));
  });
  manifest.artifacts.forEach((artifact, index) => {
    const scheme = schemes.get(artifact.productId);
    if (scheme === undefined) {
      throw new BundleRefusedError('E_BUNDLE_INVALID', `${bundleName}: artifacts[${index}].productId: "${artifact.productId}" is not a product of this manifest`, { details: { field: `artifacts[${index}].productId` } });
    }
    parses(`artifacts[${index}].version`, scheme, artifact.version);
  });
}
