import { spawn } from 'node:child_process';
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { createEnvironment } from '../test/helpers/environment.ts';
import { startPublishedRepository } from './published-repository.ts';
import { memoryOf, wrkAsync, type WrkResult } from './tools.ts';

/*
 * The mixed load of a prefecture: 10,000 endpoints polling (Firefox update checks from
 * distinct addresses and agent check-ins from distinct agents) while 500 connections
 * download installers, for SOAK_SECONDS (600 by default), against the repository and then
 * against nginx serving the same files under the same load. Memory is sampled every 10 s.
 */
const endpoints = 10_000;

function pollingScript(file: string): string {
  return `-- One of ${endpoints} endpoints per request: Firefox update check (70 %) or agent check-in (30 %).
math.randomseed(os.time())
request = function()
  local id = math.random(1, ${endpoints})
  local address = "10." .. math.floor(id / 65536) .. "." .. (math.floor(id / 256) % 256) .. "." .. (id % 256)
  if math.random() < 0.7 then
    return wrk.format("GET", "${'/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/Windows_NT%2010.0/ISET/default/default/update.xml'}", { ["X-Forwarded-For"] = address })
  end
  local body = '{"agentId":"pc-' .. id .. '","os":"windows","installed":[{"product":"demo-firefox","version":"130.0","platform":"win64","locale":"ja"}]}'
  return wrk.format("POST", "/api/v1/agent/checkin", { ["Content-Type"] = "application/json", ["X-Forwarded-For"] = address }, body)
end
-- ${file}
`;
}

async function load(target: string, downloadPath: string, seconds: number, scripts: { polling: string }, pid?: number) {
  const samples: number[] = [];
  const timer = pid === undefined ? undefined : setInterval(() => samples.push(memoryOf(pid).rssMiB), 10_000);
  const results = await Promise.all([
    wrkAsync(`${target}/`, { threads: 1, connections: 100, seconds, script: scripts.polling }),
    // Update clients wait minutes for a download (BITS, Firefox); 60 s is already strict.
    wrkAsync(`${target}${downloadPath}`, { threads: 1, connections: 500, seconds, timeoutSeconds: 60 }),
  ]);
  if (timer) clearInterval(timer);
  return { polling: results[0], downloads: results[1], samples };
}

export async function benchSoak(seconds: number): Promise<void> {
  const environment = await createEnvironment({ mozilla: { fileSize: 2 * 1024 * 1024 } });
  try {
    const repository = await startPublishedRepository(environment);
    const repositoryUrl = repository.url;
    const downloadPath = '/pool/demo-firefox/131.0/win64/ja/Firefox%20Setup%20131.0.exe';
    const polling = path.join(environment.root, 'polling.lua');
    await writeFile(polling, pollingScript(polling));

    // nginx serves copies of the same answers and the same installer.
    const root = path.join(environment.root, 'nginx');
    await mkdir(path.join(root, 'html', 'pool', 'demo-firefox', '131.0', 'win64', 'ja'), { recursive: true });
    await mkdir(path.join(root, 'tmp'), { recursive: true });
    const installer = Buffer.from(await (await fetch(`${repositoryUrl}${downloadPath}`)).arrayBuffer());
    await writeFile(path.join(root, 'html', 'pool', 'demo-firefox', '131.0', 'win64', 'ja', 'Firefox Setup 131.0.exe'), installer);
    const nginxPort = 20000 + Math.floor(Math.random() * 20000);
    await writeFile(
      path.join(root, 'nginx.conf'),
      `daemon off; master_process off; user root; worker_processes 1; worker_rlimit_nofile 8192; error_log ${root}/error.log; pid ${root}/nginx.pid;
events { worker_connections 4096; }
http { access_log off; sendfile on; default_type application/octet-stream;
  client_body_temp_path ${root}/tmp; proxy_temp_path ${root}/tmp; fastcgi_temp_path ${root}/tmp; uwsgi_temp_path ${root}/tmp; scgi_temp_path ${root}/tmp;
  server { listen 127.0.0.1:${nginxPort} backlog=4096; root ${root}/html;
    location /mozilla/ { return 200 '${(await (await fetch(`${repositoryUrl}/mozilla/update/6/Firefox/130.0/20240101000000/WINNT_x86_64-msvc-x64/ja/release/x/y/default/default/update.xml`)).text()).replace(/'/gu, '"').replace(/\n/gu, ' ')}'; }
    location /api/ { return 200 '{"actions":[]}'; } } }
`,
    );
    const nginx = spawn('nginx', ['-c', path.join(root, 'nginx.conf'), '-p', root], { stdio: 'ignore' });
    await new Promise((resolve) => setTimeout(resolve, 500));
    try {
      console.log(`\nSoak: ${seconds} s of ${endpoints.toLocaleString()} endpoints polling (100 connections) and 500 concurrent downloads of a ${(installer.length / 1024 / 1024).toFixed(0)} MiB installer`);
      const ours = await load(repositoryUrl, downloadPath, seconds, { polling }, repository.child.pid);
      const theirs = await load(`http://127.0.0.1:${nginxPort}`, downloadPath, seconds, { polling });
      const row = (name: string, result: { polling: WrkResult; downloads: WrkResult }) =>
        [name, result.polling.requestsPerSecond.toFixed(0), `${result.polling.latencyP50Ms.toFixed(1)} / ${result.polling.latencyP99Ms.toFixed(0)}`, (result.downloads.bytesPerSecond / 1e6).toFixed(0), `${result.downloads.latencyP50Ms.toFixed(0)} / ${result.downloads.latencyP99Ms.toFixed(0)}`, result.polling.errors + result.downloads.errors].join('\t');
      console.log(['server', 'checks req/s', 'checks p50/p99 ms', 'downloads MB/s', 'downloads p50/p99 ms', 'errors'].join('\t'));
      console.log(row('repository', ours));
      console.log(row('nginx', theirs));
      console.log(`ratios: checks ${(ours.polling.requestsPerSecond / theirs.polling.requestsPerSecond).toFixed(2)}, downloads ${(ours.downloads.bytesPerSecond / theirs.downloads.bytesPerSecond).toFixed(2)}`);
      console.log(`repository RSS every 10 s (MiB): ${ours.samples.map((sample) => sample.toFixed(0)).join(' ')}`);
      if (ours.samples.length < 3) {
        console.log('memory: run too short to judge a trend (SOAK_SECONDS ≥ 30 gives three samples)');
      } else {
        const [first, last] = [ours.samples[1]!, ours.samples.at(-1)!];
        console.log(`memory from the second sample to the last: ${first.toFixed(0)} → ${last.toFixed(0)} MiB (${last - first > first * 0.2 ? 'GROWING' : 'flat'})`);
      }
    } finally {
      repository.child.kill();
      nginx.kill();
    }
  } finally {
    await environment.cleanup();
  }
}
