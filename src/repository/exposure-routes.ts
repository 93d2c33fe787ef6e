import type Router from '@koa/router';
import type { Context } from 'koa';
import type { AdvisoryData } from '../advisories/model.ts';
import type { InventoryStore } from '../coverage/inventory.ts';
import { endpointExposure, indexFor, type ExposureReport } from '../exposure/compute-exposure.ts';
import type { LgwanState } from '../importer/lgwan-state.ts';
import { csvCell } from './coverage-routes.ts';
import { languageOf } from './i18n.ts';
import { renderAdvisoryPage } from './pages/exposure-page.ts';

export interface ExposureRoutesOptions {
  /** Each answers for the request's console scope (one tenant, or all for an operator). */
  exposure(ctx: Context): Promise<ExposureReport>;
  data(): Promise<AdvisoryData>;
  state(ctx: Context): LgwanState;
  tenantOf(ctx: Context): string | undefined;
  inventory: InventoryStore | undefined;
  now(): Date;
}

/** The JSON and CSV views of exposure (the same report as the pages), and each advisory's own text. */
export function addExposureRoutes(router: Router, options: ExposureRoutesOptions): void {
  router.get('/api/v1/exposure', async (ctx) => {
    const report = await options.exposure(ctx);
    ctx.set('Cache-Control', 'no-cache');
    // The CVE lists per product can be long: the summary gives counts, the product view the lists.
    ctx.body = { ...report, products: report.products.map(({ cves: _cves, releases: _releases, packageFixes: _packages, advisories: _advisories, ...product }) => product) };
  });
  router.get('/api/v1/products/:id/exposure', async (ctx) => {
    const product = (await options.exposure(ctx)).products.find((candidate) => candidate.productId === ctx.params.id);
    if (!product) return ctx.throw(404, `no product ${ctx.params.id}`);
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = product;
  });
  router.get('/api/v1/endpoints/:key/exposure', async (ctx) => {
    const key = ctx.params.key ?? '';
    const endpoint = await options.inventory?.getEndpoint(key, options.tenantOf(ctx));
    if (!endpoint) return ctx.throw(404, 'not found');
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = endpointExposure(options.state(ctx), await options.data(), endpoint, key, options.now());
  });
  router.get('/api/v1/exposure.csv', async (ctx) => {
    const report = await options.exposure(ctx);
    // The first row is the scope's total: an endpoint exposed through two products counts once there.
    const rows = [
      ['product', 'name', 'advisory_data', 'sources', 'active_endpoints', 'exposed_endpoints', 'kev_endpoints', 'kev_overdue_endpoints', 'cves_affecting_endpoints', 'kev_cves_affecting_endpoints'],
      ['*', '', report.sources.length === 0 ? 'none' : 'versions', report.sources.map((source) => source.source).join(' '), report.endpoints.active, report.endpoints.exposed, report.endpoints.kev, report.endpoints.kevOverdue, report.cves.affectingEndpoints, report.cves.kev],
      ...report.products.map((product) => {
        // "No advisory data" leaves the counts empty: never a 0 that reads as "no vulnerabilities".
        const counted = product.advisoryData === 'versions';
        return [product.productId, product.name, product.advisoryData, product.sources.join(' '), null, ...(counted ? [product.exposedEndpoints, product.kevEndpoints, product.kevOverdueEndpoints, product.cvesAffectingEndpoints, product.kevCvesAffectingEndpoints] : [null, null, null, null, null])];
      }),
    ];
    ctx.type = 'text/csv; charset=utf-8';
    ctx.set('Content-Disposition', 'attachment; filename="lgwan-exposure.csv"');
    ctx.body = `\uFEFF${rows.map((row) => row.map(csvCell).join(',')).join('\r\n')}\r\n`;
  });
  // The advisory's own text, from the bundle: behind sign-in like every console page; nothing is fetched.
  router.get('/advisories/:source/:id', async (ctx) => {
    const source = ctx.params.source ?? '';
    const id = ctx.params.id ?? '';
    const advisory = indexFor(options.state(ctx), await options.data()).advisory(source, id);
    if (!advisory) ctx.status = 404;
    ctx.type = 'text/html; charset=utf-8';
    ctx.set('Cache-Control', 'no-cache');
    ctx.body = renderAdvisoryPage(advisory, source, id, languageOf(ctx.query.lang));
  });
}
