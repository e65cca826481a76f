#!/usr/bin/env node
// Runs the whole Jest suite (ESM mode) under the current Node and prints one plain closing line,
// `N passed, N failed[, N skipped]`, taken from Jest's JSON report. Extra arguments go to Jest.
import { spawnSync } from 'node:child_process';
import {
  chmodSync,
  mkdirSync,
  mkdtempSync,
  readFileSync,
  readdirSync,
  existsSync,
  rmSync,
  writeFileSync,
} from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('..', import.meta.url));
// GR_JEST_RESULTS: another report directory (this script's own test uses one).
const outDir = process.env.GR_JEST_RESULTS ?? join(root, '.jest-results');
mkdirSync(outDir, { recursive: true });
const report = join(outDir, `node-${process.versions.node}.json`);
rmSync(report, { force: true });
const jest = join(root, 'node_modules/jest/bin/jest.js');

// Every temporary file the tests make goes into one directory per run, removed when the run ends:
// the tests' scratch trees (backups, restores, fake services' state, 4 GiB sparse archives) were
// left in /tmp, ~1,000 directories and a few GiB per run, and repeated runs filled a 250 GB disk
// (the next run then failed on ENOSPC). A run killed before its end leaves its directory, named
// with its pid; the next run removes those of pids that are gone.
const outerTmp = tmpdir();
const alive = (pid) => {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return error.code === 'EPERM';
  }
};
for (const name of readdirSync(outerTmp)) {
  const m = /^gr-tests-(\d+)-/.exec(name);
  if (m && !alive(Number(m[1]))) rmSync(join(outerTmp, name), { recursive: true, force: true });
}
const runTmp = mkdtempSync(join(outerTmp, `gr-tests-${process.pid}-`));
// Open to every user, sticky, like /tmp: some tests run the CLI as another user (nobody) from a
// directory under it (mkdtemp makes it 0700).
chmodSync(runTmp, 0o1777);
// Jest's transform cache stays where it was (it lives under the temporary directory by default).
const cacheDirectory = join(outerTmp, `jest_${(process.getuid?.() ?? 0).toString(36)}`);
const run = spawnSync(
  process.execPath,
  [jest, '--json', `--outputFile=${report}`, `--cacheDirectory=${cacheDirectory}`, ...process.argv.slice(2)],
  {
    cwd: root,
    stdio: 'inherit',
    env: {
      ...process.env,
      TMPDIR: runTmp,
      NODE_OPTIONS:
        `${process.env.NODE_OPTIONS ?? ''} --experimental-vm-modules --no-warnings=ExperimentalWarning`.trim(),
    },
  },
);
rmSync(runTmp, { recursive: true, force: true, maxRetries: 3 });
if (!existsSync(report)) {
  // Jest died before writing its report (a native abort takes the whole in-band run with it).
  // Its counts are lost; leave a report that counts the run as one failure, so CI's closing
  // tally over .jest-results cannot read as all-green.
  const why = `jest produced no report, exit ${run.status ?? run.signal}`;
  writeFileSync(
    report,
    JSON.stringify({
      numPassedTests: 0,
      numFailedTests: 1,
      numPendingTests: 0,
      numTodoTests: 0,
      crashed: why,
    }),
  );
  console.log(`node ${process.versions.node}: 0 passed, 1 failed (${why})`);
  process.exit(1);
}
const r = JSON.parse(readFileSync(report, 'utf8'));
// Suites that fail to load contribute no tests; count each such suite as a failure.
const brokenSuites = r.numRuntimeErrorTestSuites ?? 0;
const failed = r.numFailedTests + brokenSuites;
const skipped = r.numPendingTests + r.numTodoTests;
console.log(
  `node ${process.versions.node}: ${r.numPassedTests} passed, ${failed} failed${skipped ? `, ${skipped} skipped` : ''}`,
);
process.exit(run.status === 0 && failed === 0 && r.numTotalTests > 0 ? 0 : 1);
