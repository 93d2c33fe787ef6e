import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { boundedText, cveId, identifierText, parseDocument, parseJsonText, severityText, urlText } from './document-schema.ts';
import { advisoryLimits, jvnPattern, type Advisory, type AdvisoryFix, type AdvisoryVulnerability } from './model.ts';

/*
 * CSAF 2.0 documents (OASIS Common Security Advisory Framework, csaf_json_schema.json; see
 * test/fixtures/SOURCES.md). Read: document.tracking (id, initial_release_date,
 * current_release_date), title, references (category "self"), notes; product_tree branches
 * (vendor → product_name → product_version …), relationships; vulnerabilities[] with cve,
 * ids, product_status.fixed / first_fixed, scores (cvss_v3/cvss_v2) and threats.
 *
 * A fixed product id becomes a fix of one of our products when the product_name branch above
 * it has a name the catalog maps to one of our ids; the fixed version is the name of the
 * product_version branch above it. Products a document names otherwise (full_product_names
 * without branches, relationships whose component has no product_name) are none of ours.
 */

export const maxCsafBytes = 16 * 1024 * 1024;
const maxBranchDepth = 30;
const maxProducts = 100_000;

const productIdList = z.array(z.string().min(1).max(1000)).max(maxProducts);
const csafDocument = z.object({
  document: z.object({
    category: z.string().min(1).max(256),
    csaf_version: z.literal('2.0'),
    title: boundedText(advisoryLimits.titleChars),
    tracking: z.object({
      id: identifierText,
      initial_release_date: z.iso.datetime({ offset: true }),
      current_release_date: z.iso.datetime({ offset: true }),
    }),
    references: z.array(z.object({ category: z.string().max(64).optional(), url: urlText })).max(10_000).optional(),
    notes: z.array(z.object({ category: z.string().max(64), text: boundedText(advisoryLimits.textChars) })).max(10_000).optional(),
  }),
  product_tree: z
    .object({
      branches: z.array(z.unknown()).max(maxProducts).optional(),
      relationships: z
        .array(z.object({ product_reference: z.string().max(1000), relates_to_product_reference: z.string().max(1000), full_product_name: z.object({ product_id: z.string().max(1000) }) }))
        .max(maxProducts)
        .optional(),
    })
    .optional(),
  vulnerabilities: z
    .array(
      z.object({
        cve: cveId.optional(),
        title: boundedText(advisoryLimits.titleChars).optional(),
        ids: z.array(z.object({ system_name: z.string().max(256), text: z.string().max(1000) })).max(1000).optional(),
        product_status: z.object({ fixed: productIdList.optional(), first_fixed: productIdList.optional() }).optional(),
        scores: z
          .array(z.object({ cvss_v3: z.object({ baseScore: z.number(), baseSeverity: severityText }).optional(), cvss_v2: z.object({ baseScore: z.number() }).optional() }))
          .max(10_000)
          .optional(),
        threats: z.array(z.object({ category: z.string().max(64), details: z.string().max(advisoryLimits.textChars) })).max(10_000).optional(),
      }),
    )
    .max(advisoryLimits.cvesPerAdvisory)
    .optional(),
});

const branchSchema = z.object({
  category: z.string().min(1).max(64),
  name: z.string().min(1).max(1000),
  product: z.object({ product_id: z.string().min(1).max(1000) }).optional(),
  branches: z.array(z.unknown()).max(maxProducts).optional(),
});

interface ProductPlace {
  productName?: string;
  version?: string;
}

/** product_id → the product_name and product_version branches above it. */
function productPlaces(branches: readonly unknown[], file: string): Map<string, ProductPlace> {
  const places = new Map<string, ProductPlace>();
  const walk = (list: readonly unknown[], above: ProductPlace, depth: number, at: string): void => {
    if (depth > maxBranchDepth) throw new AdvisoryDocumentError(`${file}: product_tree branches nest deeper than ${maxBranchDepth}`, { file, field: at });
    list.forEach((raw, index) => {
      const field = `${at}.${index}`;
      const branch = parseDocument(branchSchema, raw, file, `a CSAF document (a product_tree branch at ${field})`);
      const here: ProductPlace = {
        ...above,
        ...(branch.category === 'product_name' ? { productName: branch.name } : {}),
        ...(branch.category === 'product_version' ? { version: branch.name } : {}),
      };
      if (branch.product) {
        if (places.size >= maxProducts) throw new AdvisoryDocumentError(`${file}: more than ${maxProducts} products`, { file, field });
        places.set(branch.product.product_id, here);
      }
      if (branch.branches) walk(branch.branches, here, depth + 1, `${field}.branches`);
    });
  };
  walk(branches, {}, 0, 'product_tree.branches');
  return places;
}

