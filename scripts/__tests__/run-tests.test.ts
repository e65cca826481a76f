// The test runner's closing line and CI's tally when Jest itself dies: a native abort takes an
// in-band Jest run down before it writes its report. That run must count as a failure in the
// closing `N passed, N failed` line, not vanish from it.
import { describe, it, expect } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = fileURLToPath(new URL('../..', import.meta.url));

describe('a Jest run that crashes', () => {
  it('is reported as "0 passed, 1 failed" and tallied as a failure', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gr-run-tests-'));
    writeFileSync(join(dir, 'crash.test.cjs'), "test('aborts', () => { process.abort(); });\n");
    const results = join(dir, 'results');
    const run = spawnSync(
      process.execPath,
      [
        join(root, 'scripts/run-tests.mjs'),
        '--rootDir',
        dir,
        '--config',
        JSON.stringify({ testMatch: ['**/crash.test.cjs'], transform: {} }),
      ],
      { cwd: root, encoding: 'utf8', env: { ...process.env, GR_JEST_RESULTS: results }, timeout: 60_000 },
    );
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
