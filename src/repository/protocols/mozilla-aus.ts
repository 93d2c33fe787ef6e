import type { Context } from 'koa';
import type { Artifact } from '../../bundle/manifest.ts';
import type { ObservationSink } from '../../coverage/inventory.ts';
import type { LgwanState } from '../../importer/lgwan-state.ts';
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

/**
 * The complete MAR for this check: of the published releases newer than the client and within
 * its pin, the one its ring is offered (the newest allowed); never a declined or not-yet-approved one.
 */
export function findUpdate(state: LgwanState, check: UpdateCheck, pin: string | undefined, offer?: OfferDecision): Artifact | undefined {
  const published = state.published;
  const platform = platformOfBuildTarget(check.buildTarget);
  if (!published || !platform) return undefined;
  const products = published.products.filter(
    (product) => product.protocol?.type === 'mozilla' && product.protocol.product === check.product && product.protocol.channel === check.channel,
  );
  let best: Artifact | undefined;
  for (const product of products) {
    const candidates: Artifact[] = [];
    for (const artifact of published.artifacts) {
      if (artifact.productId !== product.id || artifact.platform !== platform || artifact.locale !== check.locale) continue;
      if (!artifact.fileName.endsWith('.complete.mar') || !artifact.attributes?.buildId) continue;
      // The server enforces AppUpdatePin (e.g. "128." or "128.5."); the client only sends it.
      if (pin && !artifact.version.startsWith(pin)) continue;
      if ((safeCompare('mozilla', artifact.version, check.version) ?? 0) <= 0) continue;
      candidates.push(artifact);
    }
    const allowed = offer ? offer(product.id, candidates.map((artifact) => artifact.version)) : undefined;
    for (const artifact of candidates) {
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

/** Koa handler for `/mozilla/update/…`: answers update.xml and records the check as an inventory record. */
export function handleMozillaUpdate(ctx: Context, state: LgwanState, inventory: ObservationSink | undefined, rollout?: { ring: string; offer: OfferDecision }): void {
  let segments: string[];
  try {
    segments = ctx.path.slice('/mozilla/update/'.length).split('/').map((segment) => decodeURIComponent(segment));
  } catch {
    ctx.throw(400, 'malformed percent-encoding');
  }
  const check = parseUpdatePath(segments);
  if (!check) {
    ctx.throw(404, 'not an update check: expected /mozilla/update/6/%PRODUCT%/%VERSION%/%BUILD_ID%/%BUILD_TARGET%/%LOCALE%/%CHANNEL%/…/update.xml');
  }
  // Firefox always sends its own version here: anything else is not an update check.
  if (safeCompare('mozilla', check.version, check.version) === undefined) ctx.throw(400, `"${check.version}" is not a Firefox or Thunderbird version`);
  const pin = typeof ctx.query.pin === 'string' && ctx.query.pin !== '' ? ctx.query.pin : undefined;
  const artifact = findUpdate(state, check, pin, rollout?.offer);
  const sha512 = artifact ? state.digests[artifact.sha256]?.sha512 : undefined;
  // The URL the client used to reach us is the one it can download from (an edge cache keeps Host).
  const origin = `${ctx.protocol}://${ctx.host}`;
  ctx.type = 'text/xml; charset=utf-8';
  ctx.set('Cache-Control', 'no-cache');
  ctx.body = renderUpdateXml(
    artifact && sha512
      ? { artifact, sha512, url: `${origin}/${artifact.path.split('/').map(encodeURIComponent).join('/')}`, detailsUrl: `${origin}/products/${encodeURIComponent(artifact.productId)}` }
      : undefined,
  );
  {
    // The catalog product this endpoint's line belongs to, so coverage can count it.
    const catalogProduct = state.published?.products.find((product) => product.protocol?.type === 'mozilla' && product.protocol.product === check.product && product.protocol.channel === check.channel);
    const platform = platformOfBuildTarget(check.buildTarget);
    // Only checks for a channel and platform this repository serves are recorded: anything
    // else is invented (issue 13: 5,000 invented channels, 5,000 records for one address).
    if (catalogProduct && platform && /^[A-Za-z]{2,3}(-[A-Za-z0-9]{2,8}){0,2}$/u.test(check.locale)) inventory?.record({
      endpoint: { kind: 'address', id: ctx.ip },
      ...(rollout ? { ring: rollout.ring } : {}),
      source: 'mozilla-aus',
      product: catalogProduct.id,
      version: check.version,
      platform,
      locale: check.locale,
      channel: check.channel,
    });
  }
}
