import { pino, type Logger } from 'pino';

export type { Logger } from 'pino';

/**
 * Structured JSON logs on stderr so that stdout stays free for what a command prints
 * for people (tables, URLs). `LGWAN_MIRROR_LOG_LEVEL` is the one override.
 */
export function createLogger(name: string, level = process.env.LGWAN_MIRROR_LOG_LEVEL ?? 'info'): Logger {
  return pino({ name, level, base: { component: name } }, pino.destination({ fd: 2, sync: true }));
}

/** A logger that drops everything: for tests and for library callers who bring none. */
export const silentLogger: Logger = pino({ level: 'silent' });
