import { cp, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { stringify } from 'yaml';
import { generateTransferKeyPair } from '../../src/bundle/transfer-key.ts';
import { loadConfig, type Config } from '../../src/config/config.ts';
import { silentLogger } from '../../src/core/logger.ts';
import { openInternetSide, type InternetSide } from '../../src/sides/internet.ts';
import { openLgwanSide, type LgwanSide } from '../../src/sides/lgwan.ts';
import { generateVendorKey, simulatorCatalogOrigin, startVendorSimulator, type MozillaProductOptions, type VendorSimulator } from '../../src/simulator/vendor-simulator.ts';

export const projectRoot = fileURLToPath(new URL('../../', import.meta.url));
export const fixtures = path.join(projectRoot, 'test', 'fixtures');

export interface Environment {
  root: string;
  config: Config;
  simulator: VendorSimulator;
  vendorKey: { privateKey: string; publicKey: string; fingerprint: string };
  openInternet(): Promise<InternetSide>;
  openLgwan(): Promise<LgwanSide>;
  cleanup(): Promise<void>;
}

/**
 * A whole deployment in a temporary folder: a vendor simulator with a per-run vendor key,
 * an internet side and an LGWAN side with separate storage roots joined by a spool
 * folder, and the demo catalogs. Nothing leaves 127.0.0.1.
 */
export interface EnvironmentOptions {
  mozilla?: Partial<MozillaProductOptions>;
  catalogs?: string;
  /** Config fields of each side to set (e.g. separate outbox and inbox folders, a part size). */
  internet?: Record<string, unknown>;
  lgwan?: Record<string, unknown>;
}

export async function createEnvironment(options: EnvironmentOptions = {}): Promise<Environment> {
  const root = await mkdtemp(path.join(tmpdir(), 'lgwan-mirror-test-'));
  const vendorKey = await generateVendorKey('Test Vendor Release Engineering');
  for (const side of ['internet', 'lgwan']) {
    const directory = path.join(root, side, 'vendor-keys');
    await mkdir(directory, { recursive: true });
    await writeFile(path.join(directory, 'mozilla-demo.asc'), vendorKey.publicKey);
    // The simulator signs its Mozilla releases and its synthetic apt suite with the same per-run key.
    const pin = { file: 'mozilla-demo.asc', fingerprints: [vendorKey.fingerprint] };
    await writeFile(path.join(directory, 'pins.yaml'), stringify({ keys: { 'mozilla-demo': pin, 'simulator-archive': pin } }));
  }
  // The LGWAN side's own copy of the pinned keys.
  await cp(path.join(projectRoot, 'catalogs', 'keys'), path.join(root, 'lgwan', 'keys'), { recursive: true });
  await generateTransferKeyPair(path.join(root, 'internet', 'transfer-key.pem'), path.join(root, 'lgwan', 'transfer-key.pub.pem'));

  const simulator = await startVendorSimulator({
    fixtures,
    mozillaSigningKey: vendorKey.privateKey,
    mozilla: { product: 'firefox', versions: ['130.0', '131.0', '131.0.1'], latest: '131.0', platforms: ['win64', 'linux-x86_64'], locales: ['ja', 'en-US'], fileSize: 256 * 1024, ...options.mozilla },
  });
  const configFile = path.join(root, 'lgwan-mirror.yaml');
  await writeFile(
    configFile,
    stringify({
      internet: {
        storage: 'internet',
        catalogs: options.catalogs ?? path.join(projectRoot, 'catalogs', 'demo'),
        keys: [path.join(projectRoot, 'catalogs', 'keys'), 'internet/vendor-keys'],
        spool: 'spool',
        originRewrites: { [simulatorCatalogOrigin]: simulator.url },
        ...options.internet,
      },
      lgwan: { storage: 'lgwan', keys: ['lgwan/keys', 'lgwan/vendor-keys'], spool: 'spool', port: 0, ...options.lgwan },
    }),
  );
  const config = await loadConfig(configFile);
  const opened: Awaited<ReturnType<typeof openLgwanSide>>[] = [];
  return {
    root,
    config,
    simulator,
    vendorKey,
    openInternet: () => openInternetSide(config.internet, silentLogger, { interactive: false, backoffMs: 10 }),
    openLgwan: async () => {
      const side = await openLgwanSide(config.lgwan, silentLogger);
      opened.push(side);
      return side;
    },
    async cleanup() {
      // An open LGWAN side flushes its inventory every few seconds: close it before its folder is
      // removed, or the flush races the removal (ENOTEMPTY).
      await Promise.allSettled(opened.map((side) => side.close()));
      await simulator.close();
      // A write still settling when the last test step ends (a quarantine copy, a state rename)
      // can put a file into a folder rm is emptying: retried, as rm retries ENOTEMPTY itself.
      await rm(root, { recursive: true, force: true, maxRetries: 5, retryDelay: 200 });
    },
  };
}
