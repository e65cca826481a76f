// runGuardedDeploy: the whole guarded deploy as one in-process sequence — plan → notify started →
// backup → migrate → deploy → critical smoke → watch → automatic verified rollback → notify the
// outcome — recorded as a GitHub Deployment that tells the truth for the whole lifecycle. A cancel
// (world.signal) stops whatever stage runs and is recorded in a few seconds, well inside the
// runner's 10 s: Deployment `error` "cancelled at stage X", a notification with a short budget,
// the monitor's partial report.
import { execFile } from 'node:child_process';
import { existsSync, readdirSync } from 'node:fs';
import { relative, resolve, sep } from 'node:path';
import {
  BackupCancelledError,
  createBackup,
  firstMountProblem,
  GLOB_CHARS,
  recordDeployedTree,
  runRollback,
  type HealthSettings,
} from '@guarded-rollout/archive';
import { ConfigError, untilAborted } from '@guarded-rollout/config';
import {
  automaticRollbackSafe,
  checksForTier,
  CommitStatusGateError,
  recordRestoredRelease,
  runDeploy,
  runSmokeTests,
  type ActiveDeployment,
  type BackupSettings,
  type DeploySettingsFromDoorway,
  type DeploymentState,
  type DeployResult,
  type SmokeCheck,
} from '@guarded-rollout/deploy';
import {
  assertPreflight,
  guardedMonitor,
  preflight,
  MonitorRecorder,
  rehearseRestore,
  planWatch,
  prepareWatch,
  recordBaseline,
  type NotificationRecord,
  type NotifyEvent,
  type PollRecord,
  type RollbackOutcome,
  type WatchOptions,
} from '@guarded-rollout/monitor';
import type { BaselineSnapshot } from '@guarded-rollout/gates';
import type { RolloutLog, RolloutWorld } from './world.js';

export const STAGES = [
  'plan',
  'baseline',
  'notify-started',
  'backup',
  'migrate',
  'deploy',
  'smoke',
  'watch',
  'rollback',
  'notify-outcome',
] as const;
export type Stage = (typeof STAGES)[number];

export type GuardedResult =
  'succeeded' | 'dry-run' | 'rolled-back' | 'rollback-failed' | 'failed' | 'refused' | 'cancelled';

export interface GuardedDeployOptions {
  environment: string;
  version: string;
  /** The commit to record; resolved from `version` when absent. */
  commit?: string;
  type: 'standard' | 'hotfix' | 'rollback';
  dryRun: boolean;
  skipBackup: boolean;
  backup: BackupSettings;
  /** migrate/deploy commands, timeouts, working directory, log directory (backupFirst is ignored). */
  deploy: DeploySettingsFromDoorway;
  smoke: { checks: SmokeCheck[]; required: boolean; baseUrl?: string };
  watch: Pick<
    WatchOptions,
    'configFile' | 'healthUrl' | 'metricsUrl' | 'prometheusUrl' | 'durationMs' | 'timeScale' | 'outDir'
  >;
  rollback: {
    auto: boolean;
    /** The live directory the backup's roots are restored into. */
    target: string;
    restartCommand?: string;
    restartTimeoutMs?: number;
    smokeCommand?: string;
    healthUrl?: string;
    health?: HealthSettings;
    /** Previous versions of the target to keep, the rollback's included (restoreBackup's
     *  keepPrevious); unset keeps all. */
    keepPrevious?: number;
    /** What the record of the deployed tree covers, relative to the target (the release's files,
     *  not the service's runtime data); all of it when unset. A later manual rollback compares
     *  only these with what this deploy left. */
    releasePaths?: string[];
  };
  /** Commit-status contexts GitHub must see green; undefined keeps GitHub's default (all). */
  requiredContexts?: string[];
  environmentUrl?: string;
  logUrl?: string;
  /** Budget of each notification (default 15 s); on cancel 2 s. */
  notifyBudgetMs?: number;
  /** How often (virtual time) the Deployment's "monitoring T+NN m" status is refreshed (default 5 m). */
  progressEveryMs?: number;
  cwd: string;
}

