import type { Advisory } from '../../advisories/model.ts';
import type { CveExposure, EndpointExposure, ExposureReport, ProductExposure, ReleaseFixes } from '../../exposure/compute-exposure.ts';
import type { Language } from '../i18n.ts';
import { escapeHtml, href, layout, time } from './layout.ts';

/*
 * Exposure to advisories (issue 16) on the pages: the overview's headline, the CVEs of a
 * product and of an endpoint, what a release fixes (approvals), and one advisory's own text.
 * Every advisory string (titles, severities, texts, URLs) came from a publisher through a
 * bundle: escaped here, and a URL is shown as text, never linked (no request leaves LGWAN).
 */

const words = {
  ja: {
    headline: '脆弱性の影響', kevEndpoints: 'CISA KEV（悪用が確認された脆弱性）の影響を受ける端末', anyEndpoints: '既知の脆弱性の影響を受ける端末', ofActive: (active: number) => `稼働中 ${active} 台中`,
    overdueEndpoints: 'うち KEV の対応期限超過', cvesAffecting: '端末に影響する CVE', kevCves: 'うち KEV', noData: '脆弱性情報なし', noSources: '脆弱性情報はまだ届いていません（どの製品にも脆弱性情報がありません）。',
    mostExposed: '影響の大きい端末', endpoint: '端末', cves: 'CVE 数', kev: 'KEV', overdue: '期限超過', due: 'KEV 期限', sources: '情報源', fetched: '取得', product: '製品',
    productExposure: '脆弱性', cve: 'CVE', severity: '深刻度（勧告の表記）', advisory: '勧告', fixedIn: '修正版', endpoints: '影響端末', notStated: '記載なし',
    packagesOnly: 'この製品の勧告はソースパッケージ単位です。端末は取得したスイートのスナップショットしか報告しないため、端末ごとの影響は判定できません（端末ごとのパッケージ情報なし）。',
    unknownVersions: '比較できない版（影響を判定できません）', unusable: '版数を解釈できない修正（除外）', versionsInUse: '影響のある版（使用中）', version: '版',
    releases: 'リリースごとの修正', fixes: 'このリリースで修正', noneFixed: '（新たな修正なし）', endpointExposure: (cves: number, kev: number, due: string | null) => `この端末は ${cves} 件の CVE の影響を受けています（うち CISA KEV ${kev} 件${due ? `、期限 ${due}` : ''}）。`,
    productNoData: '脆弱性情報なし（この製品を扱う情報源がありません）', notComparable: '版を比較できません', advisoryText: '勧告の本文', published: '公表', publisherUrl: '発行元の URL（LGWAN からは開けません。文字列として表示）', unknownAdvisory: 'この勧告はありません。', packageFixes: 'パッケージの修正', package: 'パッケージ',
  },
  en: {
    headline: 'Exposure to vulnerabilities', kevEndpoints: 'Endpoints exposed to CISA KEV (known exploited) vulnerabilities', anyEndpoints: 'Endpoints exposed to any known vulnerability', ofActive: (active: number) => `of ${active} active`,
    overdueEndpoints: 'of them past a KEV due date', cvesAffecting: 'CVEs affecting endpoints', kevCves: 'of them in KEV', noData: 'no advisory data', noSources: 'No advisory data has arrived yet (no product has advisory data).',
    mostExposed: 'Most exposed endpoints', endpoint: 'Endpoint', cves: 'CVEs', kev: 'KEV', overdue: 'past due', due: 'KEV due', sources: 'Sources', fetched: 'fetched', product: 'Product',
    productExposure: 'Vulnerabilities', cve: 'CVE', severity: 'Severity (as the advisory states it)', advisory: 'Advisory', fixedIn: 'Fixed in', endpoints: 'Exposed endpoints', notStated: 'not stated',
    packagesOnly: "This product's advisories name source packages. Endpoints report only the suite snapshot they fetched, so exposure per endpoint cannot be told (no per-endpoint package data).",
    unknownVersions: 'Versions that cannot be compared (exposure unknown)', unusable: 'Fixes whose version does not parse (left out)', versionsInUse: 'Exposed versions in use', version: 'Version',
    releases: 'What each release fixes', fixes: 'Fixed by this release', noneFixed: '(nothing newly fixed)', endpointExposure: (cves: number, kev: number, due: string | null) => `This endpoint is exposed to ${cves} CVEs, ${kev} of them on CISA's KEV list${due ? `, due by ${due}` : ''}.`,
    productNoData: 'No advisory data (no advisory source covers this product)', notComparable: 'version not comparable', advisoryText: "The advisory's text", published: 'Published', publisherUrl: "Publisher's URL (not reachable from LGWAN; shown as text)", unknownAdvisory: 'No such advisory.', packageFixes: 'Package fixes', package: 'Package',
  },
};

