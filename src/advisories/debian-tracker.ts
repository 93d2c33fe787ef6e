import { Readable, Transform } from 'node:stream';
import { pipeline } from 'node:stream/promises';
import streamObject from 'stream-json/streamers/stream-object.js';
import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { parseDocument } from './document-schema.ts';
import { advisoryLimits, cvePattern, type Advisory, type AdvisoryFix } from './model.ts';

/*
 * The Debian security tracker's JSON (security-tracker.debian.org/tracker/data/json), as its
 * own code writes it (bin/tracker_service.py, see test/fixtures/SOURCES.md):
 *   { <source package>: { <issue>: { description, debianbug, scope,
 *       releases: { <codename>: { status: resolved|open|undetermined, repositories,
 *                                 fixed_version, urgency, nodsa, nodsa_reason } } } } }
 * Empty fields are left out by the tracker (clean_dict). Issues are CVE ids or TEMP-… names;
 * only CVEs are kept. A resolved issue whose fixed_version is "0" never affected that
 * release. Only the releases the catalog maps to our products are read.
 *
 * The file is large (tens of MB): it is streamed, one source package's object at a time
 * (stream-json), never held whole, and refused past maxBytes.
 */

export const maxDebianTrackerBytes = 512 * 1024 * 1024;
const packageName = /^[a-z0-9][a-z0-9.+-]{0,127}$/u;

const releaseEntry = z.object({
  status: z.enum(['resolved', 'open', 'undetermined']),
  fixed_version: z.string().min(1).max(256).regex(/^[A-Za-z0-9.+~:-]+$/u, 'a Debian version').optional(),
  urgency: z.string().max(advisoryLimits.severityChars).optional(),
});
const issueEntry = z.object({ description: z.string().optional(), releases: z.record(z.string().max(64), z.unknown()) });

const isObject = (value: unknown): value is Record<string, unknown> => typeof value === 'object' && value !== null && !Array.isArray(value);

function issuesOfPackage(pkg: string, issues: unknown, file: string, source: string, releases: Readonly<Record<string, string>>, byCve: Map<string, Advisory>): void {
  if (!packageName.test(pkg)) throw new AdvisoryDocumentError(`${file}: "${pkg.slice(0, 130)}" is not a Debian source package name`, { file, field: pkg.slice(0, 130) });
  if (!isObject(issues)) throw new AdvisoryDocumentError(`${file}: field "${pkg}" is not an object of issues`, { file, field: pkg });
  for (const [issue, value] of Object.entries(issues)) {
    if (!cvePattern.test(issue)) continue;
    const entry = parseDocument(issueEntry, value, file, `an issue of the Debian security tracker (field ${pkg}.${issue})`);
    const fixes: AdvisoryFix[] = [];
    let severity: string | undefined;
    for (const [codename, product] of Object.entries(releases)) {
      if (!Object.hasOwn(entry.releases, codename)) continue;
      const release = parseDocument(releaseEntry, entry.releases[codename], file, `a release entry of the Debian security tracker (field ${pkg}.${issue}.releases.${codename})`);
      severity ??= release.urgency;
      if (release.status === 'resolved' && release.fixed_version !== undefined && release.fixed_version !== '0') {
        fixes.push({ product, fixedIn: release.fixed_version, package: pkg, cves: [issue] });
      }
    }
    if (fixes.length === 0) continue;
    let advisory = byCve.get(issue);
    if (!advisory) {
      if (byCve.size >= advisoryLimits.advisoriesPerSource) throw new AdvisoryDocumentError(`${file}: more than ${advisoryLimits.advisoriesPerSource} issues with fixes`, { file });
      const description = entry.description?.slice(0, advisoryLimits.textChars);
      advisory = {
        source, id: issue,
        title: description ? description.slice(0, advisoryLimits.titleChars) : issue,
        url: `https://security-tracker.debian.org/tracker/${issue}`,
        ...(description ? { text: description } : {}),
        vulnerabilities: [{ cve: issue, ...(severity ? { severity } : {}) }],
        fixes: [],
      };
      byCve.set(issue, advisory);
    }
    advisory.fixes.push(...fixes);
  }
}

/**
 * Parses the tracker JSON from `input` (a stream of its bytes, or the bytes). `releases` maps
 * Debian codenames (bookworm) to our catalog ids (debian-bookworm-security); each advisory is
 * one CVE with a fix per source package and mapped release where the tracker names a fixed
 * version.
 */
export async function parseDebianTracker(input: AsyncIterable<Buffer | string> | Buffer | string, file: string, source: string, releases: Readonly<Record<string, string>>, maxBytes = maxDebianTrackerBytes): Promise<Advisory[]> {
  const byCve = new Map<string, Advisory>();
  let bytes = 0;
  const counted = new Transform({
    transform(chunk: Buffer, _encoding, callback) {
      bytes += chunk.length;
      if (bytes > maxBytes) callback(new AdvisoryDocumentError(`${file}: more than the ${maxBytes} bytes the Debian tracker JSON may have`, { file }));
      else callback(null, chunk);
    },
  });
  const source$ = typeof input === 'string' || Buffer.isBuffer(input) ? Readable.from([Buffer.from(input)]) : Readable.from(input);
  // Kept aside: a refusal thrown while the pipeline runs reaches its caller as an abort.
  let refused: AdvisoryDocumentError | undefined;
  try {
    await pipeline(source$, counted, streamObject.withParserAsStream(), async (items: AsyncIterable<{ key: string; value: unknown }>) => {
      for await (const { key, value } of items) {
        try {
          issuesOfPackage(key, value, file, source, releases, byCve);
        } catch (error) {
          if (error instanceof AdvisoryDocumentError) refused = error;
          throw error;
        }
      }
    });
  } catch (error) {
    if (refused) throw refused;
    if (error instanceof AdvisoryDocumentError) throw error;
    // stream-json's own errors: not JSON, or JSON whose top level is not an object.
    throw new AdvisoryDocumentError(`${file}: not the Debian security tracker's JSON (an object of source packages): ${(error as Error).message}`, { file });
  }
  return [...byCve.values()];
}
