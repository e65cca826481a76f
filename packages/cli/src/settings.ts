// Where each option of backup, latest-backup, rollback, monitor and notify comes from:
// a flag, else an environment variable GUARDED_ROLLOUT_<COMMAND>_<KEY>, else the section
// `environments.<env>.<command>` of the rollout config (guarded-rollout.config.json, or --config /
// $GUARDED_ROLLOUT_CONFIG), else the built-in default. One table per command (OPTION_SPECS) drives
// the resolution, the validation of the config section and `guarded-rollout config check`.
import { existsSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  describeValue,
  readJsonFile,
  releasePathProblem,
  tryParseDuration,
} from '@guarded-rollout/config';
import { DEFAULT_ROLLOUT_CONFIG, loadRolloutConfig } from '@guarded-rollout/deploy';
import type { CliContext } from './context.js';

export type SettingKind = 'string' | 'path' | 'duration' | 'integer' | 'number' | 'boolean' | 'list';
export type SettingSource = 'flag' | 'env' | 'file' | 'default' | 'unset';

export interface OptionSpec {
  /** commander's camelCase attribute name (the flag is --kebab-case of it). */
  attr: string;
  /** The key in the config section. */
  key: string;
  kind: SettingKind;
  default?: string | number | boolean | string[];
}

/** The config section each command reads, and its options. Per-run choices (--env, --backup ZIP,
 *  --latest, --force, --dry-run, --json) are deliberately flags only. */
export const OPTION_SPECS: Record<string, { section: string; options: OptionSpec[] }> = {
  backup: {
    section: 'backup',
    options: [
      { attr: 'path', key: 'paths', kind: 'list' },
      { attr: 'baseDir', key: 'base_dir', kind: 'path' },
      { attr: 'out', key: 'out_dir', kind: 'path', default: 'backups' },
      { attr: 'prefix', key: 'prefix', kind: 'string', default: 'dhash' },
      { attr: 'dumpCommand', key: 'dump_command', kind: 'string' },
      { attr: 'dumpTimeout', key: 'dump_timeout', kind: 'duration', default: '30m' },
      { attr: 'keep', key: 'keep', kind: 'integer' },
      { attr: 'releaseVersion', key: 'release_version', kind: 'string' },
      { attr: 'compressionLevel', key: 'compression_level', kind: 'integer', default: 6 },
    ],
  },
  'latest-backup': {
    section: 'backup',
    options: [
      { attr: 'out', key: 'out_dir', kind: 'path', default: 'backups' },
      { attr: 'prefix', key: 'prefix', kind: 'string', default: 'dhash' },
    ],
  },
  rollback: {
    section: 'rollback',
    options: [
      { attr: 'target', key: 'target', kind: 'path' },
      { attr: 'out', key: 'out_dir', kind: 'path', default: 'backups' },
      { attr: 'prefix', key: 'prefix', kind: 'string', default: 'dhash' },
      { attr: 'restartCommand', key: 'restart_command', kind: 'string' },
      { attr: 'restartTimeout', key: 'restart_timeout', kind: 'duration', default: '2m' },
      { attr: 'healthUrl', key: 'health_url', kind: 'string' },
      { attr: 'healthChecks', key: 'health_checks', kind: 'integer', default: 3 },
      { attr: 'healthInterval', key: 'health_interval', kind: 'duration', default: '5s' },
      { attr: 'healthTimeout', key: 'health_timeout', kind: 'duration', default: '5s' },
      { attr: 'healthDeadline', key: 'health_deadline', kind: 'duration', default: '2m' },
      { attr: 'smokeCommand', key: 'smoke_command', kind: 'string' },
      { attr: 'smokeTimeout', key: 'smoke_timeout', kind: 'duration', default: '5m' },
      { attr: 'maxEntries', key: 'max_entries', kind: 'integer' },
      { attr: 'maxBytes', key: 'max_bytes', kind: 'integer' },
      { attr: 'maxRatio', key: 'max_ratio', kind: 'integer' },
      { attr: 'logDir', key: 'log_dir', kind: 'path', default: '.' },
      { attr: 'allowUnverified', key: 'allow_unverified', kind: 'boolean', default: false },
      { attr: 'releasePath', key: 'release_paths', kind: 'list' },
      { attr: 'keepPrevious', key: 'keep_previous', kind: 'integer' },
    ],
  },
  monitor: {
    section: 'monitor',
    options: [
      { attr: 'config', key: 'gates_config', kind: 'path', default: 'quality-gates-config.json' },
      { attr: 'sources', key: 'sources', kind: 'path' },
      { attr: 'healthUrl', key: 'health_url', kind: 'string' },
      { attr: 'metricsUrl', key: 'metrics_url', kind: 'string' },
      { attr: 'prometheusUrl', key: 'prometheus_url', kind: 'string' },
      { attr: 'jsonUrl', key: 'json_url', kind: 'string' },
      { attr: 'duration', key: 'duration', kind: 'duration' },
      { attr: 'timeScale', key: 'time_scale', kind: 'number', default: 1 },
      { attr: 'autoRollback', key: 'auto_rollback', kind: 'boolean', default: false },
      { attr: 'rollbackCommand', key: 'rollback_command', kind: 'string' },
      { attr: 'backup', key: 'backup', kind: 'string' },
      { attr: 'backupDir', key: 'backup_dir', kind: 'path', default: 'backups' },
      { attr: 'target', key: 'target', kind: 'path' },
      { attr: 'restartCommand', key: 'restart_command', kind: 'string' },
      { attr: 'keepPrevious', key: 'keep_previous', kind: 'integer' },
      { attr: 'migrationSafety', key: 'migration_safety', kind: 'string', default: 'reversible' },
      { attr: 'suspicion', key: 'suspicion', kind: 'boolean', default: true },
      { attr: 'keepWatching', key: 'keep_watching', kind: 'boolean', default: false },
      { attr: 'out', key: 'out_dir', kind: 'path', default: 'monitor_logs' },
      { attr: 'fallbackDir', key: 'fallback_dir', kind: 'path', default: 'notify-fallback' },
      { attr: 'notify', key: 'notify', kind: 'boolean', default: true },
      { attr: 'deadline', key: 'deadline', kind: 'duration' },
    ],
  },
  notify: {
    section: 'notify',
    options: [
      { attr: 'channel', key: 'channels', kind: 'list' },
      { attr: 'fallbackDir', key: 'fallback_dir', kind: 'path', default: 'notify-fallback' },
      { attr: 'details', key: 'details', kind: 'string' },
      { attr: 'templateDir', key: 'template_dir', kind: 'path' },
      { attr: 'timeout', key: 'timeout', kind: 'duration', default: '30s' },
      { attr: 'attemptTimeout', key: 'attempt_timeout', kind: 'duration', default: '10s' },
      { attr: 'failOnError', key: 'fail_on_error', kind: 'boolean', default: false },
    ],
  },
};

