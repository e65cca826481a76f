// `guarded-rollout verify-artifacts [dir] [--manifest FILE]`: checks a directory (workspace or a
// downloaded artifact bundle) against the required-artifact manifest; exit 1 when anything
// required is missing, empty, failed or unverifiable.
import { resolve } from 'node:path';
import type { Command } from 'commander';
import { defaultArtifactManifest, loadArtifactManifest, verifyArtifacts } from '@guarded-rollout/premerge';
import type { CliContext } from '../context.js';
import { renderTable } from '../table.js';

export function registerVerifyArtifacts(program: Command, ctx: CliContext): void {
  program
    .command('verify-artifacts')
    .description(
      'check a directory against the required pre-merge artifacts (backups + sha256, evidence logs, bundles)',
    )
    .argument('[dir]', 'directory to check (workspace or downloaded artifact bundle)', '.')
    .option(
      '--manifest <file>',
      'manifest of required artifacts (JSON or YAML); default: the PR template list',
    )
    .option('--json', 'print the report as JSON')
    .action(async (dir: string, options: { manifest?: string; json?: boolean }) => {
      const directory = resolve(ctx.cwd, dir);
      const manifest = options.manifest
        ? loadArtifactManifest(resolve(ctx.cwd, options.manifest))
        : defaultArtifactManifest();
      const report = await verifyArtifacts({ directory, manifest });
      if (options.json) ctx.stdout(`${JSON.stringify(report, null, 2)}\n`);
      else {
        const icon = (ok: boolean, required: boolean, status: string): string =>
          ok ? 'ok' : required ? 'FAIL' : status === 'missing' ? '-' : 'warn';
        ctx.stdout(
          renderTable(
            ['', 'artifact', 'required', 'status', 'why'],
            report.checks.map((c) => [
              icon(c.status === 'ok', c.required, c.status),
              c.name,
              c.required ? 'yes' : 'no',
              c.status,
              c.reason,
            ]),
          ),
        );
      }
      if (!report.ok) {
        ctx.stderr(
          `verify-artifacts: ${report.missing.length} required artifact(s) missing or failing: ${report.missing.join(', ')}\n`,
        );
        ctx.exitCode = 1;
      }
    });
}
