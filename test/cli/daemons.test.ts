import { createHash } from 'node:crypto';
import { readFile, writeFile } from 'node:fs/promises';
import test from 'ava';
import { parse, stringify } from 'yaml';
import { createEnvironment } from '../helpers/environment.ts';
import { freePort, startCli } from '../helpers/processes.ts';

test('the two daemons run as separate processes joined only by the spool: the internet side sends on schedule, the LGWAN side imports and serves', async (t) => {
  const environment = await createEnvironment();
  t.teardown(environment.cleanup);
  const configFile = `${environment.root}/lgwan-mirror.yaml`;
  const config = parse(await readFile(configFile, 'utf8')) as { internet: Record<string, unknown>; lgwan: Record<string, unknown> };
  const port = await freePort();
  config.internet.schedule = '*/2 * * * * *';
  config.lgwan.port = port;
  config.lgwan.importIntervalSeconds = 1;
  await writeFile(configFile, stringify(config));

  const lgwan = startCli(['daemon', '--side', 'lgwan', '--config', configFile], { LGWAN_MIRROR_LOG_LEVEL: 'info' });
  t.teardown(() => void lgwan.stop());
  await lgwan.waitFor(/LGWAN side serving/u);
  const internet = startCli(['daemon', '--side', 'internet', '--config', configFile], { LGWAN_MIRROR_LOG_LEVEL: 'info' });
  t.teardown(() => void internet.stop());
  await internet.waitFor(/"sequence":1[,}].*bundle written to spool/u);
  await lgwan.waitFor(/"sequence":1,.*bundle imported and published/u);

  const url = `http://127.0.0.1:${port}`;
  type Latest = { latest: { version: string; artifacts: { url: string; sha256: string }[] }[] };
  // The primary logs the publication, then tells the worker processes, which read the state
  // again (docs/configuration.md, "Worker processes"): an answer may trail the log by moments.
  const latestOnceAt = async (version: string): Promise<Latest> => {
    let answer: Latest = { latest: [] };
    for (let attempt = 0; attempt < 50; attempt += 1) {
      answer = (await (await fetch(`${url}/api/v1/latest?product=demo-firefox&platform=win64&locale=ja`)).json()) as Latest;
      if (answer.latest[0]?.version === version) break;
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    return answer;
  };
  const latest = await latestOnceAt('131.0');
  t.is(latest.latest[0]!.version, '131.0');
  for (const artifact of latest.latest[0]!.artifacts) {
    const body = new Uint8Array(await (await fetch(`${url}${artifact.url}`)).arrayBuffer());
    t.is(createHash('sha256').update(body).digest('hex'), artifact.sha256);
  }

  // A new vendor release reaches the LGWAN side with no one touching either process.
  environment.simulator.options.mozilla.latest = '131.0.1';
  await lgwan.waitFor(/"sequence":2,.*bundle imported and published/u);
  const after = await latestOnceAt('131.0.1');
  t.is(after.latest[0]!.version, '131.0.1');

  t.is(await internet.stop(), 0, 'the internet daemon stops cleanly on SIGTERM');
  t.is(await lgwan.stop(), 0, 'the LGWAN daemon stops cleanly on SIGTERM');
});
