import { spawn } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readFile, utimes, writeFile } from 'node:fs/promises';
import { request } from 'node:http';
import path from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import test from 'ava';
import { fixtures, projectRoot } from '../helpers/environment.ts';
import { freePort } from '../helpers/processes.ts';
import { publishedRepository, runClient } from '../helpers/published-repository.ts';
import { logAnswerHeaders } from '../helpers/request-log.ts';
import { aptGet, freshclam } from '../helpers/real-clients.ts';

const sha256 = (data: Uint8Array) => createHash('sha256').update(data).digest('hex');

/** A plain GET from a chosen local address (127.0.0.2 is on the loopback but not a trusted proxy). */
function getFrom(url: string, localAddress: string, headers: Record<string, string>): Promise<{ status: number; headers: Record<string, string | string[] | undefined>; body: Buffer }> {
  return new Promise((resolve, reject) => {
    const client = request(url, { localAddress, headers, agent: false }, (response) => {
      const chunks: Buffer[] = [];
      response.on('data', (chunk: Buffer) => chunks.push(chunk));
      response.on('end', () => resolve({ status: response.statusCode ?? 0, headers: response.headers, body: Buffer.concat(chunks) }));
    });
    client.once('error', reject);
    client.end();
  });
}

test('behind the shipped nginx front, nginx sends the files (X-Accel-Redirect) with the repository\'s validators, Range, HEAD and 304, to curl, apt-get and freshclam; direct clients never see an internal path', async (t) => {
  const { environment, url, server, lgwan } = await publishedRepository(t, { lgwan: { trustProxy: true, nginxFront: {} }, mozilla: { fileSize: 1024 * 1024 } });
  // What the repository itself answered: for requests through the front, a redirect and no file bytes.
  const written = logAnswerHeaders(server);
  const answers = () => written.map(({ url, headers }) => ({ url, accel: headers['x-accel-redirect'], length: headers['content-length'] }));
  const root = path.join(environment.root, 'nginx');
  await mkdir(path.join(root, 'tmp'), { recursive: true });
  const port = await freePort();
  // The shipped file, with only its placeholders replaced.
  const front = (await readFile(path.join(projectRoot, 'deploy', 'nginx', 'lgwan-mirror-front.conf'), 'utf8'))
    .replaceAll('127.0.0.1:8081', new URL(url).host)
    .replaceAll('/var/lib/lgwan-mirror/lgwan/blobs/', `${lgwan.store.root}/`)
    .replace('listen 8080;', `listen 127.0.0.1:${port};`);
  t.not(front.indexOf(lgwan.store.root), -1);
  await writeFile(path.join(root, 'front.conf'), front);
  await writeFile(
    path.join(root, 'nginx.conf'),
    `daemon off; master_process off; user root; error_log ${root}/error.log; pid ${root}/nginx.pid;
events { worker_connections 256; }
http { access_log off; client_body_temp_path ${root}/tmp; proxy_temp_path ${root}/tmp; fastcgi_temp_path ${root}/tmp; uwsgi_temp_path ${root}/tmp; scgi_temp_path ${root}/tmp;
  include ${root}/front.conf; }
`,
  );
  const nginx = spawn('/usr/sbin/nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
  t.teardown(() => void nginx.kill());
  const frontUrl = `http://127.0.0.1:${port}`;
  for (let attempt = 0; attempt < 50 && !(await fetch(`${frontUrl}/api/v1/latest`).then((response) => response.ok, () => false)); attempt += 1) await sleep(100);

  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.fileName === 'firefox-131.0.complete.mar' && candidate.platform === 'win64' && candidate.locale === 'ja')!;
  const mar = `/${artifact.path}`;
  // The blob file's own time differs from the release's, as it does whenever a blob was imported
  // earlier than the release that names it was published (and always for ClamAV's build times).
  await utimes(lgwan.store.pathOf(artifact.sha256), new Date('2001-01-01T00:00:00Z'), new Date('2001-01-01T00:00:00Z'));
  const direct = await fetch(`${url}${mar}`);
  const whole = new Uint8Array(await direct.arrayBuffer());
  t.is(sha256(whole), artifact.sha256);
  t.is(direct.headers.get('x-accel-redirect'), null, 'a direct client gets the bytes, not a redirect');

  // curl through the front: the whole file from nginx, with the repository's headers.
  const curl = await runClient('curl', ['-sS', '-D', '-', '-o', path.join(root, 'mar'), `${frontUrl}${mar}`]);
  t.is(curl.code, 0, curl.output);
  t.is(sha256(await readFile(path.join(root, 'mar'))), artifact.sha256);
  const headerOf = (name: string) => new RegExp(`^${name}: (.*)\\r$`, 'imu').exec(curl.output)?.[1];
  t.regex(curl.output, /^HTTP\/1\.1 200 /mu);
  t.is(headerOf('etag'), `"sha256-${artifact.sha256}"`);
  t.is(headerOf('last-modified'), direct.headers.get('last-modified')!);
  t.is(headerOf('content-length'), String(artifact.size));
  t.is(headerOf('content-type'), direct.headers.get('content-type')!);
  t.is(headerOf('cache-control'), 'public, max-age=31536000, immutable');
  t.is(headerOf('content-security-policy'), direct.headers.get('content-security-policy')!);
  t.is(headerOf('x-accel-redirect'), undefined, 'the internal path stays inside nginx');
  for (const name of ['etag', 'last-modified', 'content-type', 'content-security-policy']) t.is(curl.output.match(new RegExp(`^${name}:`, 'gimu'))?.length, 1, `one ${name} header`);
  const viaFront = answers().filter((answer) => answer.url === mar && answer.accel !== undefined);
  t.true(viaFront.length > 0, 'the repository answered the front with X-Accel-Redirect');
  t.true(viaFront.every((answer) => answer.length === '0' && answer.accel === `/_lgwan-mirror/blobs/sha256/${artifact.sha256.slice(0, 2)}/${artifact.sha256}`));

  // Range, suffix range, 416, If-Range, HEAD and conditional requests, all through nginx.
  const ranged = await fetch(`${frontUrl}${mar}`, { headers: { range: 'bytes=1000-299999' } });
  t.is(ranged.status, 206);
  t.is(ranged.headers.get('content-range'), `bytes 1000-299999/${artifact.size}`);
  t.deepEqual(new Uint8Array(await ranged.arrayBuffer()), whole.subarray(1000, 300000));
  const suffix = await fetch(`${frontUrl}${mar}`, { headers: { range: 'bytes=-512' } });
  t.is(suffix.status, 206);
  t.deepEqual(new Uint8Array(await suffix.arrayBuffer()), whole.subarray(artifact.size - 512));
  t.is((await fetch(`${frontUrl}${mar}`, { headers: { range: `bytes=${artifact.size}-` } })).status, 416);
  const resumed = await fetch(`${frontUrl}${mar}`, { headers: { range: 'bytes=10-19', 'if-range': `"sha256-${artifact.sha256}"` } });
  t.is(resumed.status, 206, 'If-Range with the current ETag resumes');
  t.deepEqual(new Uint8Array(await resumed.arrayBuffer()), whole.subarray(10, 20));
  const stale = await fetch(`${frontUrl}${mar}`, { headers: { range: 'bytes=10-19', 'if-range': '"sha256-other"' } });
  t.is(stale.status, 200, 'If-Range with another validator sends the whole file');
  t.is((await stale.arrayBuffer()).byteLength, artifact.size);
  const head = await fetch(`${frontUrl}${mar}`, { method: 'HEAD' });
  t.is(head.status, 200);
  t.is(head.headers.get('content-length'), String(artifact.size));
  t.is(head.headers.get('etag'), `"sha256-${artifact.sha256}"`);
  t.is((await head.arrayBuffer()).byteLength, 0);
  t.is((await fetch(`${frontUrl}${mar}`, { headers: { 'if-none-match': `"sha256-${artifact.sha256}"` } })).status, 304);
  t.is((await fetch(`${frontUrl}${mar}`, { headers: { 'if-modified-since': direct.headers.get('last-modified')! } })).status, 304);
  const older = new Date(Date.parse(direct.headers.get('last-modified')!) - 60_000).toUTCString();
  const changed = await fetch(`${frontUrl}${mar}`, { headers: { 'if-modified-since': older } });
  t.is(changed.status, 200, 'an older If-Modified-Since gets the file, whatever the blob file\'s own time');
  t.is(sha256(new Uint8Array(await changed.arrayBuffer())), artifact.sha256);
  t.is((await fetch(`${frontUrl}/blobs/sha256/${'0'.repeat(64)}`)).status, 404);

  // The internal location is not reachable from outside, nor the redirect from a direct client.
  t.is((await fetch(`${frontUrl}/_lgwan-mirror/blobs/sha256/${artifact.sha256.slice(0, 2)}/${artifact.sha256}`)).status, 404);
  const trustedPeer = await getFrom(`${url}${mar}`, '127.0.0.1', { 'x-lgwan-mirror-front': 'sendfile' });
  t.is(trustedPeer.headers['x-accel-redirect'], `/_lgwan-mirror/blobs/sha256/${artifact.sha256.slice(0, 2)}/${artifact.sha256}`, 'the front\'s own request (this host, the header)');
  const untrusted = await getFrom(`${url}${mar}`, '127.0.0.2', { 'x-lgwan-mirror-front': 'sendfile' });
  t.is(untrusted.status, 200);
  t.is(untrusted.headers['x-accel-redirect'], undefined, 'a peer that is not a trusted proxy cannot ask for a redirect');
  t.is(sha256(untrusted.body), artifact.sha256);
  // A client that sends the front's header to nginx on a route nginx does not mark gets no redirect either.
  const api = await fetch(`${frontUrl}/api/v1/latest`, { headers: { 'x-lgwan-mirror-front': 'sendfile' } });
  t.is(api.status, 200);
  t.is(api.headers.get('x-accel-redirect'), null);
  await api.arrayBuffer();

  // Real clients through the front: apt (signatures checked by apt) and freshclam twice (the
  // second run compares the CVD build time it holds with Last-Modified and finds it current).
  const update = await aptGet(environment.root, frontUrl, ['update']);
  t.is(update.code, 0, update.output);
  const download = await aptGet(environment.root, frontUrl, ['download', 'ca-certificates']);
  t.is(download.code, 0, download.output);
  t.deepEqual(await readFile(path.join(download.cwd, 'ca-certificates_20230311+deb12u1_all.deb')), await readFile(path.join(fixtures, 'debian', 'bookworm-updates', 'ca-certificates_20230311+deb12u1_all.deb')));
  const first = await freshclam(environment.root, `${frontUrl}/clamav`);
  t.is(first.code, 0, first.output);
  t.regex(first.output, /bytecode\.cvd updated/u);
  const second = await freshclam(environment.root, `${frontUrl}/clamav`);
  t.regex(second.output, /bytecode\.cvd database is up-to-date/u);
  t.is(sha256(await readFile(path.join(first.database, 'bytecode.cvd'))), sha256(await readFile(path.join(fixtures, 'clamav', 'bytecode.cvd'))));
  t.true(answers().some((answer) => answer.url.startsWith('/clamav/') && answer.accel !== undefined), 'freshclam\'s download was sent by nginx');
  t.true(answers().some((answer) => answer.url.startsWith('/apt/') && answer.accel !== undefined), 'apt\'s downloads were sent by nginx');
});
