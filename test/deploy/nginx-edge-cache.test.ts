import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { fixtures, projectRoot } from '../helpers/environment.ts';
import { freePort } from '../helpers/processes.ts';
import { publishedRepository } from '../helpers/published-repository.ts';
import { aptGet, freshclam } from '../helpers/real-clients.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

test('the shipped nginx edge-cache configuration serves the real apt-get and freshclam, caches immutable files, keeps Range, and revalidates indices', async (t) => {
  const { environment, url, requests, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true } });
  const root = path.join(environment.root, 'nginx');
  await mkdir(path.join(root, 'cache'), { recursive: true });
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  const port = await freePort();
  // The shipped file, with only its placeholders replaced.
  const edge = (await readFile(path.join(projectRoot, 'deploy', 'nginx', 'lgwan-mirror-edge.conf'), 'utf8'))
    .replaceAll('repository.asp.example:8080', new URL(url).host)
    .replaceAll('/var/cache/nginx/lgwan-mirror', path.join(root, 'cache'))
    .replace('listen 8080;', `listen 127.0.0.1:${port};`);
  await writeFile(path.join(root, 'edge.conf'), edge);
  await writeFile(
    path.join(root, 'nginx.conf'),
    `daemon off; master_process off; user root; error_log ${root}/error.log; pid ${root}/nginx.pid;
events { worker_connections 256; }
http { access_log off; client_body_temp_path ${root}/tmp; proxy_temp_path ${root}/tmp; fastcgi_temp_path ${root}/tmp; uwsgi_temp_path ${root}/tmp; scgi_temp_path ${root}/tmp;
  include ${root}/edge.conf; }
`,
  );
  const nginx = spawn('/usr/sbin/nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
  t.teardown(() => void nginx.kill());
  const edgeUrl = `http://127.0.0.1:${port}`;
  // Ready once nginx answers with the repository's reply on a route open to endpoints (the status API needs a console session).
  for (let attempt = 0; attempt < 50 && !(await fetch(`${edgeUrl}/api/v1/latest`).then((response) => response.ok, () => false)); attempt += 1) await sleep(100);

  // apt through the cache: Debian's signature still checked by apt itself.
  const update = await aptGet(environment.root, edgeUrl, ['update']);
  t.is(update.code, 0, update.output);
  const download = await aptGet(environment.root, edgeUrl, ['download', 'ca-certificates']);
  t.is(download.code, 0, download.output);
  t.deepEqual(await readFile(path.join(download.cwd, 'ca-certificates_20230311+deb12u1_all.deb')), await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'ca-certificates_20230311+deb12u1_all.deb')));

  // freshclam through the cache, twice: the second run revalidates and finds it current.
  const first = await freshclam(environment.root, `${edgeUrl}/clamav`);
  t.is(first.code, 0, first.output);
  t.regex(first.output, /bytecode\.cvd updated/u);
  const second = await freshclam(environment.root, `${edgeUrl}/clamav`);
  t.regex(second.output, /bytecode\.cvd database is up-to-date/u);
  t.is(sha256(await readFile(path.join(first.database, 'bytecode.cvd'))), sha256(await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'))));

  // Immutable files: the second download is a cache hit and the repository is not asked again.
  const mar = '/pool/demo-firefox/131.0/win64/ja/firefox-131.0.complete.mar';
  const miss = await fetch(`${edgeUrl}${mar}`);
  await miss.arrayBuffer();
  const asked = requests.filter((request) => request.url === mar).length;
  const hit = await fetch(`${edgeUrl}${mar}`);
  const body = new Uint8Array(await hit.arrayBuffer());
  t.is(hit.headers.get('x-cache-status'), 'HIT');
  t.is(requests.filter((request) => request.url === mar).length, asked, 'served from the cache');
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.path === mar.slice(1))!;
  t.is(sha256(body), artifact.sha256);
  // Range kept: a resumed download gets exactly its slice.
  const ranged = await fetch(`${edgeUrl}${mar}`, { headers: { range: 'bytes=1000-1999' } });
  t.is(ranged.status, 206);
  t.deepEqual(new Uint8Array(await ranged.arrayBuffer()), body.subarray(1000, 2000));

  // Indices are revalidated: every request reaches the repository (as a conditional request once cached).
  const inRelease = '/apt/debian/dists/bookworm-updates/InRelease';
  const before = requests.filter((request) => request.url === inRelease).length;
  await sleep(1100);
  await (await fetch(`${edgeUrl}${inRelease}`)).arrayBuffer();
  t.true(requests.filter((request) => request.url === inRelease).length > before, 'the repository was asked again');

  // Endpoints keep their identity behind the cache (X-Forwarded-For with trustProxy).
  await lgwan.inventory.flush();
  t.true((await lgwan.inventory.listEndpoints({ offset: 0, limit: 10_000 })).some((endpoint) => endpoint.kind === 'freshclam-uuid'));
});
