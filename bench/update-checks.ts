import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { spawn } from 'node:child_process';
import { createEnvironment } from '../test/helpers/environment.ts';
import { startPublishedRepository } from './published-repository.ts';
import { printMachine } from './machine.ts';
import { interleaved, median, startProcess, wrk, memoryOf, type WrkResult } from './tools.ts';

/**
 * Update checks per second for Firefox's update URL and for the agent check-in, against
 * nginx serving a static file of the same size, each under `connections` concurrent
 * connections (wrk, same machine, same run), with p50/p99 latency; runs interleaved
 * (repository, nginx, bare node:http, repository…), medians reported.
 */
export async function benchUpdateChecks(options: { seconds: number; connections: number; runs: number }): Promise<void> {
  await printMachine('update checks');
  const environment = await createEnvironment({ mozilla: { fileSize: 64 * 1024 } });
  try {
    const repository = await startPublishedRepository(environment);
    const repositoryUrl = repository.url;
    const updatePath = '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0.0.0/ISET:SSE4_2/default/default/update.xml';
    const checkIn = JSON.stringify({ agentId: 'bench-pc-0001', os: 'windows', installed: [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }] });
    const updateBody = await (await fetch(`${repositoryUrl}${updatePath}`)).text();
    const checkInResponse = await fetch(`${repositoryUrl}/api/v1/agent/checkin`, { method: 'POST', headers: { 'content-type': 'application/json' }, body: checkIn });
    const checkInBody = await checkInResponse.text();
    if (!updateBody.includes('<patch')) throw new Error('the repository did not offer the update the benchmark expects');
    // Check-ins must be signed by an enrolled agent (a nonce per request, never replayed): wrk's
    // fixed requests cannot be, so this row waits for a load generator that signs.
    const checkInsMeasurable = checkInBody.includes('"actions":[{');
    if (!checkInsMeasurable) console.log(`agent check-in (POST): not measured: an unsigned check-in is answered ${checkInResponse.status} (${checkInBody.slice(0, 120)})`);

    const root = path.join(environment.root, 'nginx');
    await mkdir(path.join(root, 'html'), { recursive: true });
    await mkdir(path.join(root, 'tmp'), { recursive: true });
    await writeFile(path.join(root, 'html', 'update.xml'), updateBody);
    await writeFile(path.join(root, 'html', 'checkin.json'), checkInBody);
    const nginxPort = 20000 + Math.floor(Math.random() * 20000);
    await writeFile(
      path.join(root, 'nginx.conf'),
      `daemon off; master_process off; user root; worker_processes 1; worker_rlimit_nofile 8192; error_log ${root}/error.log; pid ${root}/nginx.pid;
events { worker_connections 4096; }
http { access_log off; default_type application/octet-stream;
  client_body_temp_path ${root}/tmp; proxy_temp_path ${root}/tmp; fastcgi_temp_path ${root}/tmp; uwsgi_temp_path ${root}/tmp; scgi_temp_path ${root}/tmp;
  server { listen 127.0.0.1:${nginxPort} backlog=4096; root ${root}/html; error_page 405 =200 $uri; } }
`,
    );
    const nginx = spawn('nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
    const nginxUrl = `http://127.0.0.1:${nginxPort}`;
    for (let attempt = 0; attempt < 50 && !(await fetch(`${nginxUrl}/update.xml`).then((response) => response.ok, () => false)); attempt += 1) {
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    const postScript = path.join(environment.root, 'post.lua');
    await writeFile(
      postScript,
      `-- One of 10,000 endpoints per request, each from its own address (rate limits are per agent and per address).
request = function()
  local id = math.random(1, 10000)
  local body = '${checkIn.split('bench-pc-0001').join("pc-' .. id .. '")}'
  return wrk.format("POST", nil, { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = "10.0." .. math.floor(id / 256) .. "." .. (id % 256) }, body)
end
`,
    );

    // A third reference: bare node:http with the same body, to separate Node's own cost from Koa's and ours.
    const plain = await startProcess(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'plain-node-server.ts'), path.join(root, 'html', 'update.xml')], /ready (http:\/\/\S+)/u);
    try {
      const load = { threads: 2, connections: options.connections, seconds: options.seconds };
      const updateRuns = await interleaved(options.runs, {
        ours: () => wrk(`${repositoryUrl}${updatePath}`, load),
        nginx: () => wrk(`${nginxUrl}/update.xml`, load),
        bare: () => wrk(plain.match[1]!, load),
      });
      const checkInRuns = checkInsMeasurable
        ? await interleaved(options.runs, {
            ours: () => wrk(`${repositoryUrl}/api/v1/agent/checkin`, { ...load, script: postScript }),
            nginx: () => wrk(`${nginxUrl}/checkin.json`, { ...load, script: postScript }),
          })
        : undefined;
      const middle = (samples: WrkResult[]): WrkResult => ({
        requestsPerSecond: median(samples.map((sample) => sample.requestsPerSecond)),
        bytesPerSecond: median(samples.map((sample) => sample.bytesPerSecond)),
        latencyP50Ms: median(samples.map((sample) => sample.latencyP50Ms)),
        latencyP99Ms: median(samples.map((sample) => sample.latencyP99Ms)),
        errors: samples.reduce((sum, sample) => sum + sample.errors, 0),
      });
      const rows = [
        ['Firefox update check', middle(updateRuns.ours), middle(updateRuns.nginx), updateBody.length],
        ...(checkInRuns ? [['agent check-in (POST)', middle(checkInRuns.ours), middle(checkInRuns.nginx), checkInBody.length] as const] : []),
      ] as const;
      const bare = middle(updateRuns.bare);
      const latency = (result: { latencyP50Ms: number; latencyP99Ms: number }) => `${result.latencyP50Ms.toFixed(1)} / ${result.latencyP99Ms.toFixed(1)}`;
      console.log(`\nUpdate checks: repository vs nginx static file of the same size, ${options.connections} connections, wrk, 127.0.0.1, median of ${options.runs} interleaved runs of ${options.seconds} s`);
      console.log(['measure', 'repository req/s', 'nginx req/s', 'ratio', 'repository p50/p99 ms', 'nginx p50/p99 ms', 'repository errors'].join('\t'));
      for (const [name, ours, theirs, size] of rows) {
        console.log([`${name} (${size} B)`, ours.requestsPerSecond.toFixed(0), theirs.requestsPerSecond.toFixed(0), (ours.requestsPerSecond / theirs.requestsPerSecond).toFixed(2), latency(ours), latency(theirs), ours.errors].join('\t'));
      }
      console.log(`reference: bare node:http, same ${updateBody.length} B body: ${bare.requestsPerSecond.toFixed(0)} req/s, p50/p99 ${latency(bare)} ms`);
      const memory = memoryOf(repository.child.pid!);
      console.log(`repository memory after the load: RSS ${memory.rssMiB.toFixed(0)} MiB, peak ${memory.peakMiB.toFixed(0)} MiB`);
    } finally {
      repository.child.kill();
      plain.child.kill();
      nginx.kill();
    }
  } finally {
    await environment.cleanup();
  }
}