export const advisoryPath = (source: string, id: string) => `/advisories/${encodeURIComponent(source)}/${encodeURIComponent(id)}`;

/** Severities as stated, each once, with the advisories that state them linked. */
function statements(cve: CveExposure, language: Language): { severity: string; advisories: string } {
  const w = words[language];
  const severities = [...new Set(cve.statements.map((statement) => statement.severity ?? w.notStated))];
  const advisories = [...new Map(cve.statements.map((statement) => [`${statement.source}\u0000${statement.advisory}`, statement])).values()]
    .map((statement) => `<a href="${href(advisoryPath(statement.source, statement.advisory), language)}" title="${escapeHtml(statement.title)}">${escapeHtml(statement.advisory)}</a>`)
    .join(', ');
  return { severity: severities.map(escapeHtml).join(' / '), advisories };
}

function kevCell(cve: CveExposure, language: Language): string {
  const w = words[language];
  if (!cve.kev) return '—';
  return `<span class="badge ${cve.kev.overdue ? 'warn' : ''}" data-field="kev-due">${escapeHtml(w.due)} ${escapeHtml(cve.kev.dueDate)}${cve.kev.overdue ? ` (${escapeHtml(w.overdue)})` : ''}</span>`;
}

/** The overview's headline: per scope, endpoints exposed to KEV-listed and to any known vulnerability. */
export function renderExposureHeadline(report: ExposureReport, language: Language): string {
  const w = words[language];
  if (report.sources.length === 0) return `<section aria-labelledby="exposure"><h2 id="exposure">${escapeHtml(w.headline)}</h2><p data-field="exposure-none">${escapeHtml(w.noSources)}</p></section>`;
  const { endpoints, cves } = report;
  const most = report.mostExposed
    .slice(0, 10)
    .map((entry) => `<tr><td><a href="${href(`/endpoints/${encodeURIComponent(entry.endpoint)}`, language)}">${entry.hostname ? `<strong>${escapeHtml(entry.hostname)}</strong> ` : ''}<code>${escapeHtml(entry.endpoint)}</code></a></td><td class="number">${entry.cves}</td><td class="number">${entry.kev}</td><td class="number">${entry.kevOverdue}</td><td>${escapeHtml(entry.earliestDue ?? '—')}</td></tr>`)
    .join('');
  const sources = report.sources.map((source) => `<code>${escapeHtml(source.source)}</code> (${escapeHtml(w.fetched)} ${time(source.fetchedAt, language)})`).join(' · ');
  return `<section aria-labelledby="exposure" id="exposure-headline"><h2 id="exposure">${escapeHtml(w.headline)}</h2>
<p class="headline"><strong class="big" data-field="exposed-kev">${endpoints.kev}</strong> ${escapeHtml(w.kevEndpoints)} <small>(${escapeHtml(w.overdueEndpoints)}: <span data-field="exposed-kev-overdue">${endpoints.kevOverdue}</span>)</small><br>
<strong class="big" data-field="exposed-any">${endpoints.exposed}</strong> ${escapeHtml(w.anyEndpoints)} <small>${escapeHtml(w.ofActive(endpoints.active))}</small></p>
<p>${escapeHtml(w.cvesAffecting)}: <span data-field="cves-affecting">${cves.affectingEndpoints}</span> (${escapeHtml(w.kevCves)} <span data-field="cves-kev">${cves.kev}</span>) · ${escapeHtml(w.sources)}: ${sources}</p>
<table id="most-exposed"><caption>${escapeHtml(w.mostExposed)}</caption><thead><tr><th>${escapeHtml(w.endpoint)}</th><th>${escapeHtml(w.cves)}</th><th>${escapeHtml(w.kev)}</th><th>${escapeHtml(w.overdue)}</th><th>${escapeHtml(w.due)}</th></tr></thead><tbody>${most}</tbody></table></section>`;
}

