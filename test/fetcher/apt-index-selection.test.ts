import { readFile } from 'node:fs/promises';
import path from 'node:path';
import test from 'ava';
import { selectIndexGroups } from '../../src/sources/apt-index-selection.ts';
import { parseRelease } from '../../src/verify/apt-index.ts';
import { fixtures } from '../helpers/environment.ts';

/** The signed text of a real clearsigned InRelease (the signature itself is checked elsewhere). */
async function realRelease(...parts: string[]) {
  const text = await readFile(path.join(fixtures, ...parts), 'utf8');
  return parseRelease(text.replace(/^[\s\S]*?\n\n/u, '').replace(/\n-----BEGIN PGP SIGNATURE-----[\s\S]*$/u, ''), parts.join('/'));
}

const names = (groups: ReturnType<typeof selectIndexGroups>) => groups.map((group) => `${group.name} [${group.listed.join(' ')}]`);

test("from Debian's real bookworm-updates InRelease, main/amd64 selects Packages and Translation-en in every listed form; no binary-all (No-Support-for-Architecture-all: Packages), no pdiff or per-directory Release", async (t) => {
  const release = await realRelease('debian', 'bookworm-updates', 'InRelease');
  t.deepEqual(names(selectIndexGroups(release, { components: ['main'], architectures: ['amd64'], contents: false })), [
    'main/binary-amd64/Packages [main/binary-amd64/Packages.xz main/binary-amd64/Packages]',
    'main/i18n/Translation-en [main/i18n/Translation-en.xz main/i18n/Translation-en]',
  ]);
});

test("from Ubuntu's real noble-security InRelease, main/amd64 selects Packages, Translation-en, cnf Commands, dep11 Components and icons; Contents only when asked, at the suite root", async (t) => {
  const release = await realRelease('ubuntu', 'noble-security', 'InRelease');
  const selected = names(selectIndexGroups(release, { components: ['main'], architectures: ['amd64'], contents: false }));
  t.deepEqual(selected, [
    'main/binary-amd64/Packages [main/binary-amd64/Packages.xz main/binary-amd64/Packages.gz main/binary-amd64/Packages]',
    'main/cnf/Commands-amd64 [main/cnf/Commands-amd64.xz main/cnf/Commands-amd64]',
    'main/dep11/Components-amd64.yml [main/dep11/Components-amd64.yml.xz main/dep11/Components-amd64.yml.gz main/dep11/Components-amd64.yml]',
    ...['128x128', '128x128@2', '48x48', '48x48@2', '64x64', '64x64@2'].map((size) => `main/dep11/icons-${size}.tar [main/dep11/icons-${size}.tar.gz main/dep11/icons-${size}.tar]`),
    'main/i18n/Translation-en [main/i18n/Translation-en.xz main/i18n/Translation-en.gz main/i18n/Translation-en]',
  ]);
  const withContents = names(selectIndexGroups(release, { components: ['main'], architectures: ['amd64'], contents: true }));
  t.deepEqual(withContents.filter((name) => name.includes('Contents-')), ['Contents-amd64 [Contents-amd64.gz Contents-amd64]']);
});

test('binary-all is selected only where InRelease lists the "all" architecture and does not disclaim it for Packages', async (t) => {
  const release = (fields: string) => parseRelease(`${fields}SHA256:\n ${'a'.repeat(64)} 10 main/binary-all/Packages.xz\n ${'b'.repeat(64)} 10 main/binary-amd64/Packages.xz\n`, 'test');
  const select = (fields: string) => selectIndexGroups(release(fields), { components: ['main'], architectures: ['amd64'], contents: false }).map((group) => group.name);
  t.deepEqual(select('Architectures: amd64 all\n'), ['main/binary-all/Packages', 'main/binary-amd64/Packages']);
  t.deepEqual(select('Architectures: amd64 arm64\n'), ['main/binary-amd64/Packages'], "Debian's security archive");
  t.deepEqual(select('Architectures: all amd64\nNo-Support-for-Architecture-all: Packages\n'), ['main/binary-amd64/Packages']);
});
