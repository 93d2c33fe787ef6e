import { readFile } from 'node:fs/promises';
import { LineCounter, parseDocument, isNode, type Document } from 'yaml';
import type { z } from 'zod';

export interface YamlProblem {
  file: string;
  line?: number;
  field?: string;
  message: string;
}

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
  const result = schema.safeParse(document.toJS({ maxAliasCount: 100 }));
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

export async function readYamlWithSchema<S extends z.ZodType>(file: string, schema: S): Promise<YamlParseResult<z.output<S>>> {
  return parseYamlWithSchema(file, await readFile(file, 'utf8'), schema);
}

export function formatProblem(problem: YamlProblem): string {
  const where = problem.line === undefined ? problem.file : `${problem.file}:${problem.line}`;
  return problem.field === undefined ? `${where}: ${problem.message}` : `${where}: field "${problem.field}": ${problem.message}`;
}
