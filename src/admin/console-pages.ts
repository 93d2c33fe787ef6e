import type { Language } from '../repository/i18n.ts';
import { escapeHtml, href, layout, time } from '../repository/pages/layout.ts';
import type { AuditEntry, EnrolledAgent, EnrollmentToken } from './admin-store.ts';

const words = {
  ja: {
    signIn: 'サインイン', username: 'ユーザー名', password: 'パスワード', submit: 'サインイン',
    failed: 'ユーザー名またはパスワードが違います。', limited: 'サインインの試行が多すぎます。しばらく待ってからやり直してください。',
    expired: 'フォームの有効期限が切れました。もう一度入力してください。', unavailable: 'ディレクトリ (LDAP/AD) に接続できません。管理者に連絡してください。',
    intro: '管理者としてサインインしてください。端末の更新（Firefox・freshclam・apt・winget・エージェント）にはサインインは要りません。',
    agents: 'エージェント', tokens: '登録トークン', label: '名前', created: '発行', createdBy: '発行者', revoked: '失効', revoke: '失効させる', issue: 'トークンを発行',
    tokenShown: '新しい登録トークン（この画面でしか表示されません）。エージェントの設定 LGWAN_ENROLLMENT_TOKEN（PowerShell 版は enrollmentToken）に書いてください。',
    agentId: 'エージェント ID', host: 'ホスト名', enrolled: '登録', from: '登録元アドレス', active: '有効',
    audit: '監査ログ', when: '日時', who: '誰が', where: 'どこから', what: '操作', outcome: '結果', subject: '対象', detail: '詳細', tenant: '団体', next: '次へ', previous: '前へ',
    viewerNote: '閲覧者は変更できません。', success: '成功', failure: '失敗',
    insecure: 'このページは HTTPS ではなく HTTP で開かれています。ブラウザーはサインインの cookie（Secure）を保存しないため、サインインできません。HTTPS（deploy/nginx/ の前段、または設定 lgwan.tls）で開くか、この機械自身のブラウザーで http://127.0.0.1 を開いてください（docs/operations.md）。',
  },
  en: {
    signIn: 'Sign in', username: 'User name', password: 'Password', submit: 'Sign in',
    failed: 'The user name or password is wrong.', limited: 'Too many sign-in attempts. Wait a while and try again.',
    expired: 'The form has expired. Please enter your details again.', unavailable: 'The directory (LDAP/AD) cannot be reached. Contact your administrator.',
    intro: 'Sign in as an administrator. Endpoint updates (Firefox, freshclam, apt, winget, agents) need no sign-in.',
    agents: 'Agents', tokens: 'Enrollment tokens', label: 'Label', created: 'Issued', createdBy: 'Issued by', revoked: 'Revoked', revoke: 'Revoke', issue: 'Issue a token',
    tokenShown: 'The new enrollment token (shown on this page only). Put it in the agent config as LGWAN_ENROLLMENT_TOKEN (enrollmentToken for the PowerShell agent).',
    agentId: 'Agent id', host: 'Host name', enrolled: 'Enrolled', from: 'Enrolled from', active: 'active',
    audit: 'Audit log', when: 'When', who: 'Who', where: 'From', what: 'Action', outcome: 'Outcome', subject: 'Subject', detail: 'Detail', tenant: 'Tenant', next: 'Next', previous: 'Previous',
    viewerNote: 'Viewers cannot change anything.', success: 'success', failure: 'failure',
    insecure: 'This page was opened over plain HTTP, not HTTPS. Browsers do not keep the (Secure) sign-in cookie, so signing in cannot work. Open it over HTTPS (the nginx front in deploy/nginx/, or lgwan.tls in the config), or at http://127.0.0.1 in a browser on this host (docs/operations.md).',
  },
};

export type SignInProblem = 'failed' | 'limited' | 'expired' | 'unavailable';

