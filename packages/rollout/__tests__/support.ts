// Shared set-up of the guarded-deploy tests: a real git repository with release tags, the sample
// DHash service under its supervisor on a loopback port, the fake GitHub (OpenAPI-validated) with
// Deployment routes, a loopback webhook receiver, and a world wired to all of them.
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { createServer, type Server } from 'node:http';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  DEFAULTS,
  GitHubDeploymentRecorder,
  shellQuote,
  type DeploySettingsFromDoorway,
} from '@guarded-rollout/deploy';
import {
  installDeploymentRoutes,
  startFakeGitHub,
  type DeploymentStore,
  type FakeGitHub,
} from '@guarded-rollout/fake-github';
import { systemClock } from '@guarded-rollout/monitor';
import {
  MemoryState,
  packageRolloutNotifier,
  type GuardedDeployOptions,
  type RolloutWorld,
} from '../src/index.js';

export const service = fileURLToPath(new URL('../../../examples/dhash-service/src/', import.meta.url));
export const TOKEN = 'ghs_rollouttest0123456789';
const node = shellQuote(process.execPath);
export const ctl = (root: string, ...args: string[]): string =>
  `${node} ${shellQuote(join(service, 'ctl.mjs'))} ${args.join(' ')} --root ${shellQuote(root)}`;

export interface Site {
  dir: string;
  root: string;
  base: string;
  commits: Record<string, string>;
  stop(): Promise<void>;
}

function git(cwd: string, ...args: string[]): string {
  const r = spawnSync('git', args, {
    cwd,
    encoding: 'utf8',
    env: {
      ...process.env,
      GIT_AUTHOR_NAME: 't',
      GIT_AUTHOR_EMAIL: 't@example.invalid',
      GIT_COMMITTER_NAME: 't',
      GIT_COMMITTER_EMAIL: 't@example.invalid',
    },
  });
  if (r.status !== 0) throw new Error(`git ${args.join(' ')}: ${r.stderr}`);
  return r.stdout.trim();
}

