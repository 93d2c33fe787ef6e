import { dictionaries, type Language } from '../i18n.ts';

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
export function escapeHtml(value: unknown): string {
  return String(value ?? '').replace(/[&<>"']/gu, (character) => escapes[character]!);
}

/** Times are shown in Japan time: the admins are there, whatever the server's zone. */
export function time(value: string | null | undefined, language: Language): string {
  if (!value) return '—';
  const text = new Date(value).toLocaleString(language === 'ja' ? 'ja-JP' : 'en-GB', { timeZone: 'Asia/Tokyo', dateStyle: 'medium', timeStyle: 'short' });
  // The zone is said on every time: the CLI and logs print UTC, and an admin compares both.
  return `<time datetime="${escapeHtml(value)}">${escapeHtml(text)} JST</time>`;
}

export function percent(share: number | null): string {
  return share === null ? '—' : `${Math.round(share * 100)} %`;
}

export function hours(value: number | null, language: Language): string {
  if (value === null) return '—';
  if (value >= 48) return language === 'ja' ? `${Math.round(value / 24)} 日` : `${Math.round(value / 24)} d`;
  return language === 'ja' ? `${value} 時間` : `${value} h`;
}

/** A link to the same page in `language` (or another page in the current one). */
export function href(path: string, language: Language, query: Record<string, string | number | undefined> = {}): string {
  const parameters = new URLSearchParams();
  for (const [key, value] of Object.entries(query)) if (value !== undefined) parameters.set(key, String(value));
  if (language === 'en') parameters.set('lang', 'en');
  const text = parameters.toString();
  return escapeHtml(text ? `${path}?${text}` : path);
}

/** An empty table says so ("なし") instead of showing bare headings. */
function sayEmpty(body: string, none: string): string {
  return body.replace(/<tbody>\s*<\/tbody>/gu, `<tbody><tr class="empty"><td colspan="99">${escapeHtml(none)}</td></tr></tbody>`);
}

/**
 * Every page: server-rendered, no script, the only asset served by the repository itself
 * (the LGWAN side has no internet), refreshed every 60 s for a wall display.
 */
export function layout(options: { title: string; language: Language; path: string; query?: Record<string, string | number | undefined>; body: string; refresh?: boolean; signedOut?: boolean }): string {
  const t = dictionaries[options.language];
  const other: Language = options.language === 'ja' ? 'en' : 'ja';
  // One navigation on every signed-in page, the current section marked (a product page belongs to the catalog, an endpoint to the endpoints).
  const section = options.path.startsWith('/products/') ? '/catalog' : options.path.startsWith('/endpoints/') ? '/endpoints' : options.path;
  const nav = [
    ['/', t.overview],
    ['/endpoints', t.endpointsPage],
    ['/catalog', t.catalogPage],
    ['/approvals', t.approvalsPage],
    ['/agents', t.agentsPage],
    ['/audit', t.auditPage],
  ]
    .map(([path, label]) => `<a href="${href(path!, options.language)}"${path === section ? ' aria-current="page"' : ''}>${escapeHtml(label)}</a>`)
    .join(' ');
  return `<!doctype html>
<html lang="${options.language}">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
${options.refresh === false ? '' : '<meta http-equiv="refresh" content="60">'}
<title>${escapeHtml(options.title)} — ${escapeHtml(t.title)}</title>
<link rel="stylesheet" href="/assets/status.css">
<link rel="icon" href="/assets/icon.svg" type="image/svg+xml">
</head>
<body>
<header><h1><a href="${href('/', options.language)}">${escapeHtml(t.title)}</a></h1>
${options.signedOut ? `<nav><a id="language" href="${href(options.path, other, options.query)}" hreflang="${other}" lang="${other}">${escapeHtml(dictionaries[other].languageName)}</a></nav>` : `<nav>${nav} · <a href="/api/v1/coverage.csv">CSV</a> · <a href="/api/v1/status">${escapeHtml(t.api)}</a> · <a id="language" href="${href(options.path, other, options.query)}" hreflang="${other}" lang="${other}">${escapeHtml(dictionaries[other].languageName)}</a></nav>
<!--console-bar-->`}</header>
<main>
${sayEmpty(options.body, t.none)}
</main>
<footer><small>${escapeHtml(t.generated)}: ${time(new Date().toISOString(), options.language)} · ${escapeHtml(t.timeZoneNote)}</small></footer>
</body>
</html>
`;
}
