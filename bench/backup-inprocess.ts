// In-process timing for bench/backup.mjs: one library call (no CLI start-up), bundled by the bench
// into its scratch directory with ncc. Prints {"ms": N} on stdout.
import {
  createBackup,
  holdYoungGeneration,
  restoreBackup,
  verifyBackup,
} from '../packages/archive/src/index.js';

const [task, a, b] = process.argv.slice(2);
// The same process policy as the commands that read backups (CLI verify-backup and rollback,
// the rollback action); a backup process does not hold (see heapguard.ts).
if (task !== 'backup') holdYoungGeneration();
const t0 = performance.now();
if (task === 'backup') {
  await createBackup({ environment: 'bench', paths: [a!], outDir: b! });
} else if (task === 'verify') {
  await verifyBackup(a!, { deep: false });
} else if (task === 'verify-deep') {
  await verifyBackup(a!);
} else if (task === 'restore') {
  const r = await restoreBackup({ environment: 'bench', backupPath: a!, target: b!, logDir: '.' });
  if (r.status !== 'succeeded' && r.status !== 'restored-unverified') throw new Error(r.message);
} else {
  throw new Error(`unknown task ${task}`);
}
process.stdout.write(`${JSON.stringify({ ms: performance.now() - t0 })}\n`);
