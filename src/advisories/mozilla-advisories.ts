import { parse } from 'yaml';
import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { boundedText, cveId, parseDocument, severityText } from './document-schema.ts';
import { advisoryLimits, type Advisory, type AdvisoryFix } from './model.ts';

/*
 * Mozilla Foundation Security Advisories as Mozilla keeps them: one YAML file per advisory,
 * announce/<year>/mfsa<year>-<n>.yml in github.com/mozilla/foundation-security-advisories
 * (see test/fixtures/SOURCES.md). Fields read: announced ("November 26, 2024"), title,
 * impact, fixed_in ("Firefox 133", "Firefox ESR 128.5", "Thunderbird 128.5.2"), and
 * advisories keyed by CVE id with title and impact.
 */

export const mozillaAdvisoryFileName = /^mfsa\d{4}-\d{1,4}\.yml$/u;
export const maxMozillaAdvisoryBytes = 1024 * 1024;

const advisoryFile = z.object({
  announced: z.string().max(64),
  title: boundedText(advisoryLimits.titleChars),
  impact: severityText.optional(),
  description: boundedText(advisoryLimits.textChars).optional(),
  fixed_in: z.array(z.string().min(1).max(200)).min(1).max(100),
  advisories: z
    .record(
      cveId,
      z.object({
        title: boundedText(advisoryLimits.titleChars),
        impact: severityText.optional(),
        description: boundedText(advisoryLimits.textChars).optional(),
      }),
    )
    .refine((record) => Object.keys(record).length <= advisoryLimits.cvesPerAdvisory, `at most ${advisoryLimits.cvesPerAdvisory} CVEs`),
});

const months = ['january', 'february', 'march', 'april', 'may', 'june', 'july', 'august', 'september', 'october', 'november', 'december'];

/** "November 26, 2024" → "2024-11-26"; read by hand so the host's time zone cannot shift the day. */
function announcedDate(text: string, file: string): string {
  const match = /^([A-Za-z]+) (\d{1,2}), (\d{4})$/u.exec(text.trim());
  const month = match ? months.indexOf(match[1]!.toLowerCase()) : -1;
  if (!match || month === -1) throw new AdvisoryDocumentError(`${file}: field "announced" is "${text.slice(0, 64)}", not a date such as "November 26, 2024"`, { file, field: 'announced' });
  return `${match[3]}-${String(month + 1).padStart(2, '0')}-${match[2]!.padStart(2, '0')}`;
}

/**
 * A `fixed_in` line as a fix of one of our products. `products` maps Mozilla's product names
 * to our catalog ids; names not mapped (Firefox for iOS, Focus) are none of ours. Our mozilla
 * version scheme needs a minor part ("133" is 133.0) and names ESR versions with "esr"
 * (product-details' FIREFOX_ESR is "128.5.1esr").
 */
export function mozillaFix(line: string, products: Readonly<Record<string, string>>): AdvisoryFix | undefined {
  const match = /^(.+?) (\d{1,4}(?:\.\d{1,4}){0,3})$/u.exec(line.trim());
  if (!match) return undefined;
  const [, name, number] = match as unknown as [string, string, string];
  const product = Object.hasOwn(products, name) ? products[name] : undefined;
  if (product === undefined) return undefined;
  const version = number.includes('.') ? number : `${number}.0`;
  return { product, fixedIn: / ESR$/u.test(name) ? `${version}esr` : version };
}

/** Parses one mfsa*.yml file (its text and file name) into an advisory of source `source`. */
export function parseMozillaAdvisory(text: string, fileName: string, source: string, products: Readonly<Record<string, string>>): Advisory {
  if (!mozillaAdvisoryFileName.test(fileName)) throw new AdvisoryDocumentError(`${fileName}: not a Mozilla advisory file name (mfsa<year>-<n>.yml)`, { file: fileName });
  if (Buffer.byteLength(text) > maxMozillaAdvisoryBytes) throw new AdvisoryDocumentError(`${fileName}: larger than ${maxMozillaAdvisoryBytes} bytes`, { file: fileName });
  let value: unknown;
  try {
    // Aliases bounded: a YAML "billion laughs" must not expand on either side.
    value = parse(text, { maxAliasCount: 50, uniqueKeys: true });
  } catch (cause) {
    throw new AdvisoryDocumentError(`${fileName}: not YAML (${(cause as Error).message.split('\n')[0]})`, { file: fileName });
  }
  const document = parseDocument(advisoryFile, value, fileName, "a Mozilla security advisory (announced, title, fixed_in, advisories)");
  const id = fileName.replace(/\.yml$/u, '');
  const fixes = document.fixed_in.map((line) => mozillaFix(line, products)).filter((fix): fix is AdvisoryFix => fix !== undefined);
  return {
    source,
    id,
    title: document.title,
    published: announcedDate(document.announced, fileName),
    ...(document.description ? { text: document.description } : {}),
    vulnerabilities: Object.entries(document.advisories).map(([cve, entry]) => ({ cve, title: entry.title, ...(entry.impact ? { severity: entry.impact } : {}) })),
    fixes,
  };
}
