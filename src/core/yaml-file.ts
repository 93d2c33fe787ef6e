import { open } from 'node:fs/promises';
import { LineCounter, parseDocument, isMap, isNode, isScalar, type Document, type YAMLError } from 'yaml';
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

/** The line of key `key` itself inside the map at `parentPath` (an unknown field is reported where it is written). */
function lineOfKey(document: Document, lineCounter: LineCounter, parentPath: readonly PropertyKey[], key: string): number | undefined {
  const parent = parentPath.length === 0 ? document.contents : document.getIn(parentPath as unknown[], true);
  if (isMap(parent)) {
    for (const pair of parent.items) {
      if (isScalar(pair.key) && pair.key.value === key && pair.key.range) return lineCounter.linePos(pair.key.range[0]).line;
    }
  }
  return lineOf(document, lineCounter, parentPath);
}

const expectedKinds: Record<string, string> = { array: 'a list', string: 'text', number: 'a number', int: 'a whole number', object: 'a section of fields', boolean: 'true or false' };

function editDistance(a: string, b: string): number {
  const row = Array.from({ length: b.length + 1 }, (_, index) => index);
  for (let i = 1; i <= a.length; i += 1) {
    let diagonal = row[0]!;
    row[0] = i;
    for (let j = 1; j <= b.length; j += 1) {
      const above = row[j]!;
      row[j] = Math.min(row[j]! + 1, row[j - 1]! + 1, diagonal + (a[i - 1] === b[j - 1] ? 0 : 1));
      diagonal = above;
    }
  }
  return row[b.length]!;
}

/**
 * The parser's own messages name its grammar ("implicit keys", "compact mappings"); an admin
 * editing a catalog needs the line that is wrong and what to do about it.
 */
function plainYamlErrors(errors: readonly YAMLError[], text: string, lineCounter: LineCounter): { line: number; message: string }[] {
  const problems: { line: number; message: string }[] = [];
  const lineAt = (offset: number) => lineCounter.linePos(Math.min(offset, text.length)).line;
  for (const error of errors) {
    const [start, end] = error.pos;
    switch (error.code) {
      case 'TAB_AS_INDENT':
        problems.push({ line: lineAt(start), message: 'this line is indented with a tab: YAML allows only spaces' });
        break;
      case 'DUPLICATE_KEY': {
        const key = /^[^:\n]*/u.exec(text.slice(start))?.[0]?.trim() ?? '';
        problems.push({ line: lineAt(start), message: `"${key}" appears twice in the same section: keep one of them` });
        break;
      }
      case 'MULTILINE_IMPLICIT_KEY':
      case 'BLOCK_AS_IMPLICIT_KEY': {
        const line = lineAt(end) > lineAt(start) ? lineAt(end) : lineAt(start) + 1;
        if (!problems.some((problem) => problem.line === line)) {
          problems.push({ line, message: `this line is indented differently from the line above it: fields of one section must start in the same column (use spaces), and a value goes on the same line as its field` });
        }
        break;
      }
      case 'BAD_INDENT':
      case 'MISSING_CHAR': {
        const open = /Flow sequence/u.test(error.message) ? '[' : /Flow mapping/u.test(error.message) ? '{' : undefined;
        const opened = open === undefined ? -1 : text.lastIndexOf(open, start);
        if (open !== undefined && opened >= 0) {
          problems.push({ line: lineAt(opened), message: `the ${open === '[' ? 'list' : 'section'} opened with "${open}" on this line is not closed with "${open === '[' ? ']' : '}'}"` });
        } else {
          problems.push({ line: lineAt(start), message: 'something is missing here: a closing quote or bracket, or the ":" after a field name' });
        }
        break;
      }
      case 'BAD_SCALAR_START':
        problems.push({ line: lineAt(start), message: 'a value cannot start with this character: put the value in quotes' });
        break;
      default:
        problems.push({ line: lineAt(start), message: `this line is not valid YAML (${error.message.split('\n')[0]})` });
    }
  }
  return problems;
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
      problems: plainYamlErrors(document.errors, text, lineCounter).map((problem) => ({ file, ...problem })),
    };
  }
  let value: unknown;
  try {
    value = document.toJS({ maxAliasCount });
  } catch (error) {
    // yaml throws a ReferenceError when aliases expand past maxAliasCount: a problem of this file, not a crash.
    return { ok: false, problems: [{ file, message: `refused: ${error instanceof Error ? error.message : String(error)} (at most ${maxAliasCount} alias expansions)` }] };
  }
  // A file is checked once: zod's compiled fast path for each object schema costs more than it saves here.
  const result = schema.safeParse(value, { jitless: true });
  /** A field the file does not have at all (its section exists): zod says "invalid", the admin needs "missing". */
  const absent = (fieldPath: readonly PropertyKey[]): boolean => {
    let node: unknown = value;
    for (const part of fieldPath.slice(0, -1)) node = node !== null && typeof node === 'object' ? (node as Record<PropertyKey, unknown>)[part] : undefined;
    return node !== null && typeof node === 'object' && !Array.isArray(node) && !(fieldPath.at(-1)! in (node as object));
  };
  if (result.success) return { ok: true, value: result.data };
  return {
    ok: false,
    problems: result.error.issues.flatMap((issue): YamlProblem[] => {
      const field = (extra: PropertyKey[] = []) => (issue.path.length + extra.length > 0 ? [...issue.path, ...extra].join('.') : undefined);
      if (issue.code === 'unrecognized_keys') {
        // Reported on the key's own line, with the field it was probably meant to be.
        const missing = result.error.issues.filter((other) => other.path.length === issue.path.length + 1 && issue.path.every((part, index) => other.path[index] === part) && absent(other.path)).map((other) => String(other.path.at(-1)));
        return issue.keys.map((key) => {
          const meant = missing.find((candidate) => editDistance(candidate, key) <= 2);
          return { file, line: lineOfKey(document, lineCounter, issue.path, key), field: field([key]), message: meant ? `unknown field: did you mean "${meant}"?` : 'unknown field: check its spelling (docs/catalog.md and docs/configuration.md list the fields)' };
        });
      }
      if (issue.path.length > 0 && absent(issue.path)) {
        const expected = issue.code === 'invalid_type' ? ` (${expectedKinds[issue.expected] ?? issue.expected})` : issue.code === 'invalid_value' ? ` (one of ${issue.values.map((option) => JSON.stringify(option)).join(', ')})` : '';
        return [{ file, line: lineOf(document, lineCounter, issue.path), field: field(), message: `required, and missing from this section${expected}` }];
      }
      return [{ file, line: lineOf(document, lineCounter, issue.path), field: field(), message: issue.message }];
    }),
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
