import { open } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';

export interface YamlProblem {
  file: string;
  line?: number;
  field?: string;
  message: string;
}

/**
 * Catalogs, pins and configs are a few KiB; anything near this is a mistake or an attack
 * (issue 13: an alias bomb in a catalog stopped every command with a library stack trace).
 */
export const maxYamlFileBytes = 1024 * 1024;
/** Aliases a document may resolve in all (yaml's own guard against exponential expansion). */
const maxAliasCount = 100;

export type YamlParseResult<T> = { ok: true; value: T } | { ok: false; problems: YamlProblem[] };

function lineOf(document: Document, lineCounter: LineCounter, fieldPath: readonly PropertyKey[]): number | undefined {
  // Walk up the path until a node exists: a missing field is reported at its parent.
  for (let length = fieldPath.length; length >= 0; length -= 1) {
    const node = document.getIn(fieldPath.slice(0, length) as unknown[], true);
    if (isNode(node) && node.range) return lineCounter.linePos(node.range[0]).line;
  }
  return undefined;
}

/**
 * Parses YAML keeping positions, validates it with a zod schema, and reports each problem
 * as file:line, the field, and what was expected — the message an admin needs to fix it.
 */
export function parseYamlWithSchema<S extends z.ZodType>(file: string, text: string, schema: S): YamlParseResult<z.output<S>> {
  const lineCounter = new LineCounter();
  const document = parseDocument(text, { lineCounter, prettyErrors: false, uniqueKeys: true });
  if (document.errors.length > 0) {
    return {
      ok: false,
      problems: document.errors.map((error) => ({ file, line: lineCounter.linePos(error.pos[0]).line, message: error.message })),
    };
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount });
  } catch (error) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount: a problem of this file, not a crash.
    return { ok: false, problems: [{ file, message: `refused: ${error instanceof Error ? error.message : String(error)} (at most ${maxAliasCount} alias expansions)` }] };
  }
  const result = schema.safeParse(value);
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.map((issue) => ({
      file,
      line: lineOf(document, lineCounter, issue.path),
      field: issue.path.length > 0 ? issue.path.join('.') : undefined,
      message: issue.message,
    })),
  };
}

/** Reads at most `maxYamlFileBytes` (+1, to tell an oversized file): a larger file is a problem of its own, never parsed. */
export async function readYamlWithSchema<S extends z.ZodType>(file: string, schema: S): Promise<YamlParseResult<z.output<S>>> {
  const handle = await open(file, 'r');
  let bytes: Buffer;
  let size: number;
  try {
    size = (await handle.stat()).size;
    if (size > maxYamlFileBytes) return { ok: false, problems: [{ file, message: `${size} bytes; a file of this kind may have at most ${maxYamlFileBytes}` }] };
    const buffer = Buffer.alloc(maxYamlFileBytes + 1);
    const { bytesRead } = await handle.read(buffer, 0, buffer.length, 0);
    bytes = buffer.subarray(0, bytesRead);
  } finally {
    await handle.close();
  }
  if (bytes.length > maxYamlFileBytes) return { ok: false, problems: [{ file, message: `more than ${maxYamlFileBytes} bytes; a file of this kind may have at most ${maxYamlFileBytes}` }] };
  return parseYamlWithSchema(file, bytes.toString('utf8'), schema);
}

export function formatProblem(problem: YamlProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
  return problem.field === undefined ? `${where}: ${problem.message}` : `${where}: field "${problem.field}": ${problem.message}`;
}
