import path from 'node:path';
import test from 'ava';
import { readCatalogDirectory } from '../../src/catalog/load-catalog.ts';
import { catalogEntrySchema } from '../../src/catalog/schema.ts';
import { projectRoot } from '../helpers/environment.ts';

test('the shipped advisory sources and the CSAF example load as catalog entries, each with the trust its source type proves', async (t) => {
  const shipped = await readCatalogDirectory(path.join(projectRoot, 'catalogs'));
  t.deepEqual(shipped.problems, []);
  t.deepEqual(
    shipped.entries.filter((entry) => ['mozilla-advisories', 'cisa-kev', 'debian-security-tracker', 'jvn'].includes(entry.source.type)).map((entry) => [entry.id, entry.trust, entry.scheme]),
    [['cisa-kev', 'tls-only', 'integer'], ['debian-security-tracker', 'tls-only', 'integer'], ['jvn', 'tls-only', 'integer'], ['mozilla-advisories', 'tls-only', 'integer']],
  );
  const examples = await readCatalogDirectory(path.join(projectRoot, 'catalogs', 'examples'));
  t.deepEqual(examples.problems, []);
  t.like(examples.entries[0], { id: 'redhat-csaf', trust: 'vendor-signature', source: { type: 'csaf', signingKey: 'redhat-csaf' } });
});

test('an advisory source claiming more trust than TLS, or versioned by another scheme than its snapshots, is refused', (t) => {
  const entry = { id: 'cisa-kev', name: 'KEV', vendor: 'CISA', scheme: 'integer', trust: 'tls-only', source: { type: 'cisa-kev', url: 'https://kev.invalid/kev.json' } };
  t.true(catalogEntrySchema.safeParse(entry).success);
  const claimed = catalogEntrySchema.safeParse({ ...entry, trust: 'vendor-signature' });
  t.is(claimed.error?.issues[0]?.message, 'the cisa-kev source type verifies "tls-only", not "vendor-signature"');
  const dotted = catalogEntrySchema.safeParse({ ...entry, scheme: 'dotted' });
  t.regex(dotted.error?.issues[0]?.message ?? '', /scheme must be "integer"/u);
});
