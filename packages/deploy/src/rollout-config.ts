// The per-environment rollout config (`guarded-rollout.config.json`): how to deploy and migrate,
// which smoke checks to run and where the service's logs are, so `--env production` is all an
// operator types. Validated by JSON Schema; relative paths resolve against the config file.
import { dirname, resolve } from 'node:path';
import {
  ConfigError,
  DURATION_PATTERN,
  readJsonFile,
  SchemaValidator,
  tryParseDuration,
} from '@guarded-rollout/config';

export const DEFAULT_ROLLOUT_CONFIG = 'guarded-rollout.config.json';

export const MIGRATION_SAFETY = ['reversible', 'expand-only', 'irreversible'] as const;
export type DeclaredMigrationSafety = (typeof MIGRATION_SAFETY)[number];
export const DEPLOYMENT_TYPES = ['standard', 'hotfix', 'rollback'] as const;
export type DeploymentType = (typeof DEPLOYMENT_TYPES)[number];
export const SMOKE_TIERS = ['critical', 'standard'] as const;
export const HTTP_METHODS = ['GET', 'HEAD', 'POST', 'PUT', 'PATCH', 'DELETE', 'OPTIONS'] as const;

const duration = { type: 'string', pattern: DURATION_PATTERN };
// format: uri accepts "localhost:8080" (scheme "localhost"); insist on http(s).
const httpUrl = { type: 'string', pattern: '^https?://[^\\s]+$' };

export const ROLLOUT_CONFIG_SCHEMA = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://guarded-rollout.invalid/rollout-config.schema.json',
  title: 'guarded-rollout per-environment rollout config',
  type: 'object',
  additionalProperties: false,
  required: ['environments'],
  properties: {
    $schema: { type: 'string' },
    description: { type: 'string' },
    environments: {
      type: 'object',
      minProperties: 1,
      propertyNames: { pattern: '^[A-Za-z0-9][A-Za-z0-9_.-]*$' },
      additionalProperties: {
        type: 'object',
        additionalProperties: false,
        properties: {
          description: { type: 'string' },
          // What --backup-first archives (fields of `guarded-rollout backup`).
          backup: {
            type: 'object',
            additionalProperties: false,
            properties: {
              paths: { type: 'array', minItems: 1, items: { type: 'string', minLength: 1 } },
              base_dir: { type: 'string', minLength: 1 },
              out_dir: { type: 'string', minLength: 1 },
              prefix: { type: 'string', pattern: '^[A-Za-z0-9][A-Za-z0-9-]*$' },
              dump_command: { type: 'string', minLength: 1 },
              dump_timeout: duration,
              keep: { type: 'integer', minimum: 1 },
              compression_level: { type: 'integer', minimum: 0, maximum: 9 },
            },
          },
          // Sections owned by other packages (rollback, monitor, notify) share this file; each
          // validates its own section, this schema only requires them to be objects.
          rollback: { type: 'object' },
          monitor: { type: 'object' },
          notify: { type: 'object' },
          deploy: {
            type: 'object',
            additionalProperties: false,
            properties: {
              command: { type: 'string', minLength: 1 },
              migrate_command: { type: 'string', minLength: 1 },
              timeout: duration,
              migrate_timeout: duration,
              kill_grace: duration,
              dry_run_flag: { type: 'string', minLength: 1 },
              working_directory: { type: 'string', minLength: 1 },
              env: { type: 'object', additionalProperties: { type: 'string' } },
              migration_safety: { enum: [...MIGRATION_SAFETY] },
              backup_first: { type: 'boolean' },
              environment_url: httpUrl,
              log_dir: { type: 'string', minLength: 1 },
            },
          },
          smoke: {
            type: 'object',
            additionalProperties: false,
            properties: {
              base_url: httpUrl,
              // true: a deploy with no critical smoke checks configured fails instead of skipping them.
              required: { type: 'boolean' },
              checks: {
                type: 'array',
                items: {
                  type: 'object',
                  additionalProperties: false,
                  required: ['name', 'url'],
                  properties: {
                    name: { type: 'string', minLength: 1 },
                    tier: { enum: [...SMOKE_TIERS] },
                    method: { enum: [...HTTP_METHODS] },
                    url: { type: 'string', minLength: 1 },
                    headers: { type: 'object', additionalProperties: { type: 'string' } },
                    body: { type: 'string' },
                    expect_status: { type: 'integer', minimum: 100, maximum: 599 },
                    body_contains: { type: 'string' },
                    json: {
                      type: 'array',
                      items: {
                        type: 'object',
                        additionalProperties: false,
                        required: ['path', 'equals'],
                        properties: { path: { type: 'string', minLength: 1 }, equals: {} },
                      },
                    },
                    timeout: duration,
                  },
                },
              },
            },
          },
          logging: {
            type: 'object',
            additionalProperties: false,
            properties: {
              file: { type: 'string', minLength: 1 },
              command: { type: 'string', minLength: 1 },
              timeout: duration,
              required_fields: {
                type: 'array',
                items: { enum: ['timestamp', 'level', 'message', 'request_id'] },
                uniqueItems: true,
              },
              min_coverage: { type: 'number', minimum: 0, maximum: 1 },
            },
          },
        },
      },
    },
  },
} as const;

