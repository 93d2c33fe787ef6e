import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { boundedText, parseDocument, parseJsonText } from './document-schema.ts';
import { advisoryLimits, cvePattern, jvnPattern, type Advisory } from './model.ts';

/*
 * JVN iPedia through the MyJVN API, version 4.0 ("OKA"), as IPA documents it in
 * github.com/MyJVN/np (see test/fixtures/SOURCES.md):
 * - getVulnOverviewList: { feed: { entry: [{ id: "JVNDB-…", title, link, modified, … }] },
 *   status: { retCd, totalRes, totalResRet, firstRes, errMsg } }, at most 50 entries a page;
 * - getVulnDetailInfo (ft=jvncsaf, one vulnId a call): a CSAF-based custom document
 *   (csaf_version "2.1", category myjvn_security_advisory) whose document.tracking.id is the
 *   JVNDB id, vulnerabilities[].cve the CVE ids (an empty string where there is none), and
 *   document.references name JVN's own advisories ("JVN#96321933", "JVNVU#99520559").
 * JVN's data gives JVN identifiers of CVEs; it names no product of our catalog.
 */

export const maxJvnBytes = 4 * 1024 * 1024;
const jvndbId = z.string().regex(/^JVNDB-\d{4}-\d{6}$/u, 'a JVN iPedia id such as JVNDB-2022-000097');

const statusSchema = z.object({
  retCd: z.int(),
  errMsg: z.string().max(1000).optional(),
  totalRes: z.int().min(0).optional(),
  totalResRet: z.int().min(0).optional(),
  firstRes: z.int().min(0).optional(),
});

const overviewSchema = z.object({
  feed: z.object({ entry: z.array(z.object({ id: jvndbId })).max(1000).default([]) }),
  status: statusSchema,
});

const detailSchema = z.object({
  document: z.object({
    title: boundedText(advisoryLimits.titleChars),
    tracking: z.object({ id: jvndbId, initial_release_date: z.iso.datetime({ offset: true }) }),
    references: z.array(z.object({ summary: z.string().max(1000).optional(), url: z.string().max(advisoryLimits.urlChars).optional() })).max(10_000).optional(),
    notes: z.array(z.object({ category: z.string().max(64), text: boundedText(advisoryLimits.textChars) })).max(1000).optional(),
  }),
  vulnerabilities: z
    .array(
      z.object({
        cve: z.union([z.literal(''), z.string().regex(cvePattern, 'a CVE id such as CVE-2022-41993, or ""')]).optional(),
        metrics: z.array(z.object({ content: z.object({ cvss_v3: z.object({ baseSeverity: z.string().max(advisoryLimits.severityChars) }).optional() }).optional() })).max(100).optional(),
      }),
    )
    .max(advisoryLimits.cvesPerAdvisory)
    .default([]),
  status: statusSchema.optional(),
});

/** A MyJVN answer with retCd ≠ 0 is an error answer (its errMsg says why), not data. */
function refuseErrorStatus(status: z.infer<typeof statusSchema> | undefined, file: string): void {
  if (status && status.retCd !== 0) throw new AdvisoryDocumentError(`${file}: MyJVN answered retCd ${status.retCd} (${(status.errMsg ?? '').slice(0, 200)})`, { file, field: 'status.retCd' });
}

export interface JvnOverviewPage {
  ids: string[];
  totalRes: number;
  /** The position after this page's last entry (1-based), for startItem. */
  next: number;
}

/** Parses a getVulnOverviewList (OKA) answer. */
export function parseJvnOverview(data: Buffer | string, file: string): JvnOverviewPage {
  const answer = parseDocument(overviewSchema, parseJsonText(data, file, maxJvnBytes), file, 'a MyJVN getVulnOverviewList answer (feed.entry, status)');
  refuseErrorStatus(answer.status, file);
  const ids = answer.feed.entry.map((entry) => entry.id);
  return { ids, totalRes: answer.status.totalRes ?? ids.length, next: (answer.status.firstRes ?? 1) + (answer.status.totalResRet ?? ids.length) };
}

/** Parses a getVulnDetailInfo (OKA, jvncsaf) answer into an advisory whose CVEs carry their JVN ids. */
export function parseJvnDetail(data: Buffer | string, file: string, source: string): Advisory {
  const detail = parseDocument(detailSchema, parseJsonText(data, file, maxJvnBytes), file, 'a MyJVN getVulnDetailInfo (jvncsaf) answer');
  refuseErrorStatus(detail.status, file);
  const id = detail.document.tracking.id;
  const jvn = [id, ...new Set((detail.document.references ?? []).map((reference) => reference.summary?.trim() ?? '').filter((summary) => jvnPattern.test(summary)))];
  const cves = [...new Set(detail.vulnerabilities.map((vulnerability) => vulnerability.cve ?? '').filter((cve) => cve !== ''))];
  const severityOf = (cve: string) => detail.vulnerabilities.find((vulnerability) => vulnerability.cve === cve)?.metrics?.find((metric) => metric.content?.cvss_v3)?.content?.cvss_v3?.baseSeverity.toLowerCase();
  const description = detail.document.notes?.find((note) => note.category === 'description' || note.category === 'summary')?.text;
  return {
    source,
    id,
    title: detail.document.title,
    published: detail.document.tracking.initial_release_date,
    // JVN iPedia's page of an entry, as MyJVN's own overview answers link it.
    url: `https://jvndb.jvn.jp/ja/contents/${id.slice(6, 10)}/${id}.html`,
    ...(description ? { text: description } : {}),
    vulnerabilities: cves.map((cve) => {
      const severity = severityOf(cve);
      return { cve, ...(severity ? { severity } : {}), jvn };
    }),
    fixes: [],
  };
}
