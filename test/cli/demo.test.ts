import { createHash } from 'node:crypto';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import test from 'ava';
import { freePort, startCli } from '../helpers/processes.ts';

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
  const page = await (await fetch(`http://127.0.0.1:${port}/`)).text();
  t.regex(page, /LGWAN パッチミラー 状況/u);

  t.is(await demo.stop('SIGINT'), 0);
  // Both sides are gone: the port is free again.
  await t.throwsAsync(fetch(`http://127.0.0.1:${port}/`));
});
