import { Command, InvalidArgumentError, Option } from 'commander';
import { loadConfig } from './load-config.ts';
import { versionSchemes, type VersionScheme } from '../versions/schemes.ts';
import { generateTransferKeyPair, loadTransferPrivateKey, nextKeyFiles } from '../bundle/transfer-key.ts';
import { rename, stat } from 'node:fs/promises';
import { UserFacingError, errorMessage } from '../core/errors.ts';
import { createLogger } from '../core/logger.ts';
import { runLgwanService, type ServiceOptions } from '../sides/lgwan-service.ts';
import type { RepositoryWorkers } from '../sides/repository-workers.ts';
import path from 'node:path';
import { packageVersion, projectRoot } from './project-paths.ts';
import { addAdminCommands } from './admin-commands.ts';
import { registerUpgradeCommand } from './upgrade-command.ts';

// What a command needs beyond commander and the config loads when it runs: `serve` and
// `daemon` start in a fraction of the time when the internet side, the demo and the
// simulator are not parsed first (issue 18).
const load = {
  lgwanSide: () => import('../sides/lgwan.ts'),
  versions: () => import('../versions/index.ts'),
  statusModel: () => import('../repository/status-model.ts'),
  lgwanState: () => import('../importer/lgwan-state.ts'),
  internetSide: () => import('../sides/internet.ts'),
  storeCheck: () => import('./store-check.ts'),
  catalogCommands: () => import('./catalog-commands.ts'),
  catalogLiveCheck: () => import('./catalog-live-check.ts'),
  demo: () => import('./demo.ts'),
  bundleInspect: () => import('./bundle-inspect.ts'),
  udpReceiver: () => import('../sides/udp-receiver.ts'),
  udpSender: () => import('../sides/udp-sender.ts'),
  configCheck: () => import('./config-check.ts'),
};

function port(value: string): number {
  const parsed = Number(value);
  if (!Number.isInteger(parsed) || parsed < 0 || parsed > 65535) throw new InvalidArgumentError('a port number from 0 to 65535');
  return parsed;
}

const program = new Command('lgwan-mirror')
  .description('Keeps LGWAN-side PCs and servers patched across a one-way boundary.')
  .version(packageVersion(), '-V, --version', 'print the version of lgwan-mirror')
  // Program options only before the command: "upgrade --version <v>" is upgrade's own option.
  .enablePositionalOptions()
  .showHelpAfterError();
const configOption = () => new Option('-c, --config <file>', 'YAML config file (defaults apply without one)');

program
  .command('demo')
  .description('run the whole main job offline: vendor simulator → fetch → verify → spool bundle → LGWAN import → repository')
  .option('-p, --port <port>', 'port of the LGWAN repository', port, 8080)
  .option('--storage <dir>', 'data root of the demo', 'storage/demo')
  .action(async (options: { port: number; storage: string }) => {
    await (await load.demo()).runDemo({ ...options, logger: createLogger('demo', process.env.LGWAN_MIRROR_LOG_LEVEL ?? 'warn') });
  });

const keys = program.command('keys').description('transfer key management');
keys
  .command('init')
  .description('create the Ed25519 transfer key pair (internet side); copy the public key to the LGWAN side')
  .addOption(configOption())
  .option('--force', 'replace an existing key pair (the LGWAN side then refuses every bundle until it pins the new public key)')
  .action(async (options: { config?: string; force?: boolean }) => {
    const config = await loadConfig(options.config);
    const publicFile = config.internet.transferKey.replace(/\.pem$/u, '.pub.pem');
    const existing = await loadTransferPrivateKey(config.internet.transferKey).catch(() => undefined);
    if (existing && !options.force) {
      throw new UserFacingError(
        'E_KEY',
        `${config.internet.transferKey} already holds a transfer key (key id ${existing.keyId}); nothing was changed. A new key would make the LGWAN side refuse every later bundle. To change keys without a break, use "lgwan-mirror keys rotate" and then "keys promote" (docs/operations.md). To replace it anyway, run "keys init --force", then copy the new ${path.basename(publicFile)} to the LGWAN side as lgwan.transferPublicKey and restart the LGWAN service.`,
      );
    }
    if (existing) {
      const replaced = config.internet.transferKey.replace(/\.pem$/u, `.replaced-${new Date().toISOString().replace(/[:.]/gu, '-')}.pem`);
      await rename(config.internet.transferKey, replaced);
      console.log(`the old private key (key id ${existing.keyId}) is kept as ${replaced}`);
    }
    const { keyId } = await generateTransferKeyPair(config.internet.transferKey, publicFile);
    console.log(`private key: ${config.internet.transferKey} (keep on the internet side)`);
    console.log(`public key:  ${publicFile} → copy to the LGWAN side as ${config.lgwan.transferPublicKey}`);
    console.log(`key id:      ${keyId}`);
    if (existing) console.log('The LGWAN side refuses bundles signed by the new key until you copy the public key there and restart its service.');
  });

