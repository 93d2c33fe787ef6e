import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pLimit from 'p-limit';
import { loadCatalog } from '../catalog/load-catalog.ts';
import { errorMessage } from '../core/errors.ts';
import type { Logger } from '../core/logger.ts';
import { Downloader } from '../fetch/download.ts';
import { createHttpClient, defaultHttpPolicy, type HttpPolicy } from '../fetch/http-client.ts';
import { adapterFor } from '../sources/index.ts';
import { BlobStore } from '../store/blob-store.ts';
import { PinnedKeyring } from '../verify/pinned-keys.ts';

export interface LiveCheckRow {
  productId: string;
  ok: boolean;
  latest: string;
  artifactUrl: string;
  /** What was verified, or why the check failed. */
  outcome: string;
}

export interface LiveCheckOptions {
  catalogs: string;
  keys: string[];
  originRewrites?: Record<string, string>;
  dnsServers?: string[];
  /** Per network phase; a product gets at most three of them before it is reported as not answering. */
  timeoutSeconds: number;
  logger: Logger;
}

/**
 * Asks every source of a catalog folder for its newest version and verifies what can be
 * verified without downloading payloads. One attempt per request and short timeouts: an
 * operator without internet gets a failed row per product within seconds, not a hang.
 */
export async function checkCatalogLive(options: LiveCheckOptions): Promise<LiveCheckRow[]> {
  const entries = await loadCatalog(options.catalogs);
  const keyring = await PinnedKeyring.load(options.keys);
  const scratch = await mkdtemp(path.join(tmpdir(), 'lgwan-live-check-'));
  try {
    const store = new BlobStore(path.join(scratch, 'blobs'));
    const phase = options.timeoutSeconds * 1000;
    const policy: HttpPolicy = {
      ...defaultHttpPolicy,
      timeouts: { lookup: phase, connect: phase, secureConnect: phase, send: phase, response: phase, socket: phase },
      originRewrites: new Map(Object.entries(options.originRewrites ?? {})),
      dnsServers: options.dnsServers ?? [],
    };
    const downloader = new Downloader({ client: createHttpClient(policy), policy, store, logger: options.logger, attempts: 1 });
    const limit = pLimit(4);
    return await Promise.all(
      entries.map((entry) =>
        limit(async (): Promise<LiveCheckRow> => {
          const context = {
            entry, downloader, store, keyring, logger: options.logger, recorded: new Map(),
            quarantineDirectory: path.join(scratch, 'quarantine'), manualDirectory: path.join(scratch, 'manual'),
          };
          const adapter = adapterFor(entry.source);
          let latest = '';
          let deadline: NodeJS.Timeout | undefined;
          try {
            const check = (async () => {
              latest = await adapter.latestVersion(context);
              return adapter.probe(context, latest);
            })();
            const probe = await Promise.race([
              check,
              new Promise<never>((_resolve, reject) => {
                deadline = setTimeout(() => reject(new Error(`no answer within ${options.timeoutSeconds * 3} s`)), phase * 3);
              }),
            ]);
            return { productId: entry.id, ok: true, latest, artifactUrl: probe.artifactUrl, outcome: probe.verification };
          } catch (error) {
            return { productId: entry.id, ok: false, latest: latest || '-', artifactUrl: '-', outcome: `FAILED: ${errorMessage(error)}` };
          } finally {
            clearTimeout(deadline);
          }
        }),
      ),
    );
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
}

export function formatLiveCheck(rows: LiveCheckRow[]): string[] {
  const header = { productId: 'product', latest: 'latest', artifactUrl: 'artifact URL', outcome: 'verification' };
  const columns = ['productId', 'latest', 'artifactUrl'] as const;
  const widths = columns.map((column) => Math.max(header[column].length, ...rows.map((row) => row[column].length)));
  const line = (row: Pick<LiveCheckRow, 'productId' | 'latest' | 'artifactUrl' | 'outcome'>) =>
    [...columns.map((column, index) => row[column].padEnd(widths[index]!)), row.outcome].join('  ');
  return [line(header), ...rows.map(line)];
}
