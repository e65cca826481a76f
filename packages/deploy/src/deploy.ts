// runDeploy: the deploy sequence shared by the action and the CLI — optional backup first, the
// migrate command, then the deploy command, each with a timeout that kills its process tree, each
// streamed into an evidence log, the whole run recorded as a GitHub Deployment with statuses.
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError, formatDuration } from '@guarded-rollout/config';
import { EvidenceLog } from '@guarded-rollout/evidence';
import {
  CommitStatusGateError,
  type DeploymentRecorder,
  type DeploymentState,
} from './deployment-recorder.js';
import { runCommand, type CommandOutcome, type CommandResult } from './process-runner.js';
import type { DeclaredMigrationSafety, DeploymentType } from './rollout-config.js';

/** `none`: no migration ran. `unknown`: a migration ran without a declaration — treat as irreversible. */
export type MigrationSafety = DeclaredMigrationSafety | 'none' | 'unknown';

/** Whether rolling back the code alone is safe after a migration of this kind. */
export function automaticRollbackSafe(safety: MigrationSafety): boolean {
  return safety === 'none' || safety === 'reversible' || safety === 'expand-only';
}

export interface BackupRecord {
  path: string;
  sha256: string;
}

/** Takes a verified backup before anything changes; provided by the backup package's doorway. A
 *  cancel (`signal`) stops it with nothing kept. */
export type BackupProvider = (signal?: AbortSignal) => Promise<BackupRecord>;

export type DeployStatus = 'succeeded' | 'failed' | 'timed-out' | 'cancelled';

export interface DeployOptions {
  environment: string;
  /** Git ref recorded on the GitHub Deployment. */
  ref: string;
  version?: string;
  type: DeploymentType;
  command: string | undefined;
  migrateCommand?: string;
  timeoutMs: number;
  migrateTimeoutMs?: number;
  killGraceMs: number;
  dryRun: boolean;
  /** Appended to both commands in dry-run; the commands must then change nothing. */
  dryRunFlag: string;
  workingDirectory: string;
  /** Extra variables for the commands, on top of baseEnv (default: this process's environment). */
  env?: Record<string, string>;
  baseEnv?: NodeJS.ProcessEnv;
  logDir: string;
  migrationSafety?: DeclaredMigrationSafety;
  backupFirst: boolean;
  backup?: BackupProvider;
  /** Absent: nothing is recorded on GitHub (no token, or the caller opted out). */
  recorder?: DeploymentRecorder;
  logUrl?: string;
  environmentUrl?: string;
  signal?: AbortSignal;
  /** Progress for the operator's console; every line also lands in the evidence log. */
  onLine?: (line: string) => void;
  onDeploymentCreated?: (deploymentId: number) => void;
  /** Each migrate/deploy command's process group id as it starts (a post step can stop it). */
  onCommandStarted?: (pgid: number) => void;
  /** Applied to every line before it is written or shown (secret redaction). */
  redact?: (line: string) => string;
  now?: () => Date;
}

export interface StepReport {
  step: 'backup' | 'migrate' | 'deploy';
  outcome: CommandOutcome | 'skipped';
  durationMs: number;
  exitCode: number | null;
  logPath?: string;
  detail?: string;
}

export interface DeployResult {
  status: DeployStatus;
  dryRun: boolean;
  deploymentId: number | undefined;
  logPath: string;
  migrateLogPath: string;
  backupPath: string | undefined;
  backupSha256: string | undefined;
  migrationSafety: MigrationSafety;
  steps: StepReport[];
  summary: string;
  /** Problems talking to GitHub; they never stop a deploy but are always reported. */
  githubProblems: string[];
}

const STATE_OF: Record<DeployStatus, DeploymentState> = {
  succeeded: 'success',
  failed: 'failure',
  'timed-out': 'failure',
  cancelled: 'error',
};

function describeOutcome(name: string, result: CommandResult, timeoutMs: number): string {
  switch (result.outcome) {
    case 'succeeded':
      return `${name} succeeded in ${formatDuration(result.durationMs)}`;
    case 'failed':
      return `${name} failed with exit code ${result.exitCode ?? `signal ${result.signal}`} after ${formatDuration(result.durationMs)}`;
    case 'timed-out':
      return `${name} timed out after ${formatDuration(timeoutMs)}; its process tree was stopped${result.forceKilled ? ' (SIGKILL after it ignored SIGTERM)' : ''}`;
    case 'cancelled':
      return `${name} cancelled after ${formatDuration(result.durationMs)}; its process tree was stopped`;
  }
}