export interface GuardedDeployResult {
  result: GuardedResult;
  /** The stage the run ended in (for `cancelled`: the stage the cancel arrived in). */
  stage: Stage;
  message: string;
  commit: string | undefined;
  deploymentId: number | undefined;
  restoredDeploymentId: number | undefined;
  backupPath: string | undefined;
  backupSha256: string | undefined;
  backupArtifact: string | undefined;
  deployStatus: DeployResult['status'] | undefined;
  smoke: 'passed' | 'failed' | 'skipped' | 'not-run';
  monitorResult: string | undefined;
  violatedGates: string[];
  monitorReport: string | undefined;
  rollbackStatus: RollbackOutcome['status'] | undefined;
  restoredFrom: string | undefined;
  /** Lines for the job summary. */
  summary: string[];
  notifications: NotificationRecord[];
}

export const CANCEL_NOTIFY_BUDGET_MS = 2000;

/** `git rev-parse` in `cwd`: a tag, branch or SHA to the full commit, or a ConfigError naming it. */
export function gitCommitResolver(cwd: string): (version: string) => Promise<string> {
  return (version) =>
    new Promise((resolve, reject) => {
      execFile(
        'git',
        ['rev-parse', '--verify', '--quiet', `${version}^{commit}`],
        { cwd, timeout: 10_000 },
        (error, stdout) => {
          const sha = stdout.trim();
          if (!error && /^[0-9a-f]{40}$/.test(sha)) resolve(sha);
          else
            reject(
              new ConfigError(
                `version ${JSON.stringify(version)} does not resolve to a commit in ${cwd} (git rev-parse); pass a tag or commit of this repository, or input "ref" with the commit being deployed`,
                { field: 'version' },
              ),
            );
        },
      );
    });
}

const minutes = (ms: number): string => `T+${String(Math.floor(ms / 60_000)).padStart(2, '0')} m`;

/** The automatic rollback as it would run, said before anything changes: an operator learns at
 *  the plan, not at 3 a.m., that it would restore files without restarting the service, or could
 *  not verify the restore (reported failed). */
function describeAutomaticRollback(options: GuardedDeployOptions, log: RolloutLog): void {
  const rb = options.rollback;
  const health = rb.healthUrl
    ? `${rb.health?.required ?? 3} consecutive OK health checks of ${rb.healthUrl}`
    : 'no health check';
  log.info(
    `automatic rollback on a violation: restore this run's backup into ${resolve(options.cwd, rb.target)}; restart: ${rb.restartCommand ?? 'none'}; ${health}${rb.smokeCommand ? `; smoke: ${rb.smokeCommand}` : ''}`,
  );
  if (!rb.restartCommand)
    log.warning(
      'the automatic rollback has no restart command: it would restore the files and leave the running service as it is (set the restart command unless the service reloads its files itself)',
    );
  if (!rb.healthUrl)
    log.warning(
      'the automatic rollback has no health URL: a rollback could not be verified and would be reported failed (restored-unverified)',
    );
}