interface RawCheck {
  name: string;
  tier?: (typeof SMOKE_TIERS)[number];
  method?: (typeof HTTP_METHODS)[number];
  url: string;
  headers?: Record<string, string>;
  body?: string;
  expect_status?: number;
  body_contains?: string;
  json?: { path: string; equals: unknown }[];
  timeout?: string;
}

interface RawEnvironment {
  backup?: {
    paths?: string[];
    base_dir?: string;
    out_dir?: string;
    prefix?: string;
    dump_command?: string;
    dump_timeout?: string;
    keep?: number;
    compression_level?: number;
  };
  deploy?: {
    command?: string;
    migrate_command?: string;
    timeout?: string;
    migrate_timeout?: string;
    kill_grace?: string;
    dry_run_flag?: string;
    working_directory?: string;
    env?: Record<string, string>;
    migration_safety?: DeclaredMigrationSafety;
    backup_first?: boolean;
    environment_url?: string;
    log_dir?: string;
  };
  smoke?: { base_url?: string; required?: boolean; checks?: RawCheck[] };
  logging?: {
    file?: string;
    command?: string;
    timeout?: string;
    required_fields?: LogField[];
    min_coverage?: number;
  };
}

interface RawRolloutConfig {
  environments: Record<string, RawEnvironment>;
}

export type LogField = 'timestamp' | 'level' | 'message' | 'request_id';

export interface SmokeCheck {
  name: string;
  tier: 'critical' | 'standard';
  method: string;
  url: string;
  headers: Record<string, string>;
  body?: string;
  expectStatus: number;
  bodyContains?: string;
  json: { path: string; equals: unknown }[];
  timeoutMs: number;
}

export interface DeploySettings {
  command?: string;
  migrateCommand?: string;
  timeoutMs: number;
  migrateTimeoutMs: number;
  killGraceMs: number;
  dryRunFlag: string;
  workingDirectory: string;
  env: Record<string, string>;
  migrationSafety?: DeclaredMigrationSafety;
  backupFirst: boolean;
  environmentUrl?: string;
  logDir?: string;
}

export interface LoggingSettings {
  file?: string;
  command?: string;
  timeoutMs: number;
  requiredFields: LogField[];
  minCoverage: number;
}

/** What --backup-first archives; paths relative to baseDir, as `guarded-rollout backup` takes them. */
export interface BackupSettings {
  paths: string[];
  baseDir: string;
  outDir: string;
  prefix?: string;
  dumpCommand?: string;
  dumpTimeoutMs?: number;
  keep?: number;
  compressionLevel?: number;
}

export interface RolloutEnvironment {
  environment: string;
  /** The config file it came from, or undefined when built from defaults alone. */
  file: string | undefined;
  deploy: DeploySettings;
  backup: BackupSettings;
  smoke: { baseUrl?: string; required: boolean; checks: SmokeCheck[] };
  logging: LoggingSettings;
}

