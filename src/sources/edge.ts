import * as z from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { EdgeSource } from '../catalog/schema.ts';
import { IntegrityError, UpstreamError } from '../core/errors.ts';
import { compareVersions } from '../versions/index.ts';
import { downloadChecked, fetchJson, probeFiles, type ProbedFile, type SourceAdapter, type SourceContext } from './source-context.ts';

function sourceOf(context: SourceContext): EdgeSource {
  if (context.entry.source.type !== 'edge') throw new Error('edge adapter given another source type');
  return context.entry.source;
}

const architectureOf = { win64: 'x64', win32: 'x86', 'win64-aarch64': 'arm64' } as const;

/**
 * Microsoft's products API lists every product (Stable, Beta, Dev, Canary, EdgeUpdate, Policy…)
 * with releases for every platform. Only what is used is validated strictly: the channel's
 * Windows releases of the wanted architecture (their versions are compared) and the MSI of the
 * release chosen. An odd artifact of another product, platform or release is ignored.
 */
const productsSchema = z.array(z.looseObject({ Product: z.string(), Releases: z.array(z.unknown()) }));
const releaseHead = z.looseObject({ Platform: z.string(), Architecture: z.string() });
const releaseSchema = z.looseObject({ Platform: z.string(), Architecture: z.string(), ProductVersion: z.string(), Artifacts: z.array(z.unknown()) });
const artifactName = z.looseObject({ ArtifactName: z.string() });
const msiSchema = z.looseObject({ ArtifactName: z.literal('msi'), Location: z.url({ protocol: /^https$/u }), Hash: z.string().regex(/^[0-9A-Fa-f]{64}$/u), HashAlgorithm: z.string(), SizeInBytes: z.int().min(1) });

type EdgeRelease = z.infer<typeof releaseSchema>;

async function releases(context: SourceContext) {
  const source = sourceOf(context);
  const products = await fetchJson(context, source.apiUrl, productsSchema, "Microsoft's Edge products list", 16 * 1024 * 1024);
  const channel = products.find((product) => product.Product === source.channel);
  if (!channel) throw new UpstreamError(`${source.apiUrl}: no "${source.channel}" channel (listed: ${products.map((product) => product.Product).join(', ')})`, { url: source.apiUrl });
  return { url: source.apiUrl, releases: channel.Releases };
}

/** A field the mirror relies on, checked strictly, the failure naming the product, release and field. */
function strict<T>(schema: z.ZodType<T>, value: unknown, url: string, where: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  throw new UpstreamError(`${url}: ${where}: field ${issue?.path.join('.') || '(the entry)'}: ${issue?.message ?? 'unexpected shape'}`, { url });
}

/** The MSI of a chosen release, validated strictly. */
function msiOf(context: SourceContext, release: EdgeRelease, platform: string) {
  const url = sourceOf(context).apiUrl;
  const index = release.Artifacts.findIndex((artifact) => artifactName.safeParse(artifact).data?.ArtifactName === 'msi');
  if (index < 0) throw new UpstreamError(`${url}: ${release.ProductVersion} ${platform} lists no msi artifact`, { url });
  return strict(msiSchema, release.Artifacts[index], url, `${sourceOf(context).channel} ${release.ProductVersion} Windows ${release.Architecture}, Artifacts[${index}]`);
}

/** The newest release for one architecture (compared as dotted; the API's order is not relied on). */
function newestFor(context: SourceContext, list: Awaited<ReturnType<typeof releases>>, platform: EdgeSource['platforms'][number]): EdgeRelease {
  const source = sourceOf(context);
  const candidates = list.releases
    .map((release, index) => ({ release, index }))
    .filter(({ release }) => {
      const head = releaseHead.safeParse(release).data;
      return head?.Platform === 'Windows' && head.Architecture === architectureOf[platform];
    })
    .map(({ release, index }) => strict(releaseSchema, release, list.url, `${source.channel} Releases[${index}] (Windows ${architectureOf[platform]})`));
  if (candidates.length === 0) throw new UpstreamError(`${source.apiUrl}: no Windows ${architectureOf[platform]} release in ${source.channel}`, { url: source.apiUrl });
  try {
    return candidates.reduce((newest, candidate) => (compareVersions(context.entry.scheme, candidate.ProductVersion, newest.ProductVersion) > 0 ? candidate : newest));
  } catch (cause) {
    throw new UpstreamError(`${context.entry.id}: ${source.apiUrl} lists a version that is not ${context.entry.scheme}: ${(cause as Error).message}`, { url: source.apiUrl }, cause);
  }
}

/**
 * Microsoft Edge MSIs from Microsoft's enterprise products API. Every wanted architecture
 * must offer the same newest version; each MSI must have exactly the size and SHA-256 the API
 * states. No signature is checked (Microsoft's roots are not pinned), so each side publishes
 * Edge only when its keys/pins.yaml lists the product under unsignedProducts.
 */
export const edgeAdapter: SourceAdapter = {
  async latestVersion(context) {
    return newestFor(context, await releases(context), sourceOf(context).platforms[0]!).ProductVersion;
  },

  async probe(context, version) {
    const source = sourceOf(context);
    const list = await releases(context);
    const wanted: ProbedFile[] = [];
    for (const platform of source.platforms) {
      const release = newestFor(context, list, platform);
      if (release.ProductVersion !== version) throw new UpstreamError(`${source.apiUrl}: ${platform} changed from ${version} during the check`, { url: source.apiUrl });
      const msi = msiOf(context, release, platform);
      wanted.push({ url: msi.Location, label: `${platform} msi`, expectedSize: msi.SizeInBytes });
    }
    const seen = await probeFiles(context, wanted);
    return { artifactUrl: wanted[0]!.url, verification: `version ${version} from Microsoft's products API, with the SHA-256 and size of each MSI (over TLS; Microsoft's Authenticode roots are not pinned); ${seen} of the stated sizes` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const list = await releases(context);
    const artifacts: Artifact[] = [];
    for (const platform of source.platforms) {
      const release = newestFor(context, list, platform);
      if (release.ProductVersion !== version) throw new UpstreamError(`${source.apiUrl}: ${platform} offers ${release.ProductVersion}, not ${version} yet; tried again next run`, { url: source.apiUrl });
      const msi = msiOf(context, release, platform);
      if (msi.HashAlgorithm.toUpperCase() !== 'SHA256') throw new IntegrityError(`${source.apiUrl}: ${version} ${platform} states a ${msi.HashAlgorithm} hash, not SHA256`, { url: source.apiUrl });
      const expected = msi.Hash.toLowerCase();
      const fileName = decodeURIComponent(new URL(msi.Location).pathname.split('/').at(-1) ?? '') || `MicrosoftEdgeEnterprise-${platform}.msi`;
      const digests = await downloadChecked(context, { url: msi.Location, label: fileName, expectedSize: msi.SizeInBytes }, (got) => {
        if (got.sha256 !== expected) throw new IntegrityError(`${msi.Location}: sha256 ${got.sha256} differs from the ${expected} Microsoft's API states`, { url: msi.Location });
      });
      artifacts.push({
        productId: context.entry.id, version, platform, locale: 'any', fileName, path: `pool/${context.entry.id}/${version}/${platform}/any/${fileName}`,
        size: digests.size, sha256: digests.sha256, role: 'payload', verification: { method: 'vendor-hash-over-tls', statement: source.apiUrl },
      });
    }
    return { version, artifacts };
  },
};
