import { readFileSync } from 'node:fs';
import { METHODS, type IncomingMessage, type ServerResponse } from 'node:http';
import { fileURLToPath } from 'node:url';
import Router from '@koa/router';
import Koa, { type Context } from 'koa';
import type { Artifact } from '../bundle/manifest.ts';
import { LgwanMirrorError } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import type { LgwanDatabase } from '../importer/lgwan-state.ts';
import type { BlobStore } from '../store/blob-store.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { handleMozillaUpdate, UpdateAnswers } from './protocols/mozilla-aus.ts';
import { cvdBuildTime, recordDatabaseVersion, recordFreshclam } from './protocols/freshclam.ts';
import { recordApt } from './protocols/apt.ts';
import { handleCheckIn } from './protocols/agent.ts';
import { RateLimiter } from './rate-limit.ts';
import { handleWinget } from './protocols/winget.ts';
import { readLimitedBody } from './read-limited-body.ts';
import { publishedIndex } from './published-index.ts';
import { serveImmutableFile, SmallBlobCache } from './serve-file.ts';
import { accelRedirects, frontHeader } from './nginx-front.ts';
import { JsonAnswers, sendJsonAnswer } from './json-answers.ts';
import { defaultThresholds, type AlarmThresholds, type DiskReading } from './status-model.ts';
import { StatusAnswers } from './status-answers.ts';
import { addCoverageRoutes } from './coverage-routes.ts';
import { CoverageView } from './coverage-view.ts';
import { clientAddress, clientAddressResolver } from './client-address.ts';
import { createHotPath, type HotPath } from './hot-path.ts';
import { latestKey, latestOf, releasesKey, releasesOf } from './listings.ts';
import { consoleGuard, routeKind, type ConsoleState, type Scope } from '../admin/access-guard.ts';
import { renderProblemPage } from '../admin/console-pages.ts';
import { languageOf } from './i18n.ts';
import type { AdminStore } from '../admin/admin-store.ts';
import { authenticateCheckIn, checkInVerifier, handleEnroll, ReplayGuard, type CheckInVerifier } from '../admin/agent-auth.ts';
import { clientTenant, NativeObservations, TenantStates } from '../admin/client-tenant.ts';
import { addConsoleRoutes, type SignInDirectory } from '../admin/console-routes.ts';
import type { SessionPolicy } from '../admin/sessions.ts';
import type { TenantDirectory } from '../admin/tenants.ts';
import { Rollouts } from '../admin/rollouts.ts';
import type { EndpointFacts } from '../admin/rings.ts';
import { addApprovalRoutes } from '../admin/approval-routes.ts';
import { emptyAdvisoryData } from '../advisories/model.ts';
import { endpointExposure, type ExposureReport } from '../exposure/compute-exposure.ts';
import { advisoryAlarms } from '../exposure/exposure-alarms.ts';
import { ExposureView, type AdvisoryProvider } from '../exposure/exposure-view.ts';
import { addExposureRoutes } from './exposure-routes.ts';
import { renderApprovalFixes } from './pages/exposure-page.ts';

export const defaultTrustedProxies = ['127.0.0.1', '::1'];

export const contentSecurityPolicy = "default-src 'none'; script-src 'none'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

export interface ConsoleOptions {
  store: AdminStore;
  tenants: TenantDirectory;
  directories?: readonly SignInDirectory[];
  sessionPolicy?: SessionPolicy;
  /** SHA-256 (hex) of the token a Prometheus scraper sends as `Authorization: Bearer …` for /metrics. */
  metricsTokenHash?: string;
}

