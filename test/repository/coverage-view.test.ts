import test from 'ava';
import type { CoverageSource } from '../../src/coverage/coverage-source.ts';
import { recordsCoverageSource } from '../../src/coverage/coverage-source.ts';
import type { InventoryStore } from '../../src/coverage/inventory.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { CoverageView } from '../../src/repository/coverage-view.ts';

/** A source whose answers wait until the test releases them, counting how often it is asked. */
function slowSource() {
  const inner = recordsCoverageSource(() => []);
  let calls = 0;
  let release: () => void = () => undefined;
  let gate = new Promise<void>((resolve) => (release = resolve));
  const source: CoverageSource = {
    async versionsByProduct() {
      calls += 1;
      await gate;
      return inner.versionsByProduct();
    },
    tally: (request) => inner.tally(request),
    endpointCounts: (staleBefore) => inner.endpointCounts(staleBefore),
  };
  return {
    store: source as unknown as InventoryStore,
    calls: () => calls,
    open() {
      release();
    },
    close() {
      gate = new Promise<void>((resolve) => (release = resolve));
    },
  };
}

test('an aged report is answered at once while its successor is computed; a new publication waits for the new report', async (t) => {
  let state: LgwanState = structuredClone(emptyLgwanState);
  const source = slowSource();
  const view = new CoverageView(() => state, source.store, { endpointStaleDays: 30, ttlMs: 1000 });
  const start = new Date('2026-11-22T12:00:00Z');

  // The first report has nothing to fall back on: it is waited for.
  const first = view.report(start);
  source.open();
  const firstReport = await first;
  t.is(source.calls(), 1);

  // Aged but the same publication: the old report comes back at once, one refresh starts.
  source.close();
  const later = new Date(start.getTime() + 5000);
  t.is(await view.report(later), firstReport);
  t.is(await view.report(later), firstReport, 'a second request during the refresh does not start another');
  t.is(source.calls(), 2);
  source.open();
  await new Promise((resolve) => setTimeout(resolve, 20));
  const refreshed = await view.report(later);
  t.not(refreshed, firstReport, 'the refreshed report replaces it');
  t.is(refreshed.generatedAt, later.toISOString());

  // Aged again, a refresh starts; then a new publication arrives before it ends. What "current"
  // means changed, so the request waits, and gets a report made for the new publication, not
  // the refresh already running for the old one.
  source.close();
  const aged = new Date(later.getTime() + 5000);
  t.is(await view.report(aged), refreshed);
  state = { ...state, published: { sequence: 1, manifestSha256: '0'.repeat(64), bundleCreatedAt: aged.toISOString(), publishedAt: aged.toISOString(), products: [], artifacts: [] } };
  const publishedAt = new Date(aged.getTime() + 1);
  let settled = false;
  const pending = view.report(publishedAt).then((report) => {
    settled = true;
    return report;
  });
  await new Promise((resolve) => setTimeout(resolve, 20));
  t.false(settled, 'waits for the report of the new publication');
  source.open();
  t.is((await pending).generatedAt, publishedAt.toISOString());
});
