import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { loadCatalog } from '../../src/catalog/index.ts';
import { projectRoot } from '../helpers/environment.ts';

test('the manual catalog entries docs/vendors.md gives (JustSystems, VLC, Zoom) load as catalog files', async (t) => {
  const text = await readFile(path.join(projectRoot, 'docs', 'vendors.md'), 'utf8');
  const blocks = [...text.matchAll(/```yaml\n# catalogs\/([a-z0-9-]+\.yaml)[^\n]*\n([\s\S]*?)```/gu)].map((match) => ({ name: match[1]!, body: match[2]! }));
  t.deepEqual(blocks.map((block) => block.name).sort(), ['justsystems-ichitaro.yaml', 'vlc.yaml', 'zoom.yaml']);
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-doc-catalogs-'));
  t.teardown(() => rm(directory, { recursive: true, force: true }));
  for (const block of blocks) await writeFile(path.join(directory, block.name), block.body);
  const entries = await loadCatalog(directory);
  t.deepEqual(entries.map((entry) => [entry.id, entry.trust, entry.source.type]).sort(), [
    ['justsystems-ichitaro', 'manually-confirmed', 'manual'],
    ['vlc', 'manually-confirmed', 'manual'],
    ['zoom', 'manually-confirmed', 'manual'],
  ]);
});
