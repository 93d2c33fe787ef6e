import * as z from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { AdoptiumSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { downloadChecked, fetchJson, probeFiles, type ProbedFile, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): AdoptiumSource {
  if (context.entry.source.type !== 'adoptium') throw new Error('adoptium adapter given another source type');
  return context.entry.source;
}

const platformQuery = { win64: 'os=windows&architecture=x64', 'linux-x86_64': 'os=linux&architecture=x64' } as const;

const sha256Hex = z.string().regex(/^[0-9a-f]{64}$/u);
const fileSchema = z.object({ name: z.string().regex(/^[A-Za-z0-9._+-]+$/u), link: z.url({ protocol: /^https$/u }), size: z.int().min(1), checksum: sha256Hex });
/** The part of Adoptium's `assets/latest` answer we read. */
const assetsSchema = z
  .array(z.object({ release_name: z.string().min(1), binary: z.object({ image_type: z.string(), installer: fileSchema.optional(), package: fileSchema }) }))
  .min(1);

const assetsUrl = (source: AdoptiumSource, platform: AdoptiumSource['platforms'][number]) =>
  `${source.apiUrl}assets/latest/${source.featureVersion}/hotspot?${platformQuery[platform]}&image_type=${source.imageType}&vendor=eclipse`;

/** "jdk-21.0.5+11" → "21.0.5+11"; "jdk8u432-b06" → "8u432-b06". */
function versionOfRelease(releaseName: string): string {
  return releaseName.replace(/^jdk-?/u, '');
}

async function latestAsset(context: SourceContext, platform: AdoptiumSource['platforms'][number]) {
  const url = assetsUrl(sourceOf(context), platform);
  const assets = await fetchJson(context, url, assetsSchema, 'an Adoptium assets list');
  const asset = assets.find((candidate) => candidate.binary.image_type === sourceOf(context).imageType);
  if (!asset) throw new UpstreamError(`${url}: no ${sourceOf(context).imageType} build listed`, { url });
  const version = versionOfRelease(asset.release_name);
  try {
    compareVersions('java', version, version);
  } catch (cause) {
    throw new UpstreamError(`${context.entry.id}: ${url} names release "${asset.release_name}", not a Java version`, { url }, cause);
  }
  return { url, version, asset };
}

/**
 * Eclipse Temurin from Adoptium's API. Every platform must offer the same release (a
 * platform still building the previous one fails the run, which is tried again later), and
 * every file must have exactly the size and SHA-256 the API states. That hash reaches us
 * over TLS from the vendor, signed by nothing we pin: each side publishes the files only for
 * products its own keys/pins.yaml lists under `unsignedProducts`.
 */
export const adoptiumAdapter: SourceAdapter = {
  async latestVersion(context) {
    return (await latestAsset(context, sourceOf(context).platforms[0]!)).version;
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const wanted: ProbedFile[] = [];
    let first: string | undefined;
    for (const platform of source.platforms) {
      const { url, asset } = await latestAsset(context, platform);
      if (versionOfRelease(asset.release_name) !== version) throw new UpstreamError(`${url}: ${platform} changed from ${version} during the check`, { url });
      for (const kind of source.files) {
        const file = kind === 'installer' ? asset.binary.installer : asset.binary.package;
        if (!file) throw new IntegrityError(`${url}: no ${kind} for ${platform} (catalog ${context.entry.id}, field source.files)`, { url });
        first ??= file.link;
        wanted.push({ url: file.link, label: file.name, expectedSize: file.size });
      }
    }
    const seen = await probeFiles(context, wanted);
    return { artifactUrl: first!, verification: `release ${version} from Adoptium's API, with the SHA-256 of each file (over TLS; no signature this project pins); ${seen} of the sizes the API states` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const artifacts: Artifact[] = [];
    for (const platform of source.platforms) {
      const { url, version: offered, asset } = await latestAsset(context, platform);
      if (offered !== version) throw new UpstreamError(`${url}: ${platform} offers ${offered}, not ${version} yet; tried again next run`, { url });
      for (const kind of source.files) {
        const file = kind === 'installer' ? asset.binary.installer : asset.binary.package;
        if (!file) throw new IntegrityError(`${url}: no ${kind} for ${platform} (catalog ${context.entry.id}, field source.files)`, { url });
        const digests = await downloadChecked(context, { url: file.link, label: file.name, expectedSize: file.size }, (got) => {
          if (got.sha256 !== file.checksum) throw new IntegrityError(`${file.link}: sha256 ${got.sha256} differs from the ${file.checksum} Adoptium's API states`, { url: file.link });
        });
        artifacts.push({
          productId: context.entry.id, version, platform, locale: 'any', fileName: file.name, path: `pool/${context.entry.id}/${version}/${platform}/any/${file.name}`,
          size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'vendor-hash-over-tls', statement: url },
        });
      }
    }
    return { version, artifacts };
  },
};
