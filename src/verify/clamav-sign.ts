import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { SignatureError, UserFacingError } from '../core/errors.ts';

const run = promisify(execFile);

/** Where `.sign` chains must end and which signing certificates (by CN) count. */
export interface ClamavSignTrust {
  /** PEM file of the pinned roots (every certificate in it pinned by SHA-256 in keys/pins.yaml). */
  caFile: string;
  /** Common names of the signing certificates accepted, e.g. ClamAV_datafiles_release. */
  signers: readonly string[];
}

/** One signature line of a `.sign` file: `<min flevel>:<max flevel or empty>:pkcs7-pem:<base64 DER>`. */
export interface ClamavSignLine {
  line: number;
  minFlevel: number;
  maxFlevel: number | undefined;
  pkcs7Base64: string;
}

const maxSignFileBytes = 64 * 1024;

/**
 * Parses ClamAV 1.5's detached signature file (`daily-27500.cvd.sign`): a `#clamsign-1.0`
 * first line, then one line per signature. Anything else is refused with the line and
 * field named: a file this parser does not understand is not a file it has checked.
 */
export function parseClamavSignFile(bytes: Buffer, label: string): ClamavSignLine[] {
  if (bytes.length > maxSignFileBytes) throw new SignatureError(`${label}: ${bytes.length} bytes, more than a .sign file holds (${maxSignFileBytes})`, { file: label });
  const lines = bytes.toString('utf8').split('\n');
  const header = lines[0]?.trim() ?? '';
  if (!header.startsWith('#clamsign-')) throw new SignatureError(`${label}: line 1 must be "#clamsign-1.0", found ${JSON.stringify(header.slice(0, 40))}`, { file: label, line: 1 });
  if (header !== '#clamsign-1.0') throw new SignatureError(`${label}: line 1: format version "${header.slice('#clamsign-'.length)}" is not 1.0, the only one known`, { file: label, line: 1 });
  const signatures: ClamavSignLine[] = [];
  lines.slice(1).forEach((raw, index) => {
    const text = raw.trim();
    const line = index + 2;
    if (text === '' || text.startsWith('#')) return;
    const fields = text.split(':');
    const refuse = (field: string, problem: string) => new SignatureError(`${label}: line ${line}: field ${field} ${problem}`, { file: label, line, field });
    if (fields.length !== 4) throw refuse('count', `is ${fields.length}, expected 4 (min_flevel:max_flevel:format:signature)`);
    const [min, max, format, signature] = fields as [string, string, string, string];
    if (!/^\d{1,6}$/u.test(min)) throw refuse('min_flevel', `"${min.slice(0, 20)}" is not a feature level`);
    if (max !== '' && !/^\d{1,6}$/u.test(max)) throw refuse('max_flevel', `"${max.slice(0, 20)}" is neither empty nor a feature level`);
    if (format !== 'pkcs7-pem') throw refuse('signature_format', `"${format.slice(0, 20)}" is not pkcs7-pem, the only format known`);
    if (!/^[A-Za-z0-9+/]+={0,2}$/u.test(signature)) throw refuse('signature_bytes', 'is not base64');
    signatures.push({ line, minFlevel: Number(min), maxFlevel: max === '' ? undefined : Number(max), pkcs7Base64: signature });
  });
  if (signatures.length === 0) throw new SignatureError(`${label}: holds no signature line`, { file: label });
  return signatures;
}

/** The subject's CN in Node's multi-line form ("C=US\nO=Cisco\nCN=ClamAV_datafiles_release"). */
function commonName(certificate: X509Certificate): string | undefined {
  return certificate.subject.split('\n').find((part) => part.startsWith('CN='))?.slice(3);
}

/**
 * Verifies a `.sign` file over `dataFile` as ClamAV 1.5 does: a detached PKCS#7 signature
 * (binary content, no CRL), its chain ending in the pinned roots only — never the
 * system's — and then the signing certificate's CN against the pinned names. One line
 * that passes is enough (ClamAV's rule: a file may carry signatures for several feature
 * levels); every line's failure is reported otherwise. OpenSSL's `smime -verify` is
 * PKCS7_verify, the call ClamAV itself makes, so the purpose and time checks are ClamAV's.
 */
export async function verifyClamavSign(dataFile: string, signBytes: Buffer, label: string, trust: ClamavSignTrust): Promise<{ signer: string; line: number }> {
  const lines = parseClamavSignFile(signBytes, label);
  const scratch = await mkdtemp(path.join(tmpdir(), 'lgwan-clamav-sign-'));
  const failures: string[] = [];
  try {
    for (const entry of lines) {
      const signatureFile = path.join(scratch, `line-${entry.line}.pem`);
      const signerFile = path.join(scratch, `signer-${entry.line}.pem`);
      const body = entry.pkcs7Base64.replace(/(.{64})/gu, '$1\n').replace(/\n$/u, '');
      await writeFile(signatureFile, `-----BEGIN PKCS7-----\n${body}\n-----END PKCS7-----\n`);
      try {
        await run(
          'openssl',
          ['smime', '-verify', '-binary', '-inform', 'PEM', '-in', signatureFile, '-content', dataFile, '-CAfile', trust.caFile, '-no-CApath', '-no-CAstore', '-signer', signerFile, '-out', '/dev/null'],
          { timeout: 120_000, maxBuffer: 4 * 1024 * 1024 },
        );
      } catch (error) {
        const failure = error as NodeJS.ErrnoException & { stderr?: string };
        if (failure.code === 'ENOENT') throw new UserFacingError('E_SIGNATURE', 'openssl is not installed (Debian package openssl); ClamAV .sign files cannot be checked', { details: { file: label } });
        failures.push(`line ${entry.line}: ${reasonOf(failure.stderr ?? String(error))}`);
        continue;
      }
      const pem = (await readFile(signerFile, 'utf8')).match(/-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/u)?.[0];
      const name = pem ? commonName(new X509Certificate(pem)) : undefined;
      if (name !== undefined && trust.signers.includes(name)) return { signer: name, line: entry.line };
      failures.push(`line ${entry.line}: signed by "${name ?? 'no named certificate'}", not by ${trust.signers.map((signer) => `"${signer}"`).join(' or ')} (clamavSign.signers in keys/pins.yaml)`);
    }
  } finally {
    await rm(scratch, { recursive: true, force: true });
  }
  throw new SignatureError(`${label}: no signature verifies: ${failures.join('; ')}`, { file: label });
}

/** OpenSSL's own reasons (`<thread>:error:<code>:<library>:<function>:<reason>:<file>:<line>:<detail>`), without positions. */
function reasonOf(stderr: string): string {
  const reasons = stderr
    .split('\n')
    .filter((line) => line.includes(':error:'))
    .map((line) => {
      const parts = line.split(':');
      const detail = parts.slice(8).join(':').trim();
      return detail ? `${parts[5]}: ${detail}` : parts[5];
    })
    .filter((reason): reason is string => Boolean(reason));
  const text = [...new Set(reasons)].join(', ') || stderr.trim().split('\n')[0] || 'openssl refused it';
  if (/unable to get local issuer certificate|self.signed certificate/iu.test(stderr)) return `${text} (does not chain to a root pinned under clamavSign.roots)`;
  if (/digest failure/iu.test(stderr)) return `${text} (the file was changed after it was signed: damaged or tampered)`;
  return text;
}
