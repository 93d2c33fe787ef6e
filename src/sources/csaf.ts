import { createHash } from 'node:crypto';
import * as z from 'zod';
import type { Artifact } from '../bundle/manifest.ts';
import type { CsafSource } from '../catalog/schema.ts';
import { IntegrityError, SignatureError, UpstreamError } from '../core/errors.ts';
import { maxCsafBytes, parseCsafDocument } from '../advisories/csaf.ts';
import { verifyDetachedSignature } from '../verify/openpgp-signature.ts';
import { advisoryArtifact, snapshotVersion } from './advisory-snapshot.ts';
import { fetchJson, storeBuffer, type SourceAdapter, type SourceContext } from './source-context.ts';

/*
 * A CSAF 2.0 provider (OASIS CSAF 2.0, section 7: provider-metadata.json, ROLIE feeds,
 * requirements 18 and 19; see test/fixtures/SOURCES.md): the feeds of the public TLP labels
 * the catalog names, their newest entries, and for each document its hash file and its
 * OpenPGP signature, which must verify with the key pinned in keys/pins.yaml. The LGWAN side
 * checks the signature and the hash file again with its own copy of the key.
 */

function sourceOf(context: SourceContext): CsafSource {
  if (context.entry.source.type !== 'csaf') throw new Error('csaf adapter given another source type');
  return context.entry.source;
}

const providerMetadata = z.object({
  public_openpgp_keys: z.array(z.object({ fingerprint: z.string().max(64).optional() })).max(100).optional(),
  distributions: z
    .array(z.object({ rolie: z.object({ feeds: z.array(z.object({ tlp_label: z.string().max(32), url: z.url() })).max(100) }).optional() }))
    .max(100)
    .optional(),
});

const rolieLink = z.object({ rel: z.string().max(64), href: z.url() });
const rolieFeed = z.object({
  feed: z.object({
    entry: z.array(z.object({ id: z.string().max(256), updated: z.iso.datetime({ offset: true }), link: z.array(rolieLink).max(20) })).max(100_000).default([]),
  }),
});

interface FeedDocument {
  url: string;
  hashUrl: string;
  algorithm: 'sha256' | 'sha512';
  signatureUrl: string;
  updated: string;
}

const fileNameOf = (url: string): string => {
  const name = decodeURIComponent(new URL(url).pathname.split('/').at(-1) ?? '');
  if (!/^[A-Za-z0-9._+-]{1,200}$/u.test(name)) throw new UpstreamError(`${url}: the document's file name is not a plain name`, { url });
  return name;
};

