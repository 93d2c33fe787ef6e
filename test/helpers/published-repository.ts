import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import type { ExecutionContext } from 'ava';
import { createEnvironment, type Environment } from './environment.ts';
import { logRequests } from './request-log.ts';
import type { MozillaProductOptions } from '../../src/simulator/vendor-simulator.ts';

/**
 * The common starting point of protocol and page tests: the demo catalog fetched, one
 * bundle imported, the repository listening on 127.0.0.1, and every request it answers logged.
 * `lgwan` overrides fields of the LGWAN config (e.g. trustProxy); cleanup is registered on `t`.
 */
export async function publishedRepository(t: ExecutionContext, options: { lgwan?: Record<string, unknown>; mozilla?: Partial<MozillaProductOptions> } = {}) {
  const environment: Environment = await createEnvironment({ mozilla: options.mozilla, lgwan: options.lgwan });
  t.teardown(environment.cleanup);
  await (await environment.openInternet()).runOnce();
  const lgwan = await environment.openLgwan();
  await lgwan.importOnce();
  const { server, url } = await lgwan.listen(0);
  t.teardown(() => void server.close());
  return { environment, lgwan, url, server, requests: logRequests(server) };
}

const execute = promisify(execFile);

/** Runs a real client and returns its exit code and output instead of throwing on failure. */
export async function runClient(command: string, args: string[], options: { cwd?: string; timeoutMs?: number; env?: Record<string, string> } = {}): Promise<{ code: number; output: string }> {
  try {
    const env = options.env ? { ...process.env, ...options.env } : undefined;
    const { stdout, stderr } = await execute(command, args, { cwd: options.cwd, timeout: options.timeoutMs ?? 60_000, env });
    return { code: 0, output: stdout + stderr };
  } catch (error) {
    const failure = error as { code: number; stdout?: string; stderr?: string };
    return { code: typeof failure.code === 'number' ? failure.code : 1, output: (failure.stdout ?? '') + (failure.stderr ?? '') };
  }
}
