import { mkdir, writeFile } from 'node:fs/promises';
import { availableParallelism } from 'node:os';
import path from 'node:path';
import { createEnvironment } from '../test/helpers/environment.ts';
import { copyDataRoot, publishSimulatorProducts } from './published-repository.ts';
import { printMachine } from './machine.ts';
import { issueEnrollmentToken, startServe } from './serve-process.ts';
import { checkInLoad, enrollAgents, signedCheckIn, type CheckInLoadResult } from './signed-check-ins.ts';
import { interleaved, processTree, randomPort, ratios, spread, spreadLabel, startNginx, startProcess, warmupSeconds, wrk, type WrkResult } from './tools.ts';

const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
const updatePath = '/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0.0.0/ISET:SSE4_2/default/default/update.xml';

/**
 * Update checks per second for Firefox's update URL (wrk) and for signed agent check-ins
 * (autocannon signing every request: signed-check-ins.ts), against nginx serving a static file
 * of the same size under the same load from the same generator, with p50/p99 latency. The
 * repository runs as production does: `lgwan-mirror serve` compiled, lgwan.workers auto; nginx
 * as Debian runs it: a master and `worker_processes auto`. Extra rows: the repository as one
 * process (lgwan.workers 1, on a copy of the data root) and bare node:http. Runs interleaved
 * (repository, one process, nginx, bare, repository…); every figure min / median / max.
 */