export const DEFAULTS = {
  timeout: '15m',
  killGrace: '10s',
  dryRunFlag: '--dry-run',
  smokeTimeout: '10s',
  loggingTimeout: '30s',
  requiredFields: ['timestamp', 'level', 'message', 'request_id'] as LogField[],
  minCoverage: 0.95,
};

const validator = new SchemaValidator<RawRolloutConfig>(ROLLOUT_CONFIG_SCHEMA);

const ms = (text: string): number => tryParseDuration(text)!; // the schema has vetted the pattern

function resolveEnvironment(
  raw: RawEnvironment,
  environment: string,
  file: string | undefined,
  baseDir: string,
): RolloutEnvironment {
  const d = raw.deploy ?? {};
  const timeoutMs = ms(d.timeout ?? DEFAULTS.timeout);
  const path = (p: string | undefined): string | undefined =>
    p === undefined ? undefined : resolve(baseDir, p);
  const b = raw.backup ?? {};
  return {
    environment,
    file,
    backup: {
      // The backup action's defaults: the whole base directory into backups/.
      paths: b.paths ?? ['.'],
      baseDir: path(b.base_dir) ?? baseDir,
      outDir: path(b.out_dir) ?? resolve(baseDir, 'backups'),
      prefix: b.prefix,
      dumpCommand: b.dump_command,
      dumpTimeoutMs: b.dump_timeout ? ms(b.dump_timeout) : undefined,
      keep: b.keep,
      compressionLevel: b.compression_level,
    },
    deploy: {
      command: d.command,
      migrateCommand: d.migrate_command,
      timeoutMs,
      migrateTimeoutMs: d.migrate_timeout ? ms(d.migrate_timeout) : timeoutMs,
      killGraceMs: ms(d.kill_grace ?? DEFAULTS.killGrace),
      dryRunFlag: d.dry_run_flag ?? DEFAULTS.dryRunFlag,
      workingDirectory: path(d.working_directory) ?? baseDir,
      env: d.env ?? {},
      migrationSafety: d.migration_safety,
      backupFirst: d.backup_first ?? false,
      environmentUrl: d.environment_url,
      logDir: path(d.log_dir),
    },
    smoke: {
      baseUrl: raw.smoke?.base_url,
      required: raw.smoke?.required ?? false,
      checks: (raw.smoke?.checks ?? []).map((c) => ({
        name: c.name,
        tier: c.tier ?? 'standard',
        method: c.method ?? 'GET',
        url: c.url,
        headers: c.headers ?? {},
        body: c.body,
        expectStatus: c.expect_status ?? 200,
        bodyContains: c.body_contains,
        json: c.json ?? [],
        timeoutMs: ms(c.timeout ?? DEFAULTS.smokeTimeout),
      })),
    },
    logging: {
      file: path(raw.logging?.file),
      command: raw.logging?.command,
      timeoutMs: ms(raw.logging?.timeout ?? DEFAULTS.loggingTimeout),
      requiredFields: raw.logging?.required_fields ?? DEFAULTS.requiredFields,
      minCoverage: raw.logging?.min_coverage ?? DEFAULTS.minCoverage,
    },
  };
}

/** Validates a parsed rollout config and resolves one environment of it. */
export function resolveRolloutConfig(raw: unknown, file: string, environment: string): RolloutEnvironment {
  const config = validator.assert(raw, file);
  const env = config.environments[environment];
  if (!env) {
    const known = Object.keys(config.environments);
    throw new ConfigError(
      `environments: unknown environment ${JSON.stringify(environment)}; configured: ${known.join(', ')}`,
      {
        file,
        field: 'environments',
      },
    );
  }
  return resolveEnvironment(env, environment, file, dirname(resolve(file)));
}

/** Loads `file` and resolves `environment`; errors name the file, the JSON path and the value. */
export function loadRolloutConfig(file: string, environment: string): RolloutEnvironment {
  return resolveRolloutConfig(readJsonFile(file), file, environment);
}

/** An environment with no config file: everything comes from flags or inputs. */
export function defaultRolloutEnvironment(environment: string, baseDir: string): RolloutEnvironment {
  return resolveEnvironment({}, environment, undefined, baseDir);
}
