import { readFile, readdir, stat, writeFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { createEnvironment, projectRoot } from './helpers/environment.ts';
import { signIn } from './helpers/console.ts';

const source = path.join(projectRoot, 'src');
const lgwanEntryPoints = ['sides/lgwan.ts', 'sides/lgwan-service.ts', 'sides/repository-worker.ts', 'sides/udp-receiver.ts', 'importer/index.ts', 'importer/inspect-bundle.ts', 'repository/app.ts', 'transfer/spool-receiver.ts', 'transfer/parts-receiver.ts', 'transfer/udp/udp-receiver.ts', 'bundle/index.ts'];
const internetSide = ['sources/', 'fetch/', 'fetcher/', 'simulator/', 'cli/', 'sides/internet.ts', 'sides/udp-sender.ts', 'bundle/write-bundle.ts', 'transfer/spool-sender.ts', 'transfer/udp/udp-sender.ts'];
const internetPackages = ['got', 'undici', 'p-limit', 'cli-progress', 'node-cron'];

/** Every module reachable from `entry` through static and dynamic imports, with the package names it uses. */
async function reachable(entries: string[]): Promise<{ modules: Map<string, string>; packages: Map<string, string> }> {
  const modules = new Map<string, string>();
  const packages = new Map<string, string>();
  const queue = entries.map((entry) => ({ file: path.join(source, entry), from: '(entry point)' }));
  while (queue.length > 0) {
    const { file, from } = queue.shift()!;
    const relative = path.relative(source, file);
    if (modules.has(relative)) continue;
    modules.set(relative, from);
    const text = await readFile(file, 'utf8');
    for (const match of text.matchAll(/(?:from\s+|import\s*\(\s*)['"]([^'"]+)['"]/gu)) {
      const specifier = match[1]!;
      if (specifier.startsWith('.')) queue.push({ file: path.resolve(path.dirname(file), specifier), from: relative });
      else if (!specifier.startsWith('node:')) packages.set(specifier.startsWith('@') ? specifier.split('/').slice(0, 2).join('/') : specifier.split('/')[0]!, relative);
    }
  }
  return { modules, packages };
}

test('LGWAN-side code imports nothing from internet-side modules or libraries', async (t) => {
  const { modules, packages } = await reachable(lgwanEntryPoints);
  t.true(modules.size > 10, 'the import graph was actually walked');
  t.true(modules.has('verify/verify-artifacts.ts'), 'shared verification is reachable, as intended');
  for (const [module, from] of modules) {
    t.false(internetSide.some((prefix) => module.startsWith(prefix)), `${module} (imported by ${from}) is internet-side code`);
  }
  for (const [name, from] of packages) t.false(internetPackages.includes(name), `${name} (used by ${from}) belongs to the internet side`);
});

test('lgwan-mirror upgrade (LGWAN host) reaches no internet-side module or library', async (t) => {
  const { modules, packages } = await reachable(['cli/upgrade.ts']);
  t.true(modules.has('verify/verify-artifacts.ts'));
  for (const [module, from] of modules) {
    if (module === 'cli/upgrade.ts' || module === 'cli/project-paths.ts') continue;
    t.false(internetSide.some((prefix) => module.startsWith(prefix)), `${module} (imported by ${from}) is internet-side code`);
  }
  for (const [name, from] of packages) t.false(internetPackages.includes(name), `${name} (used by ${from}) belongs to the internet side`);
});

test('the boundary check would notice an internet-side import', async (t) => {
  const { modules } = await reachable(['sides/internet.ts']);
  t.true([...modules.keys()].some((module) => internetSide.some((prefix) => module.startsWith(prefix) && module !== 'sides/internet.ts')));
});

async function snapshot(directory: string): Promise<string[]> {
  const info = await stat(directory);
  const entries = await Promise.all(
    (await readdir(directory)).map(async (name) => {
      const file = await stat(path.join(directory, name));
      return `${name} ${file.size} ${file.mtimeMs} ${file.ino}`;
    }),
  );
  return [`. ${info.mtimeMs}`, ...entries.sort()];
}

test('importing, refusing and serving never write to the spool folder', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  // A bundle that will be refused, too: refusal quarantines a copy, never the original.
  await writeFile(path.join(environment.config.lgwan.spool, 'bundle-0000000099.tar'), 'not a bundle');
  const before = await snapshot(environment.config.lgwan.spool);
  const lgwan = await environment.openLgwan();
  const outcomes = await lgwan.importOnce();
  t.deepEqual(outcomes.map((outcome) => outcome.status), ['published', 'refused']);
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  // The status page as an operator sees it (it needs a session, issue 14).
  t.regex(await (await signIn(lgwan.admin, url)).text('/'), /<html lang="ja">/u);
  t.deepEqual(await snapshot(environment.config.lgwan.spool), before);
});
