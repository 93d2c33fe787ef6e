/**
 * Every failure an admin may see carries a stable `code`, a message that names the
 * file, field or URL involved, and the underlying `cause`. `UserFacingError`s are
 * printed without a stack: they describe something the admin can fix.
 */
export type ErrorCode =
  | 'E_CATALOG_INVALID'
  | 'E_CONFIG_INVALID'
  | 'E_KEY'
  | 'E_SIGNATURE'
  | 'E_INTEGRITY'
  | 'E_SIZE_LIMIT'
  | 'E_UPSTREAM'
  | 'E_ROLLBACK'
  | 'E_EQUIVOCATION'
  | 'E_EXPIRED'
  | 'E_BUNDLE_INVALID'
  | 'E_UNSAFE_NAME'
  | 'E_VERSION_INVALID'
  | 'E_USAGE'
  | 'E_DATABASE'
  | 'E_LOCKED'
  | 'E_STORAGE_NEWER'
  | 'E_DIRECTORY_UNAVAILABLE'
  | 'E_ADVISORY_INVALID';

export class LgwanMirrorError extends Error {
  readonly code: ErrorCode;
  readonly details: Readonly<Record<string, unknown>>;

  constructor(code: ErrorCode, message: string, options: { cause?: unknown; details?: Record<string, unknown> } = {}) {
    super(message, options.cause === undefined ? undefined : { cause: options.cause });
    this.name = new.target.name;
    this.code = code;
    // Fields left undefined are dropped: they say nothing, and a reporter that serialises the
    // error as YAML (AVA's TAP output) refuses undefined values and crashed the whole run.
    this.details = Object.freeze(Object.fromEntries(Object.entries(options.details ?? {}).filter(([, value]) => value !== undefined)));
  }
}

/** Something the admin can fix (a catalog line, a missing key, a wrong flag): printed without a stack. */
export class UserFacingError extends LgwanMirrorError {}

export class CatalogError extends UserFacingError {
  constructor(message: string, details: { file: string; line?: number; field?: string }) {
    super('E_CATALOG_INVALID', message, { details });
  }
}

/** A vendor signature, a transfer signature or a pinned key did not verify. */
export class SignatureError extends LgwanMirrorError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('E_SIGNATURE', message, { details, cause });
  }
}

/** A size or digest did not match what a signed statement promised. */
export class IntegrityError extends LgwanMirrorError {
  constructor(message: string, details: Record<string, unknown> = {}) {
    super('E_INTEGRITY', message, { details });
  }
}

export class UpstreamError extends LgwanMirrorError {
  constructor(message: string, details: Record<string, unknown> = {}, cause?: unknown) {
    super('E_UPSTREAM', message, { details, cause });
  }
}

/** The inventory database could not be reached, migrated, written or read. */
export class DatabaseError extends UserFacingError {
  constructor(database: string, action: string, cause: unknown) {
    super('E_DATABASE', `inventory database ${database}: ${action} failed: ${errorMessage(cause)}`, { cause, details: { database, action } });
  }
}

/** A bundle that must not be imported; `code` says why (rollback, equivocation, malformed…). */
export class BundleRefusedError extends LgwanMirrorError {
  /** What arrived is not what the internet side wrote: no signed statement can vouch for it. */
  get changedInTransit(): boolean {
    return this.details.changedInTransit === true;
  }
}

/** Plain words for the admin and for a sanitising service's approver. */
export const changedInTransitAdvice =
  'this file was changed on the way (rebuilt by a sanitising service, cut short, renamed or tampered with): it is not imported; ask for the original (原本) of it';

/**
 * A refusal because the bytes (or the name) that arrived differ from what was sent: a
 * sanitiser that rebuilt the file, stripped bytes or renamed it, or someone who altered it.
 * The message keeps the technical reason and adds what to do.
 */
export function changedInTransit(code: ErrorCode, message: string, details: Record<string, unknown> = {}): BundleRefusedError {
  return new BundleRefusedError(code, `${message} — ${changedInTransitAdvice}`, { details: { ...details, changedInTransit: true } });
}

export function errorMessage(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}

export function errorCode(error: unknown): string {
  return error instanceof LgwanMirrorError ? error.code : 'E_INTERNAL';
}

/** An advisory document (Mozilla's, CISA KEV, Debian's tracker, a CSAF document) that is not of its publisher's format. */
export class AdvisoryDocumentError extends LgwanMirrorError {
  constructor(message: string, details: { file: string; field?: string }) {
    super('E_ADVISORY_INVALID', message, { details });
  }
}
