import { execFile } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { copyFile, mkdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import { parse, stringify } from 'yaml';

const run = promisify(execFile);

export interface CodeSigningPki {
  caCertificate: string;
  /** SHA-256 of the root, as keys/pins.yaml pins it (upper-case hex, no colons). */
  caFingerprint: string;
  signerCertificate: string;
  signerKey: string;
}

/**
 * A throwaway code-signing PKI made with openssl for one test run: a root CA and a signer
 * certificate (extendedKeyUsage codeSigning unless told otherwise) with the given
 * organisation (O=), and CN the same unless told otherwise.
 */
export async function codeSigningPki(root: string, organisation: string, name = 'pki', options: { commonName?: string; extendedKeyUsage?: string | false } = {}): Promise<CodeSigningPki> {
  const folder = path.join(root, name);
  await mkdir(folder, { recursive: true });
  const file = (leaf: string) => path.join(folder, leaf);
  const ec = ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:P-256', '-nodes'];
  await run('openssl', ['req', '-x509', ...ec, '-keyout', file('ca.key'), '-out', file('ca.pem'), '-days', '30', '-subj', `/C=JP/O=${name} Test Root/CN=${name} Test Root`, '-addext', 'basicConstraints=critical,CA:TRUE', '-addext', 'keyUsage=critical,keyCertSign,cRLSign']);
  await run('openssl', ['req', ...ec, '-keyout', file('signer.key'), '-out', file('signer.csr'), '-subj', `/C=US/O=${organisation}/CN=${options.commonName ?? organisation}`]);
  const usage = options.extendedKeyUsage === false ? '' : `extendedKeyUsage=${options.extendedKeyUsage ?? 'codeSigning'}\n`;
  await writeFile(file('signer.ext'), `basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature\n${usage}`);
  await run('openssl', ['x509', '-req', '-in', file('signer.csr'), '-CA', file('ca.pem'), '-CAkey', file('ca.key'), '-CAcreateserial', '-out', file('signer.pem'), '-days', '30', '-extfile', file('signer.ext')]);
  const caFingerprint = new X509Certificate(await readFile(file('ca.pem'))).fingerprint256.replaceAll(':', '');
  return { caCertificate: file('ca.pem'), caFingerprint, signerCertificate: file('signer.pem'), signerKey: file('signer.key') };
}

/** A small real MSI built with wixl (msitools), with the ProductVersion and Summary Comments given. */
export async function buildMsi(root: string, options: { name: string; productVersion: string; comments: string; payload?: string }): Promise<string> {
  const folder = path.join(root, `msi-${options.name.replace(/[^A-Za-z0-9]/gu, '-')}-${options.productVersion}-${Math.random().toString(16).slice(2, 8)}`);
  await mkdir(folder, { recursive: true });
  await writeFile(path.join(folder, 'payload.txt'), options.payload ?? `${options.name} ${options.comments}\n`);
  const wxs = `<?xml version="1.0" encoding="utf-8"?>
<Wix xmlns="http://schemas.microsoft.com/wix/2006/wi">
  <Product Id="*" Name="${options.name}" Language="1033" Version="${options.productVersion}" Manufacturer="Test Vendor" UpgradeCode="6F7E1C2A-1111-4222-8333-944455556666">
    <Package InstallerVersion="200" Compressed="yes" Comments="${options.comments}" />
    <Media Id="1" Cabinet="payload.cab" EmbedCab="yes" />
    <Directory Id="TARGETDIR" Name="SourceDir"><Directory Id="ProgramFilesFolder"><Directory Id="INSTALLDIR" Name="TestProduct">
      <Component Id="Main" Guid="6F7E1C2A-1111-4222-8333-944455557777"><File Id="payload" Source="payload.txt" /></Component>
    </Directory></Directory></Directory>
    <Feature Id="Complete" Level="1"><ComponentRef Id="Main" /></Feature>
  </Product>
</Wix>
`;
  await writeFile(path.join(folder, 'product.wxs'), wxs);
  const msi = path.join(folder, 'product.msi');
  await run('wixl', ['-o', msi, path.join(folder, 'product.wxs')], { cwd: folder });
  return msi;
}

/** Signs a PE/MSI file with osslsigncode (SHA-256, no timestamp: the tests run offline). */
export async function signWindowsFile(input: string, output: string, pki: CodeSigningPki): Promise<string> {
  await run('osslsigncode', ['sign', '-certs', pki.signerCertificate, '-key', pki.signerKey, '-h', 'sha256', '-n', 'Test Product', '-in', input, '-out', output]);
  return output;
}

/** Pins the run's root and one signer (with its organisation names) in a side's keys/pins.yaml. */
export async function pinAuthenticodeSigner(keysDirectory: string, pki: CodeSigningPki, signer: string, names: string[]): Promise<void> {
  const pinsFile = path.join(keysDirectory, 'pins.yaml');
  const pins = parse(await readFile(pinsFile, 'utf8')) as Record<string, unknown>;
  await copyFile(pki.caCertificate, path.join(keysDirectory, 'authenticode-roots.pem'));
  pins.authenticode = { roots: { file: 'authenticode-roots.pem', sha256: [pki.caFingerprint] }, signers: { [signer]: { names, reviewed: 'test fixture, made per run' } } };
  await writeFile(pinsFile, stringify(pins));
}
