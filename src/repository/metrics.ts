import { Gauge, Registry } from 'prom-client';
import type { CoverageReport } from '../coverage/compute-coverage.ts';
import type { RepositoryStatus } from './status-model.ts';
import type { ExposureReport } from '../exposure/compute-exposure.ts';

type Figures = { status: RepositoryStatus; coverage: CoverageReport; exposure?: ExposureReport };

/**
 * `/metrics` in Prometheus' text format: the key figures of the status page, read at
 * scrape time from the same status and coverage report the page shows.
 */
export function createMetrics(readNow: () => Promise<Figures>): Registry {
  const registry = new Registry();
  // One scrape reads the report once, however many gauges ask for it.
  let current: { at: number; read: ReturnType<typeof readNow> } | undefined;
  const readOnce = () => {
    if (!current || Date.now() - current.at > 1000) current = { at: Date.now(), read: readNow() };
    return current.read;
  };
  const gauge = (name: string, help: string, labelNames: string[], collect: (gauge: Gauge, read: () => Figures) => void) =>
    new Gauge({
      name,
      help,
      labelNames,
      registers: [registry],
      async collect() {
        const figures = await readOnce();
        this.reset();
        collect(this, () => figures);
      },
    });
  gauge('lgwan_mirror_transfer_sequence', 'Highest bundle sequence imported', [], (metric, read) => metric.set(read().status.transfer.highestSequence));
  gauge('lgwan_mirror_last_bundle_created_timestamp_seconds', 'Creation time of the newest imported bundle', [], (metric, read) => {
    const created = read().status.transfer.bundleCreatedAt;
    if (created) metric.set(Date.parse(created) / 1000);
  });
  gauge('lgwan_mirror_refused_bundles', 'Refused bundles kept in the record', [], (metric, read) => metric.set(read().status.refusals.length));
  gauge('lgwan_mirror_alarms', 'Open alarms by kind', ['kind', 'severity'], (metric, read) => {
    for (const alarm of read().status.alarms) metric.inc({ kind: alarm.kind, severity: alarm.severity });
  });
  gauge('lgwan_mirror_endpoints', 'Endpoints in the inventory', ['state'], (metric, read) => {
    const { endpoints } = read().coverage;
    metric.set({ state: 'active' }, endpoints.active);
    metric.set({ state: 'stale' }, endpoints.stale);
  });
  gauge('lgwan_mirror_product_endpoints', 'Active endpoints running the product', ['product'], (metric, read) => {
    for (const product of read().coverage.products) metric.set({ product: product.productId }, product.endpoints);
  });
  gauge('lgwan_mirror_product_current_ratio', 'Share of active endpoints on the newest published version', ['product'], (metric, read) => {
    for (const product of read().coverage.products) if (product.share !== null) metric.set({ product: product.productId }, product.share);
  });
  gauge('lgwan_mirror_product_behind_endpoints', 'Active endpoints behind the newest published version', ['product'], (metric, read) => {
    for (const product of read().coverage.products) metric.set({ product: product.productId }, product.behindCount);
  });
  gauge('lgwan_mirror_product_up_to_date', '1 when the newest vendor version is published here', ['product'], (metric, read) => {
    for (const product of read().status.products) metric.set({ product: product.id }, product.upToDate ? 1 : 0);
  });
  gauge('lgwan_mirror_release_hours_to_publish_median', 'Median hours from first seen at the vendor to published here, recent releases', ['product'], (metric, read) => {
    for (const product of read().coverage.products) if (product.latencySummary.medianHoursToPublish !== null) metric.set({ product: product.productId }, product.latencySummary.medianHoursToPublish);
  });
  gauge('lgwan_mirror_release_hours_to_p90_median', 'Median hours from published here to 90 % of endpoints, recent releases', ['product'], (metric, read) => {
    for (const product of read().coverage.products) if (product.latencySummary.medianHoursToP90 !== null) metric.set({ product: product.productId }, product.latencySummary.medianHoursToP90);
  });
  // Exposure to advisories (issue 16): the same report as the overview's headline and /api/v1/exposure.
  gauge('lgwan_mirror_exposed_endpoints', 'Active endpoints exposed to known vulnerabilities: any, KEV-listed, or past a KEV due date', ['level'], (metric, read) => {
    const exposure = read().exposure;
    if (!exposure || exposure.sources.length === 0) return;
    metric.set({ level: 'any' }, exposure.endpoints.exposed);
    metric.set({ level: 'kev' }, exposure.endpoints.kev);
    metric.set({ level: 'kev_overdue' }, exposure.endpoints.kevOverdue);
  });
  gauge('lgwan_mirror_product_exposed_endpoints', 'Active endpoints exposed through the product (products with advisory data only)', ['product', 'level'], (metric, read) => {
    for (const product of read().exposure?.products ?? []) {
      if (product.advisoryData !== 'versions') continue;
      metric.set({ product: product.productId, level: 'any' }, product.exposedEndpoints);
      metric.set({ product: product.productId, level: 'kev' }, product.kevEndpoints);
      metric.set({ product: product.productId, level: 'kev_overdue' }, product.kevOverdueEndpoints);
    }
  });
  gauge('lgwan_mirror_exposure_cves', 'Distinct CVEs affecting active endpoints', ['level'], (metric, read) => {
    const exposure = read().exposure;
    if (!exposure || exposure.sources.length === 0) return;
    metric.set({ level: 'any' }, exposure.cves.affectingEndpoints);
    metric.set({ level: 'kev' }, exposure.cves.kev);
  });
  gauge('lgwan_mirror_advisory_fetched_timestamp_seconds', 'When the internet side fetched each advisory source last delivered', ['source'], (metric, read) => {
    for (const source of read().exposure?.sources ?? []) {
      const at = Date.parse(source.fetchedAt);
      if (Number.isFinite(at)) metric.set({ source: source.source }, at / 1000);
    }
  });
  return registry;
}
