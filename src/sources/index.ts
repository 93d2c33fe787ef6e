import type { Source } from '../catalog/schema.ts';
import { adobeReaderAdapter } from './adobe-reader.ts';
import { adoptiumAdapter } from './adoptium.ts';
import { aptAdapter } from './apt.ts';
import { edgeAdapter } from './edge.ts';
import { githubReleaseAdapter } from './github-release.ts';
import { libreofficeAdapter } from './libreoffice.ts';
import { localReleaseAdapter } from './local-release.ts';
import { cisaKevAdapter, debianSecurityTrackerAdapter, jvnAdapter, mozillaAdvisoriesAdapter } from './advisory-feeds.ts';
import { chromeAdapter } from './chrome.ts';
import { csafAdapter } from './csaf.ts';
import { clamavAdapter } from './clamav.ts';
import { manualAdapter } from './manual.ts';
import { mozillaAdapter } from './mozilla.ts';
import type { SourceAdapter } from './source-context.ts';

export type { FetchedRelease, SourceAdapter, SourceContext } from './source-context.ts';

const adapters: Record<Source['type'], SourceAdapter> = {
  mozilla: mozillaAdapter,
  apt: aptAdapter,
  clamav: clamavAdapter,
  manual: manualAdapter,
  chrome: chromeAdapter,
  'adobe-reader': adobeReaderAdapter,
  adoptium: adoptiumAdapter,
  'github-release': githubReleaseAdapter,
  libreoffice: libreofficeAdapter,
  edge: edgeAdapter,
  'local-release': localReleaseAdapter,
  'mozilla-advisories': mozillaAdvisoriesAdapter,
  'cisa-kev': cisaKevAdapter,
  'debian-security-tracker': debianSecurityTrackerAdapter,
  csaf: csafAdapter,
  jvn: jvnAdapter,
};

export function adapterFor(source: Source): SourceAdapter {
  return adapters[source.type];
}
