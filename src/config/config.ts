import path from 'node:path';
import * as z from 'zod';
import { UserFacingError } from '../core/errors.ts';
import { formatProblem, readYamlWithSchema } from '../core/yaml-file.ts';
import { transferFileExtensionPattern } from '../transfer/spool-names.ts';
import { proxyList } from '../core/address-list.ts';
import { defaultTenantId, tenantIdPattern } from '../admin/tenants.ts';
import { directoryConfigSchema } from '../admin/ldap-directory.ts';
import { adGroupPattern, agentTagPattern, distinguishedNamePattern, maxDistinguishedNameLength, ringIdPattern } from '../admin/rings.ts';
import { defaultTimeZone, isTimeZone } from '../admin/install-schedule.ts';

const addressOrRange = z.string().refine((entry) => { try { proxyList([entry]); return true; } catch { return false; } }, 'an IP address or CIDR range');

const ringId = z.string().regex(ringIdPattern, 'lower-case letters, digits and -, e.g. "pilot"');
const ringsSchema = z
  .array(
    z.strictObject({
      id: ringId,
      networks: z.array(addressOrRange).max(1000).default([]).describe('endpoints from these address ranges are in this ring'),
      agentTags: z.array(z.string().regex(agentTagPattern, 'a tag: letters, digits and . _ -')).max(100).default([]).describe('enrolled agents reporting one of these tags are in this ring'),
      adOus: z
        .array(z.string().max(maxDistinguishedNameLength).regex(distinguishedNamePattern, 'an OU distinguished name, e.g. "OU=Pilot,OU=PCs,DC=city,DC=local"'))
        .max(100)
        .default([])
        .describe('Active Directory OUs: an agent whose computer is in one of them (or an OU below it) is in this ring; compared case-insensitively, as AD does'),
      adGroups: z.array(z.string().regex(adGroupPattern, 'a group name of 1–256 characters')).max(100).default([]).describe('AD computer groups (names, case-insensitive): an agent whose computer is a member of one is in this ring'),
    }),
  )
  .min(1)
  .max(50)
  .optional()
  .describe('endpoint groups, first match wins; the last ring has no rules and holds every other endpoint (issue 15). None: one ring "all", automatic');
const timeZoneSchema = z
  .string()
  .refine(isTimeZone, 'an IANA time zone, e.g. "Asia/Tokyo"')
  .optional()
  .describe(`the time zone maintenance windows and deadlines of approvals are entered and shown in (default ${defaultTimeZone})`);
const policiesSchema = z
  .record(
    z.string().min(1).max(128),
    z.record(ringId, z.union([z.enum(['automatic', 'approval']), z.strictObject({ delay: z.strictObject({ after: ringId, days: z.number().min(0).max(365) }) })])),
  )
  .optional()
  .describe('product id → ring id → automatic (default) | approval | { delay: { after: <ring>, days: N } }; antivirus signatures are automatic unless named here');

/** Rings need a default (the last, without rules), unique ids, and policies that name them. */
function checkRollout(rollout: { rings?: { id: string; networks: string[]; agentTags: string[]; adOus?: string[]; adGroups?: string[] }[] | undefined; policies?: Record<string, Record<string, unknown>> | undefined }, path: (string | number)[], context: z.RefinementCtx): void {
  const rings = rollout.rings ?? [{ id: 'all', networks: [], agentTags: [] }];
  const ids = new Set(rings.map((ring) => ring.id));
  if (ids.size !== rings.length) context.addIssue({ code: 'custom', path: [...path, 'rings'], message: 'ring ids must be unique' });
  const last = rings.at(-1)!;
  if (last.networks.length > 0 || last.agentTags.length > 0 || (last.adOus?.length ?? 0) > 0 || (last.adGroups?.length ?? 0) > 0) context.addIssue({ code: 'custom', path: [...path, 'rings', rings.length - 1], message: `the last ring ("${last.id}") is the default: give it no networks, agentTags, adOus or adGroups` });
  for (const [product, perRing] of Object.entries(rollout.policies ?? {})) {
    for (const [ring, policy] of Object.entries(perRing)) {
      if (!ids.has(ring)) context.addIssue({ code: 'custom', path: [...path, 'policies', product, ring], message: `no ring "${ring}" (${[...ids].join(', ')})` });
      const after = typeof policy === 'object' && policy !== null ? (policy as { delay: { after: string } }).delay.after : undefined;
      if (after !== undefined && (!ids.has(after) || after === ring)) context.addIssue({ code: 'custom', path: [...path, 'policies', product, ring, 'delay', 'after'], message: `"after" must name another ring (${[...ids].join(', ')})` });
    }
    // Delays that wait for each other in a circle would never offer anything.
    const afterOf = (ring: string) => {
      const policy = perRing[ring];
      return typeof policy === 'object' && policy !== null ? (policy as { delay: { after: string } }).delay.after : undefined;
    };
    for (const start of Object.keys(perRing)) {
      const seen = new Set([start]);
      for (let ring = afterOf(start); ring !== undefined; ring = afterOf(ring)) {
        if (seen.has(ring)) {
          if (ring === start && afterOf(start) !== start) context.addIssue({ code: 'custom', path: [...path, 'policies', product, start, 'delay'], message: 'these delays wait for each other in a circle' });
          break;
        }
        seen.add(ring);
      }
    }
  }
}

