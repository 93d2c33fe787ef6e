import type { Language } from '../repository/i18n.ts';
import { escapeHtml, layout, time } from '../repository/pages/layout.ts';
import { formatInZone, formatWindows, type ApprovalSchedule } from './install-schedule.ts';
import type { ReleasePolicyConfig } from './rings.ts';

export interface ApprovalRelease {
  version: string;
  publishedAt: string | null;
  verification: string[];
  size: number;
  files: number;
  declined: boolean;
  rings: {
    ring: string;
    endpoints: number;
    offered: boolean;
    approved: boolean;
    /** The approval's deadline and windows, if it has them. */
    schedule?: ApprovalSchedule;
    /** Agents of this ring whose latest install of this release failed. */
    failures: number;
  }[];
}

/** An endpoint of an approval's ring that does not report the approved version, although its deadline passed. */
export interface PastDeadlineEndpoint {
  endpoint: string;
  hostname?: string;
  ring: string;
  product: string;
  installedVersion: string;
  approvedVersion: string;
  deadline: string;
  lastResult?: { outcome: 'installed' | 'failed'; version: string; exitCode: number; message: string; reportedAt: string };
}

export interface ApprovalProduct {
  id: string;
  name: string;
  vendor: string;
  antivirus: boolean;
  policies: { ring: string; policy: ReleasePolicyConfig; heldAt?: string }[];
  releases: ApprovalRelease[];
}

const words = {
  ja: {
    title: '承認', intro: '製品ごと・リングごとに、端末に配信する版を決めます。変更は次の端末の問い合わせから有効です（再起動は不要です）。',
    chooseTenant: '団体を選んでください（画面上の切替）。', viewerNote: '閲覧者は変更できません。',
    version: '版', published: '公開', verification: '検証', size: 'サイズ', endpoints: '端末数（リング別）', state: '配信（リング別）', actions: '操作',
    offered: '配信中', waiting: '未承認', declinedState: '配信拒否', approve: 'このリングに承認', decline: '配信拒否', hold: 'このリングをこの版で保留', releaseHold: '保留を解除', withdrawApproval: '承認を取り消す', withdrawDecline: '配信拒否を取り消す',
    policy: '方針', automatic: '自動', approval: '承認制', delay: (after: string, days: number) => `${after} の ${days} 日後`, heldAt: (version: string) => `${version} で保留中`,
    antivirus: 'ウイルス定義は、ポリシーで指定しない限り公開と同時に自動で配信されます。', ring: 'リング', files: 'ファイル',
    failures: '失敗報告（リング別）', deadline: '期限', windows: '作業時間帯', windowsHelp: (zone: string) => `任意。例: mon-fri 12:00-13:00; sat 09:00-17:00（時刻は ${zone}）`, deadlineHelp: (zone: string) => `任意。時刻は ${zone}`,
    scheduleOf: (text: string) => `承認済み（${text}）`, deadlineAt: (when: string) => `期限 ${when}`, windowsAt: (text: string, zone: string) => `時間帯 ${text}（${zone}）`,
    pastDeadline: '期限を過ぎても承認版を導入していない端末', pastDeadlineNone: '期限を過ぎた端末はありません。', pastDeadlineMore: (shown: number, total: number) => `${total} 台のうち ${shown} 台を表示しています。`,
    endpoint: '端末', installedVersion: '導入済みの版', approvedVersion: '承認された版', lastResult: '最後の導入結果', installed: '導入成功', failed: '失敗', exitCode: '終了コード',
  },
  en: {
    title: 'Approvals', intro: 'Per product and ring, which release endpoints are offered. A change applies to the next endpoint request (no restart).',
    chooseTenant: 'Choose a tenant first (the switcher above).', viewerNote: 'Viewers cannot change anything.',
    version: 'Version', published: 'Published', verification: 'Verification', size: 'Size', endpoints: 'Endpoints (per ring)', state: 'Offered (per ring)', actions: 'Actions',
    offered: 'offered', waiting: 'not approved', declinedState: 'declined', approve: 'Approve for ring', decline: 'Decline', hold: 'Hold ring at this version', releaseHold: 'Release hold', withdrawApproval: 'Withdraw approval', withdrawDecline: 'Withdraw decline',
    policy: 'Policy', automatic: 'automatic', approval: 'approval required', delay: (after: string, days: number) => `${days} days after ${after}`, heldAt: (version: string) => `held at ${version}`,
    antivirus: 'Antivirus signatures are offered automatically as published unless the policies name them.', ring: 'Ring', files: 'files',
    failures: 'Failures reported (per ring)', deadline: 'Deadline', windows: 'Maintenance windows', windowsHelp: (zone: string) => `optional, e.g. mon-fri 12:00-13:00; sat 09:00-17:00 (times in ${zone})`, deadlineHelp: (zone: string) => `optional, in ${zone}`,
    scheduleOf: (text: string) => `approved (${text})`, deadlineAt: (when: string) => `deadline ${when}`, windowsAt: (text: string, zone: string) => `windows ${text} (${zone})`,
    pastDeadline: 'Endpoints past a deadline without the approved version', pastDeadlineNone: 'No endpoint is past a deadline.', pastDeadlineMore: (shown: number, total: number) => `Showing ${shown} of ${total} endpoints.`,
    endpoint: 'Endpoint', installedVersion: 'Installed', approvedVersion: 'Approved', lastResult: 'Last install result', installed: 'installed', failed: 'failed', exitCode: 'exit code',
  },
};