export async function benchUpdateChecks(options: { seconds: number; connections: number; runs: number; agents: number; generatorThreads: number }): Promise<void> {
  await printMachine('update checks');
  const environment = await createEnvironment({ mozilla: { fileSize: 64 * 1024 } });
  const stops: Array<() => unknown> = [];
  try {
    const configFile = await publishSimulatorProducts(environment);
    // Issued by the CLI before anything serves this data root, as an admin does.
    const token = issueEnrollmentToken(configFile);
    const singleConfig = await copyDataRoot(configFile, 'lgwan-one-process', { workers: 1 });
    const repository = await startServe(configFile);
    stops.push(() => repository.stop());
    const single = await startServe(singleConfig);
    stops.push(() => single.stop());

    const updateBody = await (await fetch(`${repository.url}${updatePath}`)).text();
    if (!updateBody.includes('<patch')) throw new Error('the repository did not offer the update the benchmark expects');
    if ((await (await fetch(`${single.url}${updatePath}`)).text()).replaceAll(single.url, repository.url) !== updateBody) throw new Error('the one-process repository answers the update check differently');

    // Agents enroll with each repository (each has its own data root, so its own agents).
    const agentsFile = path.join(environment.root, 'agents.json');
    const singleAgentsFile = path.join(environment.root, 'agents-one-process.json');
    const enrolled = await enrollAgents(repository.url, token, options.agents, agentsFile, installed);
    const enrolledSingle = await enrollAgents(single.url, token, options.agents, singleAgentsFile, installed);
    const probe = await signedCheckIn(`${repository.url}/api/v1/agent/checkin`, agentsFile, enrolled.agents);
    if (probe.status !== 200 || !probe.body.includes('"actions":[{')) throw new Error(`a signed check-in was answered ${probe.status}: ${probe.body.slice(0, 200)}`);
    const singleProbe = await signedCheckIn(`${single.url}/api/v1/agent/checkin`, singleAgentsFile, enrolledSingle.agents);
    if (singleProbe.status !== 200) throw new Error(`a signed check-in to the one-process repository was answered ${singleProbe.status}: ${singleProbe.body.slice(0, 200)}`);
    const checkInBody = probe.body;

    const root = path.join(environment.root, 'nginx');
    await mkdir(path.join(root, 'html'), { recursive: true });
    await writeFile(path.join(root, 'html', 'update.xml'), updateBody);
    await writeFile(path.join(root, 'html', 'checkin.json'), checkInBody);
    const nginxPort = randomPort();
    // nginx answers a POST to a static file 405: error_page turns that into the file with 200.
    const nginx = await startNginx(root, { port: nginxPort, readyPath: '/update.xml', http: `  server { listen 127.0.0.1:${nginxPort} backlog=4096; root ${root}/html; error_page 405 =200 $uri; }` });
    stops.push(() => nginx.stop());
    const nginxProbe = await signedCheckIn(`${nginx.url}/checkin.json`, agentsFile, enrolled.agents);
    if (nginxProbe.status !== 200 || nginxProbe.body !== checkInBody) throw new Error(`nginx answered the check-in POST ${nginxProbe.status}, not the same body with 200`);

    // A reference of Node's own cost apart from Koa and ours: bare node:http with the same body, one process.
    const plain = await startProcess(process.execPath, ['--import=tsx', path.join(import.meta.dirname, 'plain-node-server.ts'), path.join(root, 'html', 'update.xml')], /ready (http:\/\/\S+)/u);
    stops.push(() => plain.child.kill());

    const load = { threads: 2, connections: options.connections, seconds: options.seconds };
    const updateRuns = await interleaved(options.runs, {
      ours: () => wrk(`${repository.url}${updatePath}`, load),
      single: () => wrk(`${single.url}${updatePath}`, load),
      nginx: () => wrk(`${nginx.url}/update.xml`, load),
      bare: () => wrk(plain.match[1]!, load),
    });
    // Firefox checks every few hours, each check on a connection of its own: the same load with
    // Connection: close measures accepting connections too (nginx and the workers alike).
    const fresh = { ...load, headers: ['Connection: close'] };
    const freshRuns = await interleaved(options.runs, {
      ours: () => wrk(`${repository.url}${updatePath}`, fresh),
      single: () => wrk(`${single.url}${updatePath}`, fresh),
      nginx: () => wrk(`${nginx.url}/update.xml`, fresh),
      bare: () => wrk(plain.match[1]!, fresh),
    });
    const signedLoad = { connections: options.connections, seconds: options.seconds, threads: options.generatorThreads };
    const checkInRuns = await interleaved(options.runs, {
      ours: () => checkInLoad(`${repository.url}/api/v1/agent/checkin`, agentsFile, signedLoad),
      single: () => checkInLoad(`${single.url}/api/v1/agent/checkin`, singleAgentsFile, signedLoad),
      nginx: () => checkInLoad(`${nginx.url}/checkin.json`, agentsFile, signedLoad),
    });

    const servers = {
      ours: `repository: lgwan-mirror serve, compiled, primary + ${repository.workers} workers (lgwan.workers auto)`,
      single: 'repository: one process (lgwan.workers 1)',
      nginx: `nginx: master + ${processTree(nginx.pid).length - 1} workers (worker_processes auto)`,
      bare: 'bare node:http, one process, same body',
    };
    const row = (measure: string, server: string, samples: WrkResult[], reference: WrkResult[] | undefined) => {
      const refused = Object.entries((samples as Partial<CheckInLoadResult>[]).reduce<Record<string, number>>((sum, sample) => {
        for (const [status, count] of Object.entries(sample.statuses ?? {})) if (!status.startsWith('2')) sum[status] = (sum[status] ?? 0) + count;
        return sum;
      }, {}));
      const errors = samples.reduce((sum, sample) => sum + sample.errors, 0);
      console.log([
        measure,
        server,
        spread(samples.map((sample) => sample.requestsPerSecond)),
        reference ? spread(ratios(samples.map((sample) => sample.requestsPerSecond), reference.map((sample) => sample.requestsPerSecond)), 2) : '',
        spread(samples.map((sample) => sample.latencyP50Ms), 1),
        spread(samples.map((sample) => sample.latencyP99Ms), 1),
        `${errors}${refused.length > 0 ? ` (${refused.map(([status, count]) => `${status}: ${count}`).join(', ')})` : ''}`,
      ].join('\t'));
    };
    console.log(`\nUpdate checks: repository vs nginx serving a static file of the same size, ${options.connections} connections, 127.0.0.1, ${spreadLabel(options.runs)} of ${options.seconds} s, each after ${warmupSeconds} s of the same load unmeasured (ratio: each run's own)`);
    console.log(['measure', 'server', 'req/s', 'ratio to nginx', 'p50 ms', 'p99 ms', 'errors (non-2xx, socket, timeouts)'].join('\t'));
    const updateMeasure = `Firefox update check (${updateBody.length} B), wrk -t2`;
    for (const key of ['ours', 'single', 'nginx', 'bare'] as const) row(updateMeasure, servers[key], updateRuns[key], key === 'nginx' ? undefined : updateRuns.nginx);
    for (const key of ['ours', 'single', 'nginx', 'bare'] as const) row(`${updateMeasure}, a new connection per check (Connection: close)`, servers[key], freshRuns[key], key === 'nginx' ? undefined : freshRuns.nginx);
    const checkInMeasure = `signed agent check-in (POST, ${checkInBody.length} B answer), autocannon ${options.generatorThreads} thread(s), ${options.agents.toLocaleString()} agents`;
    for (const key of ['ours', 'single', 'nginx'] as const) row(checkInMeasure, servers[key], checkInRuns[key], key === 'nginx' ? undefined : checkInRuns.nginx);
    console.log(`check-in generator's CPU (autocannon, ${options.generatorThreads} thread(s), in CPU-seconds per second): ${(['ours', 'single', 'nginx'] as const).map((key) => `${key === 'ours' ? 'repository' : key === 'single' ? 'one process' : 'nginx'} ${spread(checkInRuns[key].map((sample) => sample.generatorCpu), 2)}`).join(', ')}; near ${options.generatorThreads} (this machine has ${availableParallelism()} cores for the generator and the server together), the generator set the pace, and nginx's figure is its ceiling (the ratios then flatter us)`);
    console.log(`enrollment of ${options.agents.toLocaleString()} agents (4 at a time, each from its own address): ${enrolled.seconds.toFixed(1)} s with workers, ${enrolledSingle.seconds.toFixed(1)} s as one process`);
    for (const [name, server] of [['repository (primary + workers)', repository], ['repository, one process', single]] as const) {
      const memory = server.memory();
      console.log(`${name} memory after the load, ${memory.processes} process(es): RSS ${memory.rssMiB.toFixed(0)} MiB summed (PSS ${memory.pssMiB.toFixed(0)} MiB: shared pages counted once), peaks summed ${memory.peakMiB.toFixed(0)} MiB`);
    }
  } finally {
    for (const stop of stops.reverse()) await stop();
    await environment.cleanup();
  }
}
