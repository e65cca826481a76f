// The test runner's closing line and CI's tally when Jest itself dies: a native abort takes an
// in-band Jest run down before it writes its report. That run must count as a failure in the
// closing `N passed, N failed` line, not vanish from it.
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

/** scripts/run-tests.mjs over the one test file `file` of `dir`, with `env` added. */
const runTests = (dir: string, file: string, env: NodeJS.ProcessEnv) =>
  spawnSync(
    process.execPath,
    [
      join(root, 'scripts/run-tests.mjs'),
      '--rootDir',
      dir,
      '--config',
      JSON.stringify({ testMatch: [`**/${file}`], transform: {} }),
    ],
    { cwd: root, encoding: 'utf8', env: { ...process.env, ...env }, timeout: 60_000 },
  );

describe('a Jest run that crashes', () => {
  it('is reported as "0 passed, 1 failed" and tallied as a failure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr-run-tests-'));
    writeFileSync(join(dir, 'crash.test.cjs'), "test('aborts', () => { process.abort(); });\n");
    const results = join(dir, 'results');
    const run = runTests(dir, 'crash.test.cjs', { GR_JEST_RESULTS: results });
    expect(run.status).toBe(1);
    expect(run.stdout).toMatch(/: 0 passed, 1 failed \(jest produced no report, exit SIGABRT\)/);
    // Another run's real report beside it: the tally adds both.
    writeFileSync(
      join(results, 'node-other.json'),
      JSON.stringify({ numPassedTests: 5, numFailedTests: 0, numPendingTests: 1, numTodoTests: 0 }),
    );
    const tally = spawnSync(process.execPath, [join(root, 'scripts/tally-results.mjs'), results], {
      encoding: 'utf8',
    });
    expect(tally.stdout.trim()).toBe('5 1 1');
    expect(
      JSON.parse(readFileSync(join(results, `node-${process.versions.node}.json`), 'utf8')),
    ).toMatchObject({
      numFailedTests: 1,
    });
  });

  it('a directory with no report or an unreadable one is not all-green', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr-tally-'));
    const tally = (d: string) =>
      spawnSync(process.execPath, [join(root, 'scripts/tally-results.mjs'), d], { encoding: 'utf8' });
    expect(tally(dir).stdout.trim()).toBe('0 1 0');
    writeFileSync(join(dir, 'node-x.json'), '{"numPassedTests": 3, "numFa');
    const r = tally(dir);
    expect(r.stdout.trim()).toBe('0 1 0');
    expect(r.stderr).toMatch(/node-x\.json is not a Jest report/);
  });
});

describe("the tests' temporary files", () => {
  it('go into one directory per run, removed at its end; a killed run’s directory is removed by the next', () => {
    const outer = mkdtempSync(join(tmpdir(), 'gr-run-tmp-'));
    const dir = mkdtempSync(join(tmpdir(), 'gr-run-tests-'));
    // What a test leaves behind: a scratch tree under os.tmpdir(), never removed by the test.
    writeFileSync(
      join(dir, 'leaves.test.cjs'),
      "const fs = require('fs'), os = require('os'), path = require('path');\n" +
        "test('leaves', () => { const d = fs.mkdtempSync(path.join(os.tmpdir(), 'scratch-')); fs.writeFileSync(path.join(d, 'f'), 'x'); expect(d.startsWith(process.env.TMPDIR)).toBe(true); });\n",
    );
    // A run killed with kill -9 (pid 2^22 + 1: above Linux's pid_max, never a live process).
    const stale = join(outer, 'gr-tests-4194305-abc123');
    mkdirSync(join(stale, 'scratch-x'), { recursive: true });
    const run = runTests(dir, 'leaves.test.cjs', { TMPDIR: outer, GR_JEST_RESULTS: join(dir, 'results') });
    expect(run.stdout).toMatch(/: 1 passed, 0 failed/);
    expect(run.status).toBe(0);
    expect(existsSync(stale)).toBe(false);
    // Only Jest's transform cache is left, where Jest keeps it by default.
    expect(readdirSync(outer)).toEqual([expect.stringMatching(/^jest_/)]);
  });
});