export function renderSignInPage(options: { language: Language; csrf: string; next: string; problem?: SignInProblem; username?: string; insecure?: boolean }): string {
  const w = words[options.language];
  const body = `<h2>${escapeHtml(w.signIn)}</h2>
<p>${escapeHtml(w.intro)}</p>
${options.insecure ? `<p class="alarm" role="alert" id="insecure">${escapeHtml(w.insecure)}</p>` : ''}
${options.problem ? `<p class="alarm" role="alert">${escapeHtml(w[options.problem])}</p>` : ''}
<form method="post" action="${href('/sign-in', options.language)}" class="sign-in">
<input type="hidden" name="_csrf" value="${escapeHtml(options.csrf)}">
<input type="hidden" name="next" value="${escapeHtml(options.next)}">
<p><label>${escapeHtml(w.username)}<br><input name="username" autocomplete="username" required maxlength="256" value="${escapeHtml(options.username ?? '')}"></label></p>
<p><label>${escapeHtml(w.password)}<br><input name="password" type="password" autocomplete="current-password" required maxlength="1024"></label></p>
<p><button type="submit">${escapeHtml(w.submit)}</button></p>
</form>`;
  return layout({ title: w.signIn, language: options.language, path: '/sign-in', body, refresh: false, signedOut: true });
}

const hidden = (csrf: string) => `<input type="hidden" name="_csrf" value="${escapeHtml(csrf)}">`;

export function renderAgentsPage(options: { language: Language; tenantQuery: string | undefined; csrf: string; canChange: boolean; tokens: EnrollmentToken[]; agents: EnrolledAgent[]; newToken?: string }): string {
  const w = words[options.language];
  const q = options.tenantQuery ? `?tenant=${encodeURIComponent(options.tenantQuery)}` : '';
  const action = (path: string) => escapeHtml(`${path}${q}`);
  const tokenRows = options.tokens
    .map((token) => `<tr><td><code>${escapeHtml(token.id)}</code></td><td>${escapeHtml(token.label)}</td><td>${time(token.createdAt, options.language)}</td><td>${escapeHtml(token.createdBy)}</td><td>${token.revokedAt ? time(token.revokedAt, options.language) : escapeHtml(w.active)}</td><td>${options.canChange && !token.revokedAt ? `<form method="post" action="${action(`/agents/tokens/${encodeURIComponent(token.id)}/revoke`)}">${hidden(options.csrf)}<button type="submit">${escapeHtml(w.revoke)}</button></form>` : ''}</td></tr>`)
    .join('\n');
  const agentRows = options.agents
    .map((agent) => `<tr><td><code>${escapeHtml(agent.agentId)}</code></td><td>${escapeHtml(agent.hostname ?? '—')}</td><td>${time(agent.enrolledAt, options.language)}</td><td>${escapeHtml(agent.address)}</td><td>${agent.revokedAt ? time(agent.revokedAt, options.language) : escapeHtml(w.active)}</td><td>${options.canChange && !agent.revokedAt ? `<form method="post" action="${action(`/agents/${encodeURIComponent(agent.agentId)}/revoke`)}">${hidden(options.csrf)}<button type="submit">${escapeHtml(w.revoke)}</button></form>` : ''}</td></tr>`)
    .join('\n');
  const body = `<h2>${escapeHtml(w.agents)}</h2>
${options.newToken ? `<p class="notice" role="status">${escapeHtml(w.tokenShown)}<br><code id="new-token">${escapeHtml(options.newToken)}</code></p>` : ''}
<h3>${escapeHtml(w.tokens)}</h3>
${options.canChange ? `<form method="post" action="${action('/agents/tokens')}">${hidden(options.csrf)}<label>${escapeHtml(w.label)} <input name="label" maxlength="100" required></label> <button type="submit">${escapeHtml(w.issue)}</button></form>` : `<p>${escapeHtml(w.viewerNote)}</p>`}
<table><thead><tr><th>ID</th><th>${escapeHtml(w.label)}</th><th>${escapeHtml(w.created)}</th><th>${escapeHtml(w.createdBy)}</th><th>${escapeHtml(w.revoked)}</th><th></th></tr></thead><tbody>
${tokenRows}
</tbody></table>
<h3>${escapeHtml(w.agents)}</h3>
<table><thead><tr><th>${escapeHtml(w.agentId)}</th><th>${escapeHtml(w.host)}</th><th>${escapeHtml(w.enrolled)}</th><th>${escapeHtml(w.from)}</th><th>${escapeHtml(w.revoked)}</th><th></th></tr></thead><tbody>
${agentRows}
</tbody></table>`;
  return layout({ title: w.agents, language: options.language, path: '/agents', body, refresh: false });
}