export interface RepositoryOptions {
  /** The published state; only `data` is read (a worker process holds a read-only copy). */
  database: Pick<LgwanDatabase, 'data'> & {
    /** Counts the state's writes (status-answers.ts); without it the status is made per request. */
    readonly revision?: number;
  };
  /** Tenants, accounts, sessions, enrolled agents and the audit log. */
  console: ConsoleOptions;
  store: BlobStore;
  logger: Logger;
  /** Where native update checks and agent check-ins are recorded; none in a read-only replica. */
  inventory?: InventoryStore;
  /** Client addresses from X-Forwarded-For: only behind the operator's own edge cache. */
  trustProxy?: boolean;
  /** The proxies (addresses or CIDR ranges) whose forwarding headers count; default this host. */
  trustedProxies?: readonly string[];
  /** The nginx front's internal location for the blob store (X-Accel-Redirect); none: the repository sends every byte. */
  accelRedirectPrefix?: string;
  /** Bounds of the in-memory cache of small blobs. */
  smallBlobs?: ConstructorParameters<typeof SmallBlobCache>[0];
  thresholds?: AlarmThresholds;
  endpointStaleDays?: number;
  /** Check-ins allowed per agent: a burst, then this many a minute. */
  checkInBurst?: number;
  checkInsPerMinute?: number;
  /** How long a computed coverage report is reused (the page, API, CSV and /metrics share it). */
  coverageTtlMs?: number;
  /** Free and total bytes of the storage volume, refreshed by the caller. */
  disk?: () => DiskReading | undefined;
  /**
   * The advisory data of the published state (issue 16): the parsed advisory artifacts. Without
   * it every product says "no advisory data". Asked at every report; return the same object
   * while nothing changed, so that the exposure reports stay cached.
   */
  advisories?: AdvisoryProvider;
  /** The last heartbeat of a UDP diode, if one is in use. */
  heartbeat?: () => { receivedAt: string; latestSequence: number; staleSeconds: number } | undefined;
  now?: () => Date;
  /** Checks signed check-ins against the enrolled agents and those already accepted; the primary's for every worker (default: this process's own). */
  checkInVerifier?: CheckInVerifier;
  /** Called with a listener for decisions made elsewhere (another worker), so they count at once. */
  onDecisionsChanged?: (listener: (tenant: string) => void) => void;
  /** How long a replica reuses a tenant's release decisions read from the admin store (default 2 s). */
  decisionCacheMs?: number;
}

const stylesheet = readFileSync(fileURLToPath(new URL('./assets/status.css', import.meta.url)));
const icon = readFileSync(fileURLToPath(new URL('./assets/icon.svg', import.meta.url)));
const openapi = readFileSync(fileURLToPath(new URL('./openapi.json', import.meta.url)));

/** Every route the router answers, for the test that walks them all (test/admin/route-walk.test.ts). */
const routeLists = new WeakMap<Koa, ReadonlyArray<{ path: string; methods: string[] }>>();
export const routeListOf = (app: Koa) => routeLists.get(app) ?? [];
const hotPaths = new WeakMap<Koa, HotPath>();

/**
 * The server's request listener: the hot path (hot-path.ts) for what is decided and in memory,
 * the Koa app for everything else. `hot: false` gives the app alone (the test that compares them).
 */
export function requestListener(app: Koa, options: { hot?: boolean } = {}): (request: IncomingMessage, response: ServerResponse) => void {
  const koa = app.callback();
  const hot = options.hot === false ? undefined : hotPaths.get(app);
  if (!hot) return koa;
  return (request, response) => {
    if (!hot(request, response)) void koa(request, response);
  };
}

/** How many requests the hot path answered and left to the app; undefined for an app without one. */
export const hotPathCounts = (app: Koa) => hotPaths.get(app)?.counts;

/** What the app answers outside the router: vendor protocols by path prefix. */
export const prefixRoutes = ['/winget', '/mozilla/update/', '/pool/', '/apt/', '/clamav/'] as const;

/**
 * The LGWAN repository: read-only for endpoints. Serves only what the published state
 * lists; a blob that is in the store but not published does not exist as far as any
 * client can tell.
 */
