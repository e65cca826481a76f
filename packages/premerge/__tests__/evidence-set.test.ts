// verify-artifacts judges one evidence set (issue 15): every log and backup of one environment and
// one commit, no log older than the backup it refers to; a directory that is not there is a usage
// error, not a table of missing files.
import { mkdirSync, rmSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import { ConfigError } from '@guarded-rollout/config';
import { EvidenceLog } from '@guarded-rollout/evidence';
import { defaultArtifactManifest } from '../src/artifact-manifest.js';
import { verifyArtifacts, type ArtifactReport } from '../src/verify-artifacts.js';
import { BACKUP, cleanupFixtures, goodArtifactDir, writeLog } from './artifact-fixtures.js';

afterAll(cleanupFixtures);

const verify = (directory: string) => verifyArtifacts({ directory, manifest: defaultArtifactManifest() });
const set = (report: ArtifactReport) => report.checks.find((c) => c.name === 'one evidence set')!;

function log(dir: string, file: string, kind: string, at: string, details: Record<string, unknown>): void {
  const l = new EvidenceLog(join(dir, file), { kind, environment: 'production', now: () => new Date(at) });
  l.finish('pass', 'ok', details);
}

describe('one evidence set', () => {
  it('a consistent set passes and says what agreed', async () => {
    const report = await verify(await goodArtifactDir());
    expect(report.ok).toBe(true);
    expect(set(report)).toMatchObject({ status: 'ok', required: true });
    expect(set(report).reason).toMatch(/7 logs and backups agree: environment production/);
  });

  it('logs of "prod", "production" and a bundle\'s staging log are a failure naming the files', async () => {
    const dir = await goodArtifactDir();
    writeLog(dir, 'migrate-dryrun.log', 'migrate-dryrun', 'pass', 'prod');
    rmSync(join(dir, 'deploy-dryrun.log'));
    mkdirSync(join(dir, 'premerge_artifacts'), { recursive: true });
    writeLog(join(dir, 'premerge_artifacts'), 'deploy-dryrun.log', 'deploy-dryrun', 'pass', 'staging');
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(report.missing).toEqual(['one evidence set']);
    const reason = set(report).reason;
    expect(reason).toMatch(/^environments differ: /);
    expect(reason).toMatch(/production \([^)]*backup-dryrun\.log[^)]*\)/);
    expect(reason).toContain('prod (migrate-dryrun.log)');
    expect(reason).toContain('staging (premerge_artifacts/deploy-dryrun.log)');
  });

  it('two commits are a failure; a short and a full SHA of one commit agree', async () => {
    const dir = await goodArtifactDir();
    log(dir, 'deploy-dryrun.log', 'deploy-dryrun', '2026-11-23T10:05:00Z', { ref: 'a1b2c3d' });
    log(dir, 'migrate-dryrun.log', 'migrate-dryrun', '2026-11-23T10:05:00Z', { ref: 'a1b2c3d4e5f60718293a' });
    expect((await verify(dir)).ok).toBe(true);
    log(dir, 'migrate-dryrun.log', 'migrate-dryrun', '2026-11-23T10:05:00Z', { ref: 'ffff000' });
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(set(report).reason).toMatch(
      /commits differ: a1b2c3d \(deploy-dryrun\.log\); .*ffff000 \(migrate-dryrun\.log\)/,
    );
  });

  it('a log older than the backup it refers to is a failure', async () => {
    const dir = await goodArtifactDir(); // the backup was created at 10:00
    log(dir, 'rollback-dryrun.log', 'rollback-dryrun', '2026-11-23T09:00:00Z', {
      restored_from: join(dir, 'backups', BACKUP),
    });
    const report = await verify(dir);
    expect(report.ok).toBe(false);
    expect(set(report).reason).toMatch(
      /rollback-dryrun\.log \(started 2026-11-23T09:00:00\.000Z\) is older than the backup it refers to, backups\/dhash_production_20261123T100000Z\.zip/,
    );
  });

  it('a directory that does not exist (or is a file) is a usage error', async () => {
    await expect(verify('/nonexistent/evidence')).rejects.toThrow(ConfigError);
    await expect(verify('/nonexistent/evidence')).rejects.toThrow(
      /\/nonexistent\/evidence does not exist; give the directory/,
    );
    const dir = await goodArtifactDir();
    await expect(verify(join(dir, 'backups', BACKUP))).rejects.toThrow(/is not a directory/);
  });
});