export interface ResolvedSetting {
  flag: string;
  key: string;
  value: unknown;
  source: SettingSource;
  /** Where exactly: the flag, the variable, `file: environments.E.section.key`, or "built-in". */
  origin: string;
}

export interface ResolvedSettings {
  /** The rollout config file read, or undefined when there is none. */
  file: string | undefined;
  /** Values by commander attribute; paths absolute. */
  values: Record<string, unknown>;
  settings: ResolvedSetting[];
}

const kebab = (attr: string): string => attr.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
const envName = (command: string, key: string): string =>
  `GUARDED_ROLLOUT_${command}_${key}`.replace(/[-.]/g, '_').toUpperCase();

/** The rollout config file in use: the flag, else $GUARDED_ROLLOUT_CONFIG, else the default file if present. */
export function rolloutConfigFile(ctx: CliContext, flag: string | undefined): string | undefined {
  const chosen = flag ?? ctx.env.GUARDED_ROLLOUT_CONFIG;
  if (chosen !== undefined && chosen !== '') {
    const file = resolve(ctx.cwd, chosen);
    if (!existsSync(file))
      throw new ConfigError('file not found (the rollout config)', {
        file,
        field: flag !== undefined ? '--config' : 'GUARDED_ROLLOUT_CONFIG',
      });
    return file;
  }
  const file = resolve(ctx.cwd, DEFAULT_ROLLOUT_CONFIG);
  return existsSync(file) ? file : undefined;
}

function checkValue(
  spec: OptionSpec,
  raw: unknown,
  where: string,
  file: string | undefined,
  textual: boolean,
): unknown {
  const bad = (valid: string): never => {
    throw new ConfigError(`${where}: ${describeValue(raw)} is not valid; expected ${valid}`, {
      ...(file ? { file } : {}),
      field: where,
    });
  };
  switch (spec.kind) {
    case 'list':
      if (textual && typeof raw === 'string') return raw.split(',').filter(Boolean);
      if (!Array.isArray(raw) || raw.some((v) => typeof v !== 'string' || v === ''))
        return bad('a list of non-empty strings');
      if (spec.key === 'release_paths')
        for (const path of raw as string[]) {
          const problem = releasePathProblem(path);
          if (problem)
            throw new ConfigError(`${where}: ${JSON.stringify(path)} ${problem}`, {
              ...(file ? { file } : {}),
              field: where,
            });
        }
      return raw;
    case 'boolean':
      if (textual && typeof raw === 'string') {
        if (/^(1|true|yes)$/i.test(raw)) return true;
        if (/^(0|false|no)$/i.test(raw)) return false;
      }
      return typeof raw === 'boolean' ? raw : bad('true or false');
    case 'integer':
    case 'number': {
      const n = typeof raw === 'string' && textual && raw.trim() !== '' ? Number(raw) : raw;
      if (typeof n !== 'number' || !Number.isFinite(n) || (spec.kind === 'integer' && !Number.isInteger(n)))
        return bad(spec.kind === 'integer' ? 'a whole number' : 'a number');
      return String(n); // commands parse and range-check their numeric flags themselves
    }
    case 'duration':
      if (typeof raw !== 'string' || tryParseDuration(raw) === undefined)
        return bad('a duration such as 30s, 5m or 1h30m');
      return raw;
    default:
      if (spec.key === 'details' && raw !== null && typeof raw === 'object' && !Array.isArray(raw))
        return JSON.stringify(raw);
      return typeof raw === 'string' && raw !== '' ? raw : bad('a non-empty string');
  }
}

