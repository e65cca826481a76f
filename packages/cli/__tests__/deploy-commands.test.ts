import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import {
  installDeploymentRoutes,
  startFakeGitHub,
  type DeploymentStore,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import { startCli } from './bundle.js';
import { cli } from './run-cli.js';

const root = fileURLToPath(new URL('../../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'cli-deploy-'));
let server: Server;
let fake: FakeGitHub;
let store: DeploymentStore;
let healthy = true;

function script(name: string, body: string): string {
  const file = join(dir, name);
  writeFileSync(file, `#!/bin/sh\n${body}\n`, { mode: 0o755 });
  return file;
}
const marker = join(dir, 'mutated');
const logLine = (i: number): string =>
  JSON.stringify({
    timestamp: '2026-11-23T12:00:00Z',
    level: 'info',
    message: 'hashed',
    request_id: `r${i}`,
  });

beforeAll(async () => {
  server = createServer((req, res) => {
    res.writeHead(healthy ? 200 : 503, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ status: healthy ? 'ok' : 'degraded' }));
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  fake = await startFakeGitHub();
  store = installDeploymentRoutes(fake);
  const mutating = script(
    'deploy.sh',
    `for a in "$@"; do [ "$a" = "--dry-run" ] && { echo "would deploy $GUARDED_ROLLOUT_VERSION"; exit 0; }; done\necho deploying; touch ${marker}`,
  );
  mkdirSync(join(dir, 'logs'));
  mkdirSync(join(dir, 'data'));
  writeFileSync(
    join(dir, 'broken-backup.json'),
    JSON.stringify({ environments: { production: { deploy: { command: 'true' }, backup: { keep: 0 } } } }),
  );
  writeFileSync(join(dir, 'data/hashes.db'), 'f0e1d2c3b4a59687\n'.repeat(100));
  writeFileSync(join(dir, 'logs/good.log'), Array.from({ length: 10 }, (_, i) => logLine(i)).join('\n'));
  writeFileSync(
    join(dir, 'logs/bad.log'),
    `${logLine(1)}\n{"level":"info","message":"mail jane@example.com"}\n`,
  );
  writeFileSync(
    join(dir, 'guarded-rollout.config.json'),
    JSON.stringify({
      environments: {
        staging: {
          deploy: {
            command: mutating,
            migrate_command: script('migrate.sh', 'echo "migrate $*"'),
            migration_safety: 'reversible',
            timeout: '30s',
            kill_grace: '1s',
          },
          smoke: {
            base_url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
            checks: [
              { name: 'health', tier: 'critical', url: '/health', json: [{ path: 'status', equals: 'ok' }] },
            ],
          },
          logging: { file: 'logs/good.log' },
        },
        production: {
          deploy: { command: mutating, backup_first: true },
          backup: { paths: ['data'], out_dir: 'backups' },
        },
        'no-data': { deploy: { command: mutating, backup_first: true }, backup: { paths: ['missing-data'] } },
      },
    }),
  );
});
afterAll(async () => {
  server.closeAllConnections();
  await new Promise((r) => server.close(r));
  await fake.stop();
  rmSync(dir, { recursive: true, force: true });
});

const run = (argv: string[], env: NodeJS.ProcessEnv = {}) =>
  cli(argv, { cwd: dir, env: { PATH: process.env.PATH, ...env } });

describe('guarded-rollout deploy / migrate', () => {
  it('dry-runs with --env alone, from the rollout config, without mutating', async () => {
    const r = await run(['deploy', '--env', 'staging', '--dry-run', '--release', '1.4.2']);
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('would deploy 1.4.2');
    expect(r.stdout).toContain('migration-safety: reversible');
    expect(existsSync(marker)).toBe(false);
    expect(readEvidenceLog(join(dir, 'deploy-dryrun.log')).result).toMatchObject({
      status: 'pass',
      kind: 'deploy-dryrun',
    });
    expect(readFileSync(join(dir, 'migrate-dryrun.log'), 'utf8')).toContain('migrate --dry-run');
  });

  it('deploys and records a GitHub Deployment when GITHUB_TOKEN and GITHUB_REPOSITORY are set', async () => {
    const r = await run(['deploy', '--env', 'staging', '--ref', 'main'], {
      GITHUB_TOKEN: 'ghs_clitoken',
      GITHUB_REPOSITORY: 'acme/dhash',
      GITHUB_API_URL: fake.url,
    });
    expect(r.code).toBe(0);
    expect(existsSync(marker)).toBe(true);
    const id = Number(/github-deployment: (\d+)/.exec(r.stdout)![1]);
    expect(store.states(id)).toEqual(['in_progress', 'success']);
    expect(store.find(id)).toMatchObject({ ref: 'main', environment: 'staging' });
    expect(fake.violations).toEqual([]);
    rmSync(marker);
  });

  it('--backup-first takes a verified backup before deploying and records its path', async () => {
    const r = await run(['deploy', '--env', 'production', '--ref', 'main', '--log-dir', 'prod-logs'], {
      GITHUB_TOKEN: 'ghs_clitoken',
      GITHUB_REPOSITORY: 'acme/dhash',
      GITHUB_API_URL: fake.url,
    });
    expect(r.stderr).toBe('');
    expect(r.code).toBe(0);
    const backup = /^backup: (\S+\.zip)$/m.exec(r.stdout)![1]!;
    expect(backup).toMatch(/backups\/dhash_production_\d{8}T\d{6}Z\.zip$/);
    // The runbook's own check: sha256sum -c from the repository root.
    const check = spawnSync('sha256sum', ['-c', `${backup}.sha256`], { cwd: dir, encoding: 'utf8' });
    expect(check.status).toBe(0);
    const id = Number(/github-deployment: (\d+)/.exec(r.stdout)![1]);
    expect(store.find(id)!.payload).toMatchObject({ backup_path: backup });
    expect(existsSync(marker)).toBe(true);
    rmSync(marker);
  });

  it('deploys nothing when the backup fails', async () => {
    const r = await run(['deploy', '--env', 'no-data', '--log-dir', 'no-data-logs']);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/deploy failed: backup failed, nothing was deployed: .*missing-data/);
    expect(existsSync(marker)).toBe(false);
  });

  it('exits 1 when the deploy command fails', async () => {
    const r = await run([
      'deploy',
      '--env',
      'staging',
      '--command',
      script('fail.sh', 'exit 7'),
      '--no-github',
    ]);
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/deploy failed: deploy failed with exit code 7/);
  });

  it('migrate runs only the migration and writes migrate-dryrun.log in dry-run', async () => {
    const r = await run(['migrate', '--env', 'staging', '--dry-run']);
    expect(r.code).toBe(0);
    expect(readEvidenceLog(join(dir, 'migrate-dryrun.log')).result).toMatchObject({
      status: 'pass',
      migration_safety: 'reversible',
    });
  });

  it.each<[string, string[], RegExp]>([
    [
      'an unknown environment',
      ['deploy', '--env', 'prod'],
      /guarded-rollout\.config\.json: environments: unknown environment "prod"; configured: staging, production/,
    ],
    [
      'a bad --timeout',
      ['deploy', '--env', 'staging', '--timeout', '10 minutes'],
      /--timeout: "10 minutes" is not a duration/,
    ],
    [
      'a bare-number --timeout',
      ['deploy', '--env', 'staging', '--timeout', '600'],
      /--timeout: "600" is not a duration/,
    ],
    [
      'a bad --kill-grace',
      ['deploy', '--env', 'staging', '--kill-grace', 'soon'],
      /--kill-grace: "soon" is not a duration/,
    ],
    [
      'a bad --type',
      ['deploy', '--env', 'staging', '--type', 'yolo'],
      /--type: "yolo" is not one of "standard", "hotfix", "rollback"/,
    ],
    [
      'a bad --migration-safety',
      ['deploy', '--env', 'staging', '--migration-safety', 'maybe'],
      /--migration-safety: "maybe" is not one of "reversible", "expand-only", "irreversible"/,
    ],
    [
      'a bad backup section',
      ['deploy', '--env', 'production', '--config', 'broken-backup.json'],
      /broken-backup\.json: environments\.production\.backup\.keep: 0 must be >= 1/,
    ],
    [
      'a missing --config file',
      ['deploy', '--env', 'staging', '--config', 'missing.json'],
      /missing\.json: file not found/,
    ],
  ])('exits 2 on %s', async (_name, argv, message) => {
    const r = await run(argv);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(message);
  });
});

describe('guarded-rollout smoke', () => {
  it('passes the critical tier against a live service and writes the log', async () => {
    healthy = true;
    const r = await run(['smoke', '--env', 'staging', '--tier', 'critical']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/PASS \[critical\] health/);
    expect(readEvidenceLog(join(dir, 'postdeploy-smoketests.log')).result).toMatchObject({ status: 'pass' });
  });

  it('exits 1 when a check fails', async () => {
    healthy = false;
    const r = await run(['smoke', '--env', 'staging', '--tier', 'all']);
    healthy = true;
    expect(r.code).toBe(1);
    expect(r.stdout).toMatch(/FAIL \[critical\] health: .*status 503, expected 200/);
  });

  it('Ctrl-C during a check that hangs (the bundled CLI, a real SIGINT): stops at once, says CANCELLED, exits 1, never a pass', async () => {
    let asked!: () => void;
    const hung = new Promise<void>((r) => (asked = r));
    const silent = createServer(() => asked()); // accepts the check and never answers
    await new Promise<void>((r) => silent.listen(0, '127.0.0.1', r));
    const cwd = mkdtempSync(join(tmpdir(), 'cli-smoke-cancel-'));
    writeFileSync(
      join(cwd, 'guarded-rollout.config.json'),
      JSON.stringify({
        environments: {
          production: {
            smoke: {
              base_url: `http://127.0.0.1:${(silent.address() as AddressInfo).port}`,
              checks: [{ name: 'search', tier: 'critical', url: '/search', timeout: '5m' }],
            },
          },
        },
      }),
    );
    try {
      const cli = startCli(['smoke', '--env', 'production', '--tier', 'critical'], {
        cwd,
        env: { PATH: process.env.PATH ?? '', HOME: cwd },
      });
      await hung;
      const { code, ms } = await cli.interrupt();
      expect(code).toBe(1);
      expect(ms).toBeLessThan(5000); // not the check's 5 minutes
      expect(cli.stderr()).toBe('received SIGINT: stopping the smoke checks and recording what ran\n');
      expect(cli.stdout()).toContain(
        'smoke CANCELLED: cancelled after 0 of 1 critical smoke checks (0 passed, 0 failed); the rest were not run',
      );
      expect(readEvidenceLog(join(cwd, 'postdeploy-smoketests.log')).result).toMatchObject({
        status: 'fail',
        cancelled: true,
      });
    } finally {
      silent.closeAllConnections();
      silent.close();
    }
  }, 120_000);

  it('exits 2 on an unknown tier', async () => {
    const r = await run(['smoke', '--env', 'staging', '--tier', 'high']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--tier: "high" is not one of "critical", "all"/);
  });
});

describe('guarded-rollout validate-logging', () => {
  it('passes the configured log file', async () => {
    const r = await run(['validate-logging', '--env', 'staging']);
    expect(r.code).toBe(0);
    expect(readEvidenceLog(join(dir, 'test_logging.log')).result).toMatchObject({
      status: 'pass',
      lines: 10,
    });
  });

  it('fails a file that leaks an email, without printing it', async () => {
    const r = await run(['validate-logging', '--env', 'staging', '--file', 'logs/bad.log']);
    expect(r.code).toBe(1);
    expect(r.stdout).toContain('line 2: email address (value withheld)');
    expect(r.stdout + readFileSync(join(dir, 'test_logging.log'), 'utf8')).not.toContain('jane@example.com');
  });

  it('exits 2 on a bad --min-coverage', async () => {
    const r = await run(['validate-logging', '--env', 'staging', '--min-coverage', '95%']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--min-coverage: "95%" is not a number between 0 and 1/);
  });
});

describe('guarded-rollout quick-deploy', () => {
  it('refuses --skip-backup in production without --force', async () => {
    const r = await run(['quick-deploy', 'production', '--skip-backup']);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/--skip-backup is refused for production/);
  });

  it('deploys then runs the critical smoke tests', async () => {
    const r = await run(['quick-deploy', 'staging', '--skip-backup']);
    expect(r.code).toBe(0);
    expect(r.stdout).toMatch(/deploy succeeded[\s\S]*PASS \[critical\] health/);
    rmSync(marker, { force: true });
  });
});

describe('the built CLI bundle', () => {
  const bin = join(root, 'packages/cli/bin/guarded-rollout.js');
  const built = existsSync(join(root, 'packages/cli/dist/index.js'));
  (built ? it : it.skip)('dry-runs a deploy from the shell', () => {
    const r = spawnSync(
      process.execPath,
      [bin, 'deploy', '--env', 'staging', '--dry-run', '--log-dir', 'bundle-logs'],
      { cwd: dir, encoding: 'utf8', env: { PATH: process.env.PATH } },
    );
    expect(r.status).toBe(0);
    expect(readEvidenceLog(join(dir, 'bundle-logs/deploy-dryrun.log')).result).toMatchObject({
      status: 'pass',
    });
  });
});