keys
  .command('rotate')
  .description('make the next transfer key pair; every bundle now announces it under the current key')
  .addOption(configOption())
  .action(async (options: { config?: string }) => {
    const config = await loadConfig(options.config);
    const next = nextKeyFiles(config.internet.transferKey);
    const { keyId } = await generateTransferKeyPair(next.privateFile, next.publicFile);
    console.log(`next key id: ${keyId}`);
    console.log('Bundles now announce it. When the LGWAN status page shows it as announced, run "lgwan-mirror keys promote".');
  });
keys
  .command('promote')
  .description('sign with the announced next key from now on (the LGWAN side switches at the first bundle it signs)')
  .addOption(configOption())
  .action(async (options: { config?: string }) => {
    const config = await loadConfig(options.config);
    const next = nextKeyFiles(config.internet.transferKey);
    const retired = config.internet.transferKey.replace(/\.pem$/u, `.retired-${new Date().toISOString().replace(/[:.]/gu, '-')}.pem`);
    await rename(config.internet.transferKey, retired);
    await rename(next.privateFile, config.internet.transferKey);
    await rename(next.publicFile, config.internet.transferKey.replace(/\.pem$/u, '.pub.pem'));
    console.log(`now signing with ${config.internet.transferKey}; the old key is kept as ${retired} (delete it once the LGWAN side shows the rotation)`);
  });

program
  .command('version')
  .description('version orderings, as the mirror uses them')
  .command('compare')
  .description('print <, = or > for two versions under a scheme (exit 2 if one does not parse)')
  .addOption(new Option('--scheme <scheme>', 'version scheme').choices([...versionSchemes]).makeOptionMandatory())
  .argument('<a>')
  .argument('<b>')
  .action(async (a: string, b: string, options: { scheme: VersionScheme }) => {
    const { compareVersions } = await load.versions();
    try {
      console.log(['<', '=', '>'][compareVersions(options.scheme, a, b) + 1]);
    } catch (error) {
      console.error(`lgwan-mirror: ${errorMessage(error)}`);
      process.exitCode = 2;
    }
  });

const catalog = program.command('catalog').description('product catalogs');
catalog
  .command('validate')
  .description('check every catalog file against the schema and the pinned keys')
  .option('--catalogs <dirs...>', 'catalog folders', [path.join(projectRoot, 'catalogs'), path.join(projectRoot, 'catalogs', 'demo')])
  .option('--keys <dirs...>', 'key folders holding pins.yaml', [path.join(projectRoot, 'catalogs', 'keys')])
  .action(async (options: { catalogs: string[]; keys: string[] }) => {
    const { assertNoProblems, validateCatalogs } = await load.catalogCommands();
    const report = await validateCatalogs(options.catalogs, options.keys);
    for (const line of report.lines) console.log(line);
    assertNoProblems(report);
  });
