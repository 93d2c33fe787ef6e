import type { Artifact } from '../bundle/manifest.ts';
import type { AdobeReaderSource } from '../catalog/schema.ts';
import { UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { adobeDownloadNumber } from '../versions/adobe.ts';
import { verifyAuthenticode } from '../verify/authenticode.ts';
import { downloadChecked, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): AdobeReaderSource {
  if (context.entry.source.type !== 'adobe-reader') throw new Error('adobe-reader adapter given another source type');
  return context.entry.source;
}

/** The files of one version: names and URLs with the version spelled as Adobe's paths spell it. */
function filesOf(source: AdobeReaderSource, version: string) {
  const number = adobeDownloadNumber(version);
  return source.files.map((file) => {
    const fileName = file.fileName.replace('{version}', number);
    return { ...file, fileName, url: `${file.downloadBase ?? source.downloadBase}${number}/${fileName}` };
  });
}

/**
 * Adobe Acrobat Reader's MSP patches. Adobe publishes no hash list; each patch must carry
 * Adobe's Authenticode signature (the pinned signer, checked again on the LGWAN side). The
 * version is bound to the file only by its download path: an MSP states no version a
 * verifier could read, which docs/catalog.md says beside the trust level.
 */
export const adobeReaderAdapter: SourceAdapter = {
  async latestVersion(context) {
    const source = sourceOf(context);
    const text = (await context.downloader.fetchText(source.versionUrl, 4096)).trim();
    try {
      compareVersions('adobe', text, text);
      adobeDownloadNumber(text);
    } catch (cause) {
      throw new UpstreamError(`${context.entry.id}: ${source.versionUrl} says "${text.slice(0, 40)}", not an Adobe version such as 24.005.20320`, { url: source.versionUrl }, cause);
    }
    return text;
  },

  async probe(context, version) {
    const files = filesOf(sourceOf(context), version);
    // Every patch the fetch would download, not only the first: each must answer, with a size.
    const sizes = [];
    for (const file of files) sizes.push(`${file.fileName} ${(await context.downloader.probeSize(file.url)).size} bytes`);
    return { artifactUrl: files[0]!.url, verification: `version ${version} from Adobe's feed; all ${files.length} patches answer (${sizes.join(', ')}); each MSP's Authenticode signature (pinned signer "${sourceOf(context).signer}") is checked on download` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const trust = context.keyring.authenticode(source.signer);
    const artifacts: Artifact[] = [];
    for (const file of filesOf(source, version)) {
      const digests = await downloadChecked(context, { url: file.url, label: file.fileName, maxBytes: source.maxBytes }, async (_digests, temporary) => {
        await verifyAuthenticode(temporary, file.url, trust);
      });
      artifacts.push({
        productId: context.entry.id, version, platform: file.platform, locale: file.locale, fileName: file.fileName,
        path: `pool/${context.entry.id}/${version}/${file.platform}/${file.locale}/${file.fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'authenticode', signer: source.signer },
      });
    }
    return { version, artifacts };
  },
};