/** The environment migrate and deploy commands run with: the caller's, the configured extras, and
 *  GUARDED_ROLLOUT_* variables describing this deploy. */
function commandEnvironment(options: MigrateOptions): NodeJS.ProcessEnv {
  return {
    ...(options.baseEnv ?? process.env),
    ...options.env,
    GUARDED_ROLLOUT_ENV: options.environment,
    GUARDED_ROLLOUT_REF: options.ref,
    GUARDED_ROLLOUT_VERSION: options.version ?? '',
    GUARDED_ROLLOUT_DEPLOYMENT_TYPE: options.type,
    GUARDED_ROLLOUT_DRY_RUN: options.dryRun ? 'true' : 'false',
  };
}

export async function runDeploy(options: DeployOptions): Promise<DeployResult> {
  if (!options.command) {
    throw new ConfigError(
      `no deploy command for environment "${options.environment}": pass --command / input "command" or set environments.${options.environment}.deploy.command in the rollout config`,
      { field: 'command' },
    );
  }
  if (options.backupFirst && !options.backup && !options.dryRun) {
    throw new ConfigError('backup-first needs the backup package, which is not available in this build', {
      field: 'backup-first',
    });
  }
  const now = options.now ?? (() => new Date());
  const redact = options.redact ?? ((l: string) => l);
  const say = (line: string): void => options.onLine?.(redact(line));
  const logDir = resolve(options.logDir);
  mkdirSync(logDir, { recursive: true });
  const suffix = options.dryRun ? '-dryrun' : '';
  const migrateLogPath = join(logDir, `migrate${suffix}.log`);
  const logPath = join(logDir, `deploy${suffix}.log`);
  const migrationSafety: MigrationSafety =
    options.migrationSafety ?? (options.migrateCommand ? 'unknown' : 'none');
  const steps: StepReport[] = [];
  const githubProblems: string[] = [];
  const recorder = options.dryRun ? undefined : options.recorder; // dry-run never writes to GitHub
  let deploymentId: number | undefined;
  let backup: BackupRecord | undefined;

  const github = async (what: string, call: () => Promise<void>): Promise<void> => {
    try {
      await call();
    } catch (error) {
      // GitHub's commit-status gate said no: nothing may be deployed.
      if (error instanceof CommitStatusGateError) throw error;
      const problem = `GitHub ${what} failed: ${redact((error as Error).message)}`;
      githubProblems.push(problem);
      say(`warning: ${problem}`);
    }
  };
  const postStatus = async (state: DeploymentState, description: string): Promise<void> => {
    if (!recorder || deploymentId === undefined) return;
    const id = deploymentId;
    await github(`status "${state}"`, () =>
      recorder.status(id, {
        state,
        description,
        logUrl: options.logUrl,
        environmentUrl: options.environmentUrl,
      }),
    );
  };

  const header = (log: EvidenceLog, kind: string, command: string | undefined, timeoutMs: number): void => {
    log.line(
      `command: ${command ? redact(command) : '(none)'}${command && options.dryRun ? ` ${options.dryRunFlag}` : ''}`,
      `working-directory: ${options.workingDirectory}`,
      `timeout: ${formatDuration(timeoutMs)} (then SIGTERM to the process tree, SIGKILL ${formatDuration(options.killGraceMs)} later)`,
      `version: ${options.version ?? '(unspecified)'}  ref: ${options.ref}  type: ${options.type}`,
      ...(kind.startsWith('migrate') ? [`migration-safety: ${migrationSafety}`] : []),
      '',
    );
  };
  const childEnv = commandEnvironment(options);

  const runStep = async (
    step: 'migrate' | 'deploy',
    command: string,
    log: EvidenceLog,
    timeoutMs: number,
  ): Promise<CommandResult> => {
    say(`${step}: ${redact(command)}${options.dryRun ? ` ${options.dryRunFlag}` : ''}`);
    const result = await runCommand({
      command,
      args: options.dryRun ? [options.dryRunFlag] : [],
      cwd: options.workingDirectory,
      env: { ...childEnv, ...(backup ? { GUARDED_ROLLOUT_BACKUP_PATH: backup.path } : {}) },
      timeoutMs,
      killGraceMs: options.killGraceMs,
      signal: options.signal,
      ...(options.onCommandStarted ? { onSpawn: options.onCommandStarted } : {}),
      onLine: (line, stream) => {
        const text = redact(stream === 'stderr' ? `[stderr] ${line}` : line);
        log.line(text);
        options.onLine?.(text);
      },
    });
    return result;
  };

  const finishStep = (
    step: 'migrate' | 'deploy',
    log: EvidenceLog,
    result: CommandResult,
    timeoutMs: number,
  ): string => {
    const summary = describeOutcome(step, result, timeoutMs);
    log.line('', summary);
    log.finish(result.outcome === 'succeeded' ? 'pass' : 'fail', summary, {
      outcome: result.outcome,
      exit_code: result.exitCode,
      duration_ms: result.durationMs,
      dry_run: options.dryRun,
      ...(step === 'migrate' ? { migration_safety: migrationSafety } : {}),
    });
    steps.push({
      step,
      outcome: result.outcome,
      durationMs: result.durationMs,
      exitCode: result.exitCode,
      logPath: log.path,
    });
    say(summary);
    return summary;
  };

  const evidence = (kind: string, path: string): EvidenceLog =>
    new EvidenceLog(path, {
      kind: `${kind}${suffix}`,
      tool: `guarded-rollout ${kind}`,
      environment: options.environment,
      now,
    });

  // The deploy log exists from the start, so `log-path` always points at something honest.
  const deployLog = evidence('deploy', logPath);
  const migrateTimeoutMs = options.migrateTimeoutMs ?? options.timeoutMs;
  let status: DeployStatus = 'succeeded';
  let summary = '';

  // 1. Backup first: nothing changes until a verified backup exists.
  let backupProblem: string | undefined;
  let backupCancelled = false;
  if (options.backupFirst && !options.dryRun && options.backup) {
    const started = Date.now();
    say('backup: taking a backup before deploying');
    try {
      backup = await options.backup(options.signal);
      deployLog.line(`backup: ${backup.path} (sha256 ${backup.sha256})`);
      steps.push({
        step: 'backup',
        outcome: 'succeeded',
        durationMs: Date.now() - started,
        exitCode: 0,
        detail: backup.path,
      });
    } catch (error) {
      backupCancelled = !!options.signal?.aborted;
      backupProblem = backupCancelled
        ? `${redact((error as Error).message)}; nothing was deployed`
        : `backup failed, nothing was deployed: ${redact((error as Error).message)}`;
      steps.push({
        step: 'backup',
        outcome: backupCancelled ? 'cancelled' : 'failed',
        durationMs: Date.now() - started,
        exitCode: null,
        detail: backupProblem,
      });
    }
  } else if (options.backupFirst && options.dryRun) {
    deployLog.line('backup-first: skipped in dry-run (the backup dry-run writes backup-dryrun.log)');
  }

  // 2. Record the deployment on GitHub.
  if (recorder) {
    await github('create deployment', async () => {
      deploymentId = await recorder.create({
        environment: options.environment,
        ref: options.ref,
        production: options.environment === 'production',
        description: `${options.type} deploy of ${options.version ?? options.ref} by guarded-rollout`,
        payload: {
          version: options.version ?? null,
          type: options.type,
          backup_path: backup?.path ?? null,
          backup_sha256: backup?.sha256 ?? null,
          migration_safety: migrationSafety,
        },
      });
      options.onDeploymentCreated?.(deploymentId);
      say(`GitHub deployment ${deploymentId} created for ${options.environment}`);
    });
    await postStatus(
      'in_progress',
      backupProblem ? (backupCancelled ? 'backup cancelled' : 'backup failed') : 'migrating and deploying',
    );
  }

  if (backupProblem) {
    status = backupCancelled ? 'cancelled' : 'failed';
    summary = backupProblem;
    say(summary);
    evidence('migrate', migrateLogPath).finish(
      'fail',
      `skipped: ${backupCancelled ? 'backup cancelled' : 'backup failed'}`,
      {
        outcome: 'skipped',
        dry_run: false,
      },
    );
    deployLog.line(summary);
    deployLog.finish('fail', summary, { outcome: 'skipped', dry_run: false });
    steps.push(
      { step: 'migrate', outcome: 'skipped', durationMs: 0, exitCode: null },
      { step: 'deploy', outcome: 'skipped', durationMs: 0, exitCode: null },
    );
  } else {
    // 3. Migrate.
    const migrateLog = evidence('migrate', migrateLogPath);
    header(migrateLog, `migrate${suffix}`, options.migrateCommand, migrateTimeoutMs);
    let migrated = true;
    if (options.migrateCommand) {
      const result = await runStep('migrate', options.migrateCommand, migrateLog, migrateTimeoutMs);
      summary = finishStep('migrate', migrateLog, result, migrateTimeoutMs);
      if (result.outcome !== 'succeeded') {
        status = result.outcome;
        migrated = false;
      }
    } else {
      const nothing = 'no migrate command configured; nothing to migrate';
      migrateLog.finish('pass', nothing, {
        outcome: 'skipped',
        dry_run: options.dryRun,
        migration_safety: migrationSafety,
      });
      steps.push({
        step: 'migrate',
        outcome: 'skipped',
        durationMs: 0,
        exitCode: null,
        logPath: migrateLogPath,
      });
    }

    // 4. Deploy, only on top of a successful migration.
    header(deployLog, `deploy${suffix}`, options.command, options.timeoutMs);
    if (migrated) {
      const result = await runStep('deploy', options.command, deployLog, options.timeoutMs);
      summary = finishStep('deploy', deployLog, result, options.timeoutMs);
      status = result.outcome;
    } else {
      const skipped = `deploy skipped: ${summary}`;
      deployLog.line(skipped);
      deployLog.finish('fail', skipped, {
        outcome: 'skipped',
        dry_run: options.dryRun,
        migrate_outcome: status,
      });
      steps.push({ step: 'deploy', outcome: 'skipped', durationMs: 0, exitCode: null, logPath });
    }
  }

  // 5. Final GitHub status: only a success retires older deployments (auto_inactive).
  await postStatus(STATE_OF[status], status === 'cancelled' ? `cancelled: ${summary}` : summary);
  return {
    status,
    dryRun: options.dryRun,
    deploymentId,
    logPath,
    migrateLogPath,
    backupPath: backup?.path,
    backupSha256: backup?.sha256,
    migrationSafety,
    steps,
    summary,
    githubProblems,
  };
}

