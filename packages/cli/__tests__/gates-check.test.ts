import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { cli } from './run-cli.js';

const repoRoot = fileURLToPath(new URL('../../..', import.meta.url));

describe('guarded-rollout gates check', () => {
  it('prints the four seed gates with limits and worst-case detection times', async () => {
    const run = await cli(['gates', 'check', '--env', 'production'], { cwd: repoRoot });
    expect(run.code).toBe(0);
    expect(run.stdout).toContain('Quality gates for production (quality-gates-config.json): valid');
    // Sentinel checks + fast burn: every hard failure confirmed within 60 s at any onset second.
    expect(run.stdout).toMatch(
      /health\s+> 2 consecutive non-OK health checks\s+health endpoint down\s+44s \(onset T\+1s\)\s+2m29s\s+health endpoint down\s+44s\s*$/m,
    );
    expect(run.stdout).toMatch(
      /extraction_failure_rate\s+extractions_failed\/extractions_total > 5% over 10m\s+50% of events failing\s+46s .*\s+2m13s\s+6% of events failing\s+8m50s; missed from T\+51m25s/,
    );
    expect(run.stdout).toMatch(
      /p95_hash_time\s+p95 hash_duration_ms > 2000 ms over 15m\s+every request slower than 2000 ms\s+45s .*\s+2m6s\s+6% of requests slower than 2000 ms\s+13m; missed from T\+47m15s/,
    );
    expect(run.stdout).toMatch(/low_confidence_queue\s+low_confidence_queue_length > 1000 items\s+.*\s+14s /);
    expect(run.stdout).toContain(
      '- health: health that recovers at least once every 3 checks (flapping) never trips it.\n',
    );
    expect(run.stdout).toContain(
      'A hard failure starting after T+59m53s is not confirmed before the window closes.',
    );
  });

  it('prints JSON with --json', async () => {
    const run = await cli(['gates', 'check', '--env', 'staging', '--json'], { cwd: repoRoot });
    expect(run.code).toBe(0);
    const parsed = JSON.parse(run.stdout) as { environment: string; detection: unknown[] };
    expect(parsed.environment).toBe('staging');
    expect(parsed.detection).toHaveLength(4);
  });

  it('exits 2 with a path-named error for a malformed config', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'gates-'));
    copyFileSync(join(repoRoot, 'quality-gates-config.json'), join(dir, 'quality-gates-config.json'));
    const bad = JSON.parse(
      (await import('node:fs')).readFileSync(join(dir, 'quality-gates-config.json'), 'utf8'),
    ) as { environments: Record<string, unknown> };
    bad.environments.production = { gates: { p95_hash_time: { window: '15 minutes' } } };
    writeFileSync(join(dir, 'bad.json'), JSON.stringify(bad));
    const run = await cli(['gates', 'check', '--env', 'production', '--config', 'bad.json'], { cwd: dir });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'bad.json: environments.production.gates.p95_hash_time.window: "15 minutes" is not a duration; use e.g. "30s", "15m" or "1h"',
    );
  });

  it('exits 2 for an unknown environment, listing the known ones', async () => {
    const run = await cli(['gates', 'check', '--env', 'qa'], { cwd: repoRoot });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain(
      'unknown environment "qa"; this file defines: production, staging, development',
    );
  });

  it('exits 2 for a missing config file', async () => {
    const run = await cli(['gates', 'check', '--env', 'production', '--config', 'nope.json'], {
      cwd: repoRoot,
    });
    expect(run.code).toBe(2);
    expect(run.stderr).toContain('nope.json: file not found');
  });
});

describe('guarded-rollout CLI basics', () => {
  it('prints its version', async () => {
    const run = await cli(['--version']);
    expect(run.code).toBe(0);
    expect(run.stdout.trim()).toBe('0.1.0');
  });

  it('prints help listing the runbook commands', async () => {
    const run = await cli(['--help']);
    expect(run.code).toBe(0);
    for (const command of [
      'backup',
      'latest-backup',
      'rollback',
      'migrate',
      'deploy',
      'monitor',
      'smoke',
      'validate-logging',
      'notify',
      'verify-artifacts',
      'pr-check',
      'gates',
      'quick-deploy',
    ]) {
      expect(run.stdout).toMatch(new RegExp(`^  ${command}\\b`, 'm'));
    }
  });

  it('exits 2 on an unknown command or a missing required option', async () => {
    expect((await cli(['launch'])).code).toBe(2);
    const run = await cli(['gates', 'check']);
    expect(run.code).toBe(2);
    expect(run.stderr).toContain("required option '--env <env>' not specified");
  });

  it('keeps TOOL_VERSION equal to the root package version', async () => {
    const { TOOL_VERSION } = await import('@guarded-rollout/config');
    const pkg = JSON.parse(
      (await import('node:fs')).readFileSync(join(repoRoot, 'package.json'), 'utf8'),
    ) as { version: string };
    expect(TOOL_VERSION).toBe(pkg.version);
  });
});
