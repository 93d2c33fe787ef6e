import { LgwanMirrorError } from '../core/errors.ts';

export class InvalidVersionError extends LgwanMirrorError {
  constructor(scheme: string, version: string, reason: string) {
    super('E_VERSION_INVALID', `"${version}" is not a valid ${scheme} version: ${reason}`, { details: { scheme, version } });
  }
}
