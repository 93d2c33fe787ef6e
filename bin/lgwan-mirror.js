#!/usr/bin/env node
// In a checkout: the bundled JavaScript in dist/ (`npm run build`) while it is at least as new
// as every file and folder in src/, else the TypeScript itself through tsx's loader, so that a
// fresh clone, an edit or a checkout of another branch runs what src/ holds. The bundle starts
// several times faster: the loader transpiles, and Node.js resolves and links, every module at
// every start (issue 18). The release packages carry their own launcher that imports dist/ only.
import { readdirSync, statSync } from 'node:fs';
import module from 'node:module';

const source = new URL('../src/', import.meta.url);
const stamp = new URL('../dist/.build-stamp', import.meta.url);

/** The newest modification time in a folder tree (a deleted file changes its folder's time). */
function newest(folder) {
  let latest = statSync(folder).mtimeMs;
  for (const entry of readdirSync(folder, { withFileTypes: true, recursive: true })) {
    latest = Math.max(latest, statSync(`${entry.parentPath ?? entry.path}/${entry.name}`).mtimeMs);
  }
  return latest;
}

function compiledIsCurrent() {
  try {
    return statSync(stamp).mtimeMs >= newest(source);
  } catch {
    return false;
  }
}

// Node.js 22.1 and later keep compiled code between starts; 20.x has no such cache.
module.enableCompileCache?.();
if (process.env.LGWAN_MIRROR_SOURCE !== '1' && compiledIsCurrent()) {
  await import('../dist/cli/main.js');
} else {
  const { register } = await import('tsx/esm/api');
  register();
  await import('../src/cli/main.ts');
}