/** Runs one guarded deploy; never throws for an outcome (a refused plan is `refused`). */
export async function runGuardedDeploy(
  options: GuardedDeployOptions,
  world: RolloutWorld,
): Promise<GuardedDeployResult> {
  const { log, signal } = world;
  const env = options.environment;
  const recorder = options.dryRun ? undefined : world.deployments;
  const out: GuardedDeployResult = {
    result: 'failed',
    stage: 'plan',
    message: '',
    commit: options.commit,
    deploymentId: undefined,
    restoredDeploymentId: undefined,
    backupPath: undefined,
    backupSha256: undefined,
    backupArtifact: undefined,
    deployStatus: undefined,
    smoke: 'not-run',
    monitorResult: undefined,
    violatedGates: [],
    monitorReport: undefined,
    rollbackStatus: undefined,
    restoredFrom: undefined,
    summary: [],
    notifications: [],
  };
  const enter = (stage: Stage): void => {
    out.stage = stage;
    world.state.save('stage', stage);
  };
  const budget = options.notifyBudgetMs ?? 15_000;
  const note = (line: string): void => {
    out.summary.push(line);
  };

  // Deployment statuses go out in order through one queue, never holding a stage: a hung API is
  // bounded by the recorder's request timeout, and the queue is drained at the end.
  let trail: Promise<void> = Promise.resolve();
  const post = (id: number | undefined, state: DeploymentState, description: string): Promise<void> => {
    if (!recorder || id === undefined) return trail;
    trail = trail.then(() =>
      recorder
        .status(id, {
          state,
          description,
          logUrl: options.logUrl,
          environmentUrl: options.environmentUrl,
        })
        .catch((error: unknown) =>
          log.warning(`GitHub deployment ${id}: status "${state}" not recorded: ${(error as Error).message}`),
        ),
    );
    return trail;
  };

  const notify = async (
    event: NotifyEvent,
    details: Record<string, unknown>,
    budgetMs = budget,
    notifySignal?: AbortSignal,
  ): Promise<void> => {
    const record = await world
      .notifier(
        event,
        { environment: env, version: options.version, ...details },
        { budgetMs, ...(notifySignal ? { signal: notifySignal } : {}) },
      )
      .catch((error: unknown): NotificationRecord => ({
        event,
        at: new Date(world.clock.now()).toISOString(),
        delivered: {},
        error: (error as Error).message,
      }));
    out.notifications.push(record);
  };

  let previous: ActiveDeployment | undefined;

  // The cancel path: record it everywhere at once, each part bounded.
  const recordCancel = async (): Promise<GuardedDeployResult> => {
    const stage = out.stage;
    out.result = 'cancelled';
    out.message = `cancelled at stage ${stage}`;
    log.warning(`guarded deploy ${out.message}; recording it`);
    world.state.save('cancel-recorded', 'pending');
    await Promise.all([
      post(out.deploymentId, 'error', out.message),
      notify('deploy-failed', { result: 'cancelled', stage, reason: out.message }, CANCEL_NOTIFY_BUDGET_MS),
    ]);
    world.state.save('cancel-recorded', 'true');
    note(`Cancelled at stage **${stage}**; Deployment ${out.deploymentId ?? '(none)'} marked error.`);
    return out;
  };

  // ---- plan ----------------------------------------------------------------------------------
  enter('plan');
  const planned = await log.group('plan', async () => {
    try {
      if (options.skipBackup && env === 'production')
        throw new ConfigError('skip-backup is refused for production (nothing to roll back to)', {
          field: 'skip-backup',
        });
      if (!options.deploy.command)
        throw new ConfigError(
          `no deploy command for environment "${env}": pass input "deploy-command" or set environments.${env}.deploy.command in the rollout config`,
          { field: 'deploy-command' },
        );
      out.commit ??= await (world.resolveCommit ?? gitCommitResolver(options.cwd))(options.version);
      log.info(`version ${options.version} is commit ${out.commit}`);
      await world.checkVersion?.(options.version, out.commit);
      // Monitor pre-flight: gates, URLs and metric mapping checked before anything changes.
      await monitorPreflight(options, log);
      // The automatic rollback's pre-flight: a root it would replace that is, or holds, a mount
      // point would make it fail (or carry the mount away) when it is needed.
      if (options.rollback.auto && options.rollback.target && !options.skipBackup) {
        const why = firstMountProblem(
          resolve(options.cwd, options.rollback.target),
          backupRootNames(options.backup, options.cwd),
        );
        if (why)
          throw new ConfigError(`the automatic rollback could not run: ${why}`, { field: 'rollback-target' });
        describeAutomaticRollback(options, log);
      }
      const critical = checksForTier(options.smoke.checks, 'critical');
      if (critical.length === 0 && options.smoke.required)
        throw new ConfigError(
          `smoke.required is true for ${env} but no critical smoke checks are configured (smoke.checks[].tier "critical")`,
          { field: 'smoke.required' },
        );
      return true;
    } catch (error) {
      out.result = 'refused';
      out.message = (error as Error).message;
      log.warning(`plan refused: ${out.message}`);
      return false;
    }
  });
  if (!planned) {
    note(`Refused at plan: ${out.message}`);
    return out;
  }
  if (recorder) {
    try {
      previous = await recorder.active?.(env);
    } catch (error) {
      log.warning(`could not read the active deployment of ${env}: ${(error as Error).message}`);
    }
    try {
      out.deploymentId = await recorder.create({
        environment: env,
        ref: out.commit!,
        production: env === 'production',
        description: `${options.type} deploy of ${options.version} by guarded-rollout`,
        payload: {
          version: options.version,
          type: options.type,
          previous_version: previous?.version ?? null,
        },
        ...(options.requiredContexts ? { requiredContexts: options.requiredContexts } : {}),
      });
      world.state.save('deployment-id', String(out.deploymentId));
      log.info(`GitHub deployment ${out.deploymentId} created for ${env} at ${out.commit}`);
      void post(out.deploymentId, 'in_progress', `deploying ${options.version}`);
    } catch (error) {
      if (error instanceof CommitStatusGateError) {
        out.result = 'refused';
        out.message = error.message;
        log.warning(out.message);
        note(`Refused by GitHub's commit-status gate: ${error.message}`);
        return out;
      }
      log.warning(`GitHub deployment not recorded: ${(error as Error).message}`);
    }
  }
  if (signal.aborted) return recordCancel();

  // ---- baseline (only with baseline gates): recorded before anything changes -----------------
  let baseline: BaselineSnapshot | undefined;
  const prepared = prepareWatch({ environment: env, ...options.watch });
  if (prepared.config.baselineGates?.length && !options.dryRun) {
    enter('baseline');
    try {
      baseline = await log.group('baseline', () =>
        recordBaseline({
          gates: prepared.config.baselineGates!,
          ...(options.watch.metricsUrl ? { metricsUrl: options.watch.metricsUrl } : {}),
          ...(options.watch.prometheusUrl ? { prometheusUrl: options.watch.prometheusUrl } : {}),
          sources: prepared.sources,
          timeScale: prepared.timeScale,
          clock: world.clock,
          signal,
          log: (line) => log.info(line),
        }),
      );
    } catch (error) {
      if (signal.aborted) return recordCancel();
      // Too little data or a failing source: the baseline gates could not judge; deploy nothing.
      out.result = 'refused';
      out.message = `baseline not recorded, nothing was deployed: ${(error as Error).message}`;
      log.warning(out.message);
      void post(out.deploymentId, 'failure', 'baseline not recorded; nothing was deployed');
      note(out.message);
      return finish();
    }
  }

  // ---- notify started ------------------------------------------------------------------------
  enter('notify-started');
  await log.group('notify deploy-started', () =>
    notify('deploy-started', {
      previousVersion: previous?.version ?? null,
      deploymentType: options.type,
      dryRun: options.dryRun,
    }),
  );
  if (signal.aborted) return recordCancel();

  // ---- backup --------------------------------------------------------------------------------
  enter('backup');
  if (options.skipBackup) {
    note('Backup: skipped (skip-backup); nothing can be rolled back automatically.');
  } else {
    const backedUp = await log.group('backup', async () => {
      try {
        const made = await createBackup({
          environment: env,
          paths: options.backup.paths,
          baseDir: options.backup.baseDir,
          outDir: options.backup.outDir,
          prefix: options.backup.prefix ?? 'dhash',
          ...(options.backup.keep !== undefined ? { keep: options.backup.keep } : {}),
          ...(options.backup.dumpCommand ? { dumpCommand: options.backup.dumpCommand } : {}),
          ...(options.backup.dumpTimeoutMs ? { dumpTimeoutMs: options.backup.dumpTimeoutMs } : {}),
          // The backup holds what runs now: the version before this deploy.
          ...(previous?.version ? { version: previous.version } : {}),
          ...(previous?.ref ? { commit: previous.ref } : {}),
          dryRun: options.dryRun,
          logDir: options.deploy.logDir,
          cwd: options.cwd,
          // A cancel stops it at the next file or 1 MiB piece (and a dump command's group), so the
          // cancel is recorded within seconds even for a tree whose backup takes minutes.
          signal,
        });
        if (options.dryRun) return true;
        out.backupPath = made.backupPath;
        out.backupSha256 = made.sha256;
        world.state.save('backup-path', made.backupPath);
        log.info(`backup ${made.backupPath} (${made.fileCount} files, sha256 ${made.sha256})`);
        if (world.artifacts) {
          try {
            const artifact = await world.artifacts.upload({
              environment: env,
              zipPath: made.backupPath,
              sha256Path: made.sha256Path,
              sha256: made.sha256,
            });
            out.backupArtifact = artifact.name;
            log.info(`backup uploaded as artifact ${artifact.name}`);
          } catch (error) {
            log.warning(
              `backup artifact upload failed (the local backup stands): ${(error as Error).message}`,
            );
          }
        }
        return true;
      } catch (error) {
        if (error instanceof BackupCancelledError) {
          log.info(error.message);
          return false;
        }
        out.message = `backup failed, nothing was deployed: ${(error as Error).message}`;
        log.warning(out.message);
        return false;
      }
    });
    if (signal.aborted) return recordCancel();
    if (!backedUp) {
      out.result = 'failed';
      void post(out.deploymentId, 'failure', 'backup failed; nothing was deployed');
      note(out.message);
      return finish();
    }
    // The automatic rollback rehearsed on this very backup before anything changes: the restore's
    // dry run (every entry's CRC-32 and SHA256, the environment, each root of the target it would
    // replace, the free disk). A rollback that could not run is found now, not at the violation.
    if (options.rollback.auto && !options.dryRun && out.backupPath) {
      // Read-only, so a cancel does not wait for it: the cancel is recorded at once, and the dry
      // run stops at its next entry (or 32 MiB) with its own log line, not keeping the process.
      const rehearsal = await log.group('rollback rehearsal', () =>
        untilAborted(
          rehearseRestore({
            environment: env,
            backupPath: out.backupPath!,
            target: options.rollback.target,
            ...(options.rollback.keepPrevious ? { keepPrevious: options.rollback.keepPrevious } : {}),
            logDir: options.deploy.logDir,
            cwd: options.cwd,
            signal,
          }),
          signal,
        ),
      );
      if (signal.aborted || !rehearsal) return recordCancel();
      if (!rehearsal.ok) {
        out.result = 'refused';
        out.message = `the automatic rollback could not restore this run's backup, so nothing was deployed: ${rehearsal.detail}`;
        log.warning(out.message);
        void post(out.deploymentId, 'failure', 'rollback rehearsal failed; nothing was deployed');
        note(out.message);
        return finish();
      }
      log.info(`rollback rehearsed: ${rehearsal.detail}`);
    }
  }

  // ---- migrate + deploy ----------------------------------------------------------------------
  enter(options.deploy.migrateCommand ? 'migrate' : 'deploy');
  const deployed = await log.group('migrate and deploy', () =>
    runDeploy({
      ...options.deploy,
      ref: out.commit!,
      version: options.version,
      type: options.type,
      dryRun: options.dryRun,
      backupFirst: false,
      signal,
      // Saved at once (GITHUB_STATE): if this process is killed, the post step stops the group.
      onCommandStarted: (pgid) => world.state.save('command-pgid', String(pgid)),
      onLine: (line) => {
        // runDeploy announces each command as "<step>: <command>".
        if (line.startsWith('deploy: ') && out.stage === 'migrate') enter('deploy');
        log.info(line);
      },
    }),
  );
  out.deployStatus = deployed.status;
  const cancelledStep = deployed.steps.find((s) => s.outcome === 'cancelled');
  if (cancelledStep && cancelledStep.step !== 'backup') out.stage = cancelledStep.step;
  if (signal.aborted) return recordCancel();
  const migrationSafe = automaticRollbackSafe(deployed.migrationSafety);
  let rollbackReason: string | undefined;
  if (deployed.status !== 'succeeded') rollbackReason = `deploy ${deployed.status}: ${deployed.summary}`;
  else if (!options.dryRun && options.rollback.target) {
    // What this deploy left in the live tree: a later manual rollback refuses (unless forced) to
    // discard files changed by hand since (packages/archive live-tree).
    const target = resolve(options.cwd, options.rollback.target);
    try {
      if (existsSync(target))
        recordDeployedTree(target, {
          environment: env,
          ...(out.commit ? { commit: out.commit } : {}),
          ...(options.rollback.releasePaths?.length ? { paths: options.rollback.releasePaths } : {}),
        });
    } catch (error) {
      log.warning(`could not record the deployed tree of ${target}: ${(error as Error).message}`);
    }
  }

  // ---- critical smoke ------------------------------------------------------------------------
  if (!rollbackReason) {
    enter('smoke');
    await log.group('critical smoke tests', async () => {
      if (checksForTier(options.smoke.checks, 'critical').length === 0) {
        out.smoke = 'skipped';
        log.warning(
          `no critical smoke checks configured for ${env}: smoke tests skipped (set smoke.required to make this an error)`,
        );
        note(`Smoke: skipped — no critical smoke checks configured for ${env}.`);
        return;
      }
      if (options.dryRun) {
        out.smoke = 'skipped';
        note('Smoke: not run in dry-run.');
        return;
      }
      const report = await runSmokeTests({
        environment: env,
        checks: options.smoke.checks,
        tier: 'critical',
        baseUrl: options.smoke.baseUrl,
        logDir: options.deploy.logDir,
        onLine: (line) => log.info(line),
        signal,
      });
      note(`Smoke: ${report.summary}.`);
      if (report.cancelled) return; // recorded as the run's cancel below, never as a smoke failure
      out.smoke = report.passed ? 'passed' : 'failed';
      if (!report.passed) rollbackReason = `critical smoke tests failed: ${report.summary}`;
    });
    if (signal.aborted) return recordCancel();
  }

  // The rollback of this run's own backup: verified restore of its roots, restart, N OK health
  // checks; then the restored version becomes the environment's active deployment again.
  const canRollBack =
    options.rollback.auto && !options.dryRun && out.backupPath !== undefined && migrationSafe;
  const rollback = async (): Promise<RollbackOutcome> => {
    enter('rollback');
    void post(out.deploymentId, 'failure', rollbackReason ?? 'quality gate violated; rolling back');
    const restored = await runRollback({
      liveTreeCheck: false, // its own deploy; the deployed-tree record is refreshed afterwards
      environment: env,
      backupPath: out.backupPath!,
      target: options.rollback.target,
      prefix: options.backup.prefix ?? 'dhash',
      ...(options.rollback.restartCommand ? { restartCommand: options.rollback.restartCommand } : {}),
      ...(options.rollback.restartTimeoutMs ? { restartTimeoutMs: options.rollback.restartTimeoutMs } : {}),
      ...(options.rollback.smokeCommand ? { smokeCommand: options.rollback.smokeCommand } : {}),
      ...(options.rollback.healthUrl
        ? { healthUrl: options.rollback.healthUrl, health: { required: 3, ...options.rollback.health } }
        : {}),
      ...(options.rollback.keepPrevious ? { keepPrevious: options.rollback.keepPrevious } : {}),
      ...(options.rollback.releasePaths?.length ? { releasePaths: options.rollback.releasePaths } : {}),
      logDir: options.deploy.logDir,
      cwd: options.cwd,
    });
    const outcome: RollbackOutcome = {
      // restored-unverified (no health check ran) is not a verified rollback.
      status:
        restored.status === 'dry-run'
          ? 'skipped'
          : restored.status === 'restored-unverified'
            ? 'failed'
            : restored.status,
      detail: restored.message,
      restoredFrom: restored.restoredFrom,
      healthChecksOk: restored.healthChecksOk,
    };
    out.rollbackStatus = outcome.status;
    out.restoredFrom = restored.restoredFrom;
    if (outcome.status === 'succeeded') void recordRestored();
    return outcome;
  };
  const recordRestored = async (): Promise<void> => {
    if (!recorder) return;
    if (!previous) {
      log.warning(
        `the restored version is not known to GitHub (no earlier successful deployment of ${env}); no Deployment recorded for it`,
      );
      return;
    }
    await trail;
    try {
      out.restoredDeploymentId = await recordRestoredRelease(recorder, {
        environment: env,
        ref: previous.ref,
        ...(previous.version ? { version: previous.version } : {}),
        reason: 'automatic rollback',
        ...(out.restoredFrom ? { restoredFrom: out.restoredFrom } : {}),
        ...(out.deploymentId !== undefined ? { rollbackOf: out.deploymentId } : {}),
        ...(options.logUrl ? { logUrl: options.logUrl } : {}),
        ...(options.environmentUrl ? { environmentUrl: options.environmentUrl } : {}),
      });
    } catch (error) {
      log.warning(`GitHub: the restored release was not recorded: ${(error as Error).message}`);
    }
  };

  // ---- watch ---------------------------------------------------------------------------------
  if (!rollbackReason) {
    enter('watch');
    if (options.dryRun) {
      await log.group('watch (dry-run plan)', async () => {
        const plan = planWatch({ environment: env, ...options.watch });
        for (const line of plan.lines) log.info(line);
        note('Watch: planned only (dry-run).');
      });
    } else {
      const watched = await log.group('watch', () =>
        watch(
          baseline,
          options,
          world,
          canRollBack,
          rollback,
          (at) => {
            void post(out.deploymentId, 'in_progress', `monitoring ${minutes(at)}`);
          },
          out,
        ),
      );
      out.monitorResult = watched.result;
      out.violatedGates = watched.violatedGates;
      out.monitorReport = watched.report;
      if (watched.result === 'cancelled' || signal.aborted) return recordCancel();
      if (watched.result === 'passed') {
        void post(out.deploymentId, 'success', `watch passed: ${watched.reason}`);
        note(`Watch: passed — ${watched.reason}.`);
      } else {
        note(`Watch: ${watched.result} — ${watched.reason}.`);
        if (out.rollbackStatus === undefined) {
          // No automatic restore ran (not allowed, or the monitor errored): the release is not good.
          void post(out.deploymentId, 'failure', `watch ${watched.result}: ${watched.reason}`);
        }
        rollbackReason = `watch ${watched.result}: ${watched.reason}`;
      }
    }
  } else {
    void post(out.deploymentId, 'failure', rollbackReason);
  }

  // ---- rollback after a failed deploy or smoke test --------------------------------------------
  if (rollbackReason && out.rollbackStatus === undefined && out.monitorResult === undefined) {
    if (canRollBack) {
      const outcome = await log.group('automatic rollback', async () => {
        void notify('rollback-started', { reason: rollbackReason, backup: out.backupPath ?? null });
        return rollback();
      });
      log.info(`rollback ${outcome.status}: ${outcome.detail}`);
      void notify(outcome.status === 'succeeded' ? 'rollback-succeeded' : 'rollback-failed', {
        message: outcome.detail,
        backup: out.restoredFrom ?? null,
      });
    } else if (!options.dryRun) {
      log.warning(
        `rollback needed but not run automatically (auto-rollback=${options.rollback.auto}, backup=${out.backupPath ?? 'none'}, migration-safety=${deployed.migrationSafety}); escalate to the on-call operator`,
      );
    }
  } else if (rollbackReason && out.rollbackStatus === undefined && !canRollBack && !options.dryRun) {
    log.warning(
      `rollback needed but not run automatically (auto-rollback=${options.rollback.auto}, backup=${out.backupPath ?? 'none'}, migration-safety=${deployed.migrationSafety}); escalate to the on-call operator`,
    );
  }
  if (signal.aborted) return recordCancel();

  if (!rollbackReason) out.result = options.dryRun ? 'dry-run' : 'succeeded';
  else if (out.rollbackStatus === 'succeeded') out.result = 'rolled-back';
  else if (out.rollbackStatus !== undefined) out.result = 'rollback-failed';
  else out.result = 'failed';
  out.message = rollbackReason ?? `${options.version} is live on ${env}`;
  if (out.rollbackStatus) note(`Rollback: ${out.rollbackStatus} (${out.restoredFrom ?? 'no backup'}).`);
  return finish();

  async function finish(): Promise<GuardedDeployResult> {
    enter('notify-outcome');
    const event: NotifyEvent =
      out.result === 'succeeded' || out.result === 'dry-run'
        ? 'deploy-succeeded'
        : out.result === 'rolled-back'
          ? 'rollback-succeeded'
          : out.result === 'rollback-failed'
            ? 'rollback-failed'
            : 'deploy-failed';
    await log.group(`notify ${event}`, () =>
      notify(event, {
        result: out.result,
        message: out.message,
        deploymentId: out.deploymentId ?? null,
        monitor: out.monitorResult ?? null,
        violatedGates: out.violatedGates,
        restoredFrom: out.restoredFrom ?? null,
      }),
    );
    await trail;
    return out;
  }
}

