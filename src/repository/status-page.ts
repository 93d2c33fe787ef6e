import { alarmTexts, dictionaries, trustLabels, type Language } from './i18n.ts';
import type { RepositoryStatus } from './status-model.ts';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/gu, (character) => escapes[character]!);
}

function time(value: string | null | undefined, language: Language): string {
  if (!value) return '—';
  const date = new Date(value);
  const text = date.toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' });
  return `<time datetime="${escapeHtml(value)}">${escapeHtml(text)}</time>`;
}

/** Server-rendered, no script, every asset local: the LGWAN side has no internet. */
export function renderStatusPage(status: RepositoryStatus, language: Language): string {
  const t = dictionaries[language];
  const other: Language = language === 'ja' ? 'en' : 'ja';
  const productRows = status.products
    .map((product) => {
      const state = product.latestSeen === null ? t.notSeen : product.upToDate ? t.upToDate : t.behind;
      const stateClass = product.upToDate ? 'ok' : 'warn';
      return `<tr>
  <td><strong>${escapeHtml(product.name)}</strong><br><small>${escapeHtml(product.vendor)} · <code>${escapeHtml(product.id)}</code></small></td>
  <td>${escapeHtml(product.latestSeen?.version ?? '—')}<br><small>${time(product.latestSeen?.firstSeenAt, language)}</small></td>
  <td>${escapeHtml(product.latestPublished?.version ?? t.none)}</td>
  <td>${time(product.latestPublished?.since, language)}</td>
  <td><span class="trust trust-${escapeHtml(product.trust)}">${escapeHtml(trustLabels[language][product.trust])}</span></td>
  <td><span class="badge ${stateClass}">${escapeHtml(state)}</span></td>
  <td>${product.sourceHealth.consecutiveFailures === 0 ? '✓' : `${product.sourceHealth.consecutiveFailures} ${escapeHtml(t.failures)}`}</td>
</tr>`;
    })
    .join('\n');
  const alarms =
    status.alarms.length === 0
      ? `<p class="ok">${escapeHtml(t.noAlarms)}</p>`
      : `<ul class="alarms">${status.alarms
          .map((alarm) => {
            const text = alarmTexts[language][alarm.kind];
            return `<li class="${alarm.severity}"><strong>${escapeHtml(text.title)}</strong> — <code>${escapeHtml(alarm.subject)}</code> ${time(alarm.at, language)}<br>${escapeHtml(t.reason)}: ${escapeHtml(alarm.detail)}<br>${escapeHtml(t.action)}: ${escapeHtml(text.action)}</li>`;
          })
          .join('\n')}</ul>`;
  const transfer = status.transfer;
  return `<!doctype html>
<html lang="${language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta http-equiv="refresh" content="60">
<title>${escapeHtml(t.title)}</title>
<link rel="stylesheet" href="/assets/status.css">
</head>
<body>
<header><h1>${escapeHtml(t.title)}</h1><nav><a href="/?lang=${other}" hreflang="${other}">${escapeHtml(t.switchLanguage)}</a> · <a href="/api/v1/status">${escapeHtml(t.api)}</a></nav></header>
<main>
<section aria-labelledby="alarms"><h2 id="alarms">${escapeHtml(t.alarms)}</h2>${alarms}</section>
<section aria-labelledby="products"><h2 id="products">${escapeHtml(t.products)}</h2>
<table>
<thead><tr><th>${escapeHtml(t.product)}</th><th>${escapeHtml(t.vendorLatest)}</th><th>${escapeHtml(t.published)}</th><th>${escapeHtml(t.since)}</th><th>${escapeHtml(t.trust)}</th><th>${escapeHtml(t.state)}</th><th>${escapeHtml(t.sourceHealth)}</th></tr></thead>
<tbody>
${productRows}
</tbody>
</table></section>
<section aria-labelledby="transfer"><h2 id="transfer">${escapeHtml(t.transfer)}</h2>
<dl>
<dt>${escapeHtml(t.sequence)}</dt><dd>${transfer.highestSequence || '—'}</dd>
<dt>${escapeHtml(t.lastBundle)}</dt><dd>${escapeHtml(transfer.lastBundle ?? '—')}</dd>
<dt>${escapeHtml(t.bundleCreated)}</dt><dd>${time(transfer.bundleCreatedAt, language)}</dd>
<dt>${escapeHtml(t.lastImport)}</dt><dd>${time(transfer.lastImportAt, language)}</dd>
<dt>${escapeHtml(t.refusals)}</dt><dd>${status.refusals.length}</dd>
</dl></section>
</main>
<footer><small>${escapeHtml(t.generated)}: ${time(status.generatedAt, language)}</small></footer>
</body>
</html>
`;
}