catalog
  .command('check')
  .description('ask every production source for its latest version and verify its signed lists (needs internet; not run in CI)')
  .option('--live', 'contact the vendors (required: this command exists to do that)')
  .option('--timeout <seconds>', 'per network phase; a product gets three before it is reported', (value) => {
    const parsed = Number(value);
    if (!Number.isFinite(parsed) || parsed <= 0) throw new InvalidArgumentError('a positive number of seconds');
    return parsed;
  }, 15)
  .addOption(configOption())
  .action(async (options: { live?: boolean; timeout: number; config?: string }) => {
    if (!options.live) throw new UserFacingError('E_USAGE', 'catalog check contacts the vendors only with --live; "catalog validate" checks the files offline');
    const config = await loadConfig(options.config);
    const { checkCatalogLive, formatLiveCheck } = await load.catalogLiveCheck();
    const rows = await checkCatalogLive({
      catalogs: config.internet.catalogs, keys: config.internet.keys, originRewrites: config.internet.originRewrites, dnsServers: config.internet.dnsServers,
      timeoutSeconds: options.timeout, logger: createLogger('catalog-check', process.env.LGWAN_MIRROR_LOG_LEVEL ?? 'warn'),
    });
    for (const line of formatLiveCheck(rows)) console.log(line);
    const failed = rows.filter((row) => !row.ok).length;
    console.log(`${rows.length - failed} of ${rows.length} sources answered and verified`);
    // A row with a version answered and failed verification: that is the catalog's or the vendor's business, not the network's.
    if (failed > 0 && failed === rows.length && rows.every((row) => row.latest === '-')) {
      console.log('no source answered: check that this machine reaches the internet (DNS, proxy, firewall) before suspecting the catalog');
    }
    if (failed > 0) process.exitCode = 1;
  });
catalog
  .command('schema')
  .description('write the JSON Schemas of catalog, pins and config files (for editors)')
  .action(async () => {
    for (const file of await (await load.catalogCommands()).writeSchemas()) console.log(file);
  });

program
  .command('fetch')
  .description('internet side: discover, download and verify new releases once')
  .addOption(configOption())
  .action(async (options: { config?: string }) => {
    const config = await loadConfig(options.config);
    const side = await (await load.internetSide()).openInternetSide(config.internet, createLogger('fetch'));
    const outcomes = await side.fetchAll();
    for (const outcome of outcomes) console.log(`${outcome.productId}\t${outcome.status}\t${outcome.version ?? ''}\t${outcome.error ?? ''}`);
    if (outcomes.some((outcome) => outcome.status === 'failed')) process.exitCode = 1;
  });

program
  .command('send')
  .description('internet side: write a signed bundle of the current state into the spool; with --udp, carry the spool over a UDP data diode')
  .addOption(configOption())
  .option('--force', 'send even if nothing changed')
  .option('--udp', 'run the UDP sender (config internet.udp) until stopped')
  .action(async (options: { config?: string; force?: boolean; udp?: boolean }) => {
    const config = await loadConfig(options.config);
    if (options.udp) {
      const logger = createLogger('udp-sender');
      const sender = await (await load.udpSender()).startUdpSender(config.internet, logger);
      const stop = () => void sender.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      logger.info({ to: `${config.internet.udp!.host}:${config.internet.udp!.port}`, spool: config.internet.spool }, 'UDP sender running');
      return;
    }
    const side = await (await load.internetSide()).openInternetSide(config.internet, createLogger('send'));
    console.log(JSON.stringify(await side.send({ force: options.force })));
  });

program
  .command('receive')
  .description('LGWAN side: receive files from a UDP data diode into the spool (config lgwan.udp)')
  .addOption(configOption())
  .requiredOption('--udp', 'receive over UDP (the only receiver there is: appliances deliver into the folder themselves)')
  .action(async (options: { config?: string }) => {
    const config = await loadConfig(options.config);
    const logger = createLogger('udp-receiver');
    const { receiver, port } = await (await load.udpReceiver()).startUdpReceiver(config.lgwan, logger);
    const stop = () => void receiver.stop();
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
    logger.info({ port, spool: config.lgwan.spool }, 'UDP receiver running');
  });

program
  .command('import')
  .description('LGWAN side: import new bundles from the spool once')
  .addOption(configOption())
  .action(async (options: { config?: string }) => {
    const config = await loadConfig(options.config);
    const side = await (await load.lgwanSide()).openLgwanSide(config.lgwan, createLogger('import'));
    const outcomes = await side.importOnce();
    for (const outcome of outcomes) console.log(JSON.stringify(outcome));
    if (outcomes.some((outcome) => outcome.status === 'refused')) process.exitCode = 1;
  });

/** Workers main.ts forked before the command line was parsed, for the LGWAN service to take over. */
let workersAhead: RepositoryWorkers | undefined;

/** The LGWAN service of `serve` and `daemon --side lgwan`, with the workers forked ahead, if any. */
async function startLgwanService(configFile: string | undefined, logger: ReturnType<typeof createLogger>, options: ServiceOptions) {
  const ahead = workersAhead;
  workersAhead = undefined;
  try {
    const config = await loadConfig(configFile);
    return { config, service: await runLgwanService(config.lgwan, logger, options, ahead) };
  } catch (error) {
    ahead?.abandon(error);
    throw error;
  }
}

