import type { CoverageReport } from '../../coverage/compute-coverage.ts';
import { alarmTexts, dictionaries, trustLabels, type Language } from '../i18n.ts';
import type { RepositoryStatus } from '../status-model.ts';
import type { ExposureReport } from '../../exposure/compute-exposure.ts';
import { escapeHtml, hours, href, layout, percent, time } from './layout.ts';
import { exposureCell, exposureHeading, renderExposureHeadline } from './exposure-page.ts';

/** `/`: exposure to vulnerabilities (the headline, issue 16), every alarm, the coverage table, and the transfer state. */
export function renderOverviewPage(status: RepositoryStatus, coverage: CoverageReport, language: Language, exposure?: ExposureReport): string {
  const exposureById = new Map((exposure?.products ?? []).map((product) => [product.productId, product]));
  const t = dictionaries[language];
  const alarms =
    status.alarms.length === 0
      ? `<p class="ok">${escapeHtml(t.noAlarms)}</p>`
      : `<ul class="alarms">${status.alarms
          .map((alarm) => {
            const text = alarmTexts[language][alarm.kind];
            return `<li class="${alarm.severity}" data-alarm="${escapeHtml(alarm.kind)}"><strong>${escapeHtml(text.title)}</strong> — <code>${escapeHtml(alarm.subject)}</code> ${time(alarm.at, language)}<br>${escapeHtml(t.reason)}: ${escapeHtml(alarm.detail)}<br>${escapeHtml(t.action)}: ${escapeHtml(text.action)}</li>`;
          })
          .join('\n')}</ul>`;
  const statusById = new Map(status.products.map((product) => [product.id, product]));
  const rows = coverage.products
    .map((product) => {
      const row = statusById.get(product.productId);
      const state = !row?.latestSeen ? t.notSeen : row.upToDate ? t.upToDate : t.behind;
      const share = product.share === null ? 0 : Math.round(product.share * 100);
      return `<tr data-product="${escapeHtml(product.productId)}">
  <td><a href="${href(`/products/${encodeURIComponent(product.productId)}`, language)}"><strong>${escapeHtml(product.name)}</strong></a><br><small>${escapeHtml(product.vendor)}</small></td>
  <td>${escapeHtml(product.newestVendor ?? '—')}</td>
  <td>${escapeHtml(product.newestPublished ?? t.none)}<br><small>${time(product.publishedSince, language)}</small></td>
  <td class="number" data-field="endpoints">${product.endpoints}</td>
  <td data-field="share"><span class="bar" aria-hidden="true"><span style="width:${share}%"></span></span> <span class="share">${percent(product.share)}</span> <small>(${product.current})</small></td>
  <td class="number" data-field="behind">${product.behindCount}</td>
${exposure ? `  <td data-field="exposure">${exposureCell(exposureById.get(product.productId), language)}</td>
` : ''}  <td>${hours(product.latencySummary.medianHoursToPublish, language)}</td>
  <td>${hours(product.latencySummary.medianHoursToP90, language)}</td>
  <td><span class="trust trust-${escapeHtml(product.trust)}">${escapeHtml(trustLabels[language][product.trust])}</span>${row?.versionBinding === 'unbound' ? `<br><small data-field="version-unbound">${escapeHtml(t.versionUnbound)}</small>` : ''}${row && !row.acceptedHere ? `<br><small data-field="not-accepted">${escapeHtml(t.notAcceptedHere)}</small>` : ''}</td>
  <td><span class="badge ${row?.upToDate ? 'ok' : 'warn'}">${escapeHtml(state)}</span></td>
</tr>`;
    })
    .join('\n');
  const transfer = status.transfer;
  const body = `${exposure ? renderExposureHeadline(exposure, language) : ''}<section aria-labelledby="alarms"><h2 id="alarms">${escapeHtml(t.alarms)}</h2>${alarms}</section>
<section aria-labelledby="coverage"><h2 id="coverage">${escapeHtml(t.products)}</h2>
<p>${escapeHtml(t.totalEndpoints)}: <strong data-field="endpoints-total">${coverage.endpoints.total}</strong> (${escapeHtml(t.active)} ${coverage.endpoints.active}, ${escapeHtml(t.stale)} ${coverage.endpoints.stale})</p>
<table id="coverage-table">
<thead><tr><th>${escapeHtml(t.product)}</th><th>${escapeHtml(t.vendorLatest)}</th><th>${escapeHtml(t.published)}</th><th>${escapeHtml(t.endpoints)}</th><th>${escapeHtml(t.currentShare)}</th><th>${escapeHtml(t.endpointsBehind)}</th>${exposure ? `<th>${exposureHeading(language)}</th>` : ''}<th>${escapeHtml(t.toPublish)}</th><th>${escapeHtml(t.toP90)}</th><th>${escapeHtml(t.trust)}</th><th>${escapeHtml(t.state)}</th></tr></thead>
<tbody>
${rows}
</tbody>
</table></section>
<section aria-labelledby="transfer"><h2 id="transfer">${escapeHtml(t.transfer)}</h2>
<dl>
<dt>${escapeHtml(t.sequence)}</dt><dd>${transfer.highestSequence || '—'}</dd>
<dt>${escapeHtml(t.lastBundle)}</dt><dd>${escapeHtml(transfer.lastBundle ?? '—')}</dd>
<dt>${escapeHtml(t.bundleCreated)}</dt><dd>${time(transfer.bundleCreatedAt, language)}</dd>
<dt>${escapeHtml(t.lastImport)}</dt><dd>${time(transfer.lastImportAt, language)}</dd>
<dt>${escapeHtml(t.refusals)}</dt><dd>${status.refusals.length}</dd>
${status.link ? `<dt>${escapeHtml(t.link)}</dt><dd data-field="link">${escapeHtml({ idle: t.linkIdle, receiving: t.linkReceiving, cut: t.linkCut }[status.link.state])} · ${time(status.link.receivedAt, language)} · #${status.link.latestSequence}</dd>` : ''}
<dt>${escapeHtml(t.transferKey)}</dt><dd>${escapeHtml(t.generation)} ${status.transferKey.generation} <code>${escapeHtml(status.transferKey.keyId?.slice(0, 16) ?? t.pinnedKey)}</code>${status.transferKey.nextKeyId ? ` · ${escapeHtml(t.nextKey)} <code>${escapeHtml(status.transferKey.nextKeyId.slice(0, 16))}</code>` : ''}</dd>
</dl></section>`;
  // What was refused, and whether a copy is in quarantine: junk dropped into the spool shows here.
  const refusals =
    status.refusals.length === 0
      ? ''
      : `<section aria-labelledby="refused"><h2 id="refused">${escapeHtml(t.refusals)}</h2><table id="refusals"><thead><tr><th>${escapeHtml(t.bundle)}</th><th>${escapeHtml(t.reason)}</th><th>${escapeHtml(t.quarantine)}</th></tr></thead><tbody>
${status.refusals
  .map((refusal) => `<tr data-refusal="${escapeHtml(refusal.bundle)}"><td><code>${escapeHtml(refusal.bundle)}</code><br><small>${time(refusal.at, language)}</small></td><td>${escapeHtml(refusal.code)}: ${escapeHtml(refusal.reason)}</td><td>${escapeHtml(refusal.kept === false ? t.quarantineRecordOnly : refusal.quarantinedAs === null ? t.none : t.quarantineCopied)}</td></tr>`)
  .join('\n')}
</tbody></table></section>`;
  return layout({ title: t.overview, language, path: '/', body: body + refusals });
}
