import { readFileSync } from 'node:fs';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEnvironment } from '../test/helpers/environment.ts';
import { startPublishedRepository } from './published-repository.ts';
import { printMachine } from './machine.ts';
import { processTree, randomPort, spread, startFront, startNginx, wrkAsync, type WrkResult } from './tools.ts';

/*
 * The mixed load of a prefecture: 10,000 endpoints polling (Firefox update checks from
 * distinct addresses; agent check-ins need signed requests wrk cannot make) while 500 connections
 * download installers, for SOAK_SECONDS (600 by default) on the repository alone, as long on
 * the repository behind the shipped nginx front (deploy/nginx/: the front sends the installers
 * with sendfile, the repository answers the checks) and as long on nginx serving the same
 * files under the same load, in SOAK_ROUNDS interleaved rounds (repository, front, nginx,
 * repository…). The repository runs as production does (`lgwan-mirror serve` compiled,
 * lgwan.workers auto), nginx as Debian runs it (master, worker_processes auto).
 * The repository's RSS, summed over its primary and workers, is sampled every
 * SOAK_SAMPLE_SECONDS over the whole run (its idle nginx rounds too) and judged by the
 * least-squares slope. Every figure min / median / max over the rounds.
 */
const endpoints = 10_000;

function pollingScript(file: string): string {
  // Firefox update checks only: agent check-ins must be signed with a fresh nonce each (issue 14),
  // which wrk's scripted requests cannot do; unsigned they would only measure 401 answers.
  return `-- One of ${endpoints} endpoints per request: a Firefox update check from its own address.
math.randomseed(os.time())
request = function()
  local id = math.random(1, ${endpoints})
  local address = "10." .. math.floor(id / 65536) .. "." .. (math.floor(id / 256) % 256) .. "." .. (id % 256)
  return wrk.format("GET", "${'/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml'}", { ["X-Forwarded-For"] = address })
end
-- ${file}
`;
}

async function load(target: string, downloadPath: string, seconds: number, scripts: { polling: string }) {
  const results = await Promise.all([
    wrkAsync(`${target}/`, { threads: 1, connections: 100, seconds, script: scripts.polling }),
    // Update clients wait minutes for a download (BITS, Firefox); 60 s is already strict.
    wrkAsync(`${target}${downloadPath}`, { threads: 1, connections: 500, seconds, timeoutSeconds: 60 }),
  ]);
  return { polling: results[0], downloads: results[1] };
}

/** Least-squares slope of RSS over time, in MiB per minute, and how well a line fits (R²). */
export function memorySlope(samples: readonly { seconds: number; rssMiB: number }[]): { mibPerMinute: number; r2: number } | undefined {
  if (samples.length < 3) return undefined;
  const n = samples.length;
  const meanX = samples.reduce((sum, sample) => sum + sample.seconds, 0) / n;
  const meanY = samples.reduce((sum, sample) => sum + sample.rssMiB, 0) / n;
  let sxy = 0;
  let sxx = 0;
  let syy = 0;
  for (const { seconds, rssMiB } of samples) {
    sxy += (seconds - meanX) * (rssMiB - meanY);
    sxx += (seconds - meanX) ** 2;
    syy += (rssMiB - meanY) ** 2;
  }
  if (sxx === 0) return undefined;
  const slope = sxy / sxx;
  return { mibPerMinute: slope * 60, r2: syy === 0 ? 1 : (sxy * sxy) / (sxx * syy) };
}