/** The top-level names a backup of `backup.paths` holds (each path's first segment relative to
 *  its base directory; every entry of it for "."), as far as they can be known before it is
 *  made: a glob in the first segment is left out. */
function backupRootNames(backup: BackupSettings, cwd: string): string[] {
  const base = resolve(cwd, backup.baseDir);
  const names = new Set<string>();
  for (const path of backup.paths) {
    const first = relative(base, resolve(base, path)).split(sep)[0]!;
    if (first === '') {
      try {
        for (const name of readdirSync(base)) if (name !== '.guarded-rollout') names.add(name);
      } catch {
        // the backup reports a base directory it cannot read
      }
    } else if (first !== '..' && !GLOB_CHARS.test(first)) names.add(first);
  }
  return [...names];
}

/** The monitor pre-flight of the plan stage (packages/monitor `preflight()`): every problem
 *  refuses the deploy before anything changes; warnings are shown. */
export async function monitorPreflight(
  options: GuardedDeployOptions,
  log: Pick<RolloutWorld['log'], 'info' | 'warning'>,
): Promise<void> {
  const result = await preflight({
    environment: options.environment,
    ...options.watch,
    autoRollback: options.rollback.auto,
    autoRollbackName: 'input "auto-rollback"',
    rollbackConfigured: options.skipBackup ? false : Boolean(options.rollback.target),
    // In dry-run the service may legitimately be absent; a mapping that matches nothing is still refused.
    requireReachable: !options.dryRun,
  });
  for (const line of result.lines) log.info(line);
  for (const warning of result.warnings) log.warning(`pre-flight: ${warning}`);
  assertPreflight(result);
}

