import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import { createRequire } from 'node:module';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { Language, Parser, type Node, type Tree } from 'web-tree-sitter';
import { projectRoot } from '../helpers/environment.ts';

const run = promisify(execFile);

test('the sh agent passes shellcheck as POSIX sh', async (t) => {
  const { stdout } = await run('shellcheck', ['-s', 'sh', path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.sh')]);
  t.is(stdout, '');
});

/*
 * PowerShell cannot be installed on this Debian machine (it is not packaged for Debian, and
 * the npm "pwsh" package downloads binaries at install time), so the Windows agent is parsed
 * with a real PowerShell grammar instead: airbus-cert/tree-sitter-powershell, whose npm
 * package ships a prebuilt tree-sitter-powershell.wasm, run by web-tree-sitter (WASM, no
 * native build, nothing fetched at test time). Both are pinned devDependencies; see
 * test/fixtures/SOURCES.md. A grammar is not PowerShell's own parser: on Windows also run
 * PSScriptAnalyzer (docs/clients.md).
 */
const requireFromHere = createRequire(import.meta.url);
let powershellParser: Promise<Parser> | undefined;

function loadPowershellParser(): Promise<Parser> {
  powershellParser ??= (async () => {
    await Parser.init();
    const language = await Language.load(await readFile(requireFromHere.resolve('tree-sitter-powershell/tree-sitter-powershell.wasm')));
    const parser = new Parser();
    parser.setLanguage(language);
    return parser;
  })();
  return powershellParser;
}

async function parsePowershell(source: string): Promise<Tree> {
  const tree = (await loadPowershellParser()).parse(source);
  if (tree === null) throw new Error('tree-sitter returned no tree');
  return tree;
}

function* descendants(node: Node): Generator<Node> {
  yield node;
  for (const child of node.children) if (child !== null) yield* descendants(child);
}

const where = (node: Node): string => `${node.startPosition.row + 1}:${node.startPosition.column + 1}`;

interface SyntaxProblem {
  line: number;
  column: number;
  message: string;
}

/*
 * The grammar's command_parameter token is /-+[a-zA-Z_?\-`]+/: no digits, although
 * PowerShell's own (language specification 2.3.4) takes them after the first character. So
 * `Test-Installer -Sha256 $x` parses as the parameter `-Sha` followed by a redirection `256`
 * whose `>` is MISSING (airbus-cert/tree-sitter-powershell issue 59, open in 0.26.4). Only
 * that exact shape is let through: a MISSING `>` at the very end of a parameter token, the
 * "file name" a decimal number written right after it. Any other MISSING or ERROR node fails.
 */
function digitParameter(missing: Node): string | undefined {
  if (missing.type !== '>' || missing.parent?.type !== 'file_redirection_operator') return undefined;
  const redirection = missing.parent.parent;
  const parameter = redirection?.previousSibling;
  const fileName = redirection?.lastChild;
  if (redirection?.type !== 'redirection' || parameter?.type !== 'command_parameter' || fileName?.type !== 'redirected_file_name') return undefined;
  if (parameter.endIndex !== missing.startIndex || fileName.startIndex !== missing.startIndex || !/^[0-9]+$/u.test(fileName.text)) return undefined;
  const name = parameter.text + fileName.text;
  return /^-[A-Za-z_][A-Za-z0-9_]*$/u.test(name) ? name : undefined;
}

function ps7OnlyParameter(command: Node): boolean {
  const name = command.childForFieldName('command_name') ?? command.children.find((child) => child?.type === 'command_name');
  if (name === null || name === undefined || !/^(?:ForEach-Object|foreach|%)$/iu.test(name.text)) return false;
  return [...descendants(command)].some((node) => node.type === 'command_parameter' && node.text.length >= 3 && '-parallel'.startsWith(node.text.toLowerCase()));
}

/**
 * Syntax errors (ERROR and MISSING nodes) and syntax Windows PowerShell 5.1, what LGWAN PCs
 * run, does not have. `&&`/`||` and `ForEach-Object -Parallel` are found in the tree; the
 * grammar has no node for `??`, `?.` or the ternary operator (it reports ERROR nodes for
 * them), so those are also looked for by regex in the code left once the tree's comments
 * and strings are blanked.
 */
async function powershellProblems(source: string): Promise<{ problems: SyntaxProblem[]; tolerated: string[] }> {
  const tree = await parsePowershell(source);
  const problems: SyntaxProblem[] = [];
  const tolerated: string[] = [];
  const report = (node: Node, message: string): void => {
    problems.push({ line: node.startPosition.row + 1, column: node.startPosition.column + 1, message });
  };
  let code = source;
  for (const node of descendants(tree.rootNode)) {
    if (node.isMissing) {
      const parameter = digitParameter(node);
      if (parameter === undefined) report(node, `MISSING ${node.type}`);
      else tolerated.push(`${parameter} at ${where(node.parent!.parent!.previousSibling!)}`);
    } else if (node.isError) {
      report(node, `ERROR ${JSON.stringify(node.text.slice(0, 60))}`);
    } else if (node.type === 'pipeline_chain_tail') {
      report(node, `${node.text} is PowerShell 7 only`);
    } else if (node.type === 'command' && ps7OnlyParameter(node)) {
      report(node, 'ForEach-Object -Parallel is PowerShell 7 only');
    } else if (node.type === 'comment' || node.type === 'string_literal') {
      code = code.slice(0, node.startIndex) + code.slice(node.startIndex, node.endIndex).replace(/[^\n]/gu, ' ') + code.slice(node.endIndex);
    }
  }
  const lines = code.split('\n');
  lines.forEach((line, index) => {
    const match = /\?\?|\?\.|\?\s*\$|\s\?\s[^:]*\s:\s/u.exec(line);
    if (match !== null) problems.push({ line: index + 1, column: match.index + 1, message: `PowerShell 7 only operator (??, ?. or ternary): ${line.trim()}` });
  });
  tree.delete();
  return { problems, tolerated };
}

const lineOf = (source: string, fragment: string): number => {
  const index = source.indexOf(fragment);
  if (index < 0) throw new Error(`not in the script: ${fragment}`);
  return source.slice(0, index).split('\n').length;
};

test('the PowerShell agent parses with a real PowerShell grammar, without syntax Windows PowerShell 5.1 lacks', async (t) => {
  const source = await readFile(path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.ps1'), 'utf8');
  const { problems, tolerated } = await powershellProblems(source);
  t.deepEqual(problems, [], problems.map((problem) => `lgwan-agent.ps1:${problem.line}:${problem.column}: ${problem.message}`).join('\n'));
  if (tolerated.length > 0) t.log(`parameter names with digits, which the grammar cannot read (issue 59): ${tolerated.join(', ')}`);
  for (const required of [
    'Get-AuthenticodeSignature', 'Get-FileHash -Algorithm SHA256', 'AddRange', '/api/v1/agent/checkin', 'Start-Process', "'ADSystemInfo'",
    '/api/v1/agent/enroll', 'HMACSHA256', 'X-Lgwan-Nonce', 'X-Lgwan-Signature',
  ]) {
    t.true(source.includes(required), required);
  }
});

test('the PowerShell grammar notices a broken agent script', async (t) => {
  const source = await readFile(path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.ps1'), 'utf8');

  // The closing brace of Test-Installer removed: a brace can only be known missing at the end
  // of the file (which earlier brace lacks its partner is the recovery's guess), so that is
  // where the grammar reports it.
  const closing = '    return $null\n}\n';
  t.true(source.includes(closing));
  const unclosed = source.replace(closing, '    return $null\n');
  const unclosedProblems = (await powershellProblems(unclosed)).problems;
  const lastLine = unclosed.trimEnd().split('\n').length;
  t.true(unclosedProblems.some((problem) => problem.message === 'MISSING }' && problem.line >= lastLine), JSON.stringify(unclosedProblems));

  // An unterminated string in Add-InstallResult: an ERROR on that very line.
  const quoted = "-replace '[\\x00-\\x1f\\x7f]', ' '";
  const unterminated = source.replace(quoted, "-replace '[\\x00-\\x1f\\x7f], ' '");
  t.true((await powershellProblems(unterminated)).problems.some((problem) => problem.line === lineOf(source, quoted) && problem.message.startsWith('ERROR')));

  // A closing parenthesis removed inside Test-Installer: the first error is in that function,
  // between its first line and the broken one.
  const call = '(Get-FileHash -Algorithm SHA256 -LiteralPath $Path).Hash';
  const unbalanced = (await powershellProblems(source.replace(call, '(Get-FileHash -Algorithm SHA256 -LiteralPath $Path.Hash'))).problems;
  const first = unbalanced[0]?.line ?? 0;
  t.true(first >= lineOf(source, 'function Test-Installer {') && first <= lineOf(source, call), JSON.stringify(unbalanced));

  // An apostrophe in a comment (which fooled the old regex check) is just a comment.
  t.deepEqual((await powershellProblems(source.replace('\nfunction Test-Installer {', "\n# the vendor's signature\nfunction Test-Installer {"))).problems, []);

  // A parameter name with digits is tolerated, but not a real missing redirection target
  // nor a digit glued to something else.
  t.deepEqual(await powershellProblems('Test-Installer -Sha256 $x\n'), { problems: [], tolerated: ['-Sha256 at 1:16'] });
  t.true((await powershellProblems('Foo -Sha256:1\n')).problems.length > 0);
});

test('PowerShell 7 only syntax is refused', async (t) => {
  for (const [snippet, expected] of [
    ['$x = $a ?? "b"\n', /ERROR|PowerShell 7/u],
    ['$x = ($a -eq 1) ? "y" : "n"\n', /ERROR|PowerShell 7/u],
    ['$a ??= 1\n', /ERROR|PowerShell 7/u],
    ['$x = ${a}?.b\n', /ERROR|PowerShell 7/u],
    ['Get-Item a && Get-Item b\n', /&& is PowerShell 7 only/u],
    ['Get-Item a || Get-Item b\n', /\|\| is PowerShell 7 only/u],
    ['1..3 | ForEach-Object -Parallel { $_ }\n', /-Parallel is PowerShell 7 only/u],
    ['1..3 | % -Par { $_ }\n', /-Parallel is PowerShell 7 only/u],
  ] as const) {
    const { problems } = await powershellProblems(snippet);
    t.true(problems.some((problem) => expected.test(problem.message)), `${snippet.trim()}: ${JSON.stringify(problems)}`);
  }
  for (const snippet of [
    "Get-ChildItem | ? { $_.Length -gt 1 }\n",
    "Write-Output 'a ?? b'  # x ? y : z\n",
    '1..3 | ForEach-Object -Process { $_ }\n',
  ]) {
    t.deepEqual((await powershellProblems(snippet)).problems, [], snippet.trim());
  }
});

/*
 * Issue 15, point 4: the PowerShell agent takes every decision (what, when, which command line)
 * from the check-in answer. It cannot run here, so the test takes the answers a real repository
 * gives a Windows check-in (one inside a maintenance window, one outside), checks their exact
 * shape, and compares it with the properties the script reads, taken from its syntax tree: it
 * reads nothing the server does not send (under Set-StrictMode that would throw) and leaves
 * unread only what is listed here with the reason.
 */
const answerVariables: Record<string, string> = { answer: '', action: 'actions[]', file: 'actions[].files[]', command: 'actions[].files[].command', waiting: 'waiting[]' };
const unreadOnPurpose: Record<string, string> = {
  checkInIntervalSeconds: 'the scheduled task sets how often the agent runs',
  'actions[].platform': 'the agent reported the platform itself',
  'actions[].locale': 'the agent reported the locale itself',
};

/** `$action.install.when` → "actions[].install.when", for every chain of property reads that starts at an answer variable. */
function propertiesRead(root: Node): Set<string> {
  const paths = new Set<string>();
  for (const node of descendants(root)) {
    const variable = node.firstChild;
    if (node.type !== 'member_access' || variable?.type !== 'variable') continue;
    // PowerShell variable names are case-insensitive: Install-File's $Command is the answer's command.
    const prefix = answerVariables[variable.text.replace(/^\$/u, '').toLowerCase()];
    if (prefix === undefined) continue;
    const names: string[] = [];
    for (let access: Node | null = node; access?.type === 'member_access' && (access === node || access.firstChild?.type === 'member_access'); access = access.parent) {
      const name = access.children.find((child) => child?.type === 'member_name')?.text;
      if (name === undefined) break;
      names.push(name);
      paths.add([prefix, names.join('.')].filter((part) => part !== '').join('.').replace(/\[\]\./gu, '[].'));
      if (access.parent?.type !== 'member_access') break;
    }
  }
  return paths;
}

/** Every property path of `value` ("actions[].files[].sha256"); arrays of objects add "[]", arrays of values are leaves. */
function answerPaths(value: unknown, prefix = '', into = { all: new Set<string>(), leaves: new Set<string>() }) {
  if (Array.isArray(value) && value.some((item) => typeof item === 'object' && item !== null)) {
    for (const item of value) answerPaths(item, `${prefix}[]`, into);
  } else if (typeof value === 'object' && value !== null && !Array.isArray(value)) {
    if (prefix.endsWith('[]')) into.all.add(prefix);
    for (const [key, child] of Object.entries(value)) {
      const path = prefix === '' ? key : `${prefix}.${key}`;
      into.all.add(path);
      answerPaths(child, path, into);
    }
  } else {
    into.leaves.add(prefix);
  }
  return into;
}

test('the PowerShell agent reads exactly the check-in answer the repository sends: what to install now, the command line, and what waits', async (t) => {
  const { publishedRepository } = await import('../helpers/published-repository.ts');
  const { clockedRepository } = await import('../helpers/clocked-repository.ts');
  const { enrollAgent } = await import('../helpers/console.ts');
  const { lgwan } = await publishedRepository(t, { lgwan: { rings: [{ id: 'general' }], policies: { 'demo-firefox': { general: 'approval' } } } });
  const mondayJst = (hour: number, minute = 0) => Date.UTC(2026, 11, 7, hour - 9, minute);
  const repository = await clockedRepository(t, lgwan, { at: mondayJst(10, 30) });
  await lgwan.admin.putDecision({
    tenant: 'default', kind: 'approve', product: 'demo-firefox', version: '131.0', ring: 'general', at: new Date(mondayJst(8)).toISOString(), by: 'approver',
    schedule: { windows: [{ days: [1], start: 600, end: 660 }], deadline: new Date(mondayJst(12)).toISOString(), timeZone: 'Asia/Tokyo' },
  });
  const agent = await enrollAgent(lgwan.admin, repository.url, { hostname: 'pc-001' });
  const installed = [{ product: 'demo-firefox', version: '130.0', platform: 'win64', locale: 'ja' }];
  const result = { product: 'demo-firefox', version: '131.0', outcome: 'failed', exitCode: 1603, message: 'msiexec exited with 1603' };
  const inside = await agent.checkIn({ installed, results: [result], directory: { ou: 'OU=Pilot,DC=city,DC=local', groups: ['LGWAN-Pilot'] } });
  t.is(inside.status, 200);
  const now = (await inside.json()) as Record<string, unknown>;
  const artifact = lgwan.database.data.published!.artifacts.find((candidate) => candidate.path === 'pool/demo-firefox/131.0/win64/ja/Firefox Setup 131.0.exe')!;
  t.deepEqual(now, {
    actions: [
      {
        product: 'demo-firefox', installedVersion: '130.0', version: '131.0', platform: 'win64', locale: 'ja',
        files: [{ fileName: 'Firefox Setup 131.0.exe', url: '/pool/demo-firefox/131.0/win64/ja/Firefox%20Setup%20131.0.exe', sha256: artifact.sha256, size: artifact.size, command: { run: 'installer', arguments: ['/S'], successExitCodes: [0, 3010] } }],
        install: { when: 'now', reason: 'in-window', deadline: '2026-12-07T03:00:00.000Z', windowEndsAt: '2026-12-07T02:00:00.000Z' },
      },
    ],
    waiting: [],
    unknownProducts: [],
    resultsRecorded: 1,
    checkInIntervalSeconds: 3600,
  });
  t.like((await lgwan.admin.listInstallResults('default'))[0], { ...result, agentId: agent.agentId, hostname: 'pc-001', ring: 'general' });

  repository.setClock(mondayJst(9));
  const outside = (await (await agent.checkIn({ installed })).json()) as Record<string, unknown>;
  t.deepEqual(outside, {
    actions: [],
    waiting: [{ product: 'demo-firefox', installedVersion: '130.0', version: '131.0', reason: 'outside-window', notBefore: '2026-12-07T01:00:00.000Z', deadline: '2026-12-07T03:00:00.000Z' }],
    unknownProducts: [],
    resultsRecorded: 0,
    checkInIntervalSeconds: 3600,
  });

  // The OpenAPI document describes these answers: its required properties are exactly the ones sent.
  type Schema = { required?: string[]; properties?: Record<string, Schema>; items?: Schema };
  const openapi = JSON.parse(await readFile(path.join(projectRoot, 'src', 'repository', 'openapi.json'), 'utf8')) as { components: { schemas: Record<string, Schema> } };
  const answerSchema = openapi.components.schemas.CheckInAnswer!;
  const actionSchema = answerSchema.properties!.actions!.items!;
  const fileSchema = actionSchema.properties!.files!.items!;
  const sample = now as { actions: [{ install: object; files: [{ command: object }] }] };
  for (const [value, schema, where] of [
    [now, answerSchema, 'answer'],
    [sample.actions[0], actionSchema, 'action'],
    [sample.actions[0].install, actionSchema.properties!.install!, 'install'],
    [sample.actions[0].files[0], fileSchema, 'file'],
    [sample.actions[0].files[0].command, fileSchema.properties!.command!, 'command'],
    [(outside as { waiting: [object] }).waiting[0], answerSchema.properties!.waiting!.items!, 'waiting'],
  ] as const) {
    t.deepEqual(Object.keys(value).sort(), [...(schema.required ?? [])].sort(), `openapi.json: ${where}`);
    t.deepEqual(Object.keys(value).sort(), Object.keys(schema.properties ?? {}).sort(), `openapi.json: ${where} properties`);
  }

  // The extraction itself: a misspelt property is seen as read, other variables are not answers.
  const snippet = await parsePowershell('$x = $action.install.whn; $Command.run; $other.when\n');
  t.deepEqual([...propertiesRead(snippet.rootNode)], ['actions[].install', 'actions[].install.whn', 'actions[].files[].command.run']);
  snippet.delete();

  const sent = answerPaths([now, outside]);
  const tree = await parsePowershell(await readFile(path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.ps1'), 'utf8'));
  const read = propertiesRead(tree.rootNode);
  tree.delete();
  const prefixRemoved = (paths: Set<string>) => new Set([...paths].map((entry) => entry.replace(/^\[\]\.?/u, '')).filter((entry) => entry !== ''));
  const sentAll = prefixRemoved(sent.all);
  const sentLeaves = prefixRemoved(sent.leaves);
  t.deepEqual([...read].filter((entry) => !sentAll.has(entry)), [], 'the script reads only properties the answer has');
  t.deepEqual([...sentLeaves].filter((entry) => !read.has(entry) && !Object.hasOwn(unreadOnPurpose, entry)).sort(), [], 'every decision the answer carries is read');
  for (const decision of ['actions[].install.when', 'actions[].files[].command', 'actions[].files[].command.run', 'actions[].files[].command.arguments', 'actions[].files[].command.successExitCodes', 'waiting[].notBefore']) t.true(read.has(decision), decision);
});