export type MigrateOptions = Omit<
  DeployOptions,
  | 'command'
  | 'recorder'
  | 'backupFirst'
  | 'backup'
  | 'onDeploymentCreated'
  | 'onCommandStarted'
  | 'logUrl'
  | 'environmentUrl'
>;

export interface MigrateResult {
  status: DeployStatus | 'skipped';
  dryRun: boolean;
  logPath: string;
  migrationSafety: MigrationSafety;
  summary: string;
}

/** `guarded-rollout migrate`: the migrate step alone, with the same timeout, dry-run and evidence rules. */
export async function runMigrate(options: MigrateOptions): Promise<MigrateResult> {
  const now = options.now ?? (() => new Date());
  const redact = options.redact ?? ((l: string) => l);
  const logDir = resolve(options.logDir);
  mkdirSync(logDir, { recursive: true });
  const kind = `migrate${options.dryRun ? '-dryrun' : ''}`;
  const log = new EvidenceLog(join(logDir, `${kind}.log`), {
    kind,
    tool: 'guarded-rollout migrate',
    environment: options.environment,
    now,
  });
  const migrationSafety: MigrationSafety =
    options.migrationSafety ?? (options.migrateCommand ? 'unknown' : 'none');
  const timeoutMs = options.migrateTimeoutMs ?? options.timeoutMs;
  if (!options.migrateCommand) {
    const summary = 'no migrate command configured; nothing to migrate';
    log.finish('pass', summary, {
      outcome: 'skipped',
      dry_run: options.dryRun,
      migration_safety: migrationSafety,
    });
    options.onLine?.(summary);
    return { status: 'skipped', dryRun: options.dryRun, logPath: log.path, migrationSafety, summary };
  }
  log.line(
    `command: ${redact(options.migrateCommand)}${options.dryRun ? ` ${options.dryRunFlag}` : ''}`,
    `working-directory: ${options.workingDirectory}`,
    `timeout: ${formatDuration(timeoutMs)} (then SIGTERM to the process tree, SIGKILL ${formatDuration(options.killGraceMs)} later)`,
    `migration-safety: ${migrationSafety}`,
    '',
  );
  const result = await runCommand({
    command: options.migrateCommand,
    args: options.dryRun ? [options.dryRunFlag] : [],
    cwd: options.workingDirectory,
    env: commandEnvironment(options),
    timeoutMs,
    killGraceMs: options.killGraceMs,
    signal: options.signal,
    onLine: (line, stream) => {
      const text = redact(stream === 'stderr' ? `[stderr] ${line}` : line);
      log.line(text);
      options.onLine?.(text);
    },
  });
  const summary = describeOutcome('migrate', result, timeoutMs);
  log.line('', summary);
  log.finish(result.outcome === 'succeeded' ? 'pass' : 'fail', summary, {
    outcome: result.outcome,
    exit_code: result.exitCode,
    duration_ms: result.durationMs,
    dry_run: options.dryRun,
    migration_safety: migrationSafety,
  });
  options.onLine?.(summary);
  return { status: result.outcome, dryRun: options.dryRun, logPath: log.path, migrationSafety, summary };
}
