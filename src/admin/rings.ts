import { isIP, type BlockList } from 'node:net';
import { proxyList } from '../core/address-list.ts';
import type { VersionScheme } from '../catalog/schema.ts';
import { compareVersions } from '../versions/index.ts';
import type { ApprovalSchedule } from './install-schedule.ts';

/*
 * Rings (issue 15): per tenant, an ordered list of endpoint groups. An endpoint is in the
 * first ring whose rules it matches (an address in `networks`, or, for an enrolled agent, a
 * tag it reports in `agentTags`, the Active Directory OU it reports under one of `adOus`, or an
 * AD group it reports in `adGroups`); the last ring has no rules and holds everyone else. Per
 * product and ring a policy says when a published release is offered: at once (automatic),
 * N days after it was offered to another ring (delay), or once an admin approved it
 * (approval). Decisions made on the console (approve, decline, hold) are kept in the admin
 * store. `offeredVersion` is the one function every protocol asks.
 */

export const ringIdPattern = /^[a-z0-9][a-z0-9-]{0,31}$/u;
/** Tags an agent reports: short tokens. */
export const agentTagPattern = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/u;
/**
 * An OU distinguished name, as an agent reports it and a ring names it: RDNs of an attribute
 * type and a value (escapes `\\,` allowed), no control characters, at most 1024 characters.
 * Japanese OU names (OU=情報政策課) are common, so any other character is allowed.
 */
export const distinguishedNamePattern = /^[A-Za-z][A-Za-z0-9-]*=(?:\\.|[^,\\\u0000-\u001f\u007f])+(?:,\s?[A-Za-z][A-Za-z0-9-]*=(?:\\.|[^,\\\u0000-\u001f\u007f])+)*$/u;
export const maxDistinguishedNameLength = 1024;
/** An AD group name (its CN): 1–256 characters, no control characters. */
export const adGroupPattern = /^[^\u0000-\u001f\u007f]{1,256}$/u;
/** The one ring of a tenant that configures none: everything, automatic. */
export const implicitRingId = 'all';

export interface RingConfig {
  id: string;
  networks?: readonly string[];
  agentTags?: readonly string[];
  /** OUs (distinguished names): an agent whose computer is in one of them, or below, is in this ring. */
  adOus?: readonly string[];
  /** AD computer groups (names): an agent whose computer is a member of one is in this ring. */
  adGroups?: readonly string[];
}

export type ReleasePolicyConfig = 'automatic' | 'approval' | { delay: { after: string; days: number } };

/** product id → ring id → policy; absent: automatic. */
export type PoliciesConfig = Readonly<Record<string, Readonly<Record<string, ReleasePolicyConfig>>>>;

export interface Ring {
  readonly id: string;
  readonly networkList: BlockList | undefined;
  readonly agentTags: ReadonlySet<string>;
  /** Normalized (`normalizeDn`) OU names. */
  readonly adOus: readonly string[];
  /** Lower-cased group names. */
  readonly adGroups: ReadonlySet<string>;
}

/**
 * AD compares distinguished names case-insensitively and ignores a space after a comma, so
 * the report `CN=PC1, OU=Pilot,DC=City,DC=local` is under `ou=pilot,dc=city,dc=local`.
 */
export function normalizeDn(dn: string): string {
  return dn.replace(/(?<!\\),\s+/gu, ',').trim().toLowerCase();
}

/** Whether `dn` is the OU `ou` or an object below it (a suffix at an RDN boundary). */
export function dnUnder(dn: string, ou: string): boolean {
  const child = normalizeDn(dn);
  const parent = normalizeDn(ou);
  if (child === parent) return true;
  if (!child.endsWith(`,${parent}`)) return false;
  // An escaped comma ("OU=a\\,b") is part of a value, not an RDN boundary.
  const before = child.slice(0, child.length - parent.length - 1);
  return !/(?<!\\)(?:\\\\)*\\$/u.test(before);
}

/** What an endpoint says about itself that ring rules may select it by. */
export interface EndpointFacts {
  address?: string;
  tags?: readonly string[];
  /** The OU distinguished name of the agent's computer (Active Directory). */
  ou?: string;
  /** The AD groups the agent's computer is a member of (names). */
  groups?: readonly string[];
}

export function compileRings(configs: readonly RingConfig[] | undefined): Ring[] {
  const effective = configs && configs.length > 0 ? configs : [{ id: implicitRingId }];
  return effective.map((config) => ({
    id: config.id,
    networkList: config.networks && config.networks.length > 0 ? proxyList(config.networks) : undefined,
    agentTags: new Set(config.agentTags ?? []),
    adOus: (config.adOus ?? []).map(normalizeDn),
    adGroups: new Set((config.adGroups ?? []).map((group) => group.toLowerCase())),
  }));
}

/** The first ring whose rules hold the endpoint; the last ring (no rules) otherwise. */
export function ringOf(rings: readonly Ring[], endpoint: EndpointFacts): string {
  const family = endpoint.address ? isIP(endpoint.address) : 0;
  const groups = endpoint.groups?.map((group) => group.toLowerCase());
  for (const ring of rings) {
    if (ring.networkList && family !== 0 && ring.networkList.check(endpoint.address!, family === 6 ? 'ipv6' : 'ipv4')) return ring.id;
    if (endpoint.tags?.some((tag) => ring.agentTags.has(tag))) return ring.id;
    if (endpoint.ou !== undefined && ring.adOus.some((ou) => dnUnder(endpoint.ou!, ou))) return ring.id;
    if (groups?.some((group) => ring.adGroups.has(group))) return ring.id;
  }
  return rings.at(-1)!.id;
}