export function createRepositoryApp(options: RepositoryOptions): Koa {
  const now = options.now ?? (() => new Date());
  const app = new Koa({ proxy: options.trustProxy ?? false });
  // Every method counts as implemented, so a PROPFIND or TRACE gets 405 with Allow like any
  // other unsupported method (issue 13: they answered 501).
  const router = new Router({ methods: [...METHODS] });
  const state = () => options.database.data;

  // The pages carry no script at all, so none may run: if escaping ever missed a string from a
  // bundle, a vendor feed or an endpoint, the browser still refuses to execute it. Inline style
  // stays allowed (coverage bars are sized with style="width:…").
  app.use(async (ctx, next) => {
    ctx.set('Content-Security-Policy', contentSecurityPolicy);
    ctx.set('X-Content-Type-Options', 'nosniff');
    await next();
  });

  // One error hub: known errors map to statuses; messages are exposed for 4xx only.
  app.use(async (ctx, next) => {
    try {
      await next();
    } catch (error) {
      const status = error instanceof LgwanMirrorError && error.code === 'E_UNSAFE_NAME' ? 400 : ((error as { status?: number }).status ?? 500);
      ctx.status = status;
      if (status === 405) ctx.set('Allow', 'GET, HEAD');
      const detail = status < 500 ? (error as Error).message : 'internal error';
      // A browser on a console page or form gets a page that says what to do; programs get JSON.
      const browserPage = routeKind(ctx.path) === 'console' && !ctx.path.startsWith('/api/') && ctx.path !== '/metrics' && !ctx.path.endsWith('.csv') && ctx.accepts('json', 'html') === 'html';
      if (browserPage) {
        ctx.type = 'text/html; charset=utf-8';
        ctx.body = renderProblemPage({ language: languageOf(ctx.query.lang), status, detail });
      } else {
        ctx.body = { error: detail };
      }
      if (status >= 500) options.logger.error({ err: error, path: ctx.path }, 'request failed');
    }
  });

  app.use(clientAddress({ trustProxy: options.trustProxy ?? false, trustedProxies: options.trustedProxies ?? defaultTrustedProxies }));
  const { tenants, store: adminStore } = options.console;
  app.use(clientTenant(tenants));
  app.use(consoleGuard({ store: adminStore, tenants, policy: options.console.sessionPolicy ?? { idleMinutes: 60, maxHours: 12 }, ...(options.console.metricsTokenHash ? { metricsTokenHash: options.console.metricsTokenHash } : {}), now }));
  const tenantStates = new TenantStates(tenants);
  const natives = new NativeObservations(options.inventory);
  // Rings and approvals (issue 15): what each endpoint's ring is offered, from the tenants' decisions.
  const rollouts = new Rollouts(adminStore, now, options.decisionCacheMs);
  const updateAnswers = new UpdateAnswers();
  options.onDecisionsChanged?.((tenant) => rollouts.invalidate(tenant));
  const tenantRollout = (tenant: ConsoleState['clientTenant'], tenantState: ReturnType<typeof stateOf>, endpoint: EndpointFacts) => rollouts.view(tenant, tenantState, endpoint);
  /** The published state as the request's endpoint (protocol routes) or console scope sees it. */
  const stateOf = (ctx: Context) => {
    const state = ctx.state as ConsoleState;
    return tenantStates.of(options.database.data, state.scope ? state.scope.tenant : state.clientTenant);
  };

  const smallBlobs = new SmallBlobCache(options.smallBlobs);
  const accelRedirectAt = accelRedirects({ prefix: options.accelRedirectPrefix, trustedProxies: options.trustedProxies ?? defaultTrustedProxies, blobRoot: options.store.root });
  const accelRedirectFor = (ctx: Context, file: string) => accelRedirectAt(ctx.get(frontHeader), ctx.req.socket.remoteAddress, file);
  const serveArtifact = async (ctx: Context, artifact: Artifact | undefined, immutable: boolean): Promise<void> => {
    if (!artifact) {
      // 404, never 403: freshclam backs off for a day on 403 (PROTOCOLS.md).
      ctx.status = 404;
      ctx.body = { error: 'not published' };
      return;
    }
    const publishedAt = state().firstPublished[artifact.productId]?.[artifact.version] ?? state().published?.publishedAt ?? now().toISOString();
    const file = options.store.pathOf(artifact.sha256);
    // freshclam sends If-Modified-Since = the build time in its local CVD header: answer with the same clock.
    const lastModified = artifact.verification.method === 'clamav-cvd' ? await cvdBuildTime(file, artifact.sha256) : new Date(publishedAt);
    const accelRedirect = accelRedirectFor(ctx, file);
    await serveImmutableFile(ctx, { file, sha256: artifact.sha256, fileName: artifact.fileName, lastModified, immutable, cache: smallBlobs, ...(accelRedirect ? { accelRedirect } : {}) });
  };

  const endpointStaleDays = options.endpointStaleDays ?? 30;
  // Exposure to advisories, one report per scope like coverage (issue 16).
  const advisories: AdvisoryProvider = options.advisories ?? { data: () => emptyAdvisoryData };
  const exposureViews = new Map<string, ExposureView>();
  const exposureOf = (scope: Scope): Promise<ExposureReport> => {
    const key = scope.tenantId ?? '*';
    let view = exposureViews.get(key);
    if (!view) {
      const tenant = scope.tenant;
      const source = options.inventory ?? { versionsByProduct: async () => new Map(), endpointCounts: async () => ({ total: 0, stale: 0 }), versionProfiles: async () => [] };
      exposureViews.set(key, (view = new ExposureView(() => tenantStates.of(state(), tenant), advisories, source, { endpointStaleDays, ttlMs: options.coverageTtlMs ?? 5000, ...(scope.tenantId && !tenants.implicit ? { tenant: scope.tenantId } : {}) })));
    }
    return view.report(now());
  };
  const thresholds = options.thresholds ?? defaultThresholds;
  // The status (and its alarms) must answer when the inventory does not: then it lacks only the exposure alarms.
  const exposureAlarmsOf = (scope: Scope) =>
    exposureOf(scope).then(
      (report) => advisoryAlarms(report, now(), thresholds.advisoryMaxAgeHours ?? defaultThresholds.advisoryMaxAgeHours!),
      (error: unknown) => {
        options.logger.warn({ err: error }, 'exposure report failed; status shown without its alarms');
        return [];
      },
    );
  const statusAnswers = new StatusAnswers();
  const statusAnswerOf = async (scope: Scope) => {
    const advisoryAlarms = await exposureAlarmsOf(scope);
    const inputs = { root: state(), revision: options.database.revision, state: tenantStates.of(state(), scope.tenant), thresholds, disk: options.disk?.(), heartbeat: options.heartbeat?.(), inventory: options.inventory?.health(), advisoryAlarms };
    return statusAnswers.of(scope.tenantId ?? '*', inputs, now());
  };
  const statusOf = async (scope: Scope) => (await statusAnswerOf(scope)).status;
  // One report per tenant (and one for the operator's all-tenants view), each cached on its own.
  const coverageViews = new Map<string, CoverageView>();
  const coverageOf = (scope: Scope) => {
    const key = scope.tenantId ?? '*';
    let view = coverageViews.get(key);
    if (!view) {
      const tenant = scope.tenant;
      coverageViews.set(key, (view = new CoverageView(() => tenantStates.of(state(), tenant), options.inventory, { endpointStaleDays, ttlMs: options.coverageTtlMs ?? 5000, ...(scope.tenantId && !tenants.implicit ? { tenant: scope.tenantId } : {}) })));
    }
    return view.report(now());
  };
  const scopeOf = (ctx: Context): Scope => (ctx.state as ConsoleState).scope ?? ctx.throw(401, 'sign in first');
  const exposure = {
    report: (ctx: Context) => exposureOf(scopeOf(ctx)),
    endpoint: async (ctx: Context, record: Parameters<typeof endpointExposure>[2], key: string) => endpointExposure(stateOf(ctx), await advisories.data(), record, key, now()),
  };
  addCoverageRoutes(router, { status: (ctx) => statusOf(scopeOf(ctx)), coverage: (ctx) => coverageOf(scopeOf(ctx)), exposure, scope: scopeOf, inventory: options.inventory, endpointStaleDays, now, natives });
  addExposureRoutes(router, { exposure: exposure.report, data: async () => advisories.data(), state: stateOf, tenantOf: (ctx) => scopeOf(ctx).tenantId, inventory: options.inventory, now });
  // Browsers ask for /favicon.ico on their own; answering keeps their consoles clean.
  router.get(['/assets/icon.svg', '/favicon.ico'], (ctx) => {
    ctx.type = 'image/svg+xml';
    ctx.set('Cache-Control', 'public, max-age=86400');
    ctx.body = icon;
  });
  router.get('/assets/status.css', (ctx) => {
    ctx.type = 'text/css; charset=utf-8';
    ctx.set('Cache-Control', 'public, max-age=3600');
    ctx.body = stylesheet;
  });

  router.get('/blobs/sha256/:digest', async (ctx) => {
    const digest = ctx.params.digest ?? '';
    await serveArtifact(ctx, /^[0-9a-f]{64}$/u.test(digest) ? publishedIndex(stateOf(ctx).published).bySha256.get(digest) : undefined, true);
  });

  // Behind an edge cache every request comes from one address: the per-address limit is
  // generous, the per-agent one strict (agents check in about hourly).
  const checkInLimits = {
    perAddress: new RateLimiter({ burst: 1000, perMinute: 1000 }),
    perAgent: new RateLimiter({ burst: options.checkInBurst ?? 10, perMinute: options.checkInsPerMinute ?? 6 }),
  };
  const verifier = options.checkInVerifier ?? checkInVerifier(adminStore, new ReplayGuard());
  router.post('/api/v1/agent/checkin', async (ctx) => {
    await handleCheckIn(ctx, {
      stateFor: (tenant) => tenantStates.of(state(), tenant),
      inventory: options.inventory,
      limits: checkInLimits,
      rollout: (tenant, tenantState, endpoint) => tenantRollout(tenants.byId(tenant), tenantState, { address: ctx.ip, ...endpoint }),
      results: { put: (tenant, results) => adminStore.putInstallResults(tenant, results) },
      now,
      authenticate: async (body, agentId) => {
        // The signed timestamp is checked against the wall clock both ends keep, not the clock
        // rollout decisions are taken by (`now`, which tests move to a maintenance window).
        const agent = await authenticateCheckIn(ctx, verifier, body, agentId, new Date());
        // The agent's tenant decides which of its reported products count (its catalog subset).
        return { agentId: agent.agentId, tenant: agent.tenant, hostname: agent.hostname };
      },
    });
  });
  // A rollout by group policy enrolls a whole floor within minutes, possibly through one NAT address.
  const enrollLimits = { perAddress: new RateLimiter({ burst: 30, perMinute: 10 }) };
  const consoleRoutes = addConsoleRoutes(router, { store: adminStore, tenants, directories: options.console.directories ?? [], logger: options.logger, now });
  addApprovalRoutes(router, {
    store: adminStore, rollouts, state: (ctx) => stateOf(ctx), inventory: options.inventory, audit: consoleRoutes.audit, tenants, now,
    // What each release fixes, beside it (issue 16).
    releaseFixes: async (ctx) => {
      // Approving must work when exposure cannot be computed: the page then goes without the fixes.
      const report = await exposureOf(scopeOf(ctx)).catch(() => undefined);
      return report && ((product, version, language) => renderApprovalFixes(report.products.find((candidate) => candidate.productId === product), version, language));
    },
  });
  router.post('/api/v1/agent/enroll', async (ctx) => {
    await handleEnroll(ctx, { store: adminStore, tenants, limits: enrollLimits, audit: consoleRoutes.audit, now });
  });
  router.get('/api/v1/openapi.json', (ctx) => {
    ctx.type = 'application/json';
    ctx.body = openapi;
  });
  // Signed-in answers are not kept by browsers (shared office PCs); the ETag is for scripts that poll.
  router.get('/api/v1/status', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    sendJsonAnswer(ctx, (await statusAnswerOf(scopeOf(ctx))).json);
  });
  router.get('/api/v1/products', async (ctx) => {
    ctx.set('Cache-Control', 'no-store');
    sendJsonAnswer(ctx, (await statusAnswerOf(scopeOf(ctx))).products());
  });
  // The listings are functions of the publication alone: made once per published state and
  // answered from memory with an ETag (issue 18); the status model when anything it shows
  // changes (status-answers.ts).
  const jsonAnswers = new JsonAnswers();
  const noPublication = {};
  router.get('/api/v1/products/:id/releases', (ctx) => {
    const published = stateOf(ctx).published;
    const product = published?.products.find((candidate) => candidate.id === ctx.params.id);
    if (!product) {
      ctx.status = 404;
      ctx.body = { error: `no product ${ctx.params.id}` };
      return;
    }
    ctx.set('Cache-Control', 'no-cache');
    jsonAnswers.answer(ctx, published!, releasesKey(product.id), () => releasesOf(state(), published!, product));
  });
  router.get('/api/v1/latest', (ctx) => {
    const published = stateOf(ctx).published;
    const filter = { product: ctx.query.product, platform: ctx.query.platform, locale: ctx.query.locale };
    ctx.set('Cache-Control', 'no-cache');
    jsonAnswers.answer(ctx, published ?? noPublication, latestKey(filter), () => latestOf(published, filter));
  });

  app.use(router.routes());
  app.use(router.allowedMethods());
  routeLists.set(app, router.stack.map((layer) => ({ path: String(layer.path), methods: layer.methods.filter((method) => method !== 'HEAD') })));
  hotPaths.set(
    app,
    createHotPath({
      state, tenants, tenantStates, rollouts, updateAnswers, natives, jsonAnswers, noPublication, smallBlobs, accelRedirectFor: accelRedirectAt,
      pathOf: (sha256) => options.store.pathOf(sha256),
      clientAddressOf: clientAddressResolver({ trustProxy: options.trustProxy ?? false, trustedProxies: options.trustedProxies ?? defaultTrustedProxies }),
      contentSecurityPolicy, logger: options.logger, now,
    }),
  );

  app.use(async (ctx, next) => {
    if (ctx.path !== '/winget' && !ctx.path.startsWith('/winget/')) return next();
    const tenantState = stateOf(ctx);
    await handleWinget(ctx, tenantState, natives.for(ctx), await tenantRollout((ctx.state as ConsoleState).clientTenant, tenantState, { address: ctx.ip }), async () => {
      if (!ctx.is('application/json')) ctx.throw(415, 'send application/json');
      return JSON.parse(await readLimitedBody(ctx, 64 * 1024)) as unknown;
    });
  });

  app.use(async (ctx, next) => {
    if (!ctx.path.startsWith('/mozilla/update/')) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') ctx.throw(405);
    const published = stateOf(ctx);
    const tenant = (ctx.state as ConsoleState).clientTenant;
    handleMozillaUpdate(ctx, published, natives.for(ctx), updateAnswers, tenant?.id ?? '', await tenantRollout(tenant, published, { address: ctx.ip }), now().getTime());
  });

  /**
   * The file an endpoint gets at `relative`. A suite's per-snapshot files (apt's dists/ tree but
   * its by-hash names, ClamAV's databases under their fixed names) come from the one snapshot
   * the endpoint's ring is offered, so each ring sees a complete, vendor-signed suite and never
   * a mix; apt and freshclam cannot say who they are, so the ring is the address's. Files
   * named by version or by content are nobody's offer: they are served as published.
   */
  const artifactFor = async (ctx: Context, relative: string): Promise<Artifact | undefined> => {
    const tenantState = stateOf(ctx);
    const index = publishedIndex(tenantState.published);
    const candidates = index.allByPath.get(relative);
    if (!candidates || !isSnapshotFile(relative, candidates[0]!)) return index.byPath.get(relative);
    const view = await tenantRollout((ctx.state as ConsoleState).clientTenant, tenantState, { address: ctx.ip });
    return candidates.find((candidate) => candidate.version === view.offer(candidate.productId, index.versionsOf.get(candidate.productId) ?? []));
  };

  // Every published file under its vendor path: /pool/…, /apt/<mirror>/…, /clamav/….
  app.use(async (ctx, next) => {
    if (!/^\/(pool|apt|clamav)\//u.test(ctx.path)) return next();
    if (ctx.method !== 'GET' && ctx.method !== 'HEAD') {
      ctx.status = 405;
      ctx.set('Allow', 'GET, HEAD');
      return;
    }
    let relative = '';
    try {
      relative = decodeURIComponent(ctx.path.slice(1));
    } catch {
      ctx.throw(400, 'malformed percent-encoding');
    }
    if (relative.startsWith('clamav/')) {
      recordFreshclam(ctx, natives.for(ctx));
      // ClamAV skips signature checks on .cld files: never serve one, so clients take the signed .cvd.
      if (relative.endsWith('.cld')) {
        ctx.status = 404;
        ctx.body = { error: 'not published' };
        return;
      }
    }
    const artifact = await artifactFor(ctx, relative);
    // pool/ paths name a version; apt indices and ClamAV databases change content under one name.
    const immutable = relative.startsWith('pool/') || relative.includes('/by-hash/') || (artifact?.path.startsWith('apt/') === true && artifact.role === 'payload');
    await serveArtifact(ctx, artifact, immutable);
    if (artifact?.verification.method === 'clamav-cvd') recordDatabaseVersion(ctx, natives.for(ctx), artifact);
    if (relative.startsWith('apt/')) recordApt(ctx, natives.for(ctx), artifact);
  });
  return app;
}

/** apt's dists/ files (but by-hash) and ClamAV's databases under their fixed names: one per snapshot, same name. */
function isSnapshotFile(relative: string, artifact: Artifact): boolean {
  if (relative.startsWith('apt/')) return /^apt\/[^/]+\/dists\//u.test(relative) && !relative.includes('/by-hash/');
  return artifact.verification.method === 'clamav-cvd';
}
