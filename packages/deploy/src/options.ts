// Merges the rollout config of one environment with what a doorway was given (CLI flags or action
// inputs, which share names), so both doorways build the very same options object.
import { ConfigError, durationProblem, tryParseDuration } from '@guarded-rollout/config';
import type { DeployOptions } from './deploy.js';
import {
  DEPLOYMENT_TYPES,
  MIGRATION_SAFETY,
  type DeclaredMigrationSafety,
  type DeploymentType,
  type RolloutEnvironment,
} from './rollout-config.js';
import { resolve } from 'node:path';

/** Doorway values; undefined means "not given, use the config". Durations are still text here. */
export interface DeployOverrides {
  ref?: string;
  version?: string;
  type?: string;
  command?: string;
  migrateCommand?: string;
  timeout?: string;
  migrateTimeout?: string;
  killGrace?: string;
  dryRun?: boolean;
  dryRunFlag?: string;
  workingDirectory?: string;
  env?: Record<string, string>;
  migrationSafety?: string;
  backupFirst?: boolean;
  logDir?: string;
  environmentUrl?: string;
  logUrl?: string;
}

export type DeploySettingsFromDoorway = Omit<
  DeployOptions,
  'recorder' | 'backup' | 'signal' | 'onLine' | 'onDeploymentCreated' | 'redact' | 'now' | 'baseEnv'
>;

/**
 * `name(field)` says how the doorway calls a field in errors: `--timeout` for the CLI,
 * `input "timeout"` for the action.
 */
export function deployOptionsFrom(
  config: RolloutEnvironment,
  given: DeployOverrides,
  name: (field: string) => string,
  cwd: string,
): DeploySettingsFromDoorway {
  const duration = (field: string, text: string | undefined, fallback: number): number => {
    if (text === undefined || text === '') return fallback;
    const ms = tryParseDuration(text);
    if (ms === undefined || ms <= 0) throw new ConfigError(durationProblem(name(field), text), { field });
    return ms;
  };
  const choice = <T extends string>(
    field: string,
    value: string | undefined,
    allowed: readonly T[],
  ): T | undefined => {
    if (value === undefined || value === '') return undefined;
    if (!(allowed as readonly string[]).includes(value)) {
      throw new ConfigError(
        `${name(field)}: ${JSON.stringify(value)} is not one of ${allowed.map((a) => JSON.stringify(a)).join(', ')}`,
        { field },
      );
    }
    return value as T;
  };
  const d = config.deploy;
  const timeoutMs = duration('timeout', given.timeout, d.timeoutMs);
  return {
    environment: config.environment,
    ref: given.ref || 'HEAD',
    version: given.version || undefined,
    type: choice<DeploymentType>('type', given.type, DEPLOYMENT_TYPES) ?? 'standard',
    command: given.command || d.command,
    migrateCommand: given.migrateCommand || d.migrateCommand,
    timeoutMs,
    migrateTimeoutMs: duration(
      'migrate-timeout',
      given.migrateTimeout,
      given.timeout ? timeoutMs : d.migrateTimeoutMs,
    ),
    killGraceMs: duration('kill-grace', given.killGrace, d.killGraceMs),
    dryRun: given.dryRun ?? false,
    dryRunFlag: given.dryRunFlag || d.dryRunFlag,
    workingDirectory: given.workingDirectory ? resolve(cwd, given.workingDirectory) : d.workingDirectory,
    env: { ...d.env, ...given.env },
    logDir: given.logDir ? resolve(cwd, given.logDir) : (d.logDir ?? cwd),
    migrationSafety:
      choice<DeclaredMigrationSafety>('migration-safety', given.migrationSafety, MIGRATION_SAFETY) ??
      d.migrationSafety,
    backupFirst: given.backupFirst ?? d.backupFirst,
    environmentUrl: given.environmentUrl || d.environmentUrl,
    logUrl: given.logUrl || undefined,
  };
}