program
  .command('serve')
  .description('LGWAN side: serve the published state (no importing)')
  .addOption(configOption())
  .option('-p, --port <port>', 'port (overrides the config)', port)
  .option('--host <host>', 'address to listen on (overrides the config)')
  .action(async (options: { config?: string; port?: number; host?: string }) => {
    const { service } = await startLgwanService(options.config, createLogger('repository'), { importing: false, ...(options.port !== undefined ? { port: options.port } : {}), ...(options.host ? { host: options.host } : {}) });
    console.log(`serving ${service.url}/`);
    const stop = () => void service.stop().then(() => process.exit(0));
    process.once('SIGTERM', stop);
    process.once('SIGINT', stop);
  });

program
  .command('daemon')
  .description('run one side continuously: internet = scheduled fetch + send; lgwan = import on arrival + serve')
  .addOption(new Option('--side <side>', 'which side of the boundary').choices(['internet', 'lgwan']).makeOptionMandatory())
  .addOption(configOption())
  .option('-p, --port <port>', 'LGWAN side: port (overrides the config)', port)
  .action(async (options: { side: 'internet' | 'lgwan'; config?: string; port?: number }) => {
    if (options.side === 'internet') {
      const config = await loadConfig(options.config);
      const logger = createLogger('internet');
      const { openInternetSide, scheduleInternetSide } = await load.internetSide();
      const side = await openInternetSide(config.internet, logger);
      const schedule = scheduleInternetSide(side, logger);
      process.once('SIGTERM', () => schedule.stop());
      process.once('SIGINT', () => schedule.stop());
      logger.info({ schedule: config.internet.schedule }, 'internet side running');
    } else {
      const logger = createLogger('lgwan');
      const { config, service } = await startLgwanService(options.config, logger, { importing: true, ...(options.port !== undefined ? { port: options.port } : {}) });
      const stop = () => void service.stop();
      process.once('SIGTERM', stop);
      process.once('SIGINT', stop);
      logger.info({ url: service.url, httpsUrl: service.httpsUrl, spool: config.lgwan.spool }, 'LGWAN side serving');
    }
  });

program
  .command('store')
  .description('the content-addressed file store of either side')
  .command('check')
  .description("read every file the side's state names again and compare it with its name and recorded digests (read-only: safe beside the running daemon)")
  .addOption(new Option('--side <side>', 'which side of the boundary').choices(['internet', 'lgwan']).makeOptionMandatory())
  .addOption(configOption())
  .action(async (options: { side: 'internet' | 'lgwan'; config?: string }) => {
    const config = await loadConfig(options.config);
    const storage = options.side === 'lgwan' ? config.lgwan.storage : config.internet.storage;
    const started = performance.now();
    const report = await (await load.storeCheck()).checkSideStore(options.side, storage);
    for (const problem of report.problems) console.log(`${problem.kind === 'missing' ? 'MISSING' : 'DAMAGED'} ${problem.paths.join(', ')}: blob ${problem.sha256} ${problem.detail}`);
    const seconds = ((performance.now() - started) / 1000).toFixed(1);
    console.log(`checked ${report.blobs} files (${(report.bytes / 1024 ** 2).toFixed(1)} MiB) in ${seconds} s: ${report.problems.length === 0 ? 'every file matches its name' : `${report.problems.length} not as recorded`}`);
    if (report.problems.length > 0) {
      console.log(
        options.side === 'lgwan'
          ? `Restore these from a backup of ${path.join(storage, 'blobs')}, or move them out of it: the internet side's carousel sends every file again within carousel.everyHours (new bundles wait for them meanwhile).`
          : `Restore these from a backup of ${path.join(storage, 'blobs')}: the LGWAN side refuses any bundle that carries a file which does not match its name.`,
      );
      process.exitCode = 1;
    }
  });

