import type Router from '@koa/router';
import type { Context } from 'koa';
import type { Registry } from 'prom-client';
import type { Scope } from '../admin/access-guard.ts';
import type { NativeObservations } from '../admin/client-tenant.ts';
import type { CoverageReport } from '../coverage/compute-coverage.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { languageOf } from './i18n.ts';
import { renderCatalogPage } from './pages/catalog-page.ts';
import { endpointsPerPage, renderEndpointPage, renderEndpointsPage } from './pages/endpoints-page.ts';
import { renderOverviewPage } from './pages/overview-page.ts';
import { renderProductPage } from './pages/product-page.ts';
import type { RepositoryStatus } from './status-model.ts';
import type { EndpointRecord } from '../coverage/inventory.ts';
import type { EndpointExposure, ExposureReport } from '../exposure/compute-exposure.ts';
import { renderEndpointExposure, renderProductExposure } from './pages/exposure-page.ts';

export interface CoverageRoutesOptions {
  /** Each of these answers for the request's console scope: one tenant, or all for an operator. */
  status(ctx: Context): RepositoryStatus | Promise<RepositoryStatus>;
  coverage(ctx: Context): Promise<CoverageReport>;
  /** Exposure to advisories (issue 16), for the scope; the pages show it, /metrics counts it. */
  exposure?: {
    report(ctx: Context): Promise<ExposureReport>;
    endpoint(ctx: Context, record: EndpointRecord, key: string): Promise<EndpointExposure>;
  };
  scope(ctx: Context): Scope;
  inventory: InventoryStore | undefined;
  natives: NativeObservations;
  endpointStaleDays: number;
  now(): Date;
}

