import { UserFacingError, errorMessage } from '../core/errors.ts';
import type { RepositoryWorkers } from '../sides/repository-workers.ts';
import { isRepositoryWorker } from '../sides/worker-channel.ts';

/*
 * The entry point of both launchers. A repository worker of `serve` (a process the primary
 * forked) loads only what answering needs: no command line parsing, no config loader, no
 * other command's modules; the primary hands it the parsed config. Every other process
 * parses its command line. Start-up time is mostly module loading (issue 18).
 */

/**
 * Whether the command line starts the LGWAN service (`serve`, `daemon --side lgwan`), judged
 * before commander parses it: commander takes program options before the command only.
 * A wrong guess costs little: runCommandLine ends workers no command took over.
 */
function startsLgwanService(args: readonly string[]): boolean {
  if (args[0] === 'serve') return true;
  return args[0] === 'daemon' && args.some((arg, index) => arg === '--side=lgwan' || (arg === '--side' && args[index + 1] === 'lgwan'));
}

let ahead: RepositoryWorkers | undefined;
try {
  if (isRepositoryWorker()) {
    await (await import('../sides/repository-worker.ts')).runRepositoryWorker();
  } else {
    // The service's workers are forked first, so that they load the repository while this
    // process parses the command line, reads the config and opens the stores (issue 18).
    ahead = startsLgwanService(process.argv.slice(2)) ? (await import('../sides/repository-workers.ts')).forkWorkersAhead() : undefined;
    await (await import('./commands.ts')).runCommandLine(process.argv, ahead);
  }
} catch (error) {
  ahead?.abandon();
  const filesystem = error as NodeJS.ErrnoException;
  if (error instanceof UserFacingError) {
    console.error(`lgwan-mirror: ${error.message}`);
  } else if (typeof filesystem?.path === 'string' && ['ENOENT', 'EACCES', 'EPERM', 'ENOTDIR', 'EISDIR', 'EROFS', 'ENOSPC'].includes(filesystem.code ?? '')) {
    // A file or folder the admin can fix: its path and what is wrong, without a stack.
    const what = { ENOENT: 'does not exist', EACCES: 'is not accessible to this user', EPERM: 'is not accessible to this user', ENOTDIR: 'is not a folder', EISDIR: 'is a folder, not a file', EROFS: 'is on a read-only file system', ENOSPC: 'cannot be written: the disk is full' }[filesystem.code as 'ENOENT'];
    console.error(`lgwan-mirror: ${filesystem.path} ${what} (${filesystem.syscall ?? 'open'}): check the paths in the config file${process.argv.includes('--config') || process.argv.includes('-c') ? '' : ' (none was given: the defaults apply, relative to the current folder)'}`);
  } else {
    console.error(error instanceof Error ? (error.stack ?? errorMessage(error)) : errorMessage(error));
  }
  process.exitCode = 1;
  // The channel to the primary would keep a failed worker alive: the primary starts another.
  if (isRepositoryWorker()) process.exit();
}