/** A repository with tags 1.0.0 and 1.1.0, and a deployment root running 1.0.0. */
export async function startSite(fault: string, onsetSeconds = 0): Promise<Site> {
  const dir = mkdtempSync(join(tmpdir(), 'guarded-deploy-'));
  git(dir, 'init', '-q', '-b', 'main');
  const commits: Record<string, string> = {};
  for (const v of ['1.0.0', '1.1.0']) {
    writeFileSync(join(dir, 'VERSION'), `${v}\n`);
    git(dir, 'add', 'VERSION');
    git(dir, 'commit', '-q', '-m', v);
    git(dir, 'tag', v);
    commits[v] = git(dir, 'rev-parse', 'HEAD');
  }
  const root = join(dir, 'live');
  const init = spawnSync(
    process.execPath,
    [join(service, 'ctl.mjs'), 'init', '--root', root, '--fault', fault, '--onset', String(onsetSeconds)],
    { encoding: 'utf8' },
  );
  if (init.status !== 0) throw new Error(init.stderr);
  const supervisor: ChildProcess = spawn(
    process.execPath,
    [join(service, 'supervisor.mjs'), '--root', root, '--log', join(dir, 'service.log')],
    { stdio: 'ignore' },
  );
  let port = 0;
  for (let i = 0; i < 200 && !port; i++) {
    await new Promise((r) => setTimeout(r, 50));
    try {
      port = (JSON.parse(readFileSync(join(root, 'supervisor.json'), 'utf8')) as { port: number }).port;
    } catch {
      // not yet written
    }
  }
  const base = `http://127.0.0.1:${port}`;
  for (let i = 0; i < 200; i++) {
    try {
      if ((await fetch(`${base}/health`, { signal: AbortSignal.timeout(1000) })).ok) break;
    } catch {
      // starting
    }
    await new Promise((r) => setTimeout(r, 50));
  }
  return {
    dir,
    root,
    base,
    commits,
    async stop() {
      if (supervisor.exitCode === null) {
        const exited = new Promise((r) => supervisor.once('exit', r));
        supervisor.kill('SIGTERM');
        await Promise.race([exited, new Promise((r) => setTimeout(r, 5000))]);
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

/** Gates that watch health only; a short window keeps each run to a couple of seconds. */
export function writeGates(dir: string): string {
  const file = join(dir, 'gates.json');
  writeFileSync(
    file,
    JSON.stringify({
      version: 1,
      defaults: {
        window: '10m',
        cadence: { initial_interval: '30s', initial_phase: '5m', interval: '60s', suspicion_interval: '15s' },
        escalations: ['5m'],
        source_errors: { fail_closed: true, max_consecutive: 2 },
        gates: {
          health: {
            kind: 'consecutive_failures',
            source: 'health',
            threshold: 2,
            description: 'More than 2 consecutive non-OK health checks',
          },
        },
      },
      environments: { production: {} },
    }),
  );
  return file;
}

export interface GitHubSide {
  fake: FakeGitHub;
  store: DeploymentStore;
  recorder: GitHubDeploymentRecorder;
}

export async function startGitHub(): Promise<GitHubSide> {
  const fake = await startFakeGitHub();
  fake.token = TOKEN;
  const store = installDeploymentRoutes(fake);
  const recorder = new GitHubDeploymentRecorder({
    token: TOKEN,
    repository: 'acme/dhash',
    apiUrl: fake.url,
    minWriteIntervalMs: 5,
    requestTimeoutMs: 5000,
  });
  return { fake, store, recorder };
}

/** Marks `commit` (version `version`) as the environment's active deployment, as a past deploy would. */
export async function seedActive(gh: GitHubSide, commit: string, version: string): Promise<number> {
  const id = await gh.recorder.create({
    environment: 'production',
    ref: commit,
    production: true,
    description: `deploy of ${version}`,
    payload: { version },
    requiredContexts: [],
  });
  await gh.recorder.status(id, { state: 'success', description: 'live' });
  return id;
}

/** A webhook receiver on loopback; `hang` never answers (the request stays open). */
export async function startWebhook(
  mode: 'ok' | 'hang',
): Promise<{ url: string; received: string[]; close(): Promise<void> }> {
  const received: string[] = [];
  const server: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      received.push(body);
      if (mode === 'ok') res.end('ok');
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  const { port } = server.address() as { port: number };
  return {
    url: `http://127.0.0.1:${port}/hook`,
    received,
    close: () =>
      new Promise<void>((r) => {
        server.closeAllConnections();
        server.close(() => r());
      }),
  };
}

export interface Lines {
  lines: Array<{ at: number; text: string }>;
}

export function world(
  site: { dir: string },
  gh: GitHubSide | undefined,
  webhookUrl: string | undefined,
  controller = new AbortController(),
  onStage?: (stage: string) => void,
  notifyEnv: Record<string, string> = {},
): RolloutWorld & Lines & { state: MemoryState } {
  const lines: Array<{ at: number; text: string }> = [];
  const state = new MemoryState();
  const save = state.save.bind(state);
  state.save = (key, value) => {
    save(key, value);
    if (key === 'stage') onStage?.(value);
  };
  return {
    lines,
    state,
    deployments: gh?.recorder,
    notifier: packageRolloutNotifier({
      environment: 'production',
      env: { ...(webhookUrl ? { NOTIFY_WEBHOOK_URL: webhookUrl } : {}), ...notifyEnv },
      fallbackDir: join(site.dir, 'notify-fallback'),
    }),
    signal: controller.signal,
    clock: systemClock,
    log: {
      info: (text) => lines.push({ at: Date.now(), text }),
      warning: (text) => lines.push({ at: Date.now(), text: `warning: ${text}` }),
      group: (_name, run) => run(),
    },
  };
}

export function options(
  site: Site | { dir: string; root: string; base: string },
  overrides: Partial<GuardedDeployOptions> & { deployCommand?: string; migrateCommand?: string } = {},
): GuardedDeployOptions {
  const logDir = join(site.dir, 'logs');
  mkdirSync(logDir, { recursive: true });
  const { deployCommand, migrateCommand, ...rest } = overrides;
  const deploy: DeploySettingsFromDoorway = {
    environment: 'production',
    ref: 'HEAD',
    type: 'standard',
    command: deployCommand ?? ctl(site.root, 'deploy', '--version', '1.1.0'),
    ...(migrateCommand ? { migrateCommand } : {}),
    timeoutMs: 60_000,
    killGraceMs: 3000,
    dryRun: false,
    dryRunFlag: DEFAULTS.dryRunFlag,
    workingDirectory: site.dir,
    env: {},
    logDir,
    backupFirst: false,
  };
  return {
    environment: 'production',
    version: '1.1.0',
    type: 'standard',
    dryRun: false,
    skipBackup: false,
    backup: {
      paths: ['active-release', 'releases.json', 'data', 'supervisor.json'],
      baseDir: site.root,
      outDir: join(site.dir, 'backups'),
      prefix: 'dhash',
    },
    deploy,
    smoke: { checks: [], required: false },
    watch: {
      configFile: writeGates(site.dir),
      healthUrl: `${site.base}/health`,
      durationMs: 10 * 60_000,
      timeScale: 300,
      outDir: join(site.dir, 'monitor_logs'),
    },
    rollback: {
      auto: true,
      target: site.root,
      restartCommand: ctl(site.root, 'restart'),
      healthUrl: `${site.base}/health`,
      health: { required: 3, intervalMs: 200, timeoutMs: 2000, deadlineMs: 20_000 },
    },
    environmentUrl: site.base,
    logUrl: 'https://github.com/acme/dhash/actions/runs/42',
    notifyBudgetMs: 5000,
    cwd: site.dir,
    ...rest,
  };
}