const internetSchema = z.strictObject({
  storage: z.string().default('storage/internet').describe('data root of the internet side: blobs, state, quarantine, transfer key'),
  catalogs: z.string().default('catalogs').describe('folder of product catalog files (*.yaml)'),
  keys: z.array(z.string()).default(['catalogs/keys']).describe('folders holding pins.yaml and the pinned vendor keys'),
  spool: z.string().default('storage/spool').describe('folder the transfer appliance carries to the LGWAN side'),
  transferKey: z.string().optional().describe('Ed25519 private key; default <storage>/transfer-key.pem'),
  schedule: z.string().default('17 */2 * * *').describe('cron expression for fetch + bundle + send'),
  bundleExpiryDays: z.int().min(1).max(365).default(30),
  transferFileExtension: z
    .string()
    .regex(transferFileExtensionPattern, 'a dot and 1–15 letters or digits, e.g. ".bin"')
    .optional()
    .describe('an extension for every transfer file, for transfer services that accept only listed extensions: bundle-<n>.bin, bundle-<n>.part-0001.bin, bundle-<n>.toc.bin, bundle-<n>.toc.sig.bin (default: bundle-<n>.tar and no extension on the others); the LGWAN side must be set the same'),
  partMaxBytes: z.int().min(4096).default(1024 ** 3).describe("the transfer appliance's file size limit: larger bundles travel as parts with a signed table of contents"),
  carousel: z
    .strictObject({
      everyHours: z.number().min(0.001).default(168).describe('send every referenced file again after this long (weekly by default)'),
      maxBytes: z.int().min(0).default(4 * 1024 ** 3).describe('at most this many bytes of re-sent files per bundle'),
    })
    .prefault({})
    .describe('the carousel that lets a receiver which lost anything catch up without a back channel'),
  udp: z
    .strictObject({
      host: z.string().describe("the diode's receiving address (the LGWAN-side receiver)"),
      port: z.int().min(1).max(65535).default(47474),
      rateMbps: z.number().min(0.1).max(100_000).default(400).describe('sender rate limit in Mbit/s: stay below what the diode and receiver sustain'),
      shardSize: z.int().min(512).max(64_000).multipleOf(8).default(1400).describe('payload bytes per datagram (1400 for a 1500-byte MTU, 8192 for jumbo frames)'),
      dataShards: z.int().min(1).max(24).default(20),
      repairRatio: z.number().min(0).max(0.3).default(0.1).describe('repair shards per data shard (0.1: 2 of every 22 datagrams may be lost in each block)'),
      interleave: z.int().min(1).max(256).default(16).describe('blocks interleaved, so a burst of losses hits many blocks once each'),
      heartbeatSeconds: z.number().min(0.5).default(5),
    })
    .optional()
    .describe('send --udp: carry the spool over a one-way UDP link (hardware data diode)'),
  heartbeatHours: z.number().min(0.01).max(24 * 30).default(24).describe('resend the unchanged state after this long, so the LGWAN side can tell quiet from cut'),
  concurrencyPerHost: z.int().min(1).max(32).default(4),
  originRewrites: z.record(z.string(), z.string()).default({}).describe('catalog origin → origin actually contacted (demo and tests)'),
  dnsServers: z
    .array(z.string().regex(/^(\d{1,3}(\.\d{1,3}){3}|\[[0-9A-Fa-f:]+\])(:\d{1,5})?$|^[0-9A-Fa-f:]+$/u, 'an IP address, optionally with :port ([v6]:port)'))
    .default([])
    .describe('DNS servers for version lookups by DNS TXT (ClamAV); empty: the system resolver'),
});

