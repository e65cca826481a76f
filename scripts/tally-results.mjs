#!/usr/bin/env node
// Sums every Jest JSON report in a directory (default .jest-results): prints `passed failed
// skipped`. A report left by run-tests.mjs for a Jest that crashed counts as one failure; a
// report that cannot be read counts as one failure too, so the tally never reads all-green by
// losing a run.
import { readdirSync, readFileSync } from 'node:fs';
import { join } from 'node:path';

const dir = process.argv[2] ?? '.jest-results';
let passed = 0;
let failed = 0;
let skipped = 0;
let files = [];
try {
  files = readdirSync(dir).filter((f) => f.endsWith('.json'));
} catch (error) {
  console.error(`tally: cannot read ${dir}: ${error.message}`);
}
for (const file of files) {
  try {
    const r = JSON.parse(readFileSync(join(dir, file), 'utf8'));
    passed += r.numPassedTests;
    failed += r.numFailedTests + (r.numRuntimeErrorTestSuites ?? 0);
    skipped += r.numPendingTests + r.numTodoTests;
  } catch (error) {
    console.error(`tally: ${join(dir, file)} is not a Jest report (${error.message}); counted as 1 failed`);
    failed += 1;
  }
}
if (files.length === 0) failed += 1;
console.log(`${passed} ${failed} ${skipped}`);