function bytes(size: number): string {
  if (size >= 1024 ** 3) return `${(size / 1024 ** 3).toFixed(1)} GiB`;
  if (size >= 1024 ** 2) return `${(size / 1024 ** 2).toFixed(1)} MiB`;
  if (size >= 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${size} B`;
}

type Words = (typeof words)['ja'] | (typeof words)['en'];

/** What an approval with a deadline or windows says, in the zone it was given in. */
function scheduleText(schedule: ApprovalSchedule, w: Words): string {
  const parts: string[] = [];
  if (schedule.deadline) parts.push(w.deadlineAt(formatInZone(schedule.deadline, schedule.timeZone)));
  if (schedule.windows.length > 0) parts.push(w.windowsAt(formatWindows(schedule.windows), schedule.timeZone));
  return parts.join(', ');
}

/** The approve form of one release: the ring, and optionally a deadline and maintenance windows in the tenant's zone. */
function approveForm(options: { action: string; hidden: string; ringSelect: string; timeZone: string; w: Words }): string {
  const { w } = options;
  return `<form method="post" action="${options.action}" class="inline">${options.hidden}${options.ringSelect} <label>${escapeHtml(w.deadline)} <input type="datetime-local" name="deadline" title="${escapeHtml(w.deadlineHelp(options.timeZone))}"></label> <label>${escapeHtml(w.windows)} <input type="text" name="windows" maxlength="500" size="28" placeholder="mon-fri 12:00-13:00" title="${escapeHtml(w.windowsHelp(options.timeZone))}"></label> <small>${escapeHtml(options.timeZone)}</small> <button type="submit">${escapeHtml(w.approve)}</button></form>`;
}

/** The endpoints past a deadline, with the last install result their agent reported. */
function pastDeadlineSection(rows: readonly PastDeadlineEndpoint[], total: number, language: Language, w: Words): string {
  if (total === 0) return `<section id="past-deadline"><h3>${escapeHtml(w.pastDeadline)}</h3><p>${escapeHtml(w.pastDeadlineNone)}</p></section>`;
  const body = rows
    .map((row) => {
      const result = row.lastResult
        ? `${escapeHtml(row.lastResult.outcome === 'installed' ? w.installed : w.failed)} ${escapeHtml(row.lastResult.version)} (${escapeHtml(w.exitCode)} ${row.lastResult.exitCode})${row.lastResult.message ? `: ${escapeHtml(row.lastResult.message)}` : ''} ${time(row.lastResult.reportedAt, language)}`
        : '—';
      return `<tr data-endpoint="${escapeHtml(row.endpoint)}"><td>${row.hostname ? `<strong>${escapeHtml(row.hostname)}</strong> ` : ''}<code>${escapeHtml(row.endpoint)}</code></td><td>${escapeHtml(row.ring)}</td><td><code>${escapeHtml(row.product)}</code></td><td>${escapeHtml(row.installedVersion)}</td><td>${escapeHtml(row.approvedVersion)}</td><td>${time(row.deadline, language)}</td><td>${result}</td></tr>`;
    })
    .join('\n');
  return `<section id="past-deadline"><h3>${escapeHtml(w.pastDeadline)}</h3>
${rows.length < total ? `<p>${escapeHtml(w.pastDeadlineMore(rows.length, total))}</p>` : ''}
<table><thead><tr><th>${escapeHtml(w.endpoint)}</th><th>${escapeHtml(w.ring)}</th><th>${escapeHtml(w.version)}</th><th>${escapeHtml(w.installedVersion)}</th><th>${escapeHtml(w.approvedVersion)}</th><th>${escapeHtml(w.deadline)}</th><th>${escapeHtml(w.lastResult)}</th></tr></thead><tbody>
${body}
</tbody></table></section>`;
}

/** `releaseFixes`: what a release fixes, as HTML its renderer escaped (issue 16), shown under the version. */
export function renderApprovalsPage(options: { language: Language; tenantQuery: string | undefined; csrf: string; canChange: boolean; rings: string[]; products: ApprovalProduct[]; chooseTenant?: boolean; timeZone?: string; pastDeadline?: { rows: PastDeadlineEndpoint[]; total: number }; releaseFixes?: (product: string, version: string, language: Language) => string }): string {
  const w = words[options.language];
  const search = new URLSearchParams();
  if (options.tenantQuery) search.set('tenant', options.tenantQuery);
  if (options.language === 'en') search.set('lang', 'en');
  const q = search.size > 0 ? `?${search}` : '';
  const action = (path: string) => escapeHtml(`${path}${q}`);
  const hidden = (fields: Record<string, string>) => Object.entries({ _csrf: options.csrf, ...fields }).map(([name, value]) => `<input type="hidden" name="${escapeHtml(name)}" value="${escapeHtml(value)}">`).join('');
  const ringSelect = `<select name="ring" aria-label="${escapeHtml(w.ring)}">${options.rings.map((ring) => `<option value="${escapeHtml(ring)}">${escapeHtml(ring)}</option>`).join('')}</select>`;
  const policyText = (policy: ReleasePolicyConfig) => (policy === 'automatic' ? w.automatic : policy === 'approval' ? w.approval : w.delay(policy.delay.after, policy.delay.days));
  const sections = options.products.map((product) => {
    const policies = product.policies
      .map((entry) => `${escapeHtml(entry.ring)}: ${escapeHtml(policyText(entry.policy))}${entry.heldAt ? ` (${escapeHtml(w.heldAt(entry.heldAt))}${options.canChange && !product.antivirus ? ` <form method="post" action="${action('/approvals/release-hold')}" class="inline">${hidden({ product: product.id, ring: entry.ring })}<button type="submit">${escapeHtml(w.releaseHold)}</button></form>` : ''})` : ''}`)
      .join(' · ');
    const rows = product.releases
      .map((release) => {
        const state = release.rings
          .map((ring) => `${escapeHtml(ring.ring)}: ${escapeHtml(release.declined && !product.antivirus ? w.declinedState : ring.offered ? w.offered : w.waiting)}${ring.approved && ring.schedule ? ` <small>${escapeHtml(w.scheduleOf(scheduleText(ring.schedule, w)))}</small>` : ''}`)
          .join('<br>');
        const counts = release.rings.map((ring) => `${escapeHtml(ring.ring)}: ${ring.endpoints}`).join('<br>');
        const failures = release.rings.map((ring) => `${escapeHtml(ring.ring)}: ${ring.failures}`).join('<br>');
        const forms = options.canChange && !product.antivirus
          ? [
              approveForm({ action: action('/approvals/approve'), hidden: hidden({ product: product.id, version: release.version }), ringSelect, timeZone: options.timeZone ?? 'Asia/Tokyo', w }),
              `<form method="post" action="${action('/approvals/hold')}" class="inline">${hidden({ product: product.id, version: release.version })}${ringSelect} <button type="submit">${escapeHtml(w.hold)}</button></form>`,
              release.declined
                ? `<form method="post" action="${action('/approvals/withdraw-decline')}" class="inline">${hidden({ product: product.id, version: release.version })}<button type="submit">${escapeHtml(w.withdrawDecline)}</button></form>`
                : `<form method="post" action="${action('/approvals/decline')}" class="inline">${hidden({ product: product.id, version: release.version })}<button type="submit">${escapeHtml(w.decline)}</button></form>`,
              // An approval given by mistake (or for the wrong ring) can be taken back, ring by ring.
              ...release.rings.filter((ring) => ring.approved).map((ring) => `<form method="post" action="${action('/approvals/withdraw-approval')}" class="inline">${hidden({ product: product.id, version: release.version, ring: ring.ring })}<button type="submit">${escapeHtml(w.withdrawApproval)} (${escapeHtml(ring.ring)})</button></form>`),
            ].filter(Boolean).join('<br>')
          : '';
        return `<tr data-version="${escapeHtml(release.version)}"><td>${escapeHtml(release.version)}${options.releaseFixes ? `<br>${options.releaseFixes(product.id, release.version, options.language)}` : ''}</td><td>${time(release.publishedAt, options.language)}</td><td>${release.verification.map((method) => `<code>${escapeHtml(method)}</code>`).join(' ')}</td><td>${escapeHtml(bytes(release.size))} (${release.files} ${escapeHtml(w.files)})</td><td>${counts}</td><td>${failures}</td><td>${state}</td><td>${forms}</td></tr>`;
      })
      .join('\n');
    return `<section id="product-${escapeHtml(product.id)}">
<h3>${escapeHtml(product.name)} <small>${escapeHtml(product.vendor)} · <code>${escapeHtml(product.id)}</code></small></h3>
<p>${escapeHtml(w.policy)}: ${product.antivirus ? escapeHtml(w.antivirus) : policies}</p>
<table><thead><tr><th>${escapeHtml(w.version)}</th><th>${escapeHtml(w.published)}</th><th>${escapeHtml(w.verification)}</th><th>${escapeHtml(w.size)}</th><th>${escapeHtml(w.endpoints)}</th><th>${escapeHtml(w.failures)}</th><th>${escapeHtml(w.state)}</th><th>${escapeHtml(w.actions)}</th></tr></thead><tbody>
${rows}
</tbody></table>
</section>`;
  });
  const body = `<h2>${escapeHtml(w.title)}</h2>
<p>${escapeHtml(options.chooseTenant ? w.chooseTenant : w.intro)}</p>
${options.canChange || options.chooseTenant ? '' : `<p>${escapeHtml(w.viewerNote)}</p>`}
${options.pastDeadline ? pastDeadlineSection(options.pastDeadline.rows, options.pastDeadline.total, options.language, w) : ''}
${sections.join('\n')}`;
  return layout({ title: w.title, language: options.language, path: '/approvals', body, refresh: false });
}
