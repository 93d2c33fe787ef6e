import type { ReleaseFile } from '../verify/apt-index.ts';

/**
 * The compressions apt knows (apt.conf(5), Acquire::CompressionTypes): a client takes the
 * first one InRelease lists in its own order of preference, so every listed form the
 * archive serves is mirrored.
 */
const compressionSuffixes = ['', '.xz', '.gz', '.bz2', '.lzma', '.zst', '.lz4'] as const;

/** One index as a client sees it: its name without compression, and the forms InRelease lists. */
export interface IndexGroup {
  /** e.g. main/i18n/Translation-en */
  name: string;
  kind: 'packages' | 'translation' | 'commands' | 'dep11' | 'contents';
  /** Entries of InRelease's SHA256 section, e.g. main/i18n/Translation-en, main/i18n/Translation-en.xz. */
  listed: string[];
}

export interface IndexWanted {
  components: readonly string[];
  architectures: readonly string[];
  contents: boolean;
}

/**
 * Whether a client asks for binary-all/Packages: only when InRelease's Architectures lists
 * "all" and No-Support-for-Architecture-all does not name Packages (apt's debmetaindex.cc).
 * Debian's bookworm-updates says No-Support-for-Architecture-all: Packages; its security
 * archive lists no "all" and serves a binary-all/Packages.xz of another size than its
 * InRelease states, with no by-hash copy (seen 2026-12-01): mirroring it would fail the suite
 * for a file no client reads.
 */
function archiveServesAll(release: ReleaseFile): boolean {
  const listed = (release.fields.get('Architectures') ?? '').split(/\s+/u);
  const unsupported = (release.fields.get('No-Support-for-Architecture-all') ?? '').split(/\s+/u);
  return listed.includes('all') && !unsupported.includes('Packages');
}

const escape = (value: string) => value.replace(/[.*+?^${}()|[\]\\]/gu, '\\$&');

/**
 * Every index InRelease lists that a client of these components and architectures may ask
 * for: Packages (binary-<arch>, and binary-all where the archive says clients read it), every Translation-<lang> (apt fetches
 * Translation-en by default and the environment's language besides), cnf/Commands-<arch>
 * (command-not-found's index target), dep11 Components-<arch>.yml and icons-*.tar
 * (appstream's), and Contents-<arch> when asked (apt-file's; Ubuntu lists it at the suite
 * root). Not mirrored: pdiffs (`.diff/Index`, apt falls back to the whole index when a
 * mirror has none), the per-directory Release files, installer and source indices.
 */
export function selectIndexGroups(release: ReleaseFile, wanted: IndexWanted): IndexGroup[] {
  const architectures = [...new Set([...wanted.architectures, ...(archiveServesAll(release) ? ['all'] : [])])].map(escape).join('|');
  const patterns: { kind: IndexGroup['kind']; pattern: RegExp }[] = [];
  for (const component of wanted.components.map(escape)) {
    patterns.push(
      { kind: 'packages', pattern: new RegExp(`^${component}/binary-(${architectures})/Packages$`, 'u') },
      { kind: 'translation', pattern: new RegExp(`^${component}/i18n/Translation-[A-Za-z0-9_@.-]+$`, 'u') },
      { kind: 'commands', pattern: new RegExp(`^${component}/cnf/Commands-(${architectures})$`, 'u') },
      { kind: 'dep11', pattern: new RegExp(`^${component}/dep11/(Components-(${architectures})\\.yml|icons-\\d+x\\d+(@\\d+)?\\.tar)$`, 'u') },
    );
    if (wanted.contents) patterns.push({ kind: 'contents', pattern: new RegExp(`^(${component}/)?Contents-(${architectures})$`, 'u') });
  }
  const groups = new Map<string, IndexGroup>();
  for (const entry of release.sha256.keys()) {
    const suffix = compressionSuffixes.filter((candidate) => candidate !== '' && entry.endsWith(candidate))[0] ?? '';
    const name = entry.slice(0, entry.length - suffix.length);
    if (name.endsWith('.diff/Index')) continue;
    const kind = patterns.find((candidate) => candidate.pattern.test(name))?.kind;
    if (!kind) continue;
    const group = groups.get(name) ?? { name, kind, listed: [] };
    group.listed.push(entry);
    groups.set(name, group);
  }
  // Preferred forms first, as a client tries them: the packages are read from the first one fetched.
  const rank = (entry: string) => {
    const order = ['.xz', '.gz', '', '.bz2', '.lzma', '.zst', '.lz4'];
    const suffix = compressionSuffixes.filter((candidate) => candidate !== '' && entry.endsWith(candidate))[0] ?? '';
    return order.indexOf(suffix);
  };
  for (const group of groups.values()) group.listed.sort((a, b) => rank(a) - rank(b));
  return [...groups.values()].sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
}