/**
 * Resolves `command`'s options for `env`. `flags` are commander's values (undefined when not
 * given: the commands declare no commander defaults for these options). Also refuses an
 * environment the rollout config does not list.
 */
export function resolveSettings(
  ctx: CliContext,
  command: keyof typeof OPTION_SPECS,
  env: string,
  flags: Record<string, unknown>,
  configFlag: string | undefined,
): ResolvedSettings {
  const spec = OPTION_SPECS[command]!;
  const file = rolloutConfigFile(ctx, configFlag);
  let section: Record<string, unknown> = {};
  if (file) {
    const raw = readJsonFile(file) as { environments?: Record<string, Record<string, unknown>> };
    // Validates the file; an unknown environment is refused, listing the configured ones — except
    // for monitor, whose quality-gates file lists (and checks) its own environments.
    const listed = !!raw?.environments && Object.hasOwn(raw.environments, env);
    if (command !== 'monitor' || listed) loadRolloutConfig(file, env);
    const found = listed ? raw.environments![env]![spec.section] : undefined;
    if (found !== undefined) {
      if (found === null || typeof found !== 'object' || Array.isArray(found))
        throw new ConfigError(`environments.${env}.${spec.section}: expected an object`, { file });
      section = found as Record<string, unknown>;
    }
    if (spec.section !== 'backup') {
      const known = spec.options.map((o) => o.key);
      for (const key of Object.keys(section)) {
        if (!known.includes(key))
          throw new ConfigError(
            `environments.${env}.${spec.section}.${key}: unknown setting; valid: ${known.join(', ')}`,
            { file },
          );
      }
    }
  }
  const baseDir = file ? dirname(file) : ctx.cwd;
  const values: Record<string, unknown> = {};
  const settings: ResolvedSetting[] = [];
  for (const o of spec.options) {
    const flag = `--${kebab(o.attr)}`;
    const variable = envName(command === 'latest-backup' ? 'backup' : command, o.key);
    const fromFlag = flags[o.attr];
    let value: unknown;
    let source: SettingSource;
    let origin: string;
    if (fromFlag !== undefined && !(Array.isArray(fromFlag) && fromFlag.length === 0)) {
      [value, source, origin] = [fromFlag, 'flag', flag];
      if (o.kind === 'path') value = resolve(ctx.cwd, fromFlag as string);
    } else if (ctx.env[variable] !== undefined && ctx.env[variable] !== '') {
      value = checkValue(o, ctx.env[variable], variable, undefined, true);
      [source, origin] = ['env', variable];
      if (o.kind === 'path') value = resolve(ctx.cwd, value as string);
    } else if (section[o.key] !== undefined) {
      const where = `environments.${env}.${spec.section}.${o.key}`;
      value = checkValue(o, section[o.key], where, file, false);
      [source, origin] = ['file', `${file}: ${where}`];
      if (o.kind === 'path') value = resolve(baseDir, value as string);
    } else if (o.default !== undefined) {
      value = typeof o.default === 'number' ? String(o.default) : o.default;
      [source, origin] = ['default', 'built-in default'];
      if (o.kind === 'path') value = resolve(ctx.cwd, value as string);
    } else {
      [value, source, origin] = [undefined, 'unset', 'not set'];
    }
    values[o.attr] = value;
    settings.push({ flag, key: o.key, value, source, origin });
  }
  return { file, values, settings };
}

/** `guarded-rollout config check` and `--print-config`: one line per option with its source. */
export function renderSettings(command: string, resolved: ResolvedSettings): string {
  const rows = resolved.settings.map((s) => {
    const shown = s.value === undefined ? '-' : Array.isArray(s.value) ? s.value.join(', ') : String(s.value);
    return `  ${s.flag.padEnd(20)} ${shown.padEnd(40)} ${s.source.padEnd(7)} ${s.source === 'file' || s.source === 'env' || s.source === 'flag' ? s.origin : ''}`.trimEnd();
  });
  return `${command}:\n${rows.join('\n')}\n`;
}

/** Help text of an option whose default lives in OPTION_SPECS, not in commander. */
export function withDefault(command: string, attr: string, text: string): string {
  const o = OPTION_SPECS[command]?.options.find((x) => x.attr === attr);
  return o?.default !== undefined && o.default !== false
    ? `${text} (default: ${Array.isArray(o.default) ? o.default.join(',') : String(o.default)})`
    : text;
}

/** The options the operator actually typed (commander also fills in defaults and --no-x negations). */
export function explicitFlags(command: {
  opts: () => Record<string, unknown>;
  getOptionValueSource: (key: string) => string | undefined;
}): Record<string, unknown> {
  const all = command.opts();
  return Object.fromEntries(
    Object.entries(all).filter(([key]) => command.getOptionValueSource(key) === 'cli'),
  );
}
