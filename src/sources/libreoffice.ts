import type { Artifact } from '../bundle/manifest.ts';
import type { LibreofficeSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { downloadChecked, probeFiles, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): LibreofficeSource {
  if (context.entry.source.type !== 'libreoffice') throw new Error('libreoffice adapter given another source type');
  return context.entry.source;
}

/** Version folders in an Apache/MirrorBrain listing: `href="24.8.3/"`. */
export function versionFolders(html: string): string[] {
  return [...new Set([...html.matchAll(/href="(\d+(?:\.\d+){1,3})\/"/gu)].map((match) => match[1]!))];
}

/** The SHA-256 in a `<file>.sha256` answer: `<64 hex>  <file name>`, naming the file asked for. */
export function sha256FromStatement(text: string, fileName: string, url: string): string {
  const match = /^([0-9a-f]{64})\s+\*?(\S+)\s*$/mu.exec(text.trim());
  if (!match) throw new IntegrityError(`${url}: not a "<sha256>  <file>" line`, { url });
  if (match[2]!.split('/').at(-1) !== fileName) throw new IntegrityError(`${url}: states the hash of ${match[2]}, not of ${fileName}`, { url });
  return match[1]!;
}

const filesOf = (source: LibreofficeSource, version: string) =>
  source.files.map((file) => {
    const relative = file.path.replaceAll('{version}', version);
    return { platform: file.platform, url: `${source.baseUrl}${version}/${relative}`, fileName: relative.split('/').at(-1)! };
  });

/**
 * LibreOffice from The Document Foundation's download server. The newest version folder of
 * the listing is the version (compared as dotted, the listing's order not relied on); each
 * file must hash to the SHA-256 the server publishes beside it. That statement comes over
 * TLS and is signed by nothing pinned here (TDF's .asc key could not be obtained from a source
 * this project can check): trust vendor-hash-over-tls, published only under unsignedProducts.
 */
export const libreofficeAdapter: SourceAdapter = {
  async latestVersion(context) {
    const source = sourceOf(context);
    const folders = versionFolders(await context.downloader.fetchText(source.baseUrl, 4 * 1024 * 1024));
    if (folders.length === 0) throw new UpstreamError(`${source.baseUrl}: lists no version folders`, { url: source.baseUrl });
    return folders.reduce((newest, candidate) => (compareVersions(context.entry.scheme, candidate, newest) > 0 ? candidate : newest));
  },

  async probe(context, version) {
    const files = filesOf(sourceOf(context), version);
    for (const file of files) sha256FromStatement(await context.downloader.fetchText(`${file.url}.sha256`, 4096), file.fileName, `${file.url}.sha256`);
    const seen = await probeFiles(context, files.map((file) => ({ url: file.url, label: file.fileName })));
    return { artifactUrl: files[0]!.url, verification: `version folder ${version}; the server's SHA-256 of each of the ${files.length} files read (over TLS, no signature); ${seen}; each file is checked against its SHA-256 on download` };
  },

  async fetchRelease(context, version) {
    const artifacts: Artifact[] = [];
    for (const file of filesOf(sourceOf(context), version)) {
      const statementUrl = `${file.url}.sha256`;
      const expected = sha256FromStatement(await context.downloader.fetchText(statementUrl, 4096), file.fileName, statementUrl);
      const digests = await downloadChecked(context, { url: file.url, label: file.fileName, maxBytes: 2 * 1024 ** 3 }, (got) => {
        if (got.sha256 !== expected) throw new IntegrityError(`${file.url}: sha256 ${got.sha256} differs from ${expected} stated in ${statementUrl}`, { url: file.url });
      });
      artifacts.push({
        productId: context.entry.id, version, platform: file.platform, locale: 'any', fileName: file.fileName, path: `pool/${context.entry.id}/${version}/${file.platform}/any/${file.fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'vendor-hash-over-tls', statement: statementUrl },
      });
    }
    return { version, artifacts };
  },
};
