import type { Language } from '../repository/i18n.ts';
import { escapeHtml, layout, time } from '../repository/pages/layout.ts';
import type { ReleasePolicyConfig } from './rings.ts';

export interface ApprovalRelease {
  version: string;
  publishedAt: string | null;
  verification: string[];
  size: number;
  files: number;
  declined: boolean;
  rings: { ring: string; endpoints: number; offered: boolean; approved: boolean }[];
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
    antivirus: 'ウイルス定義は常に自動で配信されます。', ring: 'リング', files: 'ファイル',
  },
  en: {
    title: 'Approvals', intro: 'Per product and ring, which release endpoints are offered. A change applies to the next endpoint request (no restart).',
    chooseTenant: 'Choose a tenant first (the switcher above).', viewerNote: 'Viewers cannot change anything.',
    version: 'Version', published: 'Published', verification: 'Verification', size: 'Size', endpoints: 'Endpoints (per ring)', state: 'Offered (per ring)', actions: 'Actions',
    offered: 'offered', waiting: 'not approved', declinedState: 'declined', approve: 'Approve for ring', decline: 'Decline', hold: 'Hold ring at this version', releaseHold: 'Release hold', withdrawApproval: 'Withdraw approval', withdrawDecline: 'Withdraw decline',
    policy: 'Policy', automatic: 'automatic', approval: 'approval required', delay: (after: string, days: number) => `${days} days after ${after}`, heldAt: (version: string) => `held at ${version}`,
    antivirus: 'Antivirus signatures are always offered automatically.', ring: 'Ring', files: 'files',
  },
};

function bytes(size: number): string {
  if (size >= 1024 ** 3) return `${(size / 1024 ** 3).toFixed(1)} GiB`;
  if (size >= 1024 ** 2) return `${(size / 1024 ** 2).toFixed(1)} MiB`;
  if (size >= 1024) return `${(size / 1024).toFixed(1)} KiB`;
  return `${size} B`;
}

/** `releaseFixes`: what a release fixes, as HTML its renderer escaped (issue 16), shown under the version. */
export function renderApprovalsPage(options: { language: Language; tenantQuery: string | undefined; csrf: string; canChange: boolean; rings: string[]; products: ApprovalProduct[]; chooseTenant?: boolean; releaseFixes?: (product: string, version: string, language: Language) => string }): string {
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
        const state = release.rings.map((ring) => `${escapeHtml(ring.ring)}: ${escapeHtml(release.declined && !product.antivirus ? w.declinedState : ring.offered ? w.offered : w.waiting)}`).join('<br>');
        const counts = release.rings.map((ring) => `${escapeHtml(ring.ring)}: ${ring.endpoints}`).join('<br>');
        const forms = options.canChange && !product.antivirus
          ? [
              `<form method="post" action="${action('/approvals/approve')}" class="inline">${hidden({ product: product.id, version: release.version })}${ringSelect} <button type="submit">${escapeHtml(w.approve)}</button></form>`,
              `<form method="post" action="${action('/approvals/hold')}" class="inline">${hidden({ product: product.id, version: release.version })}${ringSelect} <button type="submit">${escapeHtml(w.hold)}</button></form>`,
              release.declined
                ? `<form method="post" action="${action('/approvals/withdraw-decline')}" class="inline">${hidden({ product: product.id, version: release.version })}<button type="submit">${escapeHtml(w.withdrawDecline)}</button></form>`
                : `<form method="post" action="${action('/approvals/decline')}" class="inline">${hidden({ product: product.id, version: release.version })}<button type="submit">${escapeHtml(w.decline)}</button></form>`,
              // An approval given by mistake (or for the wrong ring) can be taken back, ring by ring.
              ...release.rings.filter((ring) => ring.approved).map((ring) => `<form method="post" action="${action('/approvals/withdraw-approval')}" class="inline">${hidden({ product: product.id, version: release.version, ring: ring.ring })}<button type="submit">${escapeHtml(w.withdrawApproval)} (${escapeHtml(ring.ring)})</button></form>`),
            ].filter(Boolean).join('<br>')
          : '';
        return `<tr data-version="${escapeHtml(release.version)}"><td>${escapeHtml(release.version)}${options.releaseFixes ? `<br>${options.releaseFixes(product.id, release.version, options.language)}` : ''}</td><td>${time(release.publishedAt, options.language)}</td><td>${release.verification.map((method) => `<code>${escapeHtml(method)}</code>`).join(' ')}</td><td>${escapeHtml(bytes(release.size))} (${release.files} ${escapeHtml(w.files)})</td><td>${counts}</td><td>${state}</td><td>${forms}</td></tr>`;
      })
      .join('\n');
    return `<section id="product-${escapeHtml(product.id)}">
<h3>${escapeHtml(product.name)} <small>${escapeHtml(product.vendor)} · <code>${escapeHtml(product.id)}</code></small></h3>
<p>${escapeHtml(w.policy)}: ${product.antivirus ? escapeHtml(w.antivirus) : policies}</p>
<table><thead><tr><th>${escapeHtml(w.version)}</th><th>${escapeHtml(w.published)}</th><th>${escapeHtml(w.verification)}</th><th>${escapeHtml(w.size)}</th><th>${escapeHtml(w.endpoints)}</th><th>${escapeHtml(w.state)}</th><th>${escapeHtml(w.actions)}</th></tr></thead><tbody>
${rows}
</tbody></table>
</section>`;
  });
  const body = `<h2>${escapeHtml(w.title)}</h2>
<p>${escapeHtml(options.chooseTenant ? w.chooseTenant : w.intro)}</p>
${options.canChange || options.chooseTenant ? '' : `<p>${escapeHtml(w.viewerNote)}</p>`}
${sections.join('\n')}`;
  return layout({ title: w.title, language: options.language, path: '/approvals', body, refresh: false });
}
