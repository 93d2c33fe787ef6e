import type { Command, Option } from 'commander';
import { loadConfig } from './load-config.ts';
import { LgwanMirrorError, UserFacingError } from '../core/errors.ts';

/** `lgwan-mirror upgrade`, registered by commands.ts; what it runs (verification, dpkg) loads when it runs. */
export function registerUpgradeCommand(program: Command, configOption: () => Option): void {
  program
    .command('upgrade')
    .description(
      'LGWAN host, as root, offline: install the newest lgwan-mirror release this side published (carried through the spool as the product lgwan-mirror), after checking its sha256 against the published manifest, the signature of its SHA256SUMS against the pinned release key and the version inside the .deb. Exit 0: installed (with --dry-run: would install); 1: refused or failed, nothing installed; 2: not newer than the installed version (already at it, or a downgrade), nothing installed',
    )
    .addOption(configOption())
    .option('--version <version>', 'install this published release instead of the newest')
    .option('--dry-run', 'check everything and print what would be installed, install nothing')
    .option('--scratch <dir>', 'folder for the private copies that are checked and installed (default: the system temporary folder)')
    .action(async (options: { config?: string; version?: string; dryRun?: boolean; scratch?: string }) => {
      const config = await loadConfig(options.config);
      const { upgradeFromPublished } = await import('./upgrade.ts');
      process.exitCode = await upgradeFromPublished({ config: config.lgwan, version: options.version, dryRun: options.dryRun === true, scratch: options.scratch }).catch((error: unknown) => {
        // A refused release (changed file, foreign signature, wrong version inside) is the admin's to act on: its message, no stack.
        if (error instanceof LgwanMirrorError && !(error instanceof UserFacingError)) throw new UserFacingError(error.code, error.message, { cause: error, details: { ...error.details } });
        throw error;
      });
    });
}