export async function benchSoak(options: { seconds: number; sampleSeconds: number; rounds: number }): Promise<void> {
  const { seconds, sampleSeconds } = options;
  const rounds = Math.max(1, Math.min(options.rounds, Math.floor(seconds / 2)));
  await printMachine('soak');
  const environment = await createEnvironment({ mozilla: { fileSize: 2 * 1024 * 1024 } });
  const stops: Array<() => Promise<void>> = [];
  try {
    // nginxFront: X-Accel-Redirect only for requests that came through the front; alone it sends every byte itself.
    const repository = await startPublishedRepository(environment, { nginxFront: {} });
    stops.push(() => repository.stop());
    const repositoryUrl = repository.url;
    const downloadPath = '/pool/demo-firefox/131.0/win64/ja/Firefox%20Setup%20131.0.exe';
    const polling = path.join(environment.root, 'polling.lua');
    await writeFile(polling, pollingScript(polling));

    // nginx serves copies of the same answers and the same installer.
    const root = path.join(environment.root, 'nginx');
    await mkdir(path.join(root, 'html', 'pool', 'demo-firefox', '131.0', 'win64', 'ja'), { recursive: true });
    const installer = Buffer.from(await (await fetch(`${repositoryUrl}${downloadPath}`)).arrayBuffer());
    await writeFile(path.join(root, 'html', 'pool', 'demo-firefox', '131.0', 'win64', 'ja', 'Firefox Setup 131.0.exe'), installer);
    const nginxPort = randomPort();
    const updateAnswer = (await (await fetch(`${repositoryUrl}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/default/default/update.xml`)).text()).replace(/'/gu, '"').replace(/\n/gu, ' ');
    const nginx = await startNginx(root, {
      port: nginxPort,
      readyPath: '/api/',
      http: `  server { listen 127.0.0.1:${nginxPort} backlog=4096; root ${root}/html;
    location /mozilla/ { return 200 '${updateAnswer}'; }
    location /api/ { return 200 '{"actions":[]}'; } }`,
    });
    stops.push(() => nginx.stop());
    const front = await startFront(path.join(environment.root, 'front'), repositoryUrl, path.join(environment.root, 'lgwan', 'blobs'));
    stops.push(() => front.stop());
    console.log(`\nSoak: ${seconds} s of ${endpoints.toLocaleString()} endpoints polling (100 connections) and 500 concurrent downloads of a ${(installer.length / 1024 / 1024).toFixed(0)} MiB installer, on the repository (lgwan-mirror serve, compiled, primary + ${repository.workers} workers), on the repository behind the shipped nginx front, and on nginx (master + ${processTree(nginx.pid).length - 1} workers) in ${rounds} interleaved rounds each`);
    const started = performance.now();
    const samples: { seconds: number; rssMiB: number; pssMiB: number }[] = [];
    // The whole tree, primary and workers: a leak in any worker shows in the sum.
    const sample = () => {
      const memory = repository.memory();
      samples.push({ seconds: (performance.now() - started) / 1000, rssMiB: memory.rssMiB, pssMiB: memory.pssMiB });
    };
    sample();
    const timer = setInterval(sample, sampleSeconds * 1000);
    const ourRounds: { polling: WrkResult; downloads: WrkResult }[] = [];
    const frontRounds: { polling: WrkResult; downloads: WrkResult }[] = [];
    const theirRounds: { polling: WrkResult; downloads: WrkResult }[] = [];
    const roundSeconds = Math.max(1, Math.round(seconds / rounds));
    // Which load the memory follows, and in which process: the RSS at the end of each round, and its anonymous part per process (primary first).
    const afterRound: string[] = [];
    const anonymousMiB = () =>
      processTree(repository.pid)
        .map((pid) => {
          try {
            return (Number(/RssAnon:\s+(\d+)/u.exec(readFileSync(`/proc/${pid}/status`, 'utf8'))?.[1] ?? 0) / 1024).toFixed(0);
          } catch {
            return '?';
          }
        })
        .join('+');
    try {
      for (let round = 0; round < rounds; round += 1) {
        ourRounds.push(await load(repositoryUrl, downloadPath, roundSeconds, { polling }));
        afterRound.push(`alone ${round + 1}: ${repository.memory().rssMiB.toFixed(0)} (anonymous ${anonymousMiB()})`);
        frontRounds.push(await load(front.url, downloadPath, roundSeconds, { polling }));
        afterRound.push(`front ${round + 1}: ${repository.memory().rssMiB.toFixed(0)} (anonymous ${anonymousMiB()})`);
        theirRounds.push(await load(nginx.url, downloadPath, roundSeconds, { polling }));
        afterRound.push(`nginx ${round + 1}: ${repository.memory().rssMiB.toFixed(0)} (anonymous ${anonymousMiB()})`);
      }
    } finally {
      clearInterval(timer);
    }
    sample();
    // Each cell: min / median / max over the rounds.
    const row = (name: string, results: { polling: WrkResult; downloads: WrkResult }[]) => {
      const over = (pick: (result: { polling: WrkResult; downloads: WrkResult }) => number, digits: number) => spread(results.map(pick), digits);
      return [
        name,
        over((result) => result.polling.requestsPerSecond, 0),
        over((result) => result.polling.latencyP50Ms, 1),
        over((result) => result.polling.latencyP99Ms, 0),
        over((result) => result.downloads.bytesPerSecond / 1e6, 0),
        over((result) => result.downloads.latencyP50Ms, 0),
        over((result) => result.downloads.latencyP99Ms, 0),
        results.reduce((sum, result) => sum + result.polling.errors + result.downloads.errors, 0),
      ].join('\t');
    };
    console.log(`per round, ${rounds === 1 ? '1 round' : `min / median / max of ${rounds} rounds`} of ${roundSeconds} s`);
    console.log(['server', 'checks req/s', 'checks p50 ms', 'checks p99 ms', 'downloads MB/s', 'downloads p50 ms', 'downloads p99 ms', 'errors (all rounds)'].join('\t'));
    console.log(row('repository alone', ourRounds));
    console.log(row('repository behind the front', frontRounds));
    console.log(row('nginx', theirRounds));
    const perRound = (rounds: typeof ourRounds, pick: (result: { polling: WrkResult; downloads: WrkResult }) => number) => spread(rounds.map((result, index) => pick(result) / pick(theirRounds[index]!)), 2);
    for (const [name, results] of [['repository alone', ourRounds], ['behind the front', frontRounds]] as const) {
      console.log(`ratios to nginx, ${name}, each round's own: checks ${perRound(results, (result) => result.polling.requestsPerSecond)}, downloads ${perRound(results, (result) => result.downloads.bytesPerSecond)}`);
    }
    const rss = samples.map((entry) => entry.rssMiB);
    const pss = samples.map((entry) => entry.pssMiB);
    console.log(`repository memory summed over its ${repository.memory().processes} processes, ${samples.length} samples every ${sampleSeconds} s over ${samples.at(-1)!.seconds.toFixed(0)} s (its nginx rounds too): RSS first ${rss[0]!.toFixed(0)}, min ${Math.min(...rss).toFixed(0)}, max ${Math.max(...rss).toFixed(0)}, last ${rss.at(-1)!.toFixed(0)} MiB; PSS (shared pages once) first ${pss[0]!.toFixed(0)}, last ${pss.at(-1)!.toFixed(0)} MiB`);
    console.log(`repository RSS (MiB) at the end of each round: ${afterRound.join(', ')}`);
    // The first minute is warm-up (JIT, caches, the heap finding its size): the slope is taken after it when the run is long enough.
    const steady = samples.filter((entry) => entry.seconds >= 60);
    const judged = steady.length >= 10 ? steady : samples;
    const slope = memorySlope(judged);
    console.log(
      slope
        ? `memory slope of the summed RSS (least squares over ${judged.length} samples${judged === steady ? ', after the first 60 s' : ', whole run: too short to leave out a warm-up'}): ${slope.mibPerMinute >= 0 ? '+' : ''}${slope.mibPerMinute.toFixed(2)} MiB/min, R² ${slope.r2.toFixed(2)}`
        : 'memory slope: fewer than 3 samples (lengthen SOAK_SECONDS or shorten SOAK_SAMPLE_SECONDS)',
    );
  } finally {
    for (const stop of stops.reverse()) await stop();
    await environment.cleanup();
  }
}
