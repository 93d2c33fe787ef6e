// Load of signed agent check-ins: agents enrolled as the real ones enroll (POST
// /api/v1/agent/enroll with the admin's token), then autocannon (pinned in devDependencies)
// building every request itself: the next agent, its own X-Forwarded-For address, a fresh
// timestamp and nonce, the HMAC (signed-check-in-request.cjs). The same generator drives the
// nginx reference, so the cost of signing falls on both sides of the ratio.
import { writeFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import autocannon from 'autocannon';
import pLimit from 'p-limit';
import { checkInSignature } from '../src/admin/agent-auth.ts';
import type { WrkResult } from './tools.ts';

const setupRequestFile = path.join(import.meta.dirname, 'signed-check-in-request.cjs');
type SignCheckIn = (request: { headers?: Record<string, string>; method?: string; body?: string }, context: { agentsFile: string; now?: () => number; nonce?: () => string }) => { headers: Record<string, string>; method: string; body: string };
const signCheckIn = createRequire(import.meta.url)(setupRequestFile) as SignCheckIn;

export interface BenchAgent {
  agentId: string;
  secret: string;
  /** Its own client address: the repository limits check-ins per address (burst 1,000, 1,000 a minute) as well as per agent. */
  address: string;
  /** Its check-in, the same every time (what it has installed). */
  body: string;
}

/** The address of the n-th simulated endpoint: 10.0.0.1, 10.0.0.2, … (one /8 holds 16 million). */
export function agentAddress(index: number): string {
  const n = index + 1;
  return `10.${(n >> 16) & 255}.${(n >> 8) & 255}.${n & 255}`;
}

/**
 * Enrolls `count` agents with `token`, each from its own address (enrollment allows a burst
 * of 30 per address), 4 at a time; writes them to `file` for the load generator. (16 at a time
 * made the repository answer 500 now and then: the file admin store's writers in one process
 * wait for its cross-process lock by polling and give up after 50 tries, ELOCKED.)
 */
export async function enrollAgents(url: string, token: string, count: number, file: string, installed: readonly object[]): Promise<{ agents: BenchAgent[]; seconds: number }> {
  const limit = pLimit(4);
  const started = performance.now();
  const agents = await Promise.all(
    Array.from({ length: count }, (_, index) =>
      limit(async (): Promise<BenchAgent> => {
        const address = agentAddress(index);
        const hostname = `bench-pc-${String(index + 1).padStart(5, '0')}`;
        const response = await fetch(`${url}/api/v1/agent/enroll`, { method: 'POST', headers: { 'content-type': 'application/json', 'x-forwarded-for': address }, body: JSON.stringify({ token, hostname, os: 'windows' }) });
        const text = await response.text();
        if (response.status !== 201) throw new Error(`enrolling agent ${index + 1} of ${count} at ${url}: ${response.status} ${text.slice(0, 200)}`);
        const { agentId, secret } = JSON.parse(text) as { agentId: string; secret: string };
        return { agentId, secret, address, body: JSON.stringify({ agentId, os: 'windows', installed }) };
      }),
    ),
  );
  await writeFile(file, JSON.stringify(agents));
  return { agents, seconds: (performance.now() - started) / 1000 };
}

/**
 * One signed check-in as the generator builds it, checked against the repository's own
 * checkInSignature (so the .cjs cannot drift from src/admin/agent-auth.ts) and sent with fetch:
 * the status and body the load will get.
 */
export async function signedCheckIn(url: string, agentsFile: string, agents: readonly BenchAgent[]): Promise<{ status: number; body: string }> {
  const request = signCheckIn({}, { agentsFile });
  const { 'x-lgwan-agent': agentId, 'x-lgwan-timestamp': timestamp, 'x-lgwan-nonce': nonce, 'x-lgwan-signature': signature } = request.headers;
  const agent = agents.find((candidate) => candidate.agentId === agentId);
  if (!agent) throw new Error(`signed-check-in-request.cjs signed for agent ${agentId}, which is not in ${agentsFile}`);
  if (request.body !== agent.body || signature !== checkInSignature(agent.secret, agent.agentId, timestamp!, nonce!, request.body)) {
    throw new Error('signed-check-in-request.cjs signs differently from checkInSignature in src/admin/agent-auth.ts');
  }
  const response = await fetch(url, { method: 'POST', headers: request.headers, body: request.body });
  return { status: response.status, body: await response.text() };
}

export interface CheckInLoadResult extends WrkResult {
  /** Responses by status code: a refused signature (401) or a limit (429) shows here. */
  statuses: Record<string, number>;
  /** CPU seconds per second the generator used (all its threads): near `threads`, the generator, not the server, set the pace. */
  generatorCpu: number;
}

/**
 * `connections` keep-alive connections posting signed check-ins to `url` for `seconds`, on
 * `threads` autocannon worker threads (like wrk's -t). Latencies have autocannon's 1 ms
 * resolution. Errors are non-2xx answers, socket errors and timeouts (10 s).
 */
export async function checkInLoad(url: string, agentsFile: string, options: { connections: number; seconds: number; threads: number }): Promise<CheckInLoadResult> {
  const threaded = options.threads > 1;
  const cpu = process.cpuUsage();
  const result = await autocannon({
    url,
    connections: options.connections,
    duration: options.seconds,
    timeout: 10,
    ...(threaded ? { workers: options.threads } : {}),
    initialContext: { agentsFile },
    // Worker threads load the function from its file; in this thread it is passed itself.
    requests: [{ setupRequest: threaded ? setupRequestFile : (signCheckIn as unknown as (request: autocannon.Request, context: object) => autocannon.Request) }],
  });
  const used = process.cpuUsage(cpu);
  const statuses = Object.fromEntries(Object.entries(result.statusCodeStats ?? {}).map(([code, stats]) => [code, stats?.count ?? 0]));
  return {
    requestsPerSecond: result.requests.total / result.duration,
    bytesPerSecond: result.throughput.total / result.duration,
    latencyP50Ms: result.latency.p50,
    latencyP99Ms: result.latency.p99,
    errors: result.non2xx + result.errors,
    statuses,
    generatorCpu: (used.user + used.system) / 1e6 / result.duration,
  };
}
