import { execFileSync, spawnSync } from 'node:child_process';
import { appendFileSync, mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from '@jest/globals';
import {
  defaultArtifactManifest,
  loadArtifactManifest,
  manifestFromValue,
} from '../src/artifact-manifest.js';
import { checkBackup } from '../src/backup-check.js';
import { renderArtifactReport, verifyArtifacts, type ArtifactReport } from '../src/verify-artifacts.js';
import {
  BACKUP,
  cleanupFixtures,
  goodArtifactDir,
  tempDir,
  writeBackup,
  writeLog,
} from './artifact-fixtures.js';

afterAll(cleanupFixtures);

const verify = (directory: string) => verifyArtifacts({ directory, manifest: defaultArtifactManifest() });
const checkOf = (report: ArtifactReport, name: string) => report.checks.find((c) => c.name === name)!;

describe('verify-artifacts on real directories', () => {
  it('accepts a complete, passing set (and sha256sum -c and unzip -t agree)', async () => {
    const dir = await goodArtifactDir();
    const report = await verify(dir);
    expect(report.missing).toEqual([]);
    expect(report.ok).toBe(true);
    expect(checkOf(report, 'backups/*.zip').reason).toMatch(
      /sha256 verified, manifest readable \(production, 1 files, 18 bytes\), every entry checked/,
    );
    expect(checkOf(report, 'monitor_logs/')).toMatchObject({ status: 'missing', required: false });
    expect(renderArtifactReport(report)).toMatch(
      /\| ➖ \| `monitor_logs\/` \| no \(if available\) \| missing/,
    );
    const sums = spawnSync('sha256sum', ['-c', `backups/${BACKUP}.sha256`], { cwd: dir, encoding: 'utf8' });
    expect(sums.status).toBe(0);
    expect(spawnSync('unzip', ['-t', `backups/${BACKUP}`], { cwd: dir }).status).toBe(0);
  });

  it('finds the logs inside a downloaded premerge_artifacts/ bundle too', async () => {
    const dir = await goodArtifactDir();
    rmSync(join(dir, 'deploy-dryrun.log'));
    writeLog(join(dir, 'premerge_artifacts'), 'deploy-dryrun.log', 'deploy-dryrun');
    expect((await verify(dir)).ok).toBe(true);
  });

  it('reports a missing log as missing', async () => {
    const dir = await goodArtifactDir();
    rmSync(join(dir, 'migrate-dryrun.log'));
    const report = await verify(dir);
    expect(report.missing).toEqual(['migrate-dryrun.log']);
    expect(checkOf(report, 'migrate-dryrun.log')).toMatchObject({ status: 'missing' });
    expect(renderArtifactReport(report)).toMatch(
      /\| ❌ \| `migrate-dryrun.log` \| yes \| missing \| not found/,
    );
  });

  it('reports a failed log as failed, not present', async () => {
    const dir = await goodArtifactDir();
    writeLog(dir, 'rollback-dryrun.log', 'rollback-dryrun', 'fail');
    const report = await verify(dir);
    expect(report.missing).toEqual(['rollback-dryrun.log']);
    expect(checkOf(report, 'rollback-dryrun.log')).toMatchObject({ status: 'failed' });
    expect(checkOf(report, 'rollback-dryrun.log').reason).toMatch(/failed: it broke/);
  });

  it('reports an empty log as empty', async () => {
    const dir = await goodArtifactDir();
    writeFileSync(join(dir, 'test_logging.log'), '');
    expect(checkOf(await verify(dir), 'test_logging.log')).toMatchObject({ status: 'empty' });
  });

  it.each<[string, (dir: string) => string | undefined, RegExp]>([
    [
      'a bare result line without our header',
      () =>
        `GUARDED-ROLLOUT-RESULT {"status":"pass","kind":"deploy-dryrun","finished_at":"2026-11-23T10:00:00Z","summary":"ok"}\n`,
      /does not start with the header/,
    ],
    [
      'a forged pass appended after a failure',
      (dir) => {
        writeLog(dir, 'deploy-dryrun.log', 'deploy-dryrun', 'fail');
        appendFileSync(
          join(dir, 'deploy-dryrun.log'),
          'GUARDED-ROLLOUT-RESULT {"status":"pass","kind":"deploy-dryrun","finished_at":"x","summary":"ok"}\n',
        );
        return undefined;
      },
      /2 result lines/,
    ],
    [
      'a log of another kind renamed',
      (dir) => {
        writeLog(dir, 'deploy-dryrun.log', 'rollback-dryrun');
        return undefined;
      },
      /is a "rollback-dryrun" log, expected "deploy-dryrun"/,
    ],
    [
      'a log cut off before its result',
      (dir) => {
        writeLog(dir, 'deploy-dryrun.log', 'deploy-dryrun');
        const text = readFileSync(join(dir, 'deploy-dryrun.log'), 'utf8');
        return text
          .split('\n')
          .filter((l) => !l.startsWith('GUARDED-ROLLOUT-RESULT'))
          .join('\n');
      },
      /no result line/,
    ],
  ])('does not trust %s', async (_name, make, reason) => {
    const dir = await goodArtifactDir();
    const text = make(dir);
    if (text !== undefined) writeFileSync(join(dir, 'deploy-dryrun.log'), text);
    const report = await verify(dir);
    expect(checkOf(report, 'deploy-dryrun.log').status).toBe('untrusted');
    expect(checkOf(report, 'deploy-dryrun.log').reason).toMatch(reason);
    expect(report.missing).toContain('deploy-dryrun.log');
  });

  it('refuses a backup whose bytes no longer match its .sha256 (sha256sum -c agrees)', async () => {
    const dir = await goodArtifactDir();
    appendFileSync(join(dir, 'backups', BACKUP), Buffer.from('tampered'));
    const report = await verify(dir);
    expect(checkOf(report, 'backups/*.zip')).toMatchObject({ status: 'invalid' });
    expect(checkOf(report, 'backups/*.zip').reason).toMatch(/checksum mismatch/);
    expect(spawnSync('sha256sum', ['-c', `backups/${BACKUP}.sha256`], { cwd: dir }).status).not.toBe(0);
  });

  it('refuses a backup without its .sha256, with a malformed one, or without a manifest', async () => {
    const dir = await goodArtifactDir();
    const sum = join(dir, 'backups', `${BACKUP}.sha256`);
    rmSync(sum);
    expect(checkOf(await verify(dir), 'backups/*.zip')).toMatchObject({ status: 'invalid' });
    expect(checkOf(await verify(dir), 'backups/*.zip').reason).toMatch(/\.sha256/);
    writeFileSync(sum, 'not a checksum\n');
    expect(checkOf(await verify(dir), 'backups/*.zip').reason).toMatch(new RegExp(`${BACKUP}: .*sha256`));
    // A zip that is not one of our backups (no manifest), with a correct checksum beside it.
    const plain = join(tempDir('plain-'), 'backups');
    mkdirSync(plain);
    writeFileSync(join(plain, 'data.txt'), 'x');
    execFileSync('zip', ['-q', 'dhash_staging_20261123T100000Z.zip', 'data.txt'], { cwd: plain });
    execFileSync(
      'sh',
      ['-c', 'sha256sum dhash_staging_20261123T100000Z.zip > dhash_staging_20261123T100000Z.zip.sha256'],
      { cwd: plain },
    );
    const verdict = await checkBackup(join(plain, 'dhash_staging_20261123T100000Z.zip'));
    expect(verdict.ok).toBe(false);
    expect(verdict.reason).toMatch(/manifest/);
  });

  it('checks every backup zip, and reports a directory without any', async () => {
    const dir = await goodArtifactDir();
    await writeBackup(dir, '2026-11-24T10:00:00Z');
    expect(checkOf(await verify(dir), 'backups/*.zip').reason).toMatch(/^2 backups verified/);
    rmSync(join(dir, 'backups'), { recursive: true });
    expect(checkOf(await verify(dir), 'backups/*.zip')).toMatchObject({ status: 'missing' });
  });

  it('requires premerge_artifacts/ to be non-empty, and monitor_logs/ only if present', async () => {
    const dir = await goodArtifactDir();
    rmSync(join(dir, 'premerge_artifacts', 'junit.xml'));
    mkdirSync(join(dir, 'monitor_logs'));
    writeFileSync(join(dir, 'monitor_logs', 'summary.json'), '{}');
    const report = await verify(dir);
    expect(checkOf(report, 'premerge_artifacts/')).toMatchObject({ status: 'empty' });
    expect(checkOf(report, 'monitor_logs/')).toMatchObject({ status: 'ok' });
    expect(report.missing).toEqual(['premerge_artifacts/']);
  });
});

describe('artifact manifest', () => {
  const write = (name: string, text: string): string => {
    const dir = tempDir('manifest-');
    writeLog(dir, 'deploy-dryrun.log', 'deploy-dryrun');
    writeFileSync(join(dir, name), text);
    return join(dir, name);
  };

  it('loads a YAML manifest and applies it', async () => {
    const file = write(
      'manifest.yml',
      'artifacts:\n  - name: deploy\n    type: evidence-log\n    path: deploy-dryrun.log\n  - name: extra\n    type: file\n    path: [missing.txt]\n',
    );
    const manifest = loadArtifactManifest(file);
    const report = await verifyArtifacts({ directory: join(file, '..'), manifest });
    expect(report.missing).toEqual(['extra']);
  });

  it.each([
    ['manifest.json', '{"artifacts": [', /manifest.json: is not valid JSON/],
    ['manifest.yml', 'artifacts: [\n', /manifest.yml: is not valid YAML/],
    [
      'manifest.yml',
      'artifacts:\n  - name: x\n    type: tarball\n    path: x\n',
      /artifacts\[0\]\.type: "tarball" is not one of "backup", "evidence-log", "directory", "file"/,
    ],
    [
      'manifest.yml',
      'artifacts:\n  - name: x\n    type: file\n    path: ../../etc/passwd\n',
      /artifacts\[0\]\.path: "\.\.\/\.\.\/etc\/passwd"/,
    ],
    [
      'manifest.yml',
      'artifacts:\n  - name: x\n    type: file\n    path: "*/x.log"\n',
      /artifacts\[0\]\.path: "\*\/x\.log" has a wildcard outside the last path segment/,
    ],
    [
      'manifest.yml',
      'artifacts:\n  - name: x\n    type: file\n',
      /artifacts\[0\]: missing required field "path"/,
    ],
    ['manifest.yml', 'artefacts: []\n', /artefacts: unknown field/],
  ])('rejects a malformed %s with path and value', (name, text, error) => {
    expect(() => loadArtifactManifest(write(name, text))).toThrow(error);
  });

  it('names a manifest file that does not exist', async () => {
    expect(() => loadArtifactManifest('/nonexistent/manifest.yml')).toThrow(
      /\/nonexistent\/manifest.yml: manifest file not found/,
    );
  });

  it('rejects duplicate names', async () => {
    expect(() =>
      manifestFromValue(
        {
          artifacts: [
            { name: 'a', type: 'file', path: 'a' },
            { name: 'a', type: 'file', path: 'b' },
          ],
        },
        'm.yml',
      ),
    ).toThrow(/"a" is listed twice/);
  });
});
