import { dictionaries, trustLabels, type Language } from '../i18n.ts';
import type { RepositoryStatus } from '../status-model.ts';
import { escapeHtml, layout, time } from './layout.ts';

/** `/catalog`: the admin's read-only view of what the internet side carries and how its sources are doing. */
export function renderCatalogPage(status: RepositoryStatus, language: Language): string {
  const t = dictionaries[language];
  const rows = status.products
    .map(
      (product) => `<tr data-product="${escapeHtml(product.id)}"><td><strong>${escapeHtml(product.name)}</strong><br><small>${escapeHtml(product.vendor)} · <code>${escapeHtml(product.id)}</code></small></td>
<td><span class="trust trust-${escapeHtml(product.trust)}">${escapeHtml(trustLabels[language][product.trust])}</span></td>
<td class="number">${product.retention}</td><td>${escapeHtml(product.publishedVersions.join(', '))}</td>
<td>${time(product.sourceHealth.lastSuccessAt, language)}</td>
<td>${product.sourceHealth.consecutiveFailures === 0 ? '✓' : `<span class="badge warn">${product.sourceHealth.consecutiveFailures} ${escapeHtml(t.failures)}</span><br><small>${time(product.sourceHealth.lastErrorAt, language)} ${escapeHtml(product.sourceHealth.lastError ?? '')}</small>`}</td></tr>`,
    )
    .join('');
  const body = `<h2>${escapeHtml(t.catalogPage)}</h2><p>${escapeHtml(t.catalogNote)}</p>
<table><thead><tr><th>${escapeHtml(t.product)}</th><th>${escapeHtml(t.trust)}</th><th>${escapeHtml(t.retention)}</th><th>${escapeHtml(t.published)}</th><th>${escapeHtml(t.lastSuccess)}</th><th>${escapeHtml(t.sourceHealth)}</th></tr></thead><tbody>${rows}</tbody></table>`;
  return layout({ title: t.catalogPage, language, path: '/catalog', body });
}
