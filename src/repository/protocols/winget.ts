import type { Context } from 'koa';
import type { Artifact, ProductSummary } from '../../bundle/manifest.ts';
import type { ObservationSink } from '../../coverage/inventory.ts';
import type { RolloutView } from '../../admin/rollouts.ts';
import type { LgwanState } from '../../importer/lgwan-state.ts';
import { compareVersions } from '../../versions/index.ts';
import type { SearchMatch } from './winget-search-schema.ts';

/*
 * The winget REST source, read-only: GET /information, POST /manifestSearch,
 * GET /packageManifests/{PackageIdentifier}, shaped after Microsoft's published OpenAPI
 * document (winget-cli-restsource, documentation/WinGet-1.10.0.yaml). winget refuses
 * plain-HTTP sources: serve this over the repository's HTTPS listener.
 */
export const serverSupportedVersions = ['1.0.0', '1.1.0', '1.4.0', '1.5.0', '1.6.0', '1.7.0', '1.9.0', '1.10.0'];
const supportedMatchFields = ['PackageIdentifier', 'PackageName'] as const;
const unsupportedMatchFields = ['Moniker', 'Command', 'Tag', 'PackageFamilyName', 'ProductCode', 'UpgradeCode', 'NormalizedPackageNameAndPublisher', 'Market', 'HasInstallerType'];

const architectures: Record<string, string> = { win64: 'x64', win32: 'x86', 'win64-aarch64': 'arm64' };

interface WingetPackage {
  product: ProductSummary & { winget: NonNullable<ProductSummary['winget']> };
  /** version → its Windows installers, newest version first. */
  versions: [string, Artifact[]][];
}

function wingetPackages(state: LgwanState, view: Pick<RolloutView, 'allows'>): WingetPackage[] {
  const published = state.published;
  if (!published) return [];
  const packages: WingetPackage[] = [];
  for (const product of published.products) {
    if (!product.winget) continue;
    const byVersion = new Map<string, Artifact[]>();
    for (const artifact of published.artifacts) {
      if (artifact.productId !== product.id || artifact.role !== 'payload' || !architectures[artifact.platform] || !/\.(exe|msi|msp)$/iu.test(artifact.fileName)) continue;
      if (!view.allows(product.id, artifact.version)) continue;
      byVersion.set(artifact.version, [...(byVersion.get(artifact.version) ?? []), artifact]);
    }
    if (byVersion.size === 0) continue;
    const versions = [...byVersion].sort(([a], [b]) => compareVersions(product.scheme, b, a));
    packages.push({ product: product as WingetPackage['product'], versions });
  }
  return packages;
}

function matches(value: string, match: SearchMatch): boolean {
  const keyword = match.KeyWord;
  switch (match.MatchType) {
    case 'Exact':
      return value === keyword;
    case 'CaseInsensitive':
      return value.toLowerCase() === keyword.toLowerCase();
    case 'StartsWith':
      return value.toLowerCase().startsWith(keyword.toLowerCase());
    case 'Wildcard': {
      const pattern = keyword.split('*').map((part) => part.replace(/[.+?^${}()|[\]\\]/gu, '\\$&')).join('.*');
      return new RegExp(`^${pattern}$`, 'iu').test(value);
    }
    default:
      // Substring, Fuzzy and FuzzySubstring: a case-insensitive substring is an honest approximation.
      return value.toLowerCase().includes(keyword.toLowerCase());
  }
}

function fieldValue(candidate: WingetPackage, field: string): string | undefined {
  if (field === 'PackageIdentifier') return candidate.product.winget.packageIdentifier;
  if (field === 'PackageName') return candidate.product.name;
  return undefined;
}

function errorBody(code: number, message: string) {
  return [{ ErrorCode: code, ErrorMessage: message }];
}

function installer(artifact: Artifact, origin: string, winget: WingetPackage['product']['winget']) {
  return {
    InstallerIdentifier: artifact.sha256.slice(0, 16),
    Architecture: architectures[artifact.platform]!,
    ...(artifact.locale !== 'any' ? { InstallerLocale: artifact.locale } : {}),
    InstallerType: /\.msi$/iu.test(artifact.fileName) ? 'msi' : winget.installerType,
    InstallerUrl: `${origin}/${artifact.path.split('/').map(encodeURIComponent).join('/')}`,
    InstallerSha256: artifact.sha256.toUpperCase(),
    Scope: 'machine',
    ...(winget.silentSwitch ? { InstallerSwitches: { Silent: winget.silentSwitch, SilentWithProgress: winget.silentSwitch } } : {}),
  };
}

function defaultLocale(candidate: WingetPackage) {
  const winget = candidate.product.winget;
  return { PackageLocale: 'en-US', Publisher: winget.publisher, PackageName: candidate.product.name, License: winget.license, ShortDescription: winget.shortDescription };
}

function recordWinget(ctx: Context, inventory: ObservationSink | undefined): void {
  // winget's User-Agent: "winget-cli WindowsPackageManager/1.9.25200 DesktopAppInstaller/Microsoft.DesktopAppInstaller v1.24.25200.0"
  const match = /WindowsPackageManager\/([0-9][0-9.]*)/u.exec(ctx.get('User-Agent'));
  if (match && inventory) inventory.record({ endpoint: { kind: 'address', id: ctx.ip }, source: 'winget', product: 'winget', version: match[1]! });
}

