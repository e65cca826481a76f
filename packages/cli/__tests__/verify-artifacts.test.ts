import { rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { cleanupFixtures, goodArtifactDir } from '../../premerge/__tests__/artifact-fixtures.js';
import { cli } from './run-cli.js';

afterAll(cleanupFixtures);

describe('guarded-rollout verify-artifacts', () => {
  it('exits 0 on a complete set and prints one row per artifact', async () => {
    const dir = await goodArtifactDir();
    const run = await cli(['verify-artifacts', dir]);
    expect(run.code).toBe(0);
    expect(run.stdout).toMatch(/ok\s+deploy-dryrun\.log\s+yes\s+ok/);
    expect(run.stdout).toMatch(/-\s+monitor_logs\/\s+no\s+missing/);
  });

  it('exits 1 and names what is missing', async () => {
    const dir = await goodArtifactDir();
    rmSync(join(dir, 'backup-dryrun.log'));
    const run = await cli(['verify-artifacts', '--json'], { cwd: dir });
    expect(run.code).toBe(1);
    expect(JSON.parse(run.stdout).missing).toEqual(['backup-dryrun.log']);
    expect(run.stderr).toMatch(/1 required artifact\(s\) missing or failing: backup-dryrun.log/);
  });

  it('exits 2 on a malformed manifest, naming file, path and value', async () => {
    const dir = await goodArtifactDir();
    writeFileSync(join(dir, 'm.yml'), 'artifacts:\n  - name: x\n    type: zipfile\n    path: x\n');
    const run = await cli(['verify-artifacts', dir, '--manifest', join(dir, 'm.yml')]);
    expect(run.code).toBe(2);
    expect(run.stderr).toMatch(/m\.yml: artifacts\[0\]\.type: "zipfile" is not one of/);
  });
});
