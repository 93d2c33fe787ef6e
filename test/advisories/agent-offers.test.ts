import test from 'ava';
import type { Artifact, ProductSummary } from '../../src/bundle/manifest.ts';
import { emptyLgwanState, type LgwanState } from '../../src/importer/lgwan-state.ts';
import { planActions } from '../../src/repository/protocols/agent.ts';

test("an agent reporting an advisory source's id is offered nothing: advisory documents are data, not installers", (t) => {
  const summary = (id: string, advisory?: ProductSummary['advisory']): ProductSummary => ({
    id, name: id, vendor: id, scheme: 'integer', trust: 'tls-only', retention: 1, latestSeen: null, ...(advisory ? { advisory } : {}),
    sourceHealth: { lastSuccessAt: null, lastErrorAt: null, lastError: null, consecutiveFailures: 0 },
  });
  const artifact = (productId: string): Artifact => ({
    productId, version: '20261202000000', platform: 'any', locale: 'any', fileName: 'doc.json', path: `pool/${productId}/20261202000000/any/any/doc.json`, size: 2, sha256: 'a'.repeat(64), role: 'payload', verification: { method: 'tls-only', statement: 'test' },
  });
  const state: LgwanState = {
    ...emptyLgwanState,
    published: { sequence: 1, manifestSha256: 'b'.repeat(64), bundleCreatedAt: '2026-12-02T00:00:00.000Z', publishedAt: '2026-12-02T00:00:00.000Z', products: [summary('cisa-kev', { kind: 'cisa-kev' }), summary('plain-product')], artifacts: [artifact('cisa-kev'), artifact('plain-product')] },
  };
  const installed = [{ product: 'cisa-kev', version: '1' }, { product: 'plain-product', version: '1' }];
  // The same shape without the advisory mark is offered: the mark alone makes the difference.
  t.deepEqual(planActions(state, { os: 'linux', installed }).map((action) => action.product), ['plain-product']);
});
