// The composite's own decisions are the bash steps of action.yml (plan, rollback decision, outcome).
// They are run here exactly as written, with the environment the runner would give them, over the
// table of situations an operator cares about.
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';

const actionYml = fileURLToPath(new URL('../action.yml', import.meta.url));
const steps = (
  parse(readFileSync(actionYml, 'utf8')) as {
    runs: { steps: Array<{ id?: string; run?: string; shell?: string }> };
  }
).runs.steps;

function script(id: string): string {
  const step = steps.find((s) => s.id === id);
  if (!step?.run) throw new Error(`no run: step "${id}" in action.yml`);
  expect(step.shell).toBe('bash');
  return step.run;
}

/** Runs a step's script like the runner: bash, the step's env, GITHUB_OUTPUT / GITHUB_STEP_SUMMARY files. */
function runStep(id: string, env: Record<string, string>) {
  const dir = mkdtempSync(join(tmpdir(), 'guarded-deploy-'));
  const output = join(dir, 'output');
  const summary = join(dir, 'summary');
  writeFileSync(output, '');
  writeFileSync(summary, '');
  const run = spawnSync('bash', ['--noprofile', '--norc', '-e', '-o', 'pipefail', '-c', script(id)], {
    env: { PATH: process.env.PATH, GITHUB_OUTPUT: output, GITHUB_STEP_SUMMARY: summary, ...env },
    encoding: 'utf8',
  });
  const outputs = Object.fromEntries(
    readFileSync(output, 'utf8')
      .split('\n')
      .filter(Boolean)
      .map((l) => [l.slice(0, l.indexOf('=')), l.slice(l.indexOf('=') + 1)]),
  );
  return { status: run.status, stdout: run.stdout, outputs, summary: readFileSync(summary, 'utf8') };
}

describe('plan', () => {
  const plan = (env: Record<string, string>) =>
    runStep('plan', {
      ENVIRONMENT: 'production',
      DEPLOYMENT_TYPE: 'standard',
      SKIP_BACKUP: 'false',
      DRY_RUN: 'false',
      ...env,
    });

  it('takes a backup for a normal production deploy', () => {
    expect(plan({})).toMatchObject({ status: 0, outputs: { backup: 'true' } });
  });

  it('refuses skip-backup for production with exit 2 and says why', () => {
    const run = plan({ SKIP_BACKUP: 'true' });
    expect(run.status).toBe(2);
    expect(run.stdout).toContain('::error::guarded-deploy: skip-backup is refused for production');
  });

  it('allows skip-backup for staging', () => {
    expect(plan({ ENVIRONMENT: 'staging', SKIP_BACKUP: 'true' })).toMatchObject({
      status: 0,
      outputs: { backup: 'false' },
    });
  });

  it('refuses an unknown deployment type, naming the valid ones', () => {
    const run = plan({ DEPLOYMENT_TYPE: 'yolo' });
    expect(run.status).toBe(2);
    expect(run.stdout).toContain('deployment-type "yolo" is not one of standard, hotfix, rollback');
  });
});

describe('rollback decision', () => {
  const base = {
    AUTO_ROLLBACK: 'true',
    DRY_RUN: 'false',
    MIGRATION_SAFETY: 'reversible',
    BACKUP_PATH: 'backups/dhash_production_20261123T120000Z.zip',
    DEPLOY_OUTCOME: 'success',
    MONITOR_OUTCOME: 'success',
    ROLLBACK_REQUIRED: 'false',
  };
  it.each([
    ['healthy release', 'false', 'false', {}],
    ['violated gate', 'true', 'true', { ROLLBACK_REQUIRED: 'true' }],
    ['failed deploy or smoke test', 'true', 'true', { DEPLOY_OUTCOME: 'failure', MONITOR_OUTCOME: '' }],
    ['monitor crashed (fails closed)', 'true', 'true', { MONITOR_OUTCOME: 'failure' }],
    [
      'violation with auto-rollback off',
      'true',
      'false',
      { ROLLBACK_REQUIRED: 'true', AUTO_ROLLBACK: 'false' },
    ],
    [
      'violation after an irreversible migration',
      'true',
      'false',
      { ROLLBACK_REQUIRED: 'true', MIGRATION_SAFETY: 'irreversible' },
    ],
    ['violation without a backup', 'true', 'false', { ROLLBACK_REQUIRED: 'true', BACKUP_PATH: '' }],
    ['failed dry-run', 'true', 'false', { DEPLOY_OUTCOME: 'failure', DRY_RUN: 'true' }],
  ])('%s → needed %s, run %s', (_case, needed, run, over) => {
    const result = runStep('rollback-decision', { ...base, ...over });
    expect(result.outputs).toEqual({ needed, run });
    if (needed === 'true' && run === 'false')
      expect(result.stdout).toContain('::warning::guarded-deploy: rollback needed but not run');
  });
});

describe('outcome', () => {
  const base = {
    DRY_RUN: 'false',
    PLAN_OUTCOME: 'success',
    BACKUP_OUTCOME: 'success',
    DEPLOY_OUTCOME: 'success',
    NEEDED: 'false',
    ROLLBACK_OUTCOME: '',
  };
  it.each([
    ['healthy release', 'succeeded', 'deploy-succeeded', {}],
    ['dry-run', 'dry-run', 'deploy-succeeded', { DRY_RUN: 'true' }],
    [
      'violation, rollback verified',
      'rolled-back',
      'rollback-succeeded',
      { NEEDED: 'true', ROLLBACK_OUTCOME: 'success' },
    ],
    [
      'violation, rollback failed',
      'rollback-failed',
      'rollback-failed',
      { NEEDED: 'true', ROLLBACK_OUTCOME: 'failure' },
    ],
    [
      'violation, no rollback possible',
      'failed',
      'deploy-failed',
      { NEEDED: 'true', ROLLBACK_OUTCOME: 'skipped' },
    ],
    [
      'backup failed (nothing deployed)',
      'failed',
      'deploy-failed',
      { BACKUP_OUTCOME: 'failure', DEPLOY_OUTCOME: 'skipped' },
    ],
    ['refused by the plan', 'refused', 'deploy-failed', { PLAN_OUTCOME: 'failure' }],
  ])('%s → %s, notifies %s', (_case, result, event, over) => {
    const run = runStep('outcome', { ...base, ...over });
    expect(run.outputs).toEqual({ result, event });
    expect(run.summary).toBe(`### guarded-deploy: ${result}\n`);
  });
});
