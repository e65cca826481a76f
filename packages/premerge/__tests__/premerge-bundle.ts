// The premerge_artifacts bundle as premerge.yml uploads it: the evidence logs written by the
// evidence package with the head commit stamped (GUARDED_ROLLOUT_EVIDENCE_COMMIT), a verified
// backup + .sha256 written by the archive package, monitor_logs/, zipped by the real `zip` the way
// upload-artifact stores the directory's contents at the zip's root.
import { execFileSync } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { createBackup } from '@guarded-rollout/archive';
import { EvidenceLog } from '@guarded-rollout/evidence';

export const BUNDLE_LOGS: [string, string][] = [
  ['deploy-dryrun.log', 'deploy-dryrun'],
  ['migrate-dryrun.log', 'migrate-dryrun'],
  ['backup-dryrun.log', 'backup-dryrun'],
  ['rollback-dryrun.log', 'rollback-dryrun'],
  ['postdeploy-smoketests.log', 'smoke'],
  ['test_logging.log', 'logging-validation'],
];

export interface BundleOptions {
  environment?: string;
  commit: string;
  /** Logs whose result line says fail. */
  failing?: string[];
  /** Files left out of the bundle. */
  omit?: string[];
  /** Per-log commit overrides (evidence of another commit). */
  commits?: Record<string, string | undefined>;
  /** Stamp the commit the way premerge.yml does: GUARDED_ROLLOUT_EVIDENCE_COMMIT in the environment. */
  viaEnv?: boolean;
  /** Flip a byte of the backup zip after its .sha256 was written. */
  corruptBackup?: boolean;
}

const cache = new Map<string, Buffer>();

export async function premergeBundle(options: BundleOptions): Promise<Buffer> {
  const key = JSON.stringify(options);
  const hit = cache.get(key);
  if (hit) return hit;
  const environment = options.environment ?? 'staging';
  const root = mkdtempSync(join(tmpdir(), 'premerge-bundle-'));
  try {
    const dir = join(root, 'premerge_artifacts');
    mkdirSync(dir);
    const now = () => new Date('2026-11-23T10:05:00Z');
    for (const [file, kind] of BUNDLE_LOGS) {
      if (options.omit?.includes(file)) continue;
      const commit = file in (options.commits ?? {}) ? options.commits![file] : options.commit;
      const saved = process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT;
      if (options.viaEnv && commit) process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT = commit;
      else delete process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT;
      const log = new EvidenceLog(join(dir, file), {
        kind,
        environment,
        tool: 'guarded-rollout test',
        ...(commit && !options.viaEnv ? { commit } : {}),
        now,
      });
      if (saved === undefined) delete process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT;
      else process.env.GUARDED_ROLLOUT_EVIDENCE_COMMIT = saved;
      log.line('doing the work');
      const failing = options.failing?.includes(file);
      log.finish(failing ? 'fail' : 'pass', failing ? 'step failed: exit 1' : 'all good');
    }
    if (!options.omit?.includes('backups')) {
      const source = join(root, 'src');
      mkdirSync(source);
      writeFileSync(join(source, 'data.json'), JSON.stringify({ hashes: [1, 2, 3] }));
      const result = await createBackup({
        environment,
        paths: ['data.json'],
        baseDir: source,
        outDir: join(dir, 'backups'),
        cwd: dir,
        now: () => new Date('2026-11-23T10:01:00Z'),
      });
      if (options.corruptBackup) {
        const bytes = readFileSync(result.backupPath);
        bytes[Math.floor(bytes.length / 2)]! ^= 0xff;
        writeFileSync(result.backupPath, bytes);
      }
    }
    if (!options.omit?.includes('monitor_logs')) {
      mkdirSync(join(dir, 'monitor_logs'));
      writeFileSync(join(dir, 'monitor_logs', 'summary.json'), '{"result":"passed"}\n');
    }
    execFileSync('zip', ['-q', '-r', join(root, 'bundle.zip'), '.'], { cwd: dir });
    const zip = readFileSync(join(root, 'bundle.zip'));
    cache.set(key, zip);
    return zip;
  } finally {
    rmSync(root, { recursive: true, force: true });
  }
}
