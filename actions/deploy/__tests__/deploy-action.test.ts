import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import { TOKEN, fake, runBundle, script, store, useFakeGitHub, workspace } from './harness.js';

useFakeGitHub();

describe('deploy action bundle', () => {
  it('deploys, records the GitHub Deployment and sets outputs', async () => {
    const ws = workspace({
      environment: 'staging',
      version: '1.4.2',
      'migration-safety': 'reversible',
      token: TOKEN,
      'environment-url': 'https://staging.dhash.example',
      env: 'DHASH_MODE=blue\n# comment',
    });
    ws.env.INPUT_COMMAND = script(
      ws.dir,
      'deploy.sh',
      'echo "deploying $GUARDED_ROLLOUT_VERSION in $DHASH_MODE with token ghs_actiontoken0123456789"',
    );
    ws.env['INPUT_MIGRATE-COMMAND'] = 'echo migrating';
    const r = await runBundle(ws);
    expect(r.status).toBe(0);
    const out = ws.outputs();
    expect(out).toMatchObject({
      status: 'succeeded',
      'migration-safety': 'reversible',
      'backup-path': '',
      'smoke-result': 'skipped',
      'log-path': join(ws.dir, 'deploy.log'),
    });
    const id = Number(out['deployment-id']);
    expect(store.states(id)).toEqual(['in_progress', 'success']);
    expect(store.find(id)!.statuses.at(-1)).toMatchObject({
      logUrl: 'https://github.com/acme/dhash/actions/runs/42',
      environmentUrl: 'https://staging.dhash.example',
    });
    const log = readFileSync(out['log-path']!, 'utf8');
    expect(log).toContain('deploying 1.4.2 in blue');
    expect(log).not.toContain(TOKEN);
    expect(r.stdout.replace(/^::add-mask::.*$/gm, '')).not.toContain(TOKEN);
    expect(ws.state()).toMatchObject({ isPost: 'true', finished: 'true' });
    expect(ws.summary()).toContain('Deploy staging: succeeded');
    expect(fake.violations).toEqual([]);
  });

  it('dry-run writes the dry-run logs and nothing to GitHub', async () => {
    const ws = workspace({ environment: 'staging', 'dry-run': 'true', token: TOKEN });
    const marker = join(ws.dir, 'mutated');
    ws.env.INPUT_COMMAND = script(
      ws.dir,
      'deploy.sh',
      `case "$*" in *--dry-run*) echo would deploy;; *) touch ${marker};; esac`,
    );
    const before = fake.count();
    const r = await runBundle(ws);
    expect(r.status).toBe(0);
    expect(existsSync(marker)).toBe(false);
    expect(ws.outputs()).toMatchObject({
      status: 'succeeded',
      'deployment-id': '',
      'migration-safety': 'none',
    });
    expect(readEvidenceLog(join(ws.dir, 'deploy-dryrun.log')).result).toMatchObject({ status: 'pass' });
    expect(readEvidenceLog(join(ws.dir, 'migrate-dryrun.log')).result).toMatchObject({ status: 'pass' });
    expect(fake.count()).toBe(before);
  });

  it('fails the step with one clear line on a bad input', async () => {
    const ws = workspace({ environment: 'staging', command: 'true', timeout: 'ten minutes', token: '' });
    const r = await runBundle(ws);
    expect(r.status).toBe(1);
    expect(r.stdout).toContain('::error::input "timeout": "ten minutes" is not a duration');
  });

  it('takes its settings from the rollout config, including a verified backup first', async () => {
    const ws = workspace({ environment: 'production', version: '1.4.2', token: TOKEN });
    mkdirSync(join(ws.dir, 'data'));
    writeFileSync(join(ws.dir, 'data/hashes.db'), 'f0e1d2c3b4a59687\n'.repeat(100));
    writeFileSync(
      join(ws.dir, 'guarded-rollout.config.json'),
      JSON.stringify({
        environments: {
          production: {
            deploy: { command: 'echo "deploying over $GUARDED_ROLLOUT_BACKUP_PATH"', backup_first: true },
            backup: { paths: ['data'] },
          },
        },
      }),
    );
    const r = await runBundle(ws);
    expect(r.status).toBe(0);
    const out = ws.outputs();
    expect(out['backup-path']).toMatch(/backups\/dhash_production_\d{8}T\d{6}Z\.zip$/);
    const check = spawnSync('sha256sum', ['-c', `${out['backup-path']}.sha256`], {
      cwd: ws.dir,
      encoding: 'utf8',
    });
    expect(check.status).toBe(0);
    expect(readFileSync(out['log-path']!, 'utf8')).toContain(`deploying over ${out['backup-path']}`);
    expect(store.find(Number(out['deployment-id']))!.payload).toMatchObject({
      backup_path: out['backup-path'],
      version: '1.4.2',
    });
  });

  it('names an unknown environment of the rollout config', async () => {
    const ws = workspace({ environment: 'prod', token: '' });
    writeFileSync(
      join(ws.dir, 'guarded-rollout.config.json'),
      JSON.stringify({ environments: { production: {} } }),
    );
    const r = await runBundle(ws);
    expect(r.status).toBe(1);
    expect(r.stdout).toMatch(
      /::error::.*guarded-rollout\.config\.json: environments: unknown environment "prod"; configured: production/,
    );
  });
});
