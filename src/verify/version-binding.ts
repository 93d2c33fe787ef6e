import type { Artifact } from '../bundle/manifest.ts';

/*
 * The manifest's product, version, platform and locale come from the internet side, under the
 * transfer key only. Wherever the vendor's own signed material names them, the verifying side
 * checks them against it (issue 13: with a stolen transfer key, `Firefox Setup 131.0.exe` was
 * published as version 999.0 and offered to an agent on 132.0 as an "update").
 */

function escapeForRegExp(text: string): string {
  return text.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');
}

/**
 * Whether a vendor file name carries `version` as a whole token: "Firefox Setup 131.0.exe" and
 * "firefox-131.0.complete.mar" carry 131.0; "firefox-131.0.1.complete.mar" and "Setup 1131.0.exe" do not.
 */
export function fileNameCarriesVersion(fileName: string, version: string): boolean {
  return new RegExp(`(^|[^0-9A-Za-z.])${escapeForRegExp(version)}($|[^0-9A-Za-z.]|\\.(?![0-9]))`, 'u').test(fileName);
}

/** Mozilla builds Japanese for macOS as its own locale (ja-JP-mac); the repository calls it ja. */
function mozillaLocaleMatches(listed: string, locale: string): boolean {
  return listed === locale || (listed === 'ja-JP-mac' && locale === 'ja');
}

/**
 * For an entry of Mozilla's signed SHA512SUMS (`win64/ja/Firefox Setup 131.0.exe`,
 * `update/win64/ja/firefox-131.0.complete.mar`, `win64_info.txt`): what the entry's path says
 * that the artifact's record contradicts, or undefined when they agree.
 */
export function hashListEntryMismatch(entry: string, artifact: Pick<Artifact, 'version' | 'platform' | 'locale' | 'fileName' | 'role'>): string | undefined {
  const info = /^([^/]+)_info\.txt$/u.exec(entry);
  if (info) return info[1] === artifact.platform ? undefined : `field "platform" is "${artifact.platform}", the signed hash list names this file for ${info[1]}`;
  const segments = entry.split('/');
  if (segments[0] === 'update') segments.shift();
  if (segments.length === 3) {
    const [platform, locale] = segments as [string, string, string];
    if (platform !== artifact.platform) return `field "platform" is "${artifact.platform}", the signed hash list entry "${entry}" is for ${platform}`;
    if (!mozillaLocaleMatches(locale, artifact.locale)) return `field "locale" is "${artifact.locale}", the signed hash list entry "${entry}" is for ${locale}`;
  }
  if (artifact.role === 'payload' && !fileNameCarriesVersion(segments.at(-1) ?? entry, artifact.version)) {
    return `field "version" is "${artifact.version}", but the file the signed hash list names ("${entry}") is not of that version`;
  }
  return undefined;
}

/**
 * Whether something the vendor signed (or an admin's confirmation) names the artifact's version;
 * `unbound` products are marked on the status page: their version is the internet side's word.
 */
export type VersionBinding = 'bound' | 'unbound';

export function versionBindingOf(artifact: Pick<Artifact, 'verification'>): VersionBinding {
  const verification = artifact.verification;
  switch (verification.method) {
    case 'authenticode':
      // The Authenticode signature covers the file, not the version it is published as, unless the MSI's own version is read.
      return verification.msiVersion ? 'bound' : 'unbound';
    case 'vendor-hash-over-tls':
    case 'tls-only':
      return 'unbound';
    default:
      return 'bound';
  }
}
