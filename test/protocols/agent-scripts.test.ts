import { execFile } from 'node:child_process';
import { readFile } from 'node:fs/promises';
import path from 'node:path';
import { promisify } from 'node:util';
import test from 'ava';
import { projectRoot } from '../helpers/environment.ts';

const run = promisify(execFile);

test('the sh agent passes shellcheck as POSIX sh', async (t) => {
  const { stdout } = await run('shellcheck', ['-s', 'sh', path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.sh')]);
  t.is(stdout, '');
});

/*
 * No PowerShell parser can be installed on this Debian machine (PowerShell is not packaged
 * for Debian, and the npm "pwsh" package downloads binaries at install time). This check is
 * structural: balanced brackets outside strings and comments, and no syntax that Windows
 * PowerShell 5.1 — what LGWAN PCs run — does not have. docs/clients.md says how to run
 * PSScriptAnalyzer on Windows.
 */
function structuralProblems(source: string): string[] {
  const code = source
    .replace(/<#[\s\S]*?#>/gu, '')
    .replace(/'(?:[^']|'')*'/gu, "''")
    .replace(/"(?:[^"`]|`.)*"/gu, '""')
    .replace(/#.*$/gmu, '');
  const problems: string[] = [];
  const stack: string[] = [];
  const pairs: Record<string, string> = { ')': '(', '}': '{', ']': '[' };
  for (const character of code) {
    if ('({['.includes(character)) stack.push(character);
    else if (character in pairs && stack.pop() !== pairs[character]) problems.push(`unbalanced ${character}`);
  }
  if (stack.length > 0) problems.push(`unclosed ${stack.join('')}`);
  if (/\?\?|\?\s*\$|\s\?\s[^:]*\s:\s/u.test(code)) problems.push('PowerShell 7 only operator (?? or ternary)');
  if (/ForEach-Object\s+-Parallel/u.test(code)) problems.push('ForEach-Object -Parallel is PowerShell 7 only');
  return problems;
}

test('the PowerShell agent is structurally sound for Windows PowerShell 5.1', async (t) => {
  const source = await readFile(path.join(projectRoot, 'deploy', 'agent', 'lgwan-agent.ps1'), 'utf8');
  t.deepEqual(structuralProblems(source), []);
  t.deepEqual(structuralProblems(source.replace('function Install-File {', 'function Install-File {{')), ['unclosed {'], 'the check notices a broken brace');
  for (const required of ['Get-AuthenticodeSignature', 'Get-FileHash -Algorithm SHA256', 'AddRange', '/api/v1/agent/checkin', "'/qn'"]) {
    t.true(source.includes(required), required);
  }
});
