// Real artifact directories for tests: evidence logs written by the evidence package, backups
// zipped by the `zip` tool with a manifest, and a sha256sum-format checksum beside each.
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvidenceLog } from '@guarded-rollout/evidence';

export const LOGS: [string, string][] = [
  ['deploy-dryrun.log', 'deploy-dryrun'],
  ['migrate-dryrun.log', 'migrate-dryrun'],
  ['backup-dryrun.log', 'backup-dryrun'],
  ['rollback-dryrun.log', 'rollback-dryrun'],
  ['postdeploy-smoketests.log', 'smoke'],
  ['test_logging.log', 'logging-validation'],
];

const created: string[] = [];
/** A fresh temporary directory, removed by cleanupFixtures(). */
export function tempDir(prefix: string): string {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  created.push(dir);
  return dir;
}
export function cleanupFixtures(): void {
  for (const dir of created.splice(0)) rmSync(dir, { recursive: true, force: true });
}

const now = () => new Date('2026-11-23T10:00:00Z');

export function writeLog(dir: string, file: string, kind: string, status: 'pass' | 'fail' = 'pass'): void {
  const log = new EvidenceLog(join(dir, file), {
    kind,
    environment: 'staging',
    tool: 'guarded-rollout test',
    now,
  });
  log.line('doing the work', 'still fine');
  log.finish(status, status === 'pass' ? 'all good' : 'it broke');
}

export const BACKUP = 'dhash_production_20261123T100000Z.zip';

export function writeBackup(dir: string, name = BACKUP, options: { manifest?: boolean } = {}): string {
  const backups = join(dir, 'backups');
  const staging = tempDir('backup-src-');
  mkdirSync(backups, { recursive: true });
  writeFileSync(join(staging, 'data.json'), JSON.stringify({ hashes: [1, 2, 3] }));
  const files = ['data.json'];
  if (options.manifest !== false) {
    writeFileSync(
      join(staging, 'manifest.json'),
      JSON.stringify({ environment: 'production', version: '1.2.3', files: [{ path: 'data.json' }] }),
    );
    files.push('manifest.json');
  }
  execFileSync('zip', ['-q', '-X', join(backups, name), ...files], { cwd: staging });
  const hex = createHash('sha256')
    .update(readFileSync(join(backups, name)))
    .digest('hex');
  // Named relative to the repository root, so the runbook's `sha256sum -c` works from there.
  writeFileSync(join(backups, `${name}.sha256`), `${hex}  backups/${name}\n`);
  return join(backups, name);
}

/** A complete, passing artifact set. */
export function goodArtifactDir(): string {
  const dir = tempDir('artifacts-');
  for (const [file, kind] of LOGS) writeLog(dir, file, kind);
  writeBackup(dir);
  mkdirSync(join(dir, 'premerge_artifacts'));
  writeFileSync(join(dir, 'premerge_artifacts', 'junit.xml'), '<testsuites/>');
  return dir;
}
