import { z } from 'zod';

/*
 * Response schemas written from the definitions of Microsoft's OpenAPI document for the
 * winget REST source (winget-cli-restsource, documentation/WinGet-1.10.0.yaml): required
 * fields, patterns, enums and lengths as published there.
 */
const url = z.string().regex(/^([Hh][Tt][Tt][Pp][Ss]?):\/\//u).max(2048);
const locale = z.string().regex(/^([a-zA-Z]{2}|[iI]-[a-zA-Z]+|[xX]-[a-zA-Z]{1,8})(-[a-zA-Z]{1,8})*$/u).max(20);
const packageIdentifier = z.string().regex(/^[^.\s\\/:*?"<>|\x01-\x1f]{1,32}(\.[^.\s\\/:*?"<>|\x01-\x1f]{1,32}){1,7}$/u).max(128);
const packageVersion = z.string().regex(/^[^\\/:*?"<>|\x01-\x1f]+$/u).max(128);
const packageMatchField = z.enum(['PackageIdentifier', 'PackageName', 'Moniker', 'Command', 'Tag', 'PackageFamilyName', 'ProductCode', 'UpgradeCode', 'NormalizedPackageNameAndPublisher', 'Market', 'HasInstallerType']);
const queryParameter = z.enum(['Version', 'Channel', 'Market']);
const installerType = z.enum(['msix', 'msi', 'appx', 'exe', 'inno', 'nullsoft', 'wix', 'burn', 'portable', 'zip', 'pwa', 'msstore']);

export const informationResponse = z.object({
  Data: z.object({
    SourceIdentifier: z.string().min(3).max(128),
    ServerSupportedVersions: z.array(z.string().min(1).max(128)).min(1).refine((list) => new Set(list).size === list.length, 'uniqueItems'),
    UnsupportedPackageMatchFields: z.array(packageMatchField).optional(),
    RequiredPackageMatchFields: z.array(packageMatchField).optional(),
    UnsupportedQueryParameters: z.array(queryParameter).optional(),
    RequiredQueryParameters: z.array(queryParameter).optional(),
    Authentication: z.object({ AuthenticationType: z.enum(['none', 'microsoftEntraId']) }).optional(),
  }),
  ContinuationToken: z.string().max(4096).optional(),
});

export const manifestSearchResponse = z.object({
  Data: z.array(
    z.object({
      PackageIdentifier: packageIdentifier,
      PackageName: z.string().min(2).max(256),
      Publisher: z.string().min(2).max(256),
      Versions: z.array(z.object({ PackageVersion: packageVersion, Channel: z.string().min(1).max(16).nullable().optional() })).min(1),
    }),
  ),
  ContinuationToken: z.string().max(4096).optional(),
  RequiredPackageMatchFields: z.array(packageMatchField).optional(),
  UnsupportedPackageMatchFields: z.array(packageMatchField).optional(),
});

const installer = z
  .object({
    InstallerIdentifier: z.string().max(128).optional(),
    InstallerSha256: z.string().regex(/^[A-Fa-f0-9]{64}$/u),
    InstallerUrl: url,
    Architecture: z.enum(['x86', 'x64', 'arm', 'arm64', 'neutral']),
    InstallerLocale: locale.optional(),
    InstallerType: installerType,
    Scope: z.enum(['user', 'machine']).optional(),
    InstallerSwitches: z
      .object({ Silent: z.string().min(1).max(512).optional(), SilentWithProgress: z.string().min(1).max(512).optional() })
      .optional(),
  })
  // "In other cases [than msstore], InstallerUrl and InstallerSha256 are required."
  .strict();

export const manifestResponse = z.object({
  Data: z.object({
    PackageIdentifier: packageIdentifier,
    Versions: z.array(
      z.object({
        PackageVersion: packageVersion,
        DefaultLocale: z.object({
          PackageLocale: locale,
          Publisher: z.string().min(2).max(256),
          PackageName: z.string().min(2).max(256),
          License: z.string().min(3).max(512),
          ShortDescription: z.string().min(3).max(256),
        }),
        Installers: z.array(installer).max(1024),
      }),
    ),
  }),
  UnsupportedQueryParameters: z.array(queryParameter).optional(),
  RequiredQueryParameters: z.array(queryParameter).optional(),
});

export const errorResponse = z.array(z.object({ ErrorCode: z.int(), ErrorMessage: z.string() })).min(1);