function severityOf(vulnerability: { scores?: { cvss_v3?: { baseSeverity: string }; cvss_v2?: { baseScore: number } }[] | undefined; threats?: { category: string; details: string }[] | undefined }): string | undefined {
  for (const score of vulnerability.scores ?? []) {
    if (score.cvss_v3) return score.cvss_v3.baseSeverity.toLowerCase();
  }
  for (const score of vulnerability.scores ?? []) {
    if (score.cvss_v2) return String(score.cvss_v2.baseScore);
  }
  const impact = vulnerability.threats?.find((threat) => threat.category === 'impact')?.details;
  return impact?.slice(0, advisoryLimits.severityChars);
}

/**
 * Parses one CSAF 2.0 document. `products` maps the names of the vendor's product_name
 * branches to our catalog ids.
 */
export function parseCsafDocument(data: Buffer | string, file: string, source: string, products: Readonly<Record<string, string>>): Advisory {
  const csaf = parseDocument(csafDocument, parseJsonText(data, file, maxCsafBytes), file, 'a CSAF 2.0 document');
  const places = productPlaces(csaf.product_tree?.branches ?? [], file);
  // A relationship's product is the component's (e.g. a package on a platform), where the component names a product.
  for (const relationship of csaf.product_tree?.relationships ?? []) {
    const component = places.get(relationship.product_reference);
    if (component?.productName !== undefined) places.set(relationship.full_product_name.product_id, component);
  }
  const documentJvn = jvnPattern.test(csaf.document.tracking.id) ? [csaf.document.tracking.id] : [];
  const vulnerabilities: AdvisoryVulnerability[] = [];
  const fixes = new Map<string, AdvisoryFix & { cves: string[] }>();
  for (const vulnerability of csaf.vulnerabilities ?? []) {
    if (vulnerability.cve === undefined) continue;
    const jvn = [...new Set([...documentJvn, ...(vulnerability.ids ?? []).map((id) => id.text).filter((text) => jvnPattern.test(text))])];
    const severity = severityOf(vulnerability);
    if (!vulnerabilities.some((known) => known.cve === vulnerability.cve)) {
      vulnerabilities.push({ cve: vulnerability.cve, ...(severity ? { severity } : {}), ...(vulnerability.title ? { title: vulnerability.title } : {}), ...(jvn.length > 0 ? { jvn } : {}) });
    }
    for (const productId of new Set([...(vulnerability.product_status?.fixed ?? []), ...(vulnerability.product_status?.first_fixed ?? [])])) {
      const place = places.get(productId);
      if (place?.productName === undefined || place.version === undefined || !Object.hasOwn(products, place.productName)) continue;
      const product = products[place.productName]!;
      const key = `${product}\u0000${place.version}`;
      const fix = fixes.get(key) ?? { product, fixedIn: place.version.slice(0, advisoryLimits.idChars), cves: [] };
      if (!fix.cves.includes(vulnerability.cve)) fix.cves.push(vulnerability.cve);
      fixes.set(key, fix);
    }
  }
  const summary = csaf.document.notes?.find((note) => note.category === 'summary') ?? csaf.document.notes?.find((note) => note.category === 'description');
  const self = csaf.document.references?.find((reference) => reference.category === 'self')?.url;
  return {
    source,
    id: csaf.document.tracking.id,
    title: csaf.document.title,
    published: csaf.document.tracking.initial_release_date,
    ...(self ? { url: self } : {}),
    ...(summary ? { text: summary.text } : {}),
    vulnerabilities,
    fixes: [...fixes.values()],
  };
}