export type DecisionKind = 'approve' | 'decline' | 'hold';

/** A decision of a tenant's admin, kept in the admin store. */
export interface ReleaseDecision {
  tenant: string;
  kind: DecisionKind;
  product: string;
  /** approve/decline: the release; hold: the version the ring is held at. */
  version: string;
  /** approve and hold: the ring; decline applies to every ring of the tenant. */
  ring?: string;
  at: string;
  by: string;
  /** approve only: install inside these windows, by this deadline at the latest (issue 15, point 4). */
  schedule?: ApprovalSchedule;
}

/** One decision per key: approving twice keeps one approval, a new hold replaces the old one. */
export function decisionKey(decision: Pick<ReleaseDecision, 'kind' | 'product' | 'version' | 'ring'>): string {
  // JSON, not a NUL-separated string: PostgreSQL's text cannot hold NUL.
  switch (decision.kind) {
    case 'approve':
      return JSON.stringify(['approve', decision.product, decision.version, decision.ring ?? '']);
    case 'decline':
      return JSON.stringify(['decline', decision.product, decision.version]);
    case 'hold':
      return JSON.stringify(['hold', decision.product, decision.ring ?? '']);
  }
}

export interface ProductFacts {
  id: string;
  scheme: VersionScheme;
  /**
   * Antivirus signatures are automatic unless the tenant's policies name the product: a held
   * signature database protects nobody, but an admin may want the general ring a day behind
   * the pilot, so that a false positive quarantining business files hits a few PCs first.
   */
  antivirus: boolean;
}

/** What decides a tenant's offers: its rings, policies and the decisions on record. */
export interface TenantRollout {
  rings: readonly Ring[];
  policies: PoliciesConfig;
  decisions: readonly ReleaseDecision[];
  /** When a release was first published on this LGWAN side (product → version → ISO time). */
  publishedAt(product: string, version: string): string | undefined;
}

export function policyOf(rollout: Pick<TenantRollout, 'policies'>, product: ProductFacts, ring: string): ReleasePolicyConfig {
  return rollout.policies[product.id]?.[ring] ?? 'automatic';
}

/** An antivirus product no policy names is offered as published, whatever was decided on the console. */
function unmanagedAntivirus(rollout: Pick<TenantRollout, 'policies'>, product: ProductFacts): boolean {
  return product.antivirus && rollout.policies[product.id] === undefined;
}

/**
 * Since when `version` of `product` may be offered to `ring` (ms since the epoch; -Infinity:
 * since it was published, whatever the clock says); undefined: not (yet) at all. Publication
 * itself is what makes an automatic release available: the import may stamp a release a
 * second ahead (two releases in one second), and that must not hide it.
 */
export function allowedSince(rollout: TenantRollout, product: ProductFacts, ring: string, version: string, depth = 0): number | undefined {
  if (depth > 16) return undefined;
  if (unmanagedAntivirus(rollout, product)) return Number.NEGATIVE_INFINITY;
  if (rollout.decisions.some((decision) => decision.kind === 'decline' && decision.product === product.id && decision.version === version)) return undefined;
  const approval = rollout.decisions.find((decision) => decision.kind === 'approve' && decision.product === product.id && decision.version === version && decision.ring === ring);
  const approvedMs = approval ? Date.parse(approval.at) : undefined;
  const policy = policyOf(rollout, product, ring);
  let byPolicy: number | undefined;
  if (policy === 'automatic') byPolicy = Number.NEGATIVE_INFINITY;
  else if (policy === 'approval') byPolicy = undefined;
  else {
    const before = allowedSince(rollout, product, policy.delay.after, version, depth + 1);
    const published = rollout.publishedAt(product.id, version);
    const base = before === Number.NEGATIVE_INFINITY ? (published ? Date.parse(published) : Number.NEGATIVE_INFINITY) : before;
    byPolicy = base === undefined ? undefined : base + policy.delay.days * 86_400_000;
  }
  if (approvedMs === undefined || Number.isNaN(approvedMs)) return byPolicy;
  return byPolicy === undefined ? approvedMs : Math.min(approvedMs, byPolicy);
}

/** Whether `version` is beyond the ring's hold for the product. */
function beyondHold(rollout: TenantRollout, product: ProductFacts, ring: string, version: string): boolean {
  if (unmanagedAntivirus(rollout, product)) return false;
  const hold = rollout.decisions.find((decision) => decision.kind === 'hold' && decision.product === product.id && decision.ring === ring);
  if (!hold) return false;
  try {
    return compareVersions(product.scheme, version, hold.version) > 0;
  } catch {
    return true;
  }
}

export function isOffered(rollout: TenantRollout, product: ProductFacts, ring: string, version: string, now: Date): boolean {
  if (beyondHold(rollout, product, ring, version)) return false;
  const since = allowedSince(rollout, product, ring, version);
  return since !== undefined && since <= now.getTime();
}

/**
 * The one decision every protocol uses: of `versions` (the published releases the asking
 * client could take), the newest that the ring's policy and the tenant's decisions allow,
 * or undefined when none is.
 */
export function offeredVersion(rollout: TenantRollout, product: ProductFacts, ring: string, versions: Iterable<string>, now: Date): string | undefined {
  let best: string | undefined;
  for (const version of new Set(versions)) {
    if (!isOffered(rollout, product, ring, version, now)) continue;
    try {
      if (best === undefined || compareVersions(product.scheme, version, best) > 0) best = version;
    } catch {
      // A version the scheme cannot order is never offered by a policy.
    }
  }
  return best;
}
