import { execFile, spawn } from 'node:child_process';
import { chown, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import pg from 'pg';
import { freePort } from './processes.ts';

const run = promisify(execFile);

export interface TestPostgres {
  /** A new empty database on this server; its URL. */
  createDatabase(name: string): Promise<string>;
  port: number;
  stop(): Promise<void>;
}

/** The newest PostgreSQL server installed from Debian's packages. */
async function serverBin(): Promise<string> {
  const versions = (await readdir('/usr/lib/postgresql').catch(() => [] as string[])).filter((name) => /^\d+$/u.test(name)).sort((a, b) => Number(b) - Number(a));
  if (versions.length === 0) throw new Error('PostgreSQL is not installed (Debian package postgresql); npm test installs it via scripts/install-test-tools.sh');
  return path.join('/usr/lib/postgresql', versions[0]!, 'bin');
}

/**
 * A real PostgreSQL server of the test's own: a fresh cluster in a temporary folder on
 * 127.0.0.1 and a free port, durability switched off unless asked for (the tests check
 * behaviour, not crash safety of PostgreSQL itself; the benchmark keeps the defaults). PostgreSQL refuses to run as root, so as root the
 * cluster belongs to Debian's `postgres` user.
 */
export async function startPostgres(options: { durable?: boolean } = {}): Promise<TestPostgres> {
  const bin = await serverBin();
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-pg-'));
  const asRoot = userInfo().uid === 0;
  const as = (command: string, args: string[]) => (asRoot ? ['runuser', ['-u', 'postgres', '--', command, ...args]] : [command, args]) as [string, string[]];
  if (asRoot) {
    const { stdout } = await run('id', ['-u', 'postgres']);
    const { stdout: group } = await run('id', ['-g', 'postgres']);
    await chown(root, Number(stdout.trim()), Number(group.trim()));
  }
  const data = path.join(root, 'data');
  await run(...as(path.join(bin, 'initdb'), ['-D', data, '-U', 'lgwan', '--auth=trust', '-E', 'UTF8', '--locale=C', '--no-sync']));
  const port = await freePort();
  const [command, args] = as(path.join(bin, 'postgres'), ['-D', data, '-p', String(port), '-k', root, '-c', 'listen_addresses=127.0.0.1', ...(options.durable ? [] : ['-c', 'fsync=off', '-c', 'synchronous_commit=off', '-c', 'full_page_writes=off'])]);
  const child = spawn(command, args, { stdio: ['ignore', 'ignore', 'pipe'] });
  let log = '';
  child.stderr!.on('data', (chunk: Buffer) => (log += chunk.toString()));
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  const admin = `postgresql://lgwan@127.0.0.1:${port}/postgres`;
  for (let attempt = 0; ; attempt += 1) {
    const client = new pg.Client({ connectionString: admin });
    try {
      await client.connect();
      await client.end();
      break;
    } catch (error) {
      await client.end().catch(() => undefined);
      if (attempt > 200 || child.exitCode !== null) throw new Error(`PostgreSQL did not start: ${(error as Error).message}\n${log}`);
      await new Promise((resolve) => setTimeout(resolve, 50));
    }
  }
  return {
    port,
    async createDatabase(name) {
      const client = new pg.Client({ connectionString: admin });
      await client.connect();
      try {
        await client.query(`CREATE DATABASE ${pg.escapeIdentifier(name)}`);
      } finally {
        await client.end();
      }
      return `postgresql://lgwan@127.0.0.1:${port}/${name}`;
    },
    async stop() {
      // pg_ctl signals the server itself (runuser does not pass signals on).
      await run(...as(path.join(bin, 'pg_ctl'), ['-D', data, '-m', 'fast', '-w', 'stop'])).catch(() => child.kill('SIGKILL'));
      await exited;
      await rm(root, { recursive: true, force: true });
    },
  };
}

/**
 * One server for a whole test file, started by the first test that asks for it and stopped
 * after the file. Concurrent tests share the one start: a second server started by a racing
 * test would outlive the file and keep its AVA worker waiting.
 */
export function postgresPerFile(after: { always(run: () => Promise<void>): void }): () => Promise<TestPostgres> {
  let server: Promise<TestPostgres> | undefined;
  after.always(async () => {
    await (await server)?.stop();
  });
  return () => (server ??= startPostgres());
}
