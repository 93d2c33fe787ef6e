import { createHash } from 'node:crypto';
import { execFile } from 'node:child_process';
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { promisify } from 'node:util';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { freePort, startCli } from '../helpers/processes.ts';
import { signInAs } from '../helpers/console.ts';

const run = promisify(execFile);

test('the README demo command fetches, transfers, imports and serves, then stops on Ctrl-C', async (t) => {
  const storage = await mkdtemp(path.join(tmpdir(), 'lgwan-demo-'));
  t.teardown(() => rm(storage, { recursive: true, force: true }));
  const port = await freePort();
  const demo = startCli(['demo', '--port', String(port), '--storage', storage]);
  t.teardown(() => void demo.stop());
  await demo.waitFor(/Press Ctrl-C to stop\./u, 90_000);
  const output = demo.output();
  t.regex(output, new RegExp(`LGWAN repository: +http://127\\.0\\.0\\.1:${port}/`, 'u'));
  t.regex(output, /status page \(English\): http:\/\/127\.0\.0\.1:\d+\/\?lang=en/u);
  for (const product of ['demo-clamav-bytecode', 'demo-debian-bookworm-updates', 'demo-firefox']) t.regex(output, new RegExp(`${product}: fetched`, 'u'));

  const [, url] = /example download: +curl -o installer\.exe '([^']+)'/u.exec(output)!;
  const [, vendorSha256] = /vendor sha256: +([0-9a-f]{64})/u.exec(output)!;
  const body = new Uint8Array(await (await fetch(url!)).arrayBuffer());
  t.is(createHash('sha256').update(body).digest('hex'), vendorSha256!);
  // The pages need a session: the demo prints its operator's credentials.
  const anonymous = await fetch(`http://127.0.0.1:${port}/`, { redirect: 'manual' });
  t.is(anonymous.status, 303);
  t.regex(anonymous.headers.get('location') ?? '', /^\/sign-in\?next=/u);
  const [, username, password] = /sign in as: +(\S+) \/ (\S+) /u.exec(output)!;
  const console = await signInAs(`http://127.0.0.1:${port}`, username!, password!);
  const page = await console.text('/');
  t.regex(page, /LGWAN パッチミラー 状況/u);

  // The next steps it prints work as printed: the real freshclam with the written settings.
  t.regex(output, /simulated: +10 endpoints checked in through the agent API as enrolled agents/u);
  t.regex(output, /status: +npx lgwan-mirror status --config /u);
  const [, freshclamConfig] = /freshclam: +freshclam --config-file=(\S+)/u.exec(output)!;
  const freshclam = await run('freshclam', [`--config-file=${freshclamConfig}`]).then(
    ({ stdout }) => ({ code: 0, stdout }),
    (error: { code: number; stdout: string }) => error,
  );
  t.is(freshclam.code, 0, freshclam.stdout);
  t.regex(freshclam.stdout, /bytecode\.cvd updated/u);
  const policies = JSON.parse(await readFile(/Firefox: +copy (\S+) into/u.exec(output)![1]!, 'utf8')) as { policies: { AppUpdateURL: string } };
  t.true(policies.policies.AppUpdateURL.startsWith(`http://127.0.0.1:${port}/mozilla/update/`));
  t.regex(await readFile(/apt: +on a Debian 12 host, (\S+) goes/u.exec(output)![1]!, 'utf8'), new RegExp(`URIs: http://127\\.0\\.0\\.1:${port}/apt/debian`, 'u'));
  // The simulated endpoints reach the inventory (written in batches).
  let simulated = 0;
  for (let attempt = 0; attempt < 100 && simulated < 10; attempt += 1) {
    const { endpoints } = await console.json<{ endpoints: { hostname?: string; kind: string }[] }>('/api/v1/endpoints');
    simulated = endpoints.filter((endpoint) => endpoint.kind === 'agent' && endpoint.hostname?.startsWith('demo-simulated-')).length;
    if (simulated < 10) await new Promise((resolve) => setTimeout(resolve, 200));
  }
  t.is(simulated, 10);

  t.is(await demo.stop('SIGINT'), 0);
  // Both sides are gone: the port is free again.
  await t.throwsAsync(fetch(`http://127.0.0.1:${port}/`));
});