/** The exposure cell of a product's row on the overview: CVE count or "no advisory data". */
export function exposureCell(product: ProductExposure | undefined, language: Language): string {
  const w = words[language];
  if (!product || product.advisoryData === 'none') return `<small data-field="no-advisory-data">${escapeHtml(w.noData)}</small>`;
  if (product.advisoryData === 'packages') return `<small data-field="packages-only">${escapeHtml(w.packageFixes)}</small>`;
  return `<span data-field="exposed-endpoints">${product.exposedEndpoints}</span> <small>(${escapeHtml(w.kev)} <span data-field="kev-endpoints">${product.kevEndpoints}</span>)</small>`;
}

export const exposureHeading = (language: Language) => escapeHtml(words[language].endpoints);

/** A product page's section: the CVEs of the product, exposed versions in use, and what each release fixes. */
export function renderProductExposure(product: ProductExposure | undefined, language: Language): string {
  const w = words[language];
  if (!product || product.advisoryData === 'none') return `<section id="product-exposure"><h3>${escapeHtml(w.productExposure)}</h3><p data-field="no-advisory-data">${escapeHtml(w.productNoData)}</p></section>`;
  const sources = `<p>${escapeHtml(w.sources)}: ${product.sources.map((source) => `<code>${escapeHtml(source)}</code>`).join(', ')}</p>`;
  if (product.advisoryData === 'packages') {
    const rows = product.packageFixes
      .slice(0, 500)
      .map((fix) => `<tr><td><code>${escapeHtml(fix.package)}</code></td><td>${escapeHtml(fix.fixedIn)}</td><td>${fix.cves.slice(0, 50).map(escapeHtml).join(', ')}</td><td><a href="${href(advisoryPath(fix.source, fix.advisory), language)}">${escapeHtml(fix.advisory)}</a></td></tr>`)
      .join('');
    return `<section id="product-exposure"><h3>${escapeHtml(w.productExposure)}</h3>${sources}<p data-field="packages-only">${escapeHtml(w.packagesOnly)}</p>
<table><thead><tr><th>${escapeHtml(w.package)}</th><th>${escapeHtml(w.fixedIn)}</th><th>${escapeHtml(w.cve)}</th><th>${escapeHtml(w.advisory)}</th></tr></thead><tbody>${rows}</tbody></table></section>`;
  }
  const cves = product.cves
    .slice(0, 1000)
    .map((cve) => {
      const said = statements(cve, language);
      return `<tr data-cve="${escapeHtml(cve.cve)}"><td><code>${escapeHtml(cve.cve)}</code></td><td>${said.severity}</td><td>${kevCell(cve, language)}</td><td>${cve.fixedIn.map(escapeHtml).join(', ')}</td><td class="number" data-field="cve-endpoints">${cve.endpoints}</td><td>${said.advisories}</td></tr>`;
    })
    .join('');
  const versions = product.versions
    .map((entry) => `<tr data-version="${escapeHtml(entry.version)}"><td>${escapeHtml(entry.version)}</td><td class="number">${entry.endpoints}</td><td class="number">${entry.cves}</td><td class="number">${entry.kev}</td><td>${escapeHtml(entry.earliestDue ?? '—')}</td></tr>`)
    .join('');
  const releases = product.releases.map((release) => `<tr data-release="${escapeHtml(release.version)}"><td>${escapeHtml(release.version)}</td><td>${renderReleaseFixes(release, language)}</td></tr>`).join('');
  const unknown = product.unknownVersions.length === 0 ? '' : `<p>${escapeHtml(w.unknownVersions)}: ${product.unknownVersions.slice(0, 50).map((version) => `<code>${escapeHtml(version)}</code>`).join(' ')}</p>`;
  const unusable = product.unusableFixes.length === 0 ? '' : `<p>${escapeHtml(w.unusable)}: ${product.unusableFixes.slice(0, 50).map((fix) => `${escapeHtml(fix.advisory)} <code>${escapeHtml(fix.fixedIn)}</code>`).join(', ')}</p>`;
  return `<section id="product-exposure"><h3>${escapeHtml(w.productExposure)}</h3>${sources}
<dl><dt>${escapeHtml(w.anyEndpoints)}</dt><dd data-field="exposed-endpoints">${product.exposedEndpoints}</dd><dt>${escapeHtml(w.kevEndpoints)}</dt><dd data-field="kev-endpoints">${product.kevEndpoints} <small>(${escapeHtml(w.overdueEndpoints)}: ${product.kevOverdueEndpoints})</small></dd><dt>${escapeHtml(w.cvesAffecting)}</dt><dd data-field="cves-affecting">${product.cvesAffectingEndpoints}</dd></dl>
${unknown}${unusable}
<h4>${escapeHtml(w.versionsInUse)}</h4><table id="exposed-versions"><thead><tr><th>${escapeHtml(w.version)}</th><th>${escapeHtml(w.endpoints)}</th><th>${escapeHtml(w.cves)}</th><th>${escapeHtml(w.kev)}</th><th>${escapeHtml(w.due)}</th></tr></thead><tbody>${versions}</tbody></table>
<h4>${escapeHtml(w.releases)}</h4><table id="release-fixes"><thead><tr><th>${escapeHtml(w.version)}</th><th>${escapeHtml(w.fixes)}</th></tr></thead><tbody>${releases}</tbody></table>
<h4>${escapeHtml(w.cve)}</h4><table id="product-cves"><thead><tr><th>${escapeHtml(w.cve)}</th><th>${escapeHtml(w.severity)}</th><th>${escapeHtml(w.kev)}</th><th>${escapeHtml(w.fixedIn)}</th><th>${escapeHtml(w.endpoints)}</th><th>${escapeHtml(w.advisory)}</th></tr></thead><tbody>${cves}</tbody></table></section>`;
}

