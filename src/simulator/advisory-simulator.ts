import { createHash } from 'node:crypto';
import { readdir, readFile } from 'node:fs/promises';
import path from 'node:path';
import * as openpgp from 'openpgp';
import { myJvnQuery } from '../sources/advisory-feeds.ts';
import { simulatorCatalogOrigin } from './vendor-simulator.ts';

/*
 * Advisory publishers as the fetcher meets them, serving the real sample documents in
 * test/fixtures/advisories/ (provenance in test/fixtures/SOURCES.md) in each publisher's own
 * layout: GitHub's contents API listing of Mozilla's announce/<year> folders (with each
 * file's git blob id) and the raw files; CISA's KEV feed; the Debian tracker's data/json; a
 * CSAF provider (provider-metadata.json → ROLIE feed → documents with .sha512 and .asc, signed
 * with a throwaway key, since the vendors' own keys are not available here); MyJVN's API
 * (getVulnOverviewList in pages of two, in the shape of IPA's own example answer, listing the
 * four real getVulnDetailInfo answers IPA publishes as examples, which it serves as they are).
 */

export const advisorySimulatorPaths = {
  mozillaListing: (year: string) => `/repos/mozilla/foundation-security-advisories/contents/announce/${year}`,
  kev: '/sites/default/files/feeds/known_exploited_vulnerabilities.json',
  debianTracker: '/tracker/data/json',
  csafProviderMetadata: '/.well-known/csaf/provider-metadata.json',
  myJvn: '/myjvn',
} as const;

const gitBlobId = (data: Buffer): string => createHash('sha1').update(`blob ${data.length}\0`).update(data).digest('hex');

export interface AdvisorySimulatorOptions {
  /** test/fixtures/advisories */
  fixtures: string;
  /** Armored private key that signs the CSAF documents (.asc). */
  csafSigningKey: string;
  /** Edit a CSAF document after it is signed and hashed (a tampered mirror). */
  tamperCsaf?: (name: string, document: Buffer) => Buffer;
}

