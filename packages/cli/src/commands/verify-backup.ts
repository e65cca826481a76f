// `guarded-rollout verify-backup`: checks a backup without restoring it. Its own module, apart from
// backup.ts, because it needs no settings: importing settings.ts (octokit, the deploy package,
// ajv) cost about 40 ms of a 0.3 s verify of 20,000 files. It imports the archive package's
// `verify` entry, not its index: the index loads the backup walk (tinyglobby), the evidence log
// and, through the health checks, the config schemas (ajv): 875 KB of bundle chunks against 300
// KB, 20-30 ms of every verify (Node 20, 30 runs of each build interleaved: 20,000 files, median
// 275 -> 257 ms; a one-file backup, 155 -> 124 ms).
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { formatBytes, holdYoungGeneration, verifyBackup } from '@guarded-rollout/archive/verify';
import type { CliContext } from '../context.js';

export function registerVerifyBackup(program: Command, ctx: CliContext): void {
  program
    .command('verify-backup')
    .description(
      'check a backup without restoring it: .sha256, manifest, entry safety, and (unless --quick) every CRC-32 and SHA256',
    )
    .argument('<zip>', 'the backup zip (its .sha256 must sit beside it)')
    .option('--quick', 'skip inflating entries: checksum, central directory, manifest and entry safety only')
    .action(async (zip: string, flags: { quick?: boolean }) => {
      holdYoungGeneration(); // this process reads a backup's tables: ~30 MiB less at peak
      const result = await verifyBackup(resolve(ctx.cwd, zip), { deep: !flags.quick });
      const m = result.manifest;
      ctx.stdout(
        `${zip}: OK (${flags.quick ? 'checksum, manifest and entry safety' : 'checksum, manifest, entry safety, every CRC-32 and SHA256'}); environment ${m.environment}, created ${m.createdAt}, ${result.plan.files} files, ${formatBytes(result.plan.totalBytes)}\n`,
      );
    });
}
