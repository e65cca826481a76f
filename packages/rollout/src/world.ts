// The world a guarded deploy runs in, behind small seams: where the backup artifact goes, how
// state survives to a post step, how GitHub Deployments are recorded, how notifications leave,
// how a cancel arrives, and the clock. The action passes runner-backed implementations; the CLI,
// the demo and the tests pass local ones (see ./local.ts).
import type { DeploymentRecorder } from '@guarded-rollout/deploy';
import type { Clock, NotificationRecord, NotifyEvent } from '@guarded-rollout/monitor';

export interface BackupFiles {
  environment: string;
  zipPath: string;
  sha256Path: string;
  sha256: string;
}

/** Makes a backup outlive the runner (an artifact named for environment and run). */
export interface BackupArtifacts {
  upload(backup: BackupFiles): Promise<{ name: string; id?: number }>;
}

/** Survives to the post step even when main is killed (GITHUB_STATE is written at once). */
export interface RolloutState {
  save(key: string, value: string): void;
}

export interface NotifyCall {
  /** Hard bound on the whole send (every channel, every retry). */
  budgetMs: number;
  signal?: AbortSignal;
}

/** Sends one event to every configured channel; never throws for a channel's failure. */
export type RolloutNotifier = (
  event: NotifyEvent,
  details: Record<string, unknown>,
  call: NotifyCall,
) => Promise<NotificationRecord>;

export interface RolloutLog {
  info(line: string): void;
  warning(line: string): void;
  /** A foldable section per stage (core.group on a runner). */
  group<T>(name: string, run: () => Promise<T>): Promise<T>;
}

export interface RolloutWorld {
  artifacts?: BackupArtifacts;
  state: RolloutState;
  /** Absent: nothing is recorded on GitHub (no token, local runs). */
  deployments?: DeploymentRecorder;
  notifier: RolloutNotifier;
  /** Aborted on SIGINT/SIGTERM: every stage stops and the cancel is recorded. */
  signal: AbortSignal;
  clock: Clock;
  log: RolloutLog;
  /** The deployed version resolved to its commit (default: git in the working directory). */
  resolveCommit?: (version: string) => Promise<string>;
  /** The version rule (tag or commit reachable from the default branch); throws ConfigError. */
  checkVersion?: (version: string, commit: string) => Promise<void>;
}