const lgwanSchema = z.strictObject({
  storage: z.string().default('storage/lgwan').describe('data root of the LGWAN side: published blobs, state, quarantine'),
  keys: z.array(z.string()).default(['catalogs/keys']).describe("the LGWAN side's own copy of the pinned vendor keys"),
  spool: z.string().default('storage/spool').describe('folder bundles arrive in (read only)'),
  transferPublicKey: z.string().optional().describe('pinned transfer public key; default <storage>/transfer-key.pub.pem'),
  host: z.string().default('127.0.0.1').describe('address the repository listens on; endpoints reach it at http://<address>:<port>/. 127.0.0.1 answers this host only (behind a local nginx); the package config listens on 0.0.0.0'),
  port: z.int().min(0).max(65535).default(8080),
  importIntervalSeconds: z.int().min(1).max(86_400).default(30),
  transferStaleHours: z.number().min(0.01).default(48).describe('alarm when no bundle was created for this long (the internet side sends one at least every heartbeatHours)'),
  releaseLagHours: z.number().min(0).default(24).describe('alarm when a vendor release seen by the internet side is not published here after this long'),
  endpointStaleDays: z.number().min(0.01).default(30).describe('endpoints not seen for this long are marked stale (never deleted)'),
  diskLowPercent: z.number().min(0).max(100).default(10).describe('alarm when free space on the storage volume falls below this share'),
  advisoryMaxAgeHours: z.number().min(1).default(72).describe('alarm when an advisory source\'s data (fetched on the internet side) is older than this: its feed stopped arriving'),
  udp: z
    .strictObject({
      host: z.string().default('0.0.0.0'),
      port: z.int().min(1).max(65535).default(47474),
      senders: z
        .array(z.string().refine((entry) => { try { proxyList([entry]); return true; } catch { return false; } }, 'an IP address or CIDR range'))
        .min(1)
        .describe("the sender's address on the diode (addresses or CIDR ranges): datagrams from anywhere else are dropped"),
      maxFileBytes: z.int().min(1024).default(64 * 1024 ** 3),
      reassemblySeconds: z.number().min(1).default(600).describe('drop a partial file after this long without progress (the carousel resends it)'),
      heartbeatStaleSeconds: z.number().min(1).default(30).describe('alarm "link cut" when no heartbeat arrived for this long'),
    })
    .optional()
    .describe('receive --udp: write files arriving over a UDP data diode into the spool'),
  transferFileExtension: z
    .string()
    .regex(transferFileExtensionPattern, 'a dot and 1–15 letters or digits, e.g. ".bin"')
    .optional()
    .describe('the extension the internet side gives transfer files (its transferFileExtension); must be the same on both sides'),
  stagingQuotaBytes: z.int().min(1024 * 1024).default(64 * 1024 ** 3).describe('room for reassembling bundles that arrive as parts'),
  spoolStableSeconds: z.number().min(0).default(60).describe('a bundle file that is still incomplete (ends before the end of its tar) is waited for while it changed within this long; one unchanged for longer is refused as truncated'),
  quarantineQuotaBytes: z.int().min(0).default(4 * 1024 ** 3).describe('room for copies of refused bundles under <storage>/quarantine; beyond it a refusal is only recorded (reason, size), so junk in the spool cannot fill the disk'),
  partsTimeoutHours: z.number().min(0).default(24).describe('how long to wait for the missing parts of a bundle before giving it up'),
  workers: z
    .union([z.literal('auto'), z.int().min(1).max(64)])
    .default('auto')
    .describe('repository worker processes of serve and daemon: auto = one per core (at most 8); 1 = one process, no workers'),
  checkInsPerMinute: z.number().min(0.01).default(6).describe('agent check-ins allowed per agent and minute (after a burst of 10); agents check in about hourly'),
  inventory: z
    .strictObject({
      store: z.enum(['lowdb', 'postgresql']).default('lowdb').describe('lowdb: a JSON file in <storage> (one municipality); postgresql: a database shared by replicas (a provider)'),
      url: z.string().regex(/^postgres(ql)?:\/\//u, 'a postgresql:// connection URL').optional().describe('postgresql://user@host:5432/database; keep the password in PGPASSWORD or ~/.pgpass, not here'),
      flushSeconds: z.number().min(0.1).max(300).default(5).describe('observations are batched in memory and written this often'),
    })
    .refine((inventory) => inventory.store !== 'postgresql' || inventory.url !== undefined, { message: 'store: postgresql needs url', path: ['url'] })
    .prefault({})
    .describe('where the endpoint inventory (check-ins, versions seen) is kept'),
  trustProxy: z.boolean().default(false).describe('take the client address from X-Forwarded-For (only behind your own edge cache)'),
  trustedProxies: z
    .array(z.string().refine((entry) => { try { proxyList([entry]); return true; } catch { return false; } }, 'an IP address or CIDR range'))
    .default(['127.0.0.1', '::1'])
    .describe('with trustProxy: the edge caches (addresses or CIDR ranges) whose X-Forwarded-For counts; from any other peer the headers are ignored'),
  nginxFront: z
    .strictObject({
      accelRedirectPrefix: z
        .string()
        .regex(/^\/[A-Za-z0-9._~-]+(\/[A-Za-z0-9._~-]+)*\/$/u, 'an absolute path that starts and ends with /, e.g. /_lgwan-mirror/blobs/')
        .default('/_lgwan-mirror/blobs/')
        .describe('the internal location of the nginx front that serves <storage>/blobs/ (deploy/nginx/lgwan-mirror-front.conf)'),
    })
    .optional()
    .describe('an nginx on this host in front of the repository (deploy/nginx/lgwan-mirror-front.conf): blob downloads that come through it (from a trustedProxies address, with the header it sets) are answered with X-Accel-Redirect, and nginx sends the file with sendfile'),
  tenants: z
    .array(
      z.strictObject({
        id: z.string().regex(tenantIdPattern, 'lower-case letters, digits and -, e.g. "sapporo" (it appears in URLs: /t/<id>/)'),
        name: z.string().min(1).max(100).describe('the municipality\'s name as the pages show it, e.g. 札幌市'),
        networks: z.array(addressOrRange).default([]).describe("the address ranges this tenant's endpoints come from"),
        products: z.array(z.string().min(1).max(128)).optional().describe('the catalog subset offered to this tenant (product ids); all products when absent'),
        rings: ringsSchema,
        policies: policiesSchema,
        timeZone: timeZoneSchema,
      }),
    )
    .max(2000)
    .default([])
    .refine((tenants) => new Set(tenants.map((tenant) => tenant.id)).size === tenants.length, 'tenant ids must be unique')
    .describe('the municipalities this LGWAN-ASP serves; none: one implicit tenant holding every endpoint'),
  rings: ringsSchema.describe('rings of the implicit tenant (one municipality); with lgwan.tenants, give each tenant its own rings'),
  policies: policiesSchema.describe('release policies of the implicit tenant; with lgwan.tenants, per tenant'),
  timeZone: timeZoneSchema.describe('time zone of the implicit tenant (maintenance windows and deadlines of approvals); with lgwan.tenants, per tenant'),
  directories: z.array(directoryConfigSchema).max(50).default([]).describe('LDAP / Active Directory servers admins sign in against (docs/directory-sign-in.md); tried in order after local accounts'),
  console: z
    .strictObject({
      sessionIdleMinutes: z.number().min(1).max(24 * 60).default(60).describe('sign out after this long without a request'),
      sessionMaxHours: z.number().min(0.1).max(24 * 7).default(12).describe('sign out after this long in any case'),
      metricsTokenFile: z.string().optional().describe('a file holding the bearer token a Prometheus scraper sends for /metrics (provider-wide figures)'),
    })
    .prefault({})
    .describe('the admin console: sessions, and the /metrics scrape token'),
  tls: z
    .strictObject({
      cert: z.string().describe('PEM certificate chain (from your internal CA)'),
      key: z.string().describe('PEM private key'),
      port: z.int().min(0).max(65535).default(8443),
    })
    .optional()
    .describe('an HTTPS listener as well, for clients that require TLS (winget)'),
});

// A directory group or token for a tenant that is not declared would sign people in to nothing.
const checkedLgwanSchema = lgwanSchema.superRefine((lgwan, context) => {
  const declared = new Set(lgwan.tenants.length === 0 ? [defaultTenantId] : lgwan.tenants.map((tenant) => tenant.id));
  if (lgwan.tenants.length > 0 && (lgwan.rings !== undefined || lgwan.policies !== undefined)) {
    context.addIssue({ code: 'custom', path: [lgwan.rings !== undefined ? 'rings' : 'policies'], message: 'with lgwan.tenants, set rings and policies per tenant (lgwan.tenants[].rings)' });
  }
  checkRollout(lgwan, [], context);
  lgwan.tenants.forEach((tenant, index) => checkRollout(tenant, ['tenants', index], context));
  lgwan.directories.forEach((directory, index) =>
    directory.groups.forEach((group, groupIndex) => {
      if (group.tenant !== undefined && !declared.has(group.tenant)) {
        context.addIssue({ code: 'custom', path: ['directories', index, 'groups', groupIndex, 'tenant'], message: `no tenant "${group.tenant}" in lgwan.tenants (${[...declared].join(', ')})` });
      }
    }),
  );
});

export const configSchema = z.strictObject({
  $schema: z.string().optional(),
  internet: internetSchema.prefault({}),
  lgwan: checkedLgwanSchema.prefault({}),
});

export type InternetConfig = z.infer<typeof internetSchema> & { transferKey: string };
export type LgwanConfig = z.infer<typeof lgwanSchema> & { transferPublicKey: string };
export interface Config {
  internet: Readonly<InternetConfig>;
  lgwan: Readonly<LgwanConfig>;
}

/**
 * One loader for both sides: YAML with positions, a strict schema with defaults, paths
 * resolved against the config file's folder (or the working directory without one), and
 * a frozen result.
 */
export async function loadConfig(file: string | undefined): Promise<Config> {
  let raw: z.infer<typeof configSchema>;
  let base = process.cwd();
  if (file === undefined) {
    raw = configSchema.parse({}, { jitless: true });
  } else {
    const parsed = await readYamlWithSchema(file, configSchema).catch((cause: NodeJS.ErrnoException) => {
      throw new UserFacingError('E_CONFIG_INVALID', `cannot read config file ${file}: ${cause.message}`, { cause });
    });
    if (!parsed.ok) throw new UserFacingError('E_CONFIG_INVALID', `invalid config:\n${parsed.problems.map(formatProblem).join('\n')}`, { details: { file } });
    raw = parsed.value;
    base = path.dirname(path.resolve(file));
  }
  const resolve = (value: string) => path.resolve(base, value);
  const internetStorage = resolve(raw.internet.storage);
  const lgwanStorage = resolve(raw.lgwan.storage);
  return Object.freeze({
    internet: Object.freeze({
      ...raw.internet,
      storage: internetStorage,
      catalogs: resolve(raw.internet.catalogs),
      keys: raw.internet.keys.map(resolve),
      spool: resolve(raw.internet.spool),
      transferKey: raw.internet.transferKey ? resolve(raw.internet.transferKey) : path.join(internetStorage, 'transfer-key.pem'),
    }),
    lgwan: Object.freeze({
      ...raw.lgwan,
      storage: lgwanStorage,
      keys: raw.lgwan.keys.map(resolve),
      spool: resolve(raw.lgwan.spool),
      transferPublicKey: raw.lgwan.transferPublicKey ? resolve(raw.lgwan.transferPublicKey) : path.join(lgwanStorage, 'transfer-key.pub.pem'),
      directories: raw.lgwan.directories.map((directory) => ({ ...directory, bindPasswordFile: resolve(directory.bindPasswordFile), ...(directory.caFile ? { caFile: resolve(directory.caFile) } : {}) })),
      console: { ...raw.lgwan.console, metricsTokenFile: raw.lgwan.console.metricsTokenFile ? resolve(raw.lgwan.console.metricsTokenFile) : undefined },
      tls: raw.lgwan.tls ? { ...raw.lgwan.tls, cert: resolve(raw.lgwan.tls.cert), key: resolve(raw.lgwan.tls.key) } : undefined,
    }),
  });
}
