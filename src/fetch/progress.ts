import cliProgress from 'cli-progress';
import type { Logger } from '../core/logger.ts';

export interface DownloadProgress {
  start(label: string, total: number | undefined): ProgressHandle;
  stop(): void;
}

export interface ProgressHandle {
  update(bytes: number): void;
  done(): void;
}

/** Bars on a terminal; periodic structured log lines otherwise (CI, cron, systemd). */
export function createProgress(logger: Logger, interactive = Boolean(process.stderr.isTTY)): DownloadProgress {
  if (interactive) {
    const bars = new cliProgress.MultiBar(
      { format: ' {bar} {percentage}% | {value}/{total} bytes | {label}', hideCursor: true, clearOnComplete: false, stream: process.stderr },
      cliProgress.Presets.shades_classic,
    );
    return {
      start(label, total) {
        const bar = bars.create(total ?? 0, 0, { label });
        return { update: (bytes) => bar.update(bytes), done: () => bar.stop() };
      },
      stop: () => bars.stop(),
    };
  }
  return {
    start(label, total) {
      let last = Date.now();
      return {
        update(bytes) {
          if (Date.now() - last >= 10_000) {
            last = Date.now();
            logger.info({ file: label, bytes, total }, 'downloading');
          }
        },
        done: () => undefined,
      };
    },
    stop: () => undefined,
  };
}
