import { execFile } from 'node:child_process';
import { copyFile, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';
import { codeSigningPki, type CodeSigningPki } from './windows-signing.ts';

const run = promisify(execFile);

/**
 * A per-run stand-in for ClamAV's database signing PKI: a root and a signing certificate
 * named like ClamAV's (CN=ClamAV_datafiles_release). No extended key usage: ClamAV checks
 * with OpenSSL's PKCS7_verify, whose default S/MIME-signing purpose a code-signing-only
 * certificate would not pass.
 */
export function clamavSigningPki(root: string, name = 'clamav', commonName = 'ClamAV_datafiles_release'): Promise<CodeSigningPki> {
  return codeSigningPki(root, 'Cisco Systems', name, { commonName, extendedKeyUsage: false });
}

/** Another signing certificate under the same root (a CA key next to ca.pem), with its own CN. */
export async function issueUnderSameRoot(pki: CodeSigningPki, commonName: string): Promise<CodeSigningPki> {
  const folder = path.dirname(pki.caCertificate);
  const file = (leaf: string) => path.join(folder, `${commonName}-${leaf}`);
  await run('openssl', ['req', '-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes', '-keyout', file('signer.key'), '-out', file('signer.csr'), '-subj', `/C=US/O=Cisco Systems/CN=${commonName}`]);
  await writeFile(file('signer.ext'), 'basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n');
  await run('openssl', ['x509', '-req', '-in', file('signer.csr'), '-CA', pki.caCertificate, '-CAkey', path.join(folder, 'ca.key'), '-CAcreateserial', '-out', file('signer.pem'), '-days', '30', '-extfile', file('signer.ext')]);
  return { ...pki, signerCertificate: file('signer.pem'), signerKey: file('signer.key') };
}

/**
 * A `.sign` file as ClamAV 1.5's sigtool writes it: `#clamsign-1.0`, then
 * `<min flevel>:<max flevel>:pkcs7-pem:<the PEM body on one line>` — a detached PKCS#7
 * signature over the file's bytes.
 */
export async function clamavSignFile(file: string, pki: CodeSigningPki, minFlevel = 220): Promise<Buffer> {
  const { stdout } = await run('openssl', ['smime', '-sign', '-binary', '-in', file, '-signer', pki.signerCertificate, '-inkey', pki.signerKey, '-outform', 'PEM'], { encoding: 'buffer', maxBuffer: 1024 * 1024 });
  const body = stdout.toString('utf8').split('\n').filter((line) => line !== '' && !line.startsWith('-----')).join('');
  return Buffer.from(`#clamsign-1.0\n${minFlevel}::pkcs7-pem:${body}\n`);
}

/** Pins the run's root and the accepted signer names under clamavSign in a side's keys/pins.yaml. */
export async function pinClamavSign(keysDirectory: string, pki: CodeSigningPki, signers = ['ClamAV_datafiles_release']): Promise<void> {
  const pinsFile = path.join(keysDirectory, 'pins.yaml');
  const pins = parse(await readFile(pinsFile, 'utf8')) as Record<string, unknown>;
  await copyFile(pki.caCertificate, path.join(keysDirectory, 'clamav-sign-roots.pem'));
  pins.clamavSign = { roots: { file: 'clamav-sign-roots.pem', sha256: [pki.caFingerprint] }, signers, reviewed: 'test fixture, made per run' };
  await writeFile(pinsFile, stringify(pins));
}