/** The files to serve, by URL path, with URLs inside them on the simulator's catalog origin. */
export async function advisorySimulatorFiles(options: AdvisorySimulatorOptions): Promise<Map<string, Buffer>> {
  const files = new Map<string, Buffer>();
  const origin = simulatorCatalogOrigin;
  const mozillaFolder = path.join(options.fixtures, 'mozilla');
  const byYear = new Map<string, { name: string; data: Buffer }[]>();
  for (const name of (await readdir(mozillaFolder)).sort()) {
    const year = /^mfsa(\d{4})-/u.exec(name)?.[1];
    if (!year) continue;
    const list = byYear.get(year) ?? [];
    list.push({ name, data: await readFile(path.join(mozillaFolder, name)) });
    byYear.set(year, list);
  }
  for (const [year, list] of byYear) {
    const listing = list.map(({ name, data }) => {
      const filePath = `announce/${year}/${name}`;
      files.set(`/mozilla/foundation-security-advisories/main/${filePath}`, data);
      return {
        name, path: filePath, sha: gitBlobId(data), size: data.length,
        url: `${origin}${advisorySimulatorPaths.mozillaListing(year)}/${name}?ref=main`,
        download_url: `${origin}/mozilla/foundation-security-advisories/main/${filePath}`,
        type: 'file',
      };
    });
    files.set(advisorySimulatorPaths.mozillaListing(year), Buffer.from(JSON.stringify(listing, null, 2)));
  }
  files.set(advisorySimulatorPaths.kev, await readFile(path.join(options.fixtures, 'cisa-kev', 'known_exploited_vulnerabilities.json')));
  files.set(advisorySimulatorPaths.debianTracker, await readFile(path.join(options.fixtures, 'debian', 'tracker-data.json')));

  const signingKeys = await openpgp.readPrivateKey({ armoredKey: options.csafSigningKey });
  const entries = [];
  for (const name of ['bsi-2022-0001.json', 'rhsa-2022_0011.json', 'cisco-sa-20180328-smi2.json']) {
    const original = await readFile(path.join(options.fixtures, 'csaf', name));
    const documentPath = `/.well-known/csaf/white/${name}`;
    const signature = (await openpgp.sign({ message: await openpgp.createMessage({ binary: original }), signingKeys, detached: true, format: 'armored' })) as string;
    files.set(documentPath, options.tamperCsaf ? options.tamperCsaf(name, original) : original);
    files.set(`${documentPath}.sha512`, Buffer.from(`${createHash('sha512').update(original).digest('hex')}  ${name}\n`));
    files.set(`${documentPath}.asc`, Buffer.from(signature));
    const tracking = (JSON.parse(original.toString('utf8')) as { document: { title: string; tracking: { id: string; initial_release_date: string; current_release_date: string } } }).document;
    entries.push({
      id: tracking.tracking.id, title: tracking.title,
      link: [
        { rel: 'self', href: `${origin}${documentPath}` },
        { rel: 'hash', href: `${origin}${documentPath}.sha512` },
        { rel: 'signature', href: `${origin}${documentPath}.asc` },
      ],
      published: tracking.tracking.initial_release_date, updated: tracking.tracking.current_release_date,
      content: { type: 'application/json', src: `${origin}${documentPath}` },
      format: { schema: 'https://docs.oasis-open.org/csaf/csaf/v2.0/csaf_json_schema.json', version: '2.0' },
    });
  }
  // The shapes of OASIS's own examples (csaf_2.0/examples/ROLIE and provider-metadata), on this origin.
  files.set('/.well-known/csaf/feed-tlp-white.json', Buffer.from(JSON.stringify({
    feed: {
      id: 'simulated-csaf-feed-tlp-white', title: 'Simulated CSAF feed (TLP:WHITE)',
      link: [{ rel: 'self', href: `${origin}/.well-known/csaf/feed-tlp-white.json` }],
      category: [{ scheme: 'urn:ietf:params:rolie:category:information-type', term: 'csaf' }],
      updated: '2022-03-23T20:31:00.000Z', entry: entries,
    },
  }, null, 2)));
  const key = await openpgp.readKey({ armoredKey: signingKeys.toPublic().armor() });
  files.set(advisorySimulatorPaths.csafProviderMetadata, Buffer.from(JSON.stringify({
    canonical_url: `${origin}${advisorySimulatorPaths.csafProviderMetadata}`,
    distributions: [{ rolie: { feeds: [{ summary: 'All TLP:WHITE advisories.', tlp_label: 'WHITE', url: `${origin}/.well-known/csaf/feed-tlp-white.json` }] } }],
    last_updated: '2022-03-23T20:31:00.000Z', list_on_CSAF_aggregators: true, metadata_version: '2.0', mirror_on_CSAF_aggregators: true,
    public_openpgp_keys: [{ fingerprint: key.getFingerprint().toUpperCase(), url: `${origin}/.well-known/csaf/openpgp/key.asc` }],
    publisher: { category: 'vendor', name: 'Simulated ProductCERT', namespace: origin },
    role: 'csaf_trusted_provider',
  }, null, 2)));
  await addMyJvn(files, options.fixtures);
  return files;
}

async function addMyJvn(files: Map<string, Buffer>, fixtures: string): Promise<void> {
  const folder = path.join(fixtures, 'jvn');
  const details = (await readdir(folder)).filter((name) => name.startsWith('getVulnDetailInfo_oka_JVNDB-')).sort();
  const ids = details.map((name) => /(JVNDB-\d{4}-\d{6})/u.exec(name)![1]!);
  const example = JSON.parse(await readFile(path.join(folder, 'getVulnOverviewList_oka.json'), 'utf8')) as { $schema: string; feed: Record<string, unknown> & { entry: unknown[] }; status: Record<string, unknown> };
  const pageSize = 2;
  for (let first = 1; first <= ids.length; first += pageSize) {
    const page = ids.slice(first - 1, first - 1 + pageSize);
    const entries = [];
    for (const id of page) {
      const detail = JSON.parse(await readFile(path.join(folder, `getVulnDetailInfo_oka_${id}.json`), 'utf8')) as { document: { title: string; tracking: { current_release_date: string; initial_release_date: string } } };
      entries.push({ title: detail.document.title, id, link: `https://jvndb.jvn.jp/ja/contents/${id.slice(6, 10)}/${id}.html`, modified: detail.document.tracking.current_release_date, created: detail.document.tracking.initial_release_date });
    }
    const answer = { $schema: example.$schema, feed: { ...example.feed, entry: entries }, status: { ...example.status, retMax: 50, totalRes: ids.length, totalResRet: page.length, firstRes: first } };
    files.set(`${advisorySimulatorPaths.myJvn}${myJvnQuery.overview('MONTH', 'ja', first)}`, Buffer.from(JSON.stringify(answer, null, 2)));
  }
  for (const [index, id] of ids.entries()) files.set(`${advisorySimulatorPaths.myJvn}${myJvnQuery.detail(id, 'ja')}`, await readFile(path.join(folder, details[index]!)));
}
