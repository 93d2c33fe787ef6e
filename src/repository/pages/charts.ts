import type { ReleaseLatency, VersionCount } from '../../coverage/compute-coverage.ts';
import { escapeHtml } from './layout.ts';

/** Endpoints per version as horizontal bars, drawn inline: no chart library, no CDN. */
export function versionHistogram(histogram: readonly VersionCount[], current: string | null, title: string): string {
  if (histogram.length === 0) return '';
  const rows = histogram.slice(0, 20);
  const max = Math.max(...rows.map((row) => row.count));
  const rowHeight = 24;
  const labelWidth = 150;
  const barWidth = 420;
  const height = rows.length * rowHeight + 8;
  const bars = rows
    .map((row, index) => {
      const width = Math.max(2, Math.round((row.count / max) * barWidth));
      const y = index * rowHeight + 4;
      const fill = row.version === current ? '#2e7d4f' : '#c98a00';
      return `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeHtml(row.version)}</text><rect x="${labelWidth}" y="${y + 3}" width="${width}" height="${rowHeight - 8}" fill="${fill}"><title>${escapeHtml(row.version)}: ${row.count}</title></rect><text x="${labelWidth + width + 6}" y="${y + 16}">${row.count}</text>`;
    })
    .join('');
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${labelWidth + barWidth + 60} ${height}" width="${labelWidth + barWidth + 60}" height="${height}">${bars}</svg>`;
}

/**
 * Per release, three stacked spans on one hour axis: vendor → published on LGWAN,
 * published → 50 % of endpoints, 50 % → 90 %. A missing span (not reached yet) is left out.
 */
export function latencyTimeline(releases: readonly ReleaseLatency[], labels: { publish: string; p50: string; p90: string }, title: string): string {
  const rows = releases.filter((release) => release.hours.toPublish !== null);
  if (rows.length === 0) return '';
  const total = (release: ReleaseLatency) => (release.hours.toPublish ?? 0) + (release.hours.toP90 ?? release.hours.toP50 ?? 0);
  const max = Math.max(1, ...rows.map(total));
  const rowHeight = 26;
  const labelWidth = 150;
  const axisWidth = 560;
  const scale = (hours: number) => Math.max(0, (hours / max) * axisWidth);
  const legendY = rows.length * rowHeight + 18;
  const legendRowHeight = 18;
  const body = rows
    .map((release, index) => {
      const y = index * rowHeight + 4;
      const publish = release.hours.toPublish ?? 0;
      const toP50 = release.hours.toP50;
      const toP90 = release.hours.toP90;
      const spans = [
        `<rect x="${labelWidth}" y="${y + 3}" width="${Math.max(1, scale(publish))}" height="16" fill="#1f4e8c"><title>${escapeHtml(labels.publish)}: ${publish} h</title></rect>`,
        toP50 === null ? '' : `<rect x="${labelWidth + scale(publish)}" y="${y + 3}" width="${Math.max(1, scale(toP50))}" height="16" fill="#2e7d4f"><title>${escapeHtml(labels.p50)}: ${toP50} h</title></rect>`,
        toP90 === null || toP50 === null ? '' : `<rect x="${labelWidth + scale(publish + toP50)}" y="${y + 3}" width="${Math.max(1, scale(toP90 - toP50))}" height="16" fill="#8fc7a3"><title>${escapeHtml(labels.p90)}: ${toP90} h</title></rect>`,
      ].join('');
      return `<text x="${labelWidth - 8}" y="${y + 16}" text-anchor="end">${escapeHtml(release.version)}</text>${spans}`;
    })
    .join('');
  const legend = [
    ['#1f4e8c', labels.publish],
    ['#2e7d4f', labels.p50],
    ['#8fc7a3', labels.p90],
  ]
    .map(([color, label], index) => `<rect x="${labelWidth}" y="${legendY - 10 + index * legendRowHeight}" width="12" height="12" fill="${color}"/><text x="${labelWidth + 18}" y="${legendY + index * legendRowHeight}">${escapeHtml(label)}</text>`)
    .join('');
  const height = legendY + 2 * legendRowHeight + 10;
  return `<svg class="chart" role="img" aria-label="${escapeHtml(title)}" viewBox="0 0 ${labelWidth + axisWidth + 20} ${height}" width="${labelWidth + axisWidth + 20}" height="${height}">${body}${legend}<text x="${labelWidth + axisWidth}" y="${legendY}" text-anchor="end">${Math.round(max)} h</text></svg>`;
}
