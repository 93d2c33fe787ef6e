import { copyFile, mkdir, readFile, readdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import tar from 'tar-stream';

/**
 * A file-sanitising transfer service (ファイル無害化転送) as municipalities describe theirs:
 * plain text passes unchanged; types it claims to sanitise are rebuilt and delivered at once
 * (here: a tar is unpacked and packed again with only the entries of types it knows to be
 * inert, as engines that drop unknown types from archives do, and the result renamed by the
 * service's own rule), their original (原本) held; every other type
 * is held. A held original crosses, byte for byte and under its own name, only when an
 * approver releases it. Nothing here knows what a bundle is.
 */
export interface SanitisingRelayOptions {
  inbox: string;
  outbox: string;
  /** Where held originals wait for approval (an approver may read them). */
  hold: string;
  /** Extensions passed unchanged. */
  passes?: string[];
  /** Extensions rebuilt at once (their originals are held too). */
  sanitises?: string[];
  /** The service's renaming rule for rebuilt files; identity keeps the name. */
  renameRebuilt?: (name: string) => string;
}

export interface SanitisingRelay {
  /** Takes every file in the inbox: passes, rebuilds or holds it. Returns what went where. */
  relay(): Promise<{ passed: string[]; rebuilt: string[]; held: string[] }>;
  /** The approver releases held originals (all, or those named). */
  approve(names?: string[]): Promise<string[]>;
  held(): Promise<string[]>;
}

const extensionOf = (name: string): string => path.extname(name).toLowerCase();
const inertTypes = new Set(['.json', '.txt', '.csv', '.xml']);

/** Default rule of the simulated service: `(無害化済)` before the extension. */
export const markRebuilt = (name: string): string => {
  const extension = path.extname(name);
  return `${name.slice(0, name.length - extension.length)}(無害化済)${extension}`;
};

/** Unpacks a tar and packs it again, with fresh headers, keeping only entries of inert types. */
async function rebuildTar(bytes: Buffer): Promise<Buffer> {
  const extract = tar.extract();
  const pack = tar.pack();
  const chunks: Buffer[] = [];
  pack.on('data', (chunk: unknown) => chunks.push(chunk as Buffer));
  const packed = new Promise<void>((resolve, reject) => {
    pack.on('end', resolve);
    pack.on('error', reject);
  });
  extract.on('entry', (header, stream, next) => {
    const body: Buffer[] = [];
    stream.on('data', (chunk: unknown) => body.push(chunk as Buffer));
    stream.on('end', () => {
      if (inertTypes.has(path.extname(header.name).toLowerCase())) pack.entry({ name: header.name, mtime: new Date(0), mode: 0o600 }, Buffer.concat(body));
      next();
    });
  });
  const extracted = new Promise<void>((resolve, reject) => {
    extract.on('finish', resolve);
    extract.on('error', reject);
  });
  extract.end(bytes);
  await extracted;
  pack.finalize();
  await packed;
  return Buffer.concat(chunks);
}

export function createSanitisingRelay(options: SanitisingRelayOptions): SanitisingRelay {
  const passes = new Set(options.passes ?? ['.txt']);
  const sanitises = new Set(options.sanitises ?? ['.tar', '.pdf', '.docx', '.xlsx', '.zip']);
  const rename = options.renameRebuilt ?? markRebuilt;
  const seen = new Set<string>();
  return {
    async relay() {
      await Promise.all([options.outbox, options.hold].map((directory) => mkdir(directory, { recursive: true })));
      const result = { passed: [] as string[], rebuilt: [] as string[], held: [] as string[] };
      for (const name of (await readdir(options.inbox)).sort()) {
        if (name.startsWith('.') || seen.has(name)) continue;
        seen.add(name);
        const source = path.join(options.inbox, name);
        const extension = extensionOf(name);
        if (passes.has(extension)) {
          await copyFile(source, path.join(options.outbox, name));
          result.passed.push(name);
          continue;
        }
        await copyFile(source, path.join(options.hold, name));
        result.held.push(name);
        if (sanitises.has(extension)) {
          const original = await readFile(source);
          // A type it claims to sanitise but cannot parse is still "rebuilt": cut to what it could read.
          const rebuilt = extension === '.tar' ? await rebuildTar(original).catch(() => original.subarray(0, Math.floor(original.length / 2))) : original.subarray(0, Math.floor(original.length / 2));
          await writeFile(path.join(options.outbox, rename(name)), rebuilt);
          result.rebuilt.push(name);
        }
      }
      return result;
    },
    async approve(names) {
      const waiting = await readdir(options.hold);
      const released = names ?? waiting;
      for (const name of released) await copyFile(path.join(options.hold, name), path.join(options.outbox, name));
      return released;
    },
    held: async () => (await readdir(options.hold)).sort(),
  };
}