export function renderAuditPage(options: { language: Language; entries: AuditEntry[]; total: number; page: number; pages: number; tenantQuery: string | undefined }): string {
  const w = words[options.language];
  const rows = options.entries
    .map((entry) => `<tr><td>${time(entry.at, options.language)}</td><td>${escapeHtml(entry.tenant ?? '—')}</td><td>${escapeHtml(entry.actor)}</td><td>${escapeHtml(entry.address)}</td><td>${escapeHtml(entry.action)}</td><td>${escapeHtml(entry.outcome === 'success' ? w.success : w.failure)}</td><td>${escapeHtml(entry.subject ?? '')}</td><td>${escapeHtml(entry.detail ?? '')}</td></tr>`)
    .join('\n');
  const query = (page: number) => ({ page, tenant: options.tenantQuery });
  const pager = [
    options.page > 1 ? `<a rel="prev" href="${href('/audit', options.language, query(options.page - 1))}">${escapeHtml(w.previous)}</a>` : '',
    options.page < options.pages ? `<a rel="next" href="${href('/audit', options.language, query(options.page + 1))}">${escapeHtml(w.next)}</a>` : '',
  ].filter(Boolean).join(' · ');
  const body = `<h2>${escapeHtml(w.audit)} (${options.total})</h2>
<p><a href="${href('/audit.csv', 'ja', { tenant: options.tenantQuery })}">CSV</a></p>
<table><thead><tr><th>${escapeHtml(w.when)}</th><th>${escapeHtml(w.tenant)}</th><th>${escapeHtml(w.who)}</th><th>${escapeHtml(w.where)}</th><th>${escapeHtml(w.what)}</th><th>${escapeHtml(w.outcome)}</th><th>${escapeHtml(w.subject)}</th><th>${escapeHtml(w.detail)}</th></tr></thead><tbody>
${rows}
</tbody></table>
<p>${pager}</p>`;
  return layout({ title: w.audit, language: options.language, path: '/audit', body, refresh: false });
}

const problemTitles: Record<Language, Record<number, string>> = {
  ja: { 400: '入力に誤りがあります', 403: 'この操作はできません', 404: '見つかりません', 413: '送信内容が大きすぎます', 415: '送信の形式が違います', 429: '操作が多すぎます' },
  en: { 400: 'The request has an error', 403: 'This is not allowed', 404: 'Not found', 413: 'The request is too large', 415: 'The request has the wrong format', 429: 'Too many requests' },
};
const problemAdvice: Record<Language, string> = {
  ja: '前のページに戻って読み込み直し、もう一度操作してください。続く場合は、下の詳細を添えてシステム担当者に連絡してください。',
  en: 'Go back, reload the page and try again. If it keeps happening, send the detail below to whoever runs this repository.',
};

/** A console form or page that failed (a stale form, a role that may not do this, another tenant's id): said as a page, not as JSON. */
export function renderProblemPage(options: { language: Language; status: number; detail: string }): string {
  const title = problemTitles[options.language][options.status] ?? (options.language === 'ja' ? 'エラー' : 'Error');
  const body = `<h2>${escapeHtml(title)}</h2>
<p>${escapeHtml(problemAdvice[options.language])}</p>
<p><small>${escapeHtml(`HTTP ${options.status}: ${options.detail}`)}</small></p>
<p><a href="${href('/', options.language)}">${escapeHtml(options.language === 'ja' ? '概要へ' : 'To the overview')}</a></p>`;
  return layout({ title, language: options.language, path: '/', body, refresh: false });
}

