#!/usr/bin/env node
// Passes AVA's TAP output through and ends with the one line CI reads: "N passed, N failed".
// Exits non-zero when anything failed or when the TAP stream had no totals (a crash).
import { createInterface } from 'node:readline';

let passed;
let failed = 0;
let skipped = 0;
let todo = 0;
for await (const line of createInterface({ input: process.stdin })) {
  console.log(line);
  const total = /^# (pass|fail|skip|todo) (\d+)$/u.exec(line);
  if (!total) continue;
  const count = Number(total[2]);
  if (total[1] === 'pass') passed = count;
  else if (total[1] === 'fail') failed = count;
  else if (total[1] === 'skip') skipped = count;
  else todo = count;
}
if (passed === undefined) {
  console.log('0 passed, 1 failed');
  console.error('tap-summary: the test run ended without totals (crashed or was killed)');
  process.exit(1);
}
console.log(`${passed} passed, ${failed} failed${skipped + todo > 0 ? `, ${skipped + todo} skipped` : ''}`);
process.exit(failed > 0 ? 1 : 0);
