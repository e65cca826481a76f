// Real artifact directories for tests: evidence logs written by the evidence package, backups
// written by the archive package (zip + manifest + sha256sum-format checksum beside each).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '@guarded-rollout/archive';
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

export function writeLog(
  dir: string,
  file: string,
  kind: string,
  status: 'pass' | 'fail' = 'pass',
  environment = 'production',
): void {
  const log = new EvidenceLog(join(dir, file), {
    kind,
    environment,
    tool: 'guarded-rollout test',
    now,
  });
  log.line('doing the work', 'still fine');
  log.finish(status, status === 'pass' ? 'all good' : 'it broke');
}

export const BACKUP = 'dhash_production_20261123T100000Z.zip';

/** Writes backups/dhash_<env>_<time>.zip(+.sha256) under `dir`, named relative to `dir`. */
export async function writeBackup(dir: string, at = '2026-11-23T10:00:00Z'): Promise<string> {
  const source = tempDir('backup-src-');
  writeFileSync(join(source, 'data.json'), JSON.stringify({ hashes: [1, 2, 3] }));
  const result = await createBackup({
    environment: 'production',
    paths: ['data.json'],
    baseDir: source,
    outDir: join(dir, 'backups'),
    cwd: dir,
    now: () => new Date(at),
  });
  return result.backupPath;
}

/** A complete, passing artifact set. */
export async function goodArtifactDir(): Promise<string> {
  const dir = tempDir('artifacts-');
  for (const [file, kind] of LOGS) writeLog(dir, file, kind);
  await writeBackup(dir);
  mkdirSync(join(dir, 'premerge_artifacts'));
  writeFileSync(join(dir, 'premerge_artifacts', 'junit.xml'), '<testsuites/>');
  return dir;
}
