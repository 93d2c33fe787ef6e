import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { SignatureError, UserFacingError } from '../core/errors.ts';

const run = promisify(execFile);

/** Where Authenticode chains must end, and the organisation names one pinned signer uses. */
export interface AuthenticodeTrust {
  /** PEM file of the trusted roots (every certificate in it pinned); undefined: Debian's system bundle, osslsigncode's default. */
  caFile: string | undefined;
  /** The pinned signer's name in keys/pins.yaml. */
  signer: string;
  /** Its organisation names (O=): the first, and any reviewed alias. */
  names: readonly string[];
}

export interface AuthenticodeResult {
  /** The primary signer's organisation (O=) as the certificate spells it. */
  organisation: string;
  subject: string;
  /** Signatures osslsigncode verified (a file may carry nested SHA-1 and SHA-256 signatures). */
  signatures: number;
  timestamped: boolean;
}

/** The value of one attribute (O, CN…) in OpenSSL's one-line form `/C=US/O=Google LLC/CN=Google LLC`. */
function attribute(subject: string, name: string): string | undefined {
  for (const part of subject.split(/\/(?=[A-Za-z.0-9]+=)/u)) {
    const equals = part.indexOf('=');
    if (equals > 0 && part.slice(0, equals) === name) return part.slice(equals + 1);
  }
  return undefined;
}

/**
 * Verifies the Authenticode signature of a Windows file (PE, MSI, MSP, CAB) with Debian's
 * osslsigncode: the digest over the file, the chain up to `trust.caFile`, the timestamp
 * (when there is one) against the same roots, and then the primary signer's organisation
 * against the names pinned for the signer in keys/pins.yaml (each side reads its own copy). Offline on purpose (`-ignore-cdp`: no CRL is fetched
 * while verifying); revocation is the vendor's certificate expiring or the pin changing.
 */
export async function verifyAuthenticode(file: string, label: string, trust: AuthenticodeTrust): Promise<AuthenticodeResult> {
  let output: string;
  try {
    const roots = trust.caFile ? ['-CAfile', trust.caFile, '-TSA-CAfile', trust.caFile] : [];
    const { stdout, stderr } = await run('osslsigncode', ['verify', '-in', file, ...roots, '-ignore-cdp'], { timeout: 120_000, maxBuffer: 16 * 1024 * 1024 });
    output = stdout + stderr;
  } catch (error) {
    const failure = error as NodeJS.ErrnoException & { stdout?: string; stderr?: string };
    if (failure.code === 'ENOENT') throw new UserFacingError('E_SIGNATURE', 'osslsigncode is not installed (Debian package osslsigncode); Authenticode cannot be checked', { details: { file: label } });
    const text = `${failure.stdout ?? ''}${failure.stderr ?? ''}`;
    throw new SignatureError(`${label}: Authenticode signature does not verify: ${reasonOf(text)}${hintFor(text)}`, { file: label });
  }
  if (!/^Succeeded$/mu.test(output)) throw new SignatureError(`${label}: Authenticode signature does not verify: ${reasonOf(output)}${hintFor(output)}`, { file: label });
  const subject = /Signer's certificate:[\s\S]*?Signer #0:\s*\n\s*Subject:\s*(.+)/u.exec(output)?.[1]?.trim();
  if (!subject) throw new SignatureError(`${label}: osslsigncode verified the file but named no signer; refusing`, { file: label });
  const organisation = attribute(subject, 'O') ?? '';
  if (!trust.names.includes(organisation)) {
    throw new SignatureError(`${label}: signed by "${organisation || subject}", not by ${trust.names.map((name) => `"${name}"`).join(' or ')} (pinned signer "${trust.signer}")`, { file: label, signer: subject });
  }
  return {
    organisation,
    subject,
    signatures: Number(/Number of verified signatures:\s*(\d+)/u.exec(output)?.[1] ?? 1),
    timestamped: !/Timestamp is not available/u.test(output),
  };
}

/** What an admin can do about the failures that have one cause. */
function hintFor(output: string): string {
  if (/unable to get local issuer certificate|self.signed certificate in certificate chain/iu.test(output)) {
    return ' (the signer\'s certificate does not chain to a trusted root: see authenticode.roots in keys/pins.yaml)';
  }
  if (/MISMATCH/u.test(output)) return ' (the file was changed after it was signed: damaged or tampered)';
  return '';
}

/** The lines of osslsigncode's answer that say what failed, without the certificate dumps. */
function reasonOf(output: string): string {
  const lines = output
    .split('\n')
    .map((line) => line.trim())
    .filter((line) => /\b(failed|failure|error|mismatch|invalid|unable|no signature|unsupported)\b/iu.test(line) && !/^(Number of verified|PKCS7_verify error$)/u.test(line))
    // OpenSSL's own error lines carry source paths; keep their last part, the reason.
    .map((line) => (/^[0-9A-F]+:error:/u.test(line) ? (line.split(':').at(-1) ?? line).trim() : line.replace(/\s+/gu, ' ')));
  return [...new Set(lines)].slice(0, 4).join('; ') || 'osslsigncode reported a failure';
}
