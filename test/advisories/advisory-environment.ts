import { mkdtemp, readFile, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { parse, stringify } from 'yaml';
import { advisorySimulatorFiles, advisorySimulatorPaths } from '../../src/simulator/advisory-simulator.ts';
import { generateVendorKey, simulatorCatalogOrigin } from '../../src/simulator/vendor-simulator.ts';
import { createEnvironment, fixtures } from '../helpers/environment.ts';

/*
 * A deployment whose catalog is the four advisory sources, served by the advisory simulator
 * from the real sample documents; the CSAF documents signed by a per-run key pinned as
 * "csaf-test" on the internet side and (unless told otherwise) on the LGWAN side.
 */

const origin = simulatorCatalogOrigin;
export const entries = [
  {
    id: 'mozilla-advisories', name: 'Mozilla Foundation Security Advisories', vendor: 'Mozilla', scheme: 'integer', trust: 'tls-only', retention: 1,
    source: { type: 'mozilla-advisories', listingUrls: [`${origin}${advisorySimulatorPaths.mozillaListing('2024')}`, `${origin}${advisorySimulatorPaths.mozillaListing('2026')}`], products: { Firefox: 'firefox', 'Firefox ESR': 'firefox-esr', Thunderbird: 'thunderbird' } },
  },
  { id: 'cisa-kev', name: 'CISA KEV', vendor: 'CISA', scheme: 'integer', trust: 'tls-only', retention: 1, source: { type: 'cisa-kev', url: `${origin}${advisorySimulatorPaths.kev}` } },
  {
    id: 'debian-security-tracker', name: 'Debian security tracker', vendor: 'Debian', scheme: 'integer', trust: 'tls-only', retention: 1,
    source: { type: 'debian-security-tracker', url: `${origin}${advisorySimulatorPaths.debianTracker}`, releases: { buster: 'debian-buster-test' } },
  },
  {
    id: 'csaf-test', name: 'CSAF provider', vendor: 'Simulated', scheme: 'integer', trust: 'vendor-signature', retention: 1,
    source: { type: 'csaf', providerMetadataUrl: `${origin}${advisorySimulatorPaths.csafProviderMetadata}`, signingKey: 'csaf-test', products: { 'CVRF-CSAF-Converter': 'cvrf-csaf-converter' } },
  },
  { id: 'jvn', name: 'JVN iPedia', vendor: 'IPA', scheme: 'integer', trust: 'tls-only', retention: 1, source: { type: 'jvn', apiUrl: `${origin}${advisorySimulatorPaths.myJvn}` } },
];

/** Pins `publicKey` as "csaf-test" in a side's vendor-keys folder. */
async function pinCsafKey(keysDirectory: string, key: { publicKey: string; fingerprint: string }): Promise<void> {
  await writeFile(path.join(keysDirectory, 'csaf-test.asc'), key.publicKey);
  const pinsFile = path.join(keysDirectory, 'pins.yaml');
  const pins = parse(await readFile(pinsFile, 'utf8')) as { keys: Record<string, unknown> };
  pins.keys['csaf-test'] = { file: 'csaf-test.asc', fingerprints: [key.fingerprint] };
  await writeFile(pinsFile, stringify(pins));
}

export async function setupAdvisoryEnvironment(options: { tamperCsaf?: (name: string, document: Buffer) => Buffer; lgwanKey?: 'same' | 'other' } = {}) {
  const catalogs = await mkdtemp(path.join(tmpdir(), 'lgwan-advisory-catalog-'));
  for (const entry of entries) await writeFile(path.join(catalogs, `${entry.id}.yaml`), stringify(entry));
  const environment = await createEnvironment({ catalogs });
  const csafKey = await generateVendorKey('Simulated ProductCERT');
  await pinCsafKey(path.join(environment.root, 'internet', 'vendor-keys'), csafKey);
  await pinCsafKey(path.join(environment.root, 'lgwan', 'vendor-keys'), options.lgwanKey === 'other' ? await generateVendorKey('Someone Else') : csafKey);
  for (const [file, data] of await advisorySimulatorFiles({ fixtures: path.join(fixtures, 'advisories'), csafSigningKey: csafKey.privateKey, tamperCsaf: options.tamperCsaf })) environment.simulator.files.set(file, data);
  return environment;
}

