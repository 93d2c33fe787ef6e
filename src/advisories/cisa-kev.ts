import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { boundedText, cveId, parseDocument, parseJsonText } from './document-schema.ts';
import { advisoryLimits, type KnownExploited } from './model.ts';

/*
 * CISA's Known Exploited Vulnerabilities catalog, the JSON feed as CISA publishes it
 * (schema: known_exploited_vulnerabilities_schema.json in github.com/cisagov/kev-data; see
 * test/fixtures/SOURCES.md): catalogVersion, dateReleased, count, vulnerabilities[] with
 * cveID, vendorProject, product, dateAdded, dueDate, knownRansomwareCampaignUse.
 */

export const maxKevBytes = 64 * 1024 * 1024;

const day = z.iso.date();
const kevDocument = z.object({
  catalogVersion: z.string().min(1).max(64),
  dateReleased: z.iso.datetime({ offset: true }),
  count: z.int().min(0),
  vulnerabilities: z
    .array(
      z.object({
        cveID: cveId,
        vendorProject: boundedText(advisoryLimits.titleChars),
        product: boundedText(advisoryLimits.titleChars),
        dateAdded: day,
        dueDate: day,
        knownRansomwareCampaignUse: z.string().max(64).optional(),
      }),
    )
    .max(advisoryLimits.advisoriesPerSource),
});

export interface KevCatalog {
  catalogVersion: string;
  /** ISO, as CISA dates the release. */
  dateReleased: string;
  knownExploited: KnownExploited[];
}

/** Parses CISA's known_exploited_vulnerabilities.json; `count` must match the list it announces. */
export function parseKev(data: Buffer | string, file: string): KevCatalog {
  const document = parseDocument(kevDocument, parseJsonText(data, file, maxKevBytes), file, 'the CISA KEV catalog (catalogVersion, dateReleased, count, vulnerabilities)');
  if (document.count !== document.vulnerabilities.length) {
    throw new AdvisoryDocumentError(`${file}: field "count" says ${document.count}, but vulnerabilities lists ${document.vulnerabilities.length}`, { file, field: 'count' });
  }
  return {
    catalogVersion: document.catalogVersion,
    dateReleased: document.dateReleased,
    knownExploited: document.vulnerabilities.map((entry) => ({
      cve: entry.cveID,
      vendorProject: entry.vendorProject,
      product: entry.product,
      dateAdded: entry.dateAdded,
      dueDate: entry.dueDate,
      ...(entry.knownRansomwareCampaignUse ? { knownRansomwareCampaignUse: entry.knownRansomwareCampaignUse } : {}),
    })),
  };
}
