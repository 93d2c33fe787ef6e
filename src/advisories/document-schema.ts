import * as z from 'zod';
import { AdvisoryDocumentError } from '../core/errors.ts';
import { advisoryLimits, cvePattern } from './model.ts';

/*
 * Helpers every advisory parser shares: each field from outside is bounded, and a document
 * that does not have its publisher's shape is refused with the file and the field named.
 */

/** Free text (descriptions, titles): kept up to `max` characters, cut there, never refused for length. */
export const boundedText = (max: number) => z.string().transform((value) => (value.length > max ? `${value.slice(0, max - 1)}…` : value));

export const identifierText = z.string().min(1).max(advisoryLimits.idChars);
export const cveId = z.string().regex(cvePattern, 'a CVE id such as CVE-2024-11691');
export const urlText = z.string().max(advisoryLimits.urlChars);
export const severityText = z.string().max(advisoryLimits.severityChars);

/** Validates `value` against `schema`, or throws naming `file` and the first failing field. */
export function parseDocument<T>(schema: z.ZodType<T>, value: unknown, file: string, what: string): T {
  const result = schema.safeParse(value);
  if (result.success) return result.data;
  const issue = result.error.issues[0];
  const field = issue?.path.map(String).join('.') ?? '';
  throw new AdvisoryDocumentError(`${file}: not ${what} (field "${field || '(document)'}": ${issue?.message ?? 'unexpected shape'})`, { file, ...(field ? { field } : {}) });
}

/** JSON text of at most `maxBytes` (checked before parsing), or a typed refusal naming the file. */
export function parseJsonText(data: Buffer | string, file: string, maxBytes: number): unknown {
  const size = typeof data === 'string' ? Buffer.byteLength(data) : data.length;
  if (size > maxBytes) throw new AdvisoryDocumentError(`${file}: ${size} bytes, more than the ${maxBytes} an advisory document of this kind may have`, { file });
  try {
    return JSON.parse(typeof data === 'string' ? data : data.toString('utf8'));
  } catch (cause) {
    throw new AdvisoryDocumentError(`${file}: not JSON (${(cause as Error).message})`, { file });
  }
}

/** Several vulnerabilities of one advisory under one CVE are kept once, the first as stated. */
export function uniqueBy<T>(items: readonly T[], key: (item: T) => string): T[] {
  const seen = new Set<string>();
  return items.filter((item) => {
    const value = key(item);
    if (seen.has(value)) return false;
    seen.add(value);
    return true;
  });
}