export const csvCell = (value: unknown) => {
  const text = value === null || value === undefined ? '' : String(value);
  // Quote everything that could break a row; a leading = + - @ would be a formula in a spreadsheet.
  return /[",\n\r]/u.test(text) || /^[=+\-@]/u.test(text) ? `"${text.replace(/"/gu, '""').replace(/^([=+\-@])/u, "'$1")}"` : text;
};

/** The coverage dashboard's pages and the JSON, CSV and Prometheus views of the same figures. */
export function addCoverageRoutes(router: Router, options: CoverageRoutesOptions): void {
  const html = (ctx: { type: string; set(name: string, value: string): void }) => {
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
  };

  router.get('/', async (ctx) => {
    html(ctx);
    ctx.body = renderOverviewPage(await options.status(ctx), await options.coverage(ctx), languageOf(ctx.query.lang), await options.exposure?.report(ctx));
  });
  router.get('/products/:id', async (ctx) => {
    html(ctx);
    const id = ctx.params.id ?? '';
    const product = (await options.coverage(ctx)).products.find((candidate) => candidate.productId === id);
    if (!product) ctx.status = 404;
    const language = languageOf(ctx.query.lang);
    const exposure = options.exposure && product ? renderProductExposure((await options.exposure.report(ctx)).products.find((candidate) => candidate.productId === id), language) : '';
    ctx.body = renderProductPage(product, id, language, exposure);
  });
  router.get('/endpoints', async (ctx) => {
    html(ctx);
    const tenant = options.scope(ctx).tenantId;
    const total = (await options.inventory?.countEndpoints(tenant)) ?? 0;
    const pages = Math.max(1, Math.ceil(total / endpointsPerPage));
    const page = Math.min(Math.max(Math.trunc(Number(ctx.query.page ?? 1)) || 1, 1), pages);
    const endpoints = (await options.inventory?.listEndpoints({ offset: (page - 1) * endpointsPerPage, limit: endpointsPerPage, ...(tenant ? { tenant } : {}) })) ?? [];
    const names = new Map((await options.status(ctx)).products.map((product) => [product.id, product.name]));
    ctx.body = renderEndpointsPage({ endpoints, total, page, pages }, options.now(), options.endpointStaleDays, languageOf(ctx.query.lang), names);
  });
  router.get('/endpoints/:key', async (ctx) => {
    html(ctx);
    const key = ctx.params.key ?? '';
    const endpoint = await options.inventory?.getEndpoint(key, options.scope(ctx).tenantId);
    if (!endpoint) ctx.status = 404;
    const language = languageOf(ctx.query.lang);
    const coverage = await options.coverage(ctx);
    const exposure = options.exposure && endpoint ? renderEndpointExposure(await options.exposure.endpoint(ctx, endpoint, key), new Map(coverage.products.map((product) => [product.productId, product.name])), language) : '';
    ctx.body = renderEndpointPage(endpoint, key, coverage, options.now(), options.endpointStaleDays, language, exposure);
  });
  router.get('/catalog', async (ctx) => {
    html(ctx);
    ctx.body = renderCatalogPage(await options.status(ctx), languageOf(ctx.query.lang));
  });

  router.get('/api/v1/coverage', async (ctx) => {
    const report = await options.coverage(ctx);
    ctx.set('Cache-Control', 'no-cache');
    // The lists of endpoints behind can be long: the summary gives their count, the product view the list.
    ctx.body = { ...report, products: report.products.map(({ behind: _behind, ...product }) => product) };
  });
  router.get('/api/v1/products/:id/coverage', async (ctx) => {
    const product = (await options.coverage(ctx)).products.find((candidate) => candidate.productId === ctx.params.id);
    if (!product) return ctx.throw(404, `no product ${ctx.params.id}`);
    const limit = Math.min(Math.max(Math.trunc(Number(ctx.query.limit ?? 1000)) || 1000, 1), 1000);
    const offset = Math.max(Number(ctx.query.offset ?? 0) || 0, 0);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = { ...product, behind: product.behind.slice(offset, offset + limit), offset, limit };
  });
  router.get('/api/v1/endpoints', async (ctx) => {
    const limit = Math.min(Math.max(Math.trunc(Number(ctx.query.limit ?? endpointsPerPage)) || endpointsPerPage, 1), 10_000);
    const offset = Math.max(Math.trunc(Number(ctx.query.offset ?? 0)) || 0, 0);
    const tenant = options.scope(ctx).tenantId;
    const [total, endpoints] = await Promise.all([options.inventory?.countEndpoints(tenant) ?? 0, options.inventory?.listEndpoints({ offset, limit, ...(tenant ? { tenant } : {}) }) ?? []]);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = { total, offset, limit, endpoints };
  });
  router.get('/api/v1/endpoints/:key', async (ctx) => {
    const endpoint = await options.inventory?.getEndpoint(ctx.params.key ?? '', options.scope(ctx).tenantId);
    if (!endpoint) ctx.throw(404, 'not found');
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = endpoint;
  });
  router.get('/api/v1/coverage.csv', async (ctx) => {
    const report = await options.coverage(ctx);
    const rows = [
      ['product', 'name', 'vendor_newest', 'lgwan_newest', 'published_since', 'endpoints', 'current', 'share_percent', 'behind', 'stale_endpoints', 'median_hours_to_publish', 'median_hours_to_p90', 'trust'],
      ...report.products.map((product) => [
        product.productId, product.name, product.newestVendor, product.newestPublished, product.publishedSince, product.endpoints, product.current,
        product.share === null ? null : Math.round(product.share * 1000) / 10, product.behindCount, product.staleEndpoints,
        product.latencySummary.medianHoursToPublish, product.latencySummary.medianHoursToP90, product.trust,
      ]),
    ];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', 'attachment; filename="lgwan-coverage.csv"');
    // A byte-order mark so that Excel on Japanese Windows reads UTF-8, not Shift_JIS.
    ctx.body = `\uFEFF${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
  });

  // One registry per scope: a tenant's scrape shows that tenant's figures only.
  const registries = new Map<string, Promise<Registry>>();
  router.get('/metrics', async (ctx) => {
    const key = options.scope(ctx).tenantId ?? '*';
    let metrics = registries.get(key);
    if (!metrics) {
      const frozen = ctx;
      // prom-client loads at the first scrape, not with the repository (start-up, issue 18).
      metrics = import('./metrics.ts').then(({ createMetrics }) => createMetrics(async () => ({ status: await options.status(frozen), coverage: await options.coverage(frozen), unassigned: options.natives.unassigned, ...(options.exposure ? { exposure: await options.exposure.report(frozen) } : {}) })));
      registries.set(key, metrics);
      metrics.catch(() => registries.delete(key));
    }
    const registry = await metrics;
    ctx.type = registry.contentType;
    ctx.body = await registry.metrics();
  });
}