/** What one release fixes, as a short list (the approval view and the product page). */
export function renderReleaseFixes(release: ReleaseFixes | undefined, language: Language): string {
  const w = words[language];
  if (!release || release.cves.length === 0) return `<small data-field="release-fixes">${escapeHtml(w.noneFixed)}</small>`;
  const shown = release.cves.slice(0, 20).map((cve) => `<code>${escapeHtml(cve)}</code>`).join(' ');
  return `<small data-field="release-fixes"><span data-field="release-fixes-count">${release.cves.length}</span> CVE${release.kev > 0 ? ` (${escapeHtml(w.kev)} ${release.kev})` : ''}: ${shown}${release.cves.length > 20 ? ' …' : ''}</small>`;
}

/** The approval view's cell for one release: what it fixes, or "no advisory data". */
export function renderApprovalFixes(product: ProductExposure | undefined, version: string, language: Language): string {
  if (!product || product.advisoryData !== 'versions') return exposureCell(product, language);
  return renderReleaseFixes(product.releases.find((release) => release.version === version), language);
}

/** An endpoint page's section: "exposed to 14 CVEs, 2 of them KEV, due by …", CVE by CVE. */
export function renderEndpointExposure(exposure: EndpointExposure, names: ReadonlyMap<string, string>, language: Language): string {
  const w = words[language];
  const rows = exposure.cves
    .slice(0, 2000)
    .map((cve) => {
      const said = statements(cve, language);
      const via = cve.via.map((entry) => `${escapeHtml(names.get(entry.product) ?? entry.product)} ${escapeHtml(entry.version)} → ${escapeHtml(entry.fixedIn)}`).join('<br>');
      return `<tr data-cve="${escapeHtml(cve.cve)}"><td><code>${escapeHtml(cve.cve)}</code></td><td>${said.severity}</td><td>${kevCell(cve, language)}</td><td>${via}</td><td>${said.advisories}</td></tr>`;
    })
    .join('');
  const notes = exposure.products
    .filter((product) => product.advisoryData !== 'versions' || !product.comparable)
    .map((product) => `<li data-product="${escapeHtml(product.product)}">${escapeHtml(names.get(product.product) ?? product.product)} ${escapeHtml(product.version)}: <span data-field="no-advisory-data">${escapeHtml(product.advisoryData === 'none' ? w.noData : product.advisoryData === 'packages' ? w.packagesOnly : w.notComparable)}</span></li>`)
    .join('');
  return `<section id="endpoint-exposure"><h3>${escapeHtml(w.productExposure)}</h3>
<p data-field="endpoint-summary" data-cves="${exposure.cves.length}" data-kev="${exposure.kev}">${escapeHtml(w.endpointExposure(exposure.cves.length, exposure.kev, exposure.earliestDue))}</p>
${notes ? `<ul>${notes}</ul>` : ''}
<table id="endpoint-cves"><thead><tr><th>${escapeHtml(w.cve)}</th><th>${escapeHtml(w.severity)}</th><th>${escapeHtml(w.kev)}</th><th>${escapeHtml(w.product)} → ${escapeHtml(w.fixedIn)}</th><th>${escapeHtml(w.advisory)}</th></tr></thead><tbody>${rows}</tbody></table></section>`;
}