program
  .command('config')
  .description('the configuration file')
  .command('check')
  .description("read every file and folder one side's section names, as that side would, and say what to fix (read-only)")
  .addOption(new Option('--side <side>', 'which side of the boundary this host is').choices(['internet', 'lgwan']).makeOptionMandatory())
  .addOption(configOption())
  .action(async (options: { side: 'internet' | 'lgwan'; config?: string }) => {
    const config = await loadConfig(options.config);
    console.log(`config: ${options.config ? path.resolve(options.config) : '(none given: the defaults, relative to the current folder)'}`);
    const checks = await (await load.configCheck()).checkConfig(config, options.side);
    for (const item of checks) console.log(`${{ ok: 'ok  ', warn: 'WARN', fail: 'FAIL' }[item.level]} ${item.what}: ${item.detail}`);
    const failed = checks.filter((item) => item.level === 'fail').length;
    console.log(failed === 0 ? `the ${options.side} side can start with this config` : `${failed} problem(s): fix them in the config file (docs/configuration.md), then run this again`);
    if (failed > 0) process.exitCode = 1;
  });

addAdminCommands(program);

const bundleCommand = program.command('bundle').description('transfer bundles');
bundleCommand
  .command('inspect')
  .description(
    'LGWAN side, offline and read-only: verify a bundle (or a folder of bundles and parts) with the pinned transfer key and this side\'s vendor keys, print its summary and what the importer would do. Exit 0: would be imported; 1: would be refused; 3: parts still missing',
  )
  .argument('<file-or-folder>', 'a bundle, a table of contents or part, or a folder holding them (e.g. a sanitising service\'s hold folder)')
  .addOption(configOption())
  .option('--json', 'print JSON')
  .option('--scratch <dir>', 'folder for temporary copies while checking (default: the system temporary folder)')
  .action(async (target: string, options: { config?: string; json?: boolean; scratch?: string }) => {
    const config = await loadConfig(options.config);
    const { formatInspection, inspectExitCode, inspectFromConfig } = await load.bundleInspect();
    const results = await inspectFromConfig(config.lgwan, target, options.scratch);
    if (options.json) console.log(JSON.stringify(results.map(({ outcome: _outcome, ...rest }) => rest), null, 2));
    else process.stdout.write(results.map(formatInspection).join('\n'));
    process.exitCode = inspectExitCode(results);
  });

program
  .command('status')
  .description('LGWAN side: print the status the status page shows')
  .addOption(configOption())
  .option('--json', 'print JSON')
  .action(async (options: { config?: string; json?: boolean }) => {
    const config = await loadConfig(options.config);
    // Read beside the running daemon (the upgrade steps in docs/operations.md do): opening the
    // side would clear its temporary files, among them an import or a state write in progress.
    if (!(await stat(config.lgwan.storage).catch(() => undefined))?.isDirectory()) {
      throw new UserFacingError('E_CONFIG_INVALID', `no LGWAN side has run with storage ${config.lgwan.storage}: check lgwan.storage in ${options.config ?? 'the config (none was given: the defaults apply, relative to the current folder)'}, or run "lgwan-mirror config check --side lgwan"`);
    }
    const state = await (await load.lgwanState()).readLgwanState(path.join(config.lgwan.storage, 'state.json'));
    const status = (await load.statusModel()).buildStatus(state, new Date(), {
      transferStaleHours: config.lgwan.transferStaleHours,
      releaseLagHours: config.lgwan.releaseLagHours,
      diskLowPercent: config.lgwan.diskLowPercent,
    });
    if (options.json) {
      console.log(JSON.stringify(status, null, 2));
      return;
    }
    console.log(`bundle sequence ${status.transfer.highestSequence || '—'}, last import ${status.transfer.lastImportAt ?? '—'} (times in UTC)`);
    for (const product of status.products) {
      console.log(`${product.id}\tvendor ${product.latestSeen?.version ?? '—'}\tpublished ${product.latestPublished?.version ?? '—'}\t${product.trust}`);
    }
    for (const alarm of status.alarms) console.log(`ALARM ${alarm.kind} ${alarm.subject}: ${alarm.detail}`);
  });

registerUpgradeCommand(program, configOption);

/**
 * Runs one command line; main.ts reports what it throws. `ahead`: repository workers already
 * forked (main.ts), which `serve` or `daemon --side lgwan` take over; any other outcome ends them.
 */
export async function runCommandLine(argv: readonly string[], ahead?: RepositoryWorkers): Promise<void> {
  workersAhead = ahead;
  try {
    await program.parseAsync([...argv]);
  } finally {
    // Not taken over: help, a usage error, another command.
    workersAhead?.abandon();
    workersAhead = undefined;
  }
}
