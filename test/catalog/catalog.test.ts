import { execFile } from 'node:child_process';
import { mkdtemp, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { loadCatalog } from '../../src/catalog/load-catalog.ts';
import { projectRoot } from '../helpers/environment.ts';

const run = promisify(execFile);
const cli = path.join(projectRoot, 'bin', 'lgwan-mirror.js');

const valid = `id: clamav-test
name: ClamAV test
vendor: Cisco Talos
scheme: integer
trust: vendor-signature
source:
  type: clamav
  baseUrl: https://database.example.invalid/
  database: daily
`;

async function catalogWith(files: Record<string, string>): Promise<string> {
  const directory = await mkdtemp(path.join(tmpdir(), 'lgwan-catalog-'));
  for (const [name, text] of Object.entries(files)) await writeFile(path.join(directory, name), text);
  return directory;
}

test('a valid catalog file loads with defaults applied', async (t) => {
  const [entry] = await loadCatalog(await catalogWith({ 'clamav.yaml': valid }));
  t.like(entry, { id: 'clamav-test', retention: 3, source: { type: 'clamav', database: 'daily' } });
});

test('a field of the wrong kind is reported with file, line, field and what was expected', async (t) => {
  const directory = await catalogWith({ 'clamav.yaml': valid.replace('database: daily', 'database: weekly') });
  const error = await t.throwsAsync(loadCatalog(directory));
  t.is((error as { code?: string }).code, 'E_CATALOG_INVALID');
  t.regex(error!.message, /clamav\.yaml:9: field "source\.database": Invalid option: expected one of "main"\|"daily"\|"bytecode"/u);
});

test('an unknown field is refused rather than ignored (a typo must not silently disable a check)', async (t) => {
  const directory = await catalogWith({ 'clamav.yaml': `${valid}signingKy: clamav\n` });
  const error = await t.throwsAsync(loadCatalog(directory));
  // On the line where the misspelled key is written, not its section's first line.
  const line = valid.split('\n').length;
  t.regex(error!.message, new RegExp(`clamav\\.yaml:${line}: field "signingKy": unknown field: check its spelling`, 'u'));
});

test('a misspelled required field is named on its own line with the field it was meant to be', async (t) => {
  const text = valid.replace('database: daily', 'databse: daily');
  const directory = await catalogWith({ 'clamav.yaml': text });
  const error = await t.throwsAsync(loadCatalog(directory));
  const line = text.split('\n').findIndex((candidate) => candidate.includes('databse')) + 1;
  t.regex(error!.message, new RegExp(`clamav\\.yaml:${line}: field "source\\.databse": unknown field: did you mean "database"\\?`, 'u'));
});

test('YAML syntax errors are said in plain words on the line to fix', async (t) => {
  const tab = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': valid.replace('\nname:', '\n\tname:') })));
  t.regex(tab!.message, /a\.yaml:2: this line is indented with a tab: YAML allows only spaces/u);
  const indented = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': valid.replace('\nname:', '\n name:') })));
  t.regex(indented!.message, /a\.yaml:2: this line is indented differently from the line above it/u);
  t.notRegex(indented!.message, /implicit|compact mapping/iu, 'no parser grammar words');
  const twice = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': `${valid}vendor: Other\n` })));
  t.regex(twice!.message, /a\.yaml:10: "vendor" appears twice in the same section/u);
});

test('a missing field is reported at its parent, and a YAML syntax error at its line', async (t) => {
  const missing = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': valid.replace('scheme: integer\n', '') })));
  t.regex(missing!.message, /a\.yaml:1: field "scheme": required, and missing from this section \(one of "semver", .*"integer"/u);
  const syntax = await t.throwsAsync(loadCatalog(await catalogWith({ 'b.yaml': `${valid}  bad: [unclosed\n` })));
  t.regex(syntax!.message, /b\.yaml:10: the list opened with "\[" on this line is not closed with "\]"/u);
});

test('two files with the same product id are refused', async (t) => {
  const error = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': valid, 'b.yaml': valid })));
  t.regex(error!.message, /b\.yaml: field "id": product id "clamav-test" is already used by .*a\.yaml/u);
});

test('an insecure or relative URL is refused', async (t) => {
  const error = await t.throwsAsync(loadCatalog(await catalogWith({ 'a.yaml': valid.replace('https://database.example.invalid/', 'ftp://x/') })));
  t.regex(error!.message, /field "source\.baseUrl": an http:\/\/ or https:\/\/ URL/u);
});

test('"lgwan-mirror catalog validate" passes on the shipped catalogs and fails, naming the file, on a bad one', async (t) => {
  const { stdout } = await run(process.execPath, [cli, 'catalog', 'validate']);
  t.regex(stdout, /ok {2}catalogs\/demo\/firefox\.yaml \(demo-firefox, mozilla, trust signed-hash-list\)/u);
  const bad = await catalogWith({ 'bad.yaml': valid.replace('trust: vendor-signature', 'trust: trust-me') });
  const failure = await t.throwsAsync(run(process.execPath, [cli, 'catalog', 'validate', '--catalogs', bad]));
  const { stdout: out, stderr } = failure as unknown as { stdout: string; stderr: string; code: number };
  t.is((failure as unknown as { code: number }).code, 1);
  t.regex(out, /ERR .*bad\.yaml:5: field "trust": Invalid option/u);
  t.regex(stderr, /^lgwan-mirror: 1 catalog problem\(s\) found$/mu);
  t.notRegex(stderr, /at .*\.ts:\d+/u, 'no stack trace for an admin mistake');
  // The shipped pins have no clamavSign: a catalog asking for ClamAV 1.5 .sign files is named, not left to fail at fetch time.
  const signing = await catalogWith({ 'sign.yaml': valid.replace('  database: daily', '  database: daily\n  signFiles: true') });
  const refused = (await t.throwsAsync(run(process.execPath, [cli, 'catalog', 'validate', '--catalogs', signing]))) as unknown as { stdout: string };
  t.regex(refused.stdout, /ERR .*sign\.yaml: field "source\.signFiles": \.sign files need roots and signers under clamavSign/u);
});

test('the published JSON Schemas match the schemas the code validates with', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { renderSchemas } = await import('../../src/cli/catalog-commands.ts');
  for (const [file, text] of renderSchemas()) {
    t.is(await readFile(file, 'utf8'), text, `${file} is stale: run "lgwan-mirror catalog schema"`);
  }
});

test('the example configuration file is valid and documents every option', async (t) => {
  const { readFile } = await import('node:fs/promises');
  const { loadConfig, configSchema } = await import('../../src/config/config.ts');
  const example = path.join(projectRoot, 'deploy', 'lgwan-mirror.example.yaml');
  const config = await loadConfig(example);
  t.is(config.lgwan.port, 8080);
  // The paths the systemd units and the package use (test/deploy/paths-agree.test.ts).
  t.is(config.internet.spool, '/var/spool/lgwan-mirror/outbox');
  t.is(config.lgwan.spool, '/var/spool/lgwan-mirror/inbox');
  const text = await readFile(example, 'utf8');
  for (const section of ['internet', 'lgwan'] as const) {
    for (const option of Object.keys(configSchema.shape[section].unwrap().shape)) t.regex(text, new RegExp(`^ +#? ?${option}:`, 'mu'), `${section}.${option} is documented`);
  }
});