/**
 * winget's REST source. `view` is the asking endpoint's ring: every listing and manifest shows
 * only the versions its ring may have (winget cannot say who it is: the address decides).
 */
export async function handleWinget(ctx: Context, state: LgwanState, inventory: ObservationSink | undefined, view: Pick<RolloutView, 'allows'>, body: () => Promise<unknown>): Promise<void> {
  const route = ctx.path.slice('/winget'.length);
  const origin = `${ctx.protocol}://${ctx.host}`;
  recordWinget(ctx, inventory);
  ctx.set('Cache-Control', 'no-cache');
  ctx.type = 'application/json';

  if (route === '/information' && ctx.method === 'GET') {
    ctx.body = {
      Data: {
        SourceIdentifier: 'lgwan-mirror',
        ServerSupportedVersions: serverSupportedVersions,
        UnsupportedPackageMatchFields: unsupportedMatchFields,
        UnsupportedQueryParameters: ['Channel', 'Market'],
        Authentication: { AuthenticationType: 'none' },
      },
    };
    return;
  }

  if (route === '/manifestSearch' && ctx.method === 'POST') {
    let json: unknown;
    try {
      json = await body();
    } catch (error) {
      const status = (error as { status?: number }).status ?? 400;
      ctx.status = status;
      ctx.body = errorBody(status, status === 400 ? 'the search request is not valid JSON' : (error as Error).message);
      return;
    }
    // The schema (and zod) loads with the first search, not with the repository (start-up, issue 18).
    const { searchSchema } = await import('./winget-search-schema.ts');
    const parsed = searchSchema.safeParse(json);
    if (!parsed.success) {
      ctx.status = 400;
      ctx.body = errorBody(400, `invalid search request: ${parsed.error.issues[0]!.path.join('.')}: ${parsed.error.issues[0]!.message}`);
      return;
    }
    const request = parsed.data;
    const unsupported = [...(request.Inclusions ?? []), ...(request.Filters ?? [])].map((filter) => filter.PackageMatchField).filter((field) => !(supportedMatchFields as readonly string[]).includes(field));
    const results = wingetPackages(state, view).filter((candidate) => {
      const query = request.Query ? supportedMatchFields.some((field) => matches(fieldValue(candidate, field)!, request.Query!)) : true;
      const inclusions = request.Inclusions?.length ? request.Inclusions.some((inclusion) => { const value = fieldValue(candidate, inclusion.PackageMatchField); return value !== undefined && matches(value, inclusion.RequestMatch); }) : true;
      const filters = (request.Filters ?? []).every((filter) => { const value = fieldValue(candidate, filter.PackageMatchField); return value !== undefined && matches(value, filter.RequestMatch); });
      // A query or inclusion alone widens the result; both present means either may match (as the reference server does).
      const selected = request.Query && request.Inclusions?.length ? query || inclusions : query && inclusions;
      return selected && filters;
    });
    const limited = request.MaximumResults ? results.slice(0, request.MaximumResults) : results;
    if (limited.length === 0) {
      ctx.status = 204;
      ctx.body = null;
      return;
    }
    ctx.body = {
      Data: limited.map((candidate) => ({
        PackageIdentifier: candidate.product.winget.packageIdentifier,
        PackageName: candidate.product.name,
        Publisher: candidate.product.winget.publisher,
        Versions: candidate.versions.map(([version]) => ({ PackageVersion: version })),
      })),
      ...(unsupported.length > 0 ? { UnsupportedPackageMatchFields: [...new Set(unsupported)].filter((field) => unsupportedMatchFields.includes(field)) } : {}),
    };
    return;
  }

  const manifest = /^\/packageManifests\/([^/]+)$/u.exec(route);
  if (manifest && ctx.method === 'GET') {
    let identifier: string;
    try {
      identifier = decodeURIComponent(manifest[1]!);
    } catch {
      ctx.status = 400;
      ctx.body = errorBody(400, 'malformed percent-encoding');
      return;
    }
    const candidate = wingetPackages(state, view).find((item) => item.product.winget.packageIdentifier.toLowerCase() === identifier.toLowerCase());
    const wanted = typeof ctx.query.Version === 'string' ? ctx.query.Version : undefined;
    const versions = candidate?.versions.filter(([version]) => wanted === undefined || version === wanted) ?? [];
    if (!candidate || versions.length === 0) {
      ctx.status = 404;
      ctx.body = errorBody(404, `no package ${identifier}${wanted ? ` version ${wanted}` : ''} in this source`);
      return;
    }
    ctx.body = {
      Data: {
        PackageIdentifier: candidate.product.winget.packageIdentifier,
        Versions: versions.map(([version, artifacts]) => ({
          PackageVersion: version,
          DefaultLocale: defaultLocale(candidate),
          Installers: artifacts.map((artifact) => installer(artifact, origin, candidate.product.winget)),
        })),
      },
      UnsupportedQueryParameters: ['Channel', 'Market'],
    };
    return;
  }
  ctx.status = 404;
  ctx.body = errorBody(404, 'not a winget REST source endpoint');
}