/** A recorder that also reports each poll (for the Deployment's "monitoring T+NN m"). */
class ProgressRecorder extends MonitorRecorder {
  onPoll: (poll: PollRecord) => void = () => undefined;
  override poll(poll: PollRecord): void {
    super.poll(poll);
    this.onPoll(poll);
  }
}

interface Watched {
  result: string;
  reason: string;
  violatedGates: string[];
  report: string | undefined;
}

async function watch(
  baseline: BaselineSnapshot | undefined,
  options: GuardedDeployOptions,
  world: RolloutWorld,
  canRollBack: boolean,
  rollback: () => Promise<RollbackOutcome>,
  progress: (atMs: number) => void,
  out: GuardedDeployResult,
): Promise<Watched> {
  const env = options.environment;
  const prepared = prepareWatch({ environment: env, ...options.watch });
  const recorder = new ProgressRecorder(
    options.watch.outDir ?? 'monitor_logs',
    env,
    new Date(world.clock.now()),
  );
  const every = options.progressEveryMs ?? 5 * 60_000;
  let lastProgress = -1;
  recorder.onPoll = (poll) => {
    const step = Math.floor(poll.at / every);
    if (step > lastProgress) {
      lastProgress = step;
      progress(poll.at);
    }
  };
  // Monitor notifications never hold the rollback; on cancel they get a short budget and are cut.
  const cutoff = new AbortController();
  let cutTimer: NodeJS.Timeout | undefined;
  const onCancel = (): void => {
    cutTimer = setTimeout(() => cutoff.abort(), CANCEL_NOTIFY_BUDGET_MS);
  };
  world.signal.addEventListener('abort', onCancel, { once: true });
  try {
    const outcome = await guardedMonitor({
      config: prepared.config,
      environment: env,
      provider: prepared.sampler.provider === 'none' ? 'health only' : prepared.sampler.provider,
      recorder,
      sample: prepared.sampler.sample,
      ...(baseline ? { baseline } : {}),
      clock: world.clock,
      timeScale: prepared.timeScale,
      stopOnViolation: true,
      signal: world.signal,
      autoRollback: canRollBack,
      migrationSafety: 'reversible',
      rollback,
      notify: async (event, details) => {
        const record = await world.notifier(
          event,
          { version: options.version, ...details },
          { budgetMs: options.notifyBudgetMs ?? 15_000, signal: cutoff.signal },
        );
        out.notifications.push(record);
        return record;
      },
      notifyAbort: cutoff,
      notifyTimeoutMs: options.notifyBudgetMs ?? 15_000,
      log: (line) => world.log.info(line),
    });
    const s = outcome.summary;
    const violated = s.violations.map((v) => v.gate);
    return {
      result: s.result,
      reason: s.reason,
      violatedGates: violated,
      report: s.reports.html,
    };
  } finally {
    world.signal.removeEventListener('abort', onCancel);
    clearTimeout(cutTimer);
  }
}
