import type { ProductCoverage } from '../../coverage/compute-coverage.ts';
import { dictionaries, trustLabels, type Language } from '../i18n.ts';
import { latencyTimeline, versionHistogram } from './charts.ts';
import { escapeHtml, hours, href, layout, percent, time } from './layout.ts';

const behindShown = 200;

/** `/products/<id>`: versions in use, coverage per platform/channel, latency per release, and who is behind. */
/** `exposure`: the product's vulnerability section (pages/exposure-page.ts), rendered by the caller. */
export function renderProductPage(product: ProductCoverage | undefined, productId: string, language: Language, exposure = ''): string {
  const t = dictionaries[language];
  const path = `/products/${encodeURIComponent(productId)}`;
  if (!product) return layout({ title: productId, language, path, body: `<h2>${escapeHtml(productId)}</h2><p>${escapeHtml(t.unknownProduct)}</p>` });
  const segments = product.segments
    .map((segment) => `<tr><td>${escapeHtml(segment.platform ?? '—')}</td><td>${escapeHtml(segment.channel ?? '—')}</td><td class="number">${segment.endpoints}</td><td>${percent(segment.share)} <small>(${segment.current})</small></td></tr>`)
    .join('');
  const latencyRows = product.latency
    .map(
      (release) =>
        `<tr><td>${escapeHtml(release.version)}</td><td>${time(release.firstSeenAt, language)}</td><td>${time(release.fetchedAt, language)}</td><td>${time(release.bundledAt, language)}</td><td>${time(release.publishedAt, language)} <small>${hours(release.hours.toPublish, language)}</small></td><td>${time(release.firstEndpointAt, language)}</td><td>${time(release.p50At, language)} <small>${hours(release.hours.toP50, language)}</small></td><td>${time(release.p90At, language)} <small>${hours(release.hours.toP90, language)}</small></td></tr>`,
    )
    .join('');
  const behind = product.behind
    .slice(0, behindShown)
    .map(
      (entry) =>
        `<tr><td><a href="${href(`/endpoints/${encodeURIComponent(entry.endpoint)}`, language)}"><code>${escapeHtml(entry.endpoint)}</code></a></td><td>${escapeHtml(entry.version)}</td><td>${escapeHtml(entry.platform ?? '—')}</td><td class="number">${entry.versionsBehind ?? '?'}</td><td class="number">${entry.daysBehind}</td><td>${time(entry.lastSeen, language)}</td></tr>`,
    )
    .join('');
  const body = `<h2>${escapeHtml(product.name)} <small>${escapeHtml(product.vendor)} · <code>${escapeHtml(product.productId)}</code> · ${escapeHtml(trustLabels[language][product.trust])}</small></h2>
<dl>
<dt>${escapeHtml(t.vendorLatest)}</dt><dd>${escapeHtml(product.newestVendor ?? '—')}</dd>
<dt>${escapeHtml(t.newestPublished)}</dt><dd>${escapeHtml(product.newestPublished ?? t.none)} (${time(product.publishedSince, language)})</dd>
<dt>${escapeHtml(t.endpoints)}</dt><dd data-field="endpoints">${product.endpoints} <small>(${escapeHtml(t.stale)} ${product.staleEndpoints})</small></dd>
<dt>${escapeHtml(t.currentShare)}</dt><dd data-field="share">${percent(product.share)} (${product.current})</dd>
</dl>
<section><h3>${escapeHtml(t.versions)}</h3>${versionHistogram(product.histogram, product.newestPublished, t.versions) || `<p>${escapeHtml(t.none)}</p>`}</section>
<section><h3>${escapeHtml(t.segments)}</h3><table><thead><tr><th>${escapeHtml(t.platform)}</th><th>${escapeHtml(t.channel)}</th><th>${escapeHtml(t.endpoints)}</th><th>${escapeHtml(t.currentShare)}</th></tr></thead><tbody>${segments}</tbody></table></section>
<section><h3>${escapeHtml(t.latency)}</h3>
${latencyTimeline(product.latency, { publish: `${t.firstSeen} → ${t.published}`, p50: `→ ${t.p50}`, p90: `→ ${t.p90}` }, t.latency)}
<table><thead><tr><th>${escapeHtml(t.version)}</th><th>${escapeHtml(t.firstSeen)}</th><th>${escapeHtml(t.fetched)}</th><th>${escapeHtml(t.bundled)}</th><th>${escapeHtml(t.published)}</th><th>${escapeHtml(t.firstEndpoint)}</th><th>${escapeHtml(t.p50)}</th><th>${escapeHtml(t.p90)}</th></tr></thead><tbody>${latencyRows}</tbody></table></section>
<section><h3>${escapeHtml(t.endpointsBehind)} (${product.behindCount}${product.behindCount > behindShown ? ` ${escapeHtml(t.moreBehind)}` : ''})</h3>
<table><thead><tr><th>${escapeHtml(t.endpoint)}</th><th>${escapeHtml(t.version)}</th><th>${escapeHtml(t.platform)}</th><th>${escapeHtml(t.versionsBehind)}</th><th>${escapeHtml(t.daysBehind)}</th><th>${escapeHtml(t.lastSeen)}</th></tr></thead><tbody>${behind}</tbody></table></section>${exposure}`;
  return layout({ title: product.name, language, path, body });
}