async function feedDocuments(context: SourceContext): Promise<FeedDocument[]> {
  const source = sourceOf(context);
  const metadata = await fetchJson(context, source.providerMetadataUrl, providerMetadata, 'a CSAF provider-metadata.json');
  // The provider names its keys (requirement 20); the pin decides, but a pin the provider no longer names is worth a warning (a rotated key).
  const named = (metadata.public_openpgp_keys ?? []).flatMap((key) => (key.fingerprint ? [key.fingerprint.replace(/\s/gu, '').toUpperCase()] : []));
  const pinned = context.keyring.get(source.signingKey).fingerprints;
  if (named.length > 0 && !named.some((fingerprint) => pinned.includes(fingerprint))) {
    context.logger.warn({ productId: context.entry.id, named, pinned }, 'the CSAF provider names none of the pinned keys in provider-metadata.json: has it rotated its key?');
  }
  const feeds = (metadata.distributions ?? []).flatMap((distribution) => distribution.rolie?.feeds ?? []).filter((feed) => (source.tlp as string[]).includes(feed.tlp_label.toUpperCase()));
  if (feeds.length === 0) throw new UpstreamError(`${source.providerMetadataUrl}: lists no ROLIE feed for TLP ${source.tlp.join(' or ')}`, { url: source.providerMetadataUrl });
  const byUrl = new Map<string, FeedDocument>();
  for (const feed of feeds) {
    const answer = await fetchJson(context, feed.url, rolieFeed, 'a ROLIE feed', 64 * 1024 * 1024);
    for (const entry of answer.feed.entry) {
      const self = entry.link.find((link) => link.rel === 'self')?.href;
      if (!self) continue;
      // Requirement 15: hash and signature files are listed in the feed beside the document.
      const hashes = entry.link.filter((link) => link.rel === 'hash').map((link) => link.href);
      const hashUrl = hashes.find((href) => href.endsWith('.sha512')) ?? hashes.find((href) => href.endsWith('.sha256'));
      const signatureUrl = entry.link.find((link) => link.rel === 'signature')?.href;
      if (!hashUrl || !signatureUrl) throw new SignatureError(`${feed.url}: entry ${entry.id} lists no ${hashUrl ? 'signature' : '.sha512 or .sha256 hash'} file beside ${self}`, { url: feed.url });
      const known = byUrl.get(self);
      if (!known || known.updated < entry.updated) byUrl.set(self, { url: self, hashUrl, algorithm: hashUrl.endsWith('.sha512') ? 'sha512' : 'sha256', signatureUrl, updated: entry.updated });
    }
  }
  return [...byUrl.values()].sort((a, b) => (a.updated < b.updated ? 1 : a.updated > b.updated ? -1 : 0)).slice(0, source.maxDocuments);
}

export const csafAdapter: SourceAdapter = {
  latestVersion: async () => snapshotVersion(),

  async probe(context) {
    const documents = await feedDocuments(context);
    return { artifactUrl: documents[0]?.url ?? sourceOf(context).providerMetadataUrl, verification: `${documents.length} documents in the feeds, each with a hash file and an OpenPGP signature (checked on download against pinned key ${sourceOf(context).signingKey})` };
  },

  async fetchRelease(context, version) {
    const source = sourceOf(context);
    const key = context.keyring.get(source.signingKey);
    const artifacts: Artifact[] = [];
    for (const document of await feedDocuments(context)) {
      const fileName = fileNameOf(document.url);
      const [data, hashText, signature] = [
        await context.downloader.fetchBuffer(document.url, maxCsafBytes),
        await context.downloader.fetchBuffer(document.hashUrl, 4096),
        await context.downloader.fetchBuffer(document.signatureUrl, 64 * 1024),
      ];
      const expected = new RegExp(`^([0-9a-fA-F]{${document.algorithm === 'sha512' ? 128 : 64}})(?:\\s|$)`, 'u').exec(hashText.toString('utf8'))?.[1]?.toLowerCase();
      const actual = createHash(document.algorithm).update(data).digest('hex');
      if (expected !== actual) throw new IntegrityError(`${document.url}: ${document.algorithm} ${actual.slice(0, 16)}… differs from ${document.hashUrl} (${expected ? `${expected.slice(0, 16)}…` : 'no digest at its start'})`, { url: document.url });
      await verifyDetachedSignature(data, signature, key, document.url);
      parseCsafDocument(data, document.url, context.entry.id, source.products);
      const stored = await storeBuffer(context, data, fileName, { sha512: true });
      const storedSignature = await storeBuffer(context, signature, `${fileName}.asc`);
      const storedHash = await storeBuffer(context, hashText, `${fileName}.${document.algorithm}`);
      artifacts.push(
        advisoryArtifact(context, version, fileName, stored, { method: 'openpgp-detached', key: source.signingKey, signature: storedSignature.sha256 }),
        advisoryArtifact(context, version, `${fileName}.asc`, storedSignature, { method: 'signature-of', subject: stored.sha256 }, 'material'),
        advisoryArtifact(context, version, `${fileName}.${document.algorithm}`, storedHash, { method: 'hash-file', subject: stored.sha256, algorithm: document.algorithm }, 'material'),
      );
    }
    return { version, artifacts };
  },
};