/** `/advisories/<source>/<id>`: the advisory's own text, served locally and escaped. */
export function renderAdvisoryPage(advisory: Advisory | undefined, source: string, id: string, language: Language): string {
  const w = words[language];
  const path = advisoryPath(source, id);
  if (!advisory) return layout({ title: w.unknownAdvisory, language, path, body: `<p>${escapeHtml(w.unknownAdvisory)}</p>` });
  const vulnerabilities = advisory.vulnerabilities
    .map((vulnerability) => `<tr><td><code>${escapeHtml(vulnerability.cve)}</code></td><td>${escapeHtml(vulnerability.severity ?? w.notStated)}</td><td>${escapeHtml(vulnerability.title ?? '')}</td></tr>`)
    .join('');
  const fixes = advisory.fixes.map((fix) => `<li><code>${escapeHtml(fix.product)}</code>${fix.package ? ` <code>${escapeHtml(fix.package)}</code>` : ''} ${escapeHtml(w.fixedIn)} ${escapeHtml(fix.fixedIn)}</li>`).join('');
  const body = `<h2><code>${escapeHtml(advisory.id)}</code> ${escapeHtml(advisory.title)}</h2>
<dl><dt>${escapeHtml(w.sources)}</dt><dd><code>${escapeHtml(advisory.source)}</code></dd><dt>${escapeHtml(w.published)}</dt><dd>${escapeHtml(advisory.published ?? '—')}</dd>${advisory.url ? `<dt>${escapeHtml(w.publisherUrl)}</dt><dd><code id="publisher-url">${escapeHtml(advisory.url)}</code></dd>` : ''}</dl>
<ul>${fixes}</ul>
<table><thead><tr><th>${escapeHtml(w.cve)}</th><th>${escapeHtml(w.severity)}</th><th>${escapeHtml(w.advisory)}</th></tr></thead><tbody>${vulnerabilities}</tbody></table>
<h3>${escapeHtml(w.advisoryText)}</h3><pre id="advisory-text">${escapeHtml(advisory.text ?? '')}</pre>`;
  return layout({ title: `${advisory.id}`, language, path, body });
}
