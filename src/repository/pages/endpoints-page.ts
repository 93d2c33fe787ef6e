import type { CoverageReport } from '../../coverage/compute-coverage.ts';
import { endpointKey } from '../../coverage/coverage-source.ts';
import type { EndpointRecord } from '../../coverage/inventory.ts';
import { dictionaries, type Language } from '../i18n.ts';
import { escapeHtml, href, layout, time } from './layout.ts';

export const endpointsPerPage = 100;

function isStale(endpoint: EndpointRecord, now: Date, staleDays: number): boolean {
  return now.getTime() - Date.parse(endpoint.lastSeen) > staleDays * 86_400_000;
}

/** `/endpoints`: every endpoint, most recently seen first, a page at a time (the store reads one page). */
export function renderEndpointsPage(listing: { endpoints: readonly EndpointRecord[]; total: number; page: number; pages: number }, now: Date, staleDays: number, language: Language, names: ReadonlyMap<string, string> = new Map()): string {
  const t = dictionaries[language];
  const { pages, page: current } = listing;
  const rows = listing.endpoints
    .map((endpoint) => {
      // The key of the record (with @tenant outside the implicit tenant), as the store files it.
      const key = endpointKey(endpoint);
      const products = Object.values(endpoint.products)
        .map((record) => `${escapeHtml(names.get(record.product) ?? record.product)} ${escapeHtml(record.version)}`)
        .join(', ');
      // The host name an agent reports first; the identity (agent id, UUID or address) below it.
      const label = endpoint.hostname === undefined ? `<code>${escapeHtml(key)}</code>` : `<strong>${escapeHtml(endpoint.hostname)}</strong><br><small><code>${escapeHtml(key)}</code></small>`;
      // Native updaters cannot sign in: what they report is said to be unauthenticated.
      const trust = endpoint.kind === 'agent' ? '' : ` <span class="badge" title="${escapeHtml(t.nativeObservation)}">${escapeHtml(t.nativeObservation)}</span>`;
      return `<tr><td><a href="${href(`/endpoints/${encodeURIComponent(key)}`, language)}">${label}</a>${trust}</td><td>${products}</td><td>${time(endpoint.lastSeen, language)}</td><td>${isStale(endpoint, now, staleDays) ? `<span class="badge warn">${escapeHtml(t.stale)}</span>` : escapeHtml(t.active)}</td></tr>`;
    })
    .join('');
  const pager = `<p>${current > 1 ? `<a href="${href('/endpoints', language, { page: current - 1 })}">${escapeHtml(t.previous)}</a>` : ''} ${current} / ${pages} ${current < pages ? `<a href="${href('/endpoints', language, { page: current + 1 })}">${escapeHtml(t.next)}</a>` : ''}</p>`;
  const body = `<h2>${escapeHtml(t.endpointsPage)} (${listing.total})</h2>
<table><thead><tr><th>${escapeHtml(t.endpoint)}</th><th>${escapeHtml(t.product)}</th><th>${escapeHtml(t.lastSeen)}</th><th>${escapeHtml(t.state)}</th></tr></thead><tbody>${rows}</tbody></table>${pager}`;
  return layout({ title: t.endpointsPage, language, path: '/endpoints', query: { page: current }, body });
}

/** `/endpoints/<kind:id>`: what one endpoint runs against what is published. */
/** `exposure`: the endpoint's vulnerability section (pages/exposure-page.ts), rendered by the caller. */
export function renderEndpointPage(endpoint: EndpointRecord | undefined, key: string, coverage: CoverageReport, now: Date, staleDays: number, language: Language, exposure = ''): string {
  const t = dictionaries[language];
  const path = `/endpoints/${encodeURIComponent(key)}`;
  // Not even the asked key is repeated: another tenant's key is simply not found.
  if (!endpoint) return layout({ title: t.unknownEndpoint, language, path: '/endpoints', body: `<p>${escapeHtml(t.unknownEndpoint)}</p>` });
  const newest = new Map(coverage.products.map((product) => [product.productId, product.newestPublished]));
  const names = new Map(coverage.products.map((product) => [product.productId, product.name]));
  const rows = Object.values(endpoint.products)
    .map((record) => {
      const target = newest.get(record.product);
      const state = target === undefined ? '' : target === record.version ? `<span class="badge ok">${escapeHtml(t.upToDate)}</span>` : `<span class="badge warn">${escapeHtml(t.behind)}</span>`;
      // The product's name, linked to its page; the id only where the catalog does not name it.
      const name = names.get(record.product);
      const product = name === undefined ? `<code>${escapeHtml(record.product)}</code>` : `<a href="${href(`/products/${encodeURIComponent(record.product)}`, language)}">${escapeHtml(name)}</a>`;
      return `<tr><td>${product}</td><td>${escapeHtml(record.version)}</td><td>${escapeHtml(target ?? '—')}</td><td>${escapeHtml(record.platform ?? '—')}</td><td>${escapeHtml(record.channel ?? '—')}</td><td>${escapeHtml(record.source)}</td><td>${time(record.seenAt, language)}</td><td>${state}</td></tr>`;
    })
    .join('');
  const body = `<h2>${endpoint.hostname === undefined ? '' : `${escapeHtml(endpoint.hostname)} `}<code>${escapeHtml(key)}</code> ${isStale(endpoint, now, staleDays) ? `<span class="badge warn">${escapeHtml(t.stale)}</span>` : ''}</h2>
<dl><dt>${escapeHtml(t.kind)}</dt><dd>${escapeHtml(endpoint.kind)} (${escapeHtml(endpoint.kind === 'agent' ? t.enrolledAgent : t.nativeObservation)})</dd><dt>${escapeHtml(t.firstSeenEndpoint)}</dt><dd>${time(endpoint.firstSeen, language)}</dd><dt>${escapeHtml(t.lastSeen)}</dt><dd>${time(endpoint.lastSeen, language)}</dd></dl>
<table><thead><tr><th>${escapeHtml(t.product)}</th><th>${escapeHtml(t.version)}</th><th>${escapeHtml(t.newestPublished)}</th><th>${escapeHtml(t.platform)}</th><th>${escapeHtml(t.channel)}</th><th>${escapeHtml(t.source)}</th><th>${escapeHtml(t.lastSeen)}</th><th>${escapeHtml(t.state)}</th></tr></thead><tbody>${rows}</tbody></table>${exposure}`;
  return layout({ title: endpoint.hostname ?? key, language, path, body });
}
