import { createHash } from 'node:crypto';
import type { Context } from 'koa';
import type { Artifact } from '../../bundle/manifest.ts';
import type { ObservationSink } from '../../coverage/inventory.ts';
import type { LgwanState, PublishedState } from '../../importer/lgwan-state.ts';
import { compareVersions } from '../../versions/index.ts';

/*
 * Firefox/Thunderbird update checks (AppUpdateURL policy). The client fills
 *   …/update/6/%PRODUCT%/%VERSION%/%BUILD_ID%/%BUILD_TARGET%/%LOCALE%/%CHANNEL%/%OS_VERSION%/…/update.xml
 * and expects <updates> with at most one <update> holding a complete-MAR <patch>. The MAR
 * is signed by Mozilla and checked by the client itself; we can delay an update, never alter it.
 * https://firefox-source-docs.mozilla.org/toolkit/mozapps/update/docs/UpdateServerInterface.html (see PROTOCOLS.md)
 */

const buildTargets: readonly [prefix: string, platform: string][] = [
  ['WINNT_x86_64-msvc', 'win64'],
  ['WINNT_aarch64-msvc', 'win64-aarch64'],
  ['WINNT_x86-msvc', 'win32'],
  ['Linux_x86_64-gcc3', 'linux-x86_64'],
  ['Linux_x86-gcc3', 'linux-i686'],
  ['Darwin_', 'mac'],
];

export function platformOfBuildTarget(buildTarget: string): string | undefined {
  return buildTargets.find(([prefix]) => buildTarget.startsWith(prefix))?.[1];
}

export interface UpdateCheck {
  product: string;
  version: string;
  buildId: string;
  buildTarget: string;
  locale: string;
  channel: string;
}

/** Parses the path after `/mozilla/update/`; undefined when it is not an update check. */
export function parseUpdatePath(segments: string[]): UpdateCheck | undefined {
  if (segments.length < 8 || segments.at(-1) !== 'update.xml') return undefined;
  const [, product, version, buildId, buildTarget, locale, channel] = segments;
  if (!product || !version || !buildId || !buildTarget || !locale || !channel) return undefined;
  return { product: product.toLowerCase(), version, buildId, buildTarget, locale, channel };
}

