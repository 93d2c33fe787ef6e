import type { Artifact } from '../bundle/manifest.ts';
import type { LgwanState, PublishedState } from '../importer/lgwan-state.ts';
import { compareVersions } from '../versions/index.ts';

/*
 * The JSON listings endpoints and agents read (/api/v1/latest, /api/v1/products/:id/releases):
 * functions of a published state alone, so they are made once per state (JsonAnswers) and
 * answered from memory, by Koa or by the hot path, with the same key for the same question.
 */

function describeArtifact(artifact: Artifact) {
  return {
    productId: artifact.productId,
    version: artifact.version,
    platform: artifact.platform,
    locale: artifact.locale,
    fileName: artifact.fileName,
    role: artifact.role,
    size: artifact.size,
    sha256: artifact.sha256,
    url: `/${artifact.path.split('/').map(encodeURIComponent).join('/')}`,
    blobUrl: `/blobs/sha256/${artifact.sha256}`,
  };
}

/** A query parameter as Koa reads it: absent, one value (a string), or several (not a string). */
export type QueryValue = string | readonly string[] | undefined;

export interface LatestFilter {
  product: QueryValue;
  platform: QueryValue;
  locale: QueryValue;
}

/** Only a single value filters; absent or repeated parameters do not (as before: Koa gives an array). */
export const latestKey = (filter: LatestFilter) => ['latest', filter.product, filter.platform, filter.locale].map((value) => (typeof value === 'string' ? value : '\u0001')).join('\u0000');

export const releasesKey = (productId: string) => `releases\u0000${productId}`;

export function latestOf(published: PublishedState | null, filter: LatestFilter) {
  const latest = new Map<string, { productId: string; platform: string; locale: string; version: string; artifacts: Artifact[] }>();
  for (const product of published?.products ?? []) {
    if (typeof filter.product === 'string' && filter.product !== product.id) continue;
    for (const artifact of published!.artifacts) {
      if (artifact.productId !== product.id || artifact.role !== 'payload') continue;
      if (typeof filter.platform === 'string' && filter.platform !== artifact.platform) continue;
      if (typeof filter.locale === 'string' && filter.locale !== artifact.locale) continue;
      const key = `${product.id}\u0000${artifact.platform}\u0000${artifact.locale}`;
      const current = latest.get(key);
      const order = current ? compareVersions(product.scheme, artifact.version, current.version) : 1;
      if (order > 0) latest.set(key, { productId: product.id, platform: artifact.platform, locale: artifact.locale, version: artifact.version, artifacts: [artifact] });
      else if (order === 0) current!.artifacts.push(artifact);
    }
  }
  return { latest: [...latest.values()].map((entry) => ({ ...entry, artifacts: entry.artifacts.map(describeArtifact) })) };
}

/** Every published release of one product, newest first, with when it was first published here. */
export function releasesOf(state: Pick<LgwanState, 'firstPublished'>, published: PublishedState, product: PublishedState['products'][number]) {
  const versions = new Map<string, Artifact[]>();
  for (const artifact of published.artifacts) if (artifact.productId === product.id) versions.set(artifact.version, [...(versions.get(artifact.version) ?? []), artifact]);
  return {
    product: product.id,
    releases: [...versions]
      .sort(([a], [b]) => compareVersions(product.scheme, b, a))
      .map(([version, artifacts]) => ({ version, publishedAt: state.firstPublished[product.id]?.[version] ?? null, artifacts: artifacts.map(describeArtifact) })),
  };
}