const escapes: Record<string, string> = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&apos;' };
const attribute = (value: string) => value.replace(/[&<>"']/gu, (character) => escapes[character]!);

function safeCompare(scheme: 'mozilla', a: string, b: string): number | undefined {
  try {
    return compareVersions(scheme, a, b);
  } catch {
    return undefined;
  }
}

/**
 * Which of a product's candidate versions the endpoint's ring may have (issue 15: rings and
 * approvals); without one, the newest.
 */
export type OfferDecision = (productId: string, versions: Iterable<string>) => string | undefined;

interface UpdateLine {
  productId: string;
  /** The line's complete MARs, newest first. */
  artifacts: Artifact[];
}

interface UpdateIndex {
  /** product, channel, platform, locale → the catalog products' lines. */
  lines: Map<string, UpdateLine[]>;
  /** product, channel → the catalog product an update check of that line counts for. */
  catalogProducts: Map<string, string>;
}

const lineKey = (product: string, channel: string, platform: string, locale: string) => `${product}\u0000${channel}\u0000${platform}\u0000${locale}`;
const updateIndexes = new WeakMap<PublishedState, UpdateIndex>();

/** Built once per published state: an update check then reads one short list, not every artifact. */
function updateIndexOf(published: PublishedState): UpdateIndex {
  let index = updateIndexes.get(published);
  if (index) return index;
  index = { lines: new Map(), catalogProducts: new Map() };
  const mozilla = new Map<string, { product: string; channel: string }>();
  for (const product of published.products) {
    if (product.protocol?.type !== 'mozilla') continue;
    mozilla.set(product.id, { product: product.protocol.product, channel: product.protocol.channel });
    const line = `${product.protocol.product}\u0000${product.protocol.channel}`;
    if (!index.catalogProducts.has(line)) index.catalogProducts.set(line, product.id);
  }
  const byProduct = new Map<string, UpdateLine>();
  for (const artifact of published.artifacts) {
    const protocol = mozilla.get(artifact.productId);
    if (!protocol || !artifact.fileName.endsWith('.complete.mar') || !artifact.attributes?.buildId) continue;
    const key = lineKey(protocol.product, protocol.channel, artifact.platform, artifact.locale);
    const productKey = `${key}\u0000${artifact.productId}`;
    let line = byProduct.get(productKey);
    if (!line) {
      byProduct.set(productKey, (line = { productId: artifact.productId, artifacts: [] }));
      index.lines.set(key, [...(index.lines.get(key) ?? []), line]);
    }
    line.artifacts.push(artifact);
  }
  for (const line of byProduct.values()) line.artifacts.sort((a, b) => safeCompare('mozilla', b.version, a.version) ?? 0);
  updateIndexes.set(published, index);
  return index;
}

/**
 * The complete MAR for this check: of the published releases newer than the client and within
 * its pin, the one its ring is offered (the newest allowed); never a declined or not-yet-approved one.
 * `candidates` receives, per catalog product, the versions that were considered.
 */
export function findUpdate(state: LgwanState, check: UpdateCheck, pin: string | undefined, offer?: OfferDecision, candidates?: (productId: string, versions: string[]) => void): Artifact | undefined {
  const published = state.published;
  const platform = platformOfBuildTarget(check.buildTarget);
  if (!published || !platform) return undefined;
  let best: Artifact | undefined;
  for (const line of updateIndexOf(published).lines.get(lineKey(check.product, check.channel, platform, check.locale)) ?? []) {
    const newer: Artifact[] = [];
    for (const artifact of line.artifacts) {
      // Newest first: the first one not newer than the client ends the line.
      if ((safeCompare('mozilla', artifact.version, check.version) ?? 0) <= 0) break;
      // The server enforces AppUpdatePin (e.g. "128." or "128.5."); the client only sends it.
      if (pin && !artifact.version.startsWith(pin)) continue;
      newer.push(artifact);
    }
    const versions = newer.map((artifact) => artifact.version);
    candidates?.(line.productId, versions);
    const allowed = offer ? offer(line.productId, versions) : undefined;
    for (const artifact of newer) {
      if (offer && artifact.version !== allowed) continue;
      if (!best || (safeCompare('mozilla', artifact.version, best.version) ?? 0) > 0) best = artifact;
    }
  }
  return best;
}

/** `type="minor"` as Mozilla's own update server sends for regular releases; "major" changes the client's prompt. */
export function renderUpdateXml(update: { artifact: Artifact; sha512: string; url: string; detailsUrl: string } | undefined): string {
  if (!update) return '<?xml version="1.0" encoding="UTF-8"?>\n<updates></updates>\n';
  const { artifact } = update;
  const appVersion = artifact.version.replace(/esr$/u, '');
  return `<?xml version="1.0" encoding="UTF-8"?>
<updates>
  <update type="minor" displayVersion="${attribute(artifact.version)}" appVersion="${attribute(appVersion)}" platformVersion="${attribute(appVersion)}" buildID="${attribute(artifact.attributes!.buildId!)}" detailsURL="${attribute(update.detailsUrl)}">
    <patch type="complete" URL="${attribute(update.url)}" size="${artifact.size}" hashFunction="sha512" hashValue="${update.sha512}"/>
  </update>
</updates>
`;
}

export interface UpdateRollout {
  ring: string;
  offer: OfferDecision;
  /** Same object while the decisions are the same (see RolloutView.epoch). */
  epoch?: object;
  changesAt?(productId: string, versions: Iterable<string>): number;
}

interface KeptAnswer {
  published: PublishedState;
  epoch: object | undefined;
  until: number;
  body: string;
  /** The body as sent (UTF-8), made once. */
  bytes: Buffer;
  etag: string;
}

/**
 * update.xml answers, kept per (published state, decisions, tenant, ring, origin, check, pin):
 * an answer changes only at a publication, a decision, or when a delay runs out, so every
 * other check of the same line is a map lookup and a string already made.
 */
export class UpdateAnswers {
  readonly #kept = new Map<string, KeptAnswer>();
  readonly #limit: number;

  constructor(limit = 20_000) {
    this.#limit = limit;
  }

  answer(state: LgwanState, check: UpdateCheck, pin: string | undefined, origin: string, tenant: string, rollout: UpdateRollout | undefined, now: number): KeptAnswer {
    const key = `${tenant}\u0000${rollout?.ring ?? ''}\u0000${origin}\u0000${check.product}\u0000${check.version}\u0000${check.buildTarget}\u0000${check.locale}\u0000${check.channel}\u0000${pin ?? ''}`;
    const kept = this.#kept.get(key);
    if (kept && kept.published === state.published && kept.epoch === rollout?.epoch && now < kept.until) return kept;
    let until = Number.POSITIVE_INFINITY;
    const artifact = findUpdate(state, check, pin, rollout?.offer, (productId, versions) => {
      if (rollout?.changesAt) until = Math.min(until, rollout.changesAt(productId, versions));
    });
    const sha512 = artifact ? state.digests[artifact.sha256]?.sha512 : undefined;
    const body = renderUpdateXml(
      artifact && sha512
        ? { artifact, sha512, url: `${origin}/${artifact.path.split('/').map(encodeURIComponent).join('/')}`, detailsUrl: `${origin}/products/${encodeURIComponent(artifact.productId)}` }
        : undefined,
    );
    const answer: KeptAnswer = { published: state.published!, epoch: rollout?.epoch, until, body, bytes: Buffer.from(body), etag: `"${createHash('sha256').update(body).digest('base64url').slice(0, 27)}"` };
    // Without a published state or a decisions epoch nothing may be kept.
    if (state.published && (!rollout || rollout.epoch)) {
      if (this.#kept.size >= this.#limit) this.#kept.clear();
      this.#kept.set(key, answer);
    }
    return answer;
  }
}

export const updateXmlType = 'text/xml; charset=utf-8';

/**
 * The update check a path after `/mozilla/update/` asks, or why it is none (status and the
 * message the client gets). Shared by the Koa handler and the hot path (hot-path.ts).
 */
export function updateCheckOf(rest: string): { check: UpdateCheck } | { status: 400 | 404; message: string } {
  let segments: string[];
  try {
    segments = rest.split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    return { status: 400, message: 'malformed percent-encoding' };
  }
  const check = parseUpdatePath(segments);
  if (!check) return { status: 404, message: 'not an update check: expected /mozilla/update/6/%PRODUCT%/%VERSION%/%BUILD_ID%/%BUILD_TARGET%/%LOCALE%/%CHANNEL%/…/update.xml' };
  // Firefox always sends its own version here: anything else is not an update check.
  if (!validVersions.has(check.version)) {
    if (safeCompare('mozilla', check.version, check.version) === undefined) return { status: 400, message: `"${check.version}" is not a Firefox or Thunderbird version` };
    if (validVersions.size >= 4096) validVersions.clear();
    validVersions.add(check.version);
  }
  return { check };
}

/** Versions already seen to parse: a fleet reports a handful, each many times a day. */
const validVersions = new Set<string>();

/** The pin a check carries (`?pin=`), as the Koa query reads it: one non-empty value. */
export const pinOf = (values: readonly string[]): string | undefined => (values.length === 1 && values[0] !== '' ? values[0] : undefined);

/**
 * Records the check as an inventory observation of the catalog product its line belongs to,
 * so coverage can count it. Only checks for a channel and platform this repository serves are
 * recorded: anything else is invented (issue 13: 5,000 invented channels, 5,000 records for one address).
 */
export function recordUpdateCheck(state: LgwanState, check: UpdateCheck, address: string, ring: string | undefined, inventory: ObservationSink | undefined): void {
  if (!inventory || !state.published) return;
  const catalogProduct = updateIndexOf(state.published).catalogProducts.get(`${check.product}\u0000${check.channel}`);
  const platform = platformOfBuildTarget(check.buildTarget);
  if (!catalogProduct || !platform || !/^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/u.test(check.locale)) return;
  inventory.record({
    endpoint: { kind: 'address', id: address },
    ...(ring !== undefined ? { ring } : {}),
    source: 'mozilla-aus',
    product: catalogProduct,
    version: check.version,
    platform,
    locale: check.locale,
    channel: check.channel,
  });
}

/** Koa handler for `/mozilla/update/…`: answers update.xml and records the check as an inventory record. */
export function handleMozillaUpdate(ctx: Context, state: LgwanState, inventory: ObservationSink | undefined, answers: UpdateAnswers, tenant: string, rollout?: UpdateRollout, now = Date.now()): void {
  const parsed = updateCheckOf(ctx.path.slice('/mozilla/update/'.length));
  if (!('check' in parsed)) ctx.throw(parsed.status, parsed.message);
  const { check } = parsed;
  const pinValue = ctx.query.pin;
  const pin = pinOf(pinValue === undefined ? [] : typeof pinValue === 'string' ? [pinValue] : pinValue);
  // The URL the client used to reach us is the one it can download from (an edge cache keeps Host).
  const origin = `${ctx.protocol}://${ctx.host}`;
  const answer = answers.answer(state, check, pin, origin, tenant, rollout, now);
  ctx.type = updateXmlType;
  ctx.set('Cache-Control', 'no-cache');
  ctx.set('ETag', answer.etag);
  if (ctx.get('If-None-Match') === answer.etag) ctx.status = 304;
  else ctx.body = answer.body;
  recordUpdateCheck(state, check, ctx.ip, rollout?.ring, inventory);
}
