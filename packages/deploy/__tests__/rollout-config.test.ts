import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { ConfigError } from '@guarded-rollout/config';
import { loadRolloutConfig, resolveRolloutConfig } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'rollout-config-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const FILE = 'guarded-rollout.config.json';

const withEnv = (env: object): unknown => ({ environments: { production: env } });
const problem = (raw: unknown, env = 'production'): string => {
  try {
    resolveRolloutConfig(raw, FILE, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
};

describe('loadRolloutConfig', () => {
  it('resolves an environment with defaults and paths relative to the config file', () => {
    const file = join(dir, FILE);
    writeFileSync(
      file,
      JSON.stringify({
        environments: {
          staging: {
            deploy: { command: './deploy.sh', working_directory: 'service', timeout: '5m' },
            logging: { file: 'logs/app.log' },
          },
        },
      }),
    );
    const env = loadRolloutConfig(file, 'staging');
    expect(env.deploy).toMatchObject({
      command: './deploy.sh',
      timeoutMs: 300_000,
      migrateTimeoutMs: 300_000,
      killGraceMs: 10_000,
      dryRunFlag: '--dry-run',
      workingDirectory: join(dir, 'service'),
      backupFirst: false,
    });
    expect(env.logging).toMatchObject({
      file: join(dir, 'logs/app.log'),
      minCoverage: 0.95,
      requiredFields: ['timestamp', 'level', 'message', 'request_id'],
    });
    expect(env.smoke.checks).toEqual([]);
  });

  it('fills smoke check defaults', () => {
    const env = resolveRolloutConfig(
      withEnv({ smoke: { checks: [{ name: 'health', url: '/health' }] } }),
      FILE,
      'production',
    );
    expect(env.smoke.checks[0]).toEqual({
      name: 'health',
      tier: 'standard',
      method: 'GET',
      url: '/health',
      headers: {},
      body: undefined,
      expectStatus: 200,
      bodyContains: undefined,
      json: [],
      timeoutMs: 10_000,
    });
  });

  it('accepts the example config shipped at the repository root', () => {
    const example = fileURLToPath(new URL('../../../guarded-rollout.config.json', import.meta.url));
    for (const env of ['staging', 'production']) {
      const resolved = loadRolloutConfig(example, env);
      expect(resolved.deploy.command).toBeTruthy();
      expect(resolved.smoke.checks.some((c) => c.tier === 'critical')).toBe(true);
    }
  });

  it('leaves the rollback, monitor and notify sections to their own packages', () => {
    const raw = withEnv({
      backup: { paths: ['data'] },
      rollback: { anything: 1 },
      monitor: {},
      notify: {},
      deploy: { command: 'x' },
    });
    const env = resolveRolloutConfig(raw, FILE, 'production');
    expect(env.deploy.command).toBe('x');
    expect(env.backup).toMatchObject({ paths: ['data'], outDir: expect.stringMatching(/backups$/) });
    expect(problem(withEnv({ monitor: 'daily' }))).toMatch(
      /environments\.production\.monitor: "daily" is not of type object/,
    );
  });

  it('names a missing file', () => {
    expect(() => loadRolloutConfig(join(dir, 'nope.json'), 'production')).toThrow(
      /nope\.json: file not found/,
    );
  });

  it('names the line of a JSON syntax error', () => {
    const file = join(dir, 'broken.json');
    writeFileSync(file, '{\n  "environments": {,\n}');
    expect(() => loadRolloutConfig(file, 'production')).toThrow(/broken\.json: is not valid JSON at line 2/);
  });

  it('names an unknown environment and lists the configured ones', () => {
    expect(problem({ environments: { staging: {}, production: {} } }, 'prod')).toBe(
      `${FILE}: environments: unknown environment "prod"; configured: staging, production`,
    );
  });

  it.each<[string, unknown, RegExp]>([
    ['no environments', {}, /missing required field "environments"/],
    [
      'unknown top-level field',
      { environments: { production: {} }, enviroments: {} },
      /enviroments: unknown field/,
    ],
    ['unknown environment field', withEnv({ deply: {} }), /environments\.production\.deply: unknown field/],
    [
      'unknown deploy field',
      withEnv({ deploy: { comand: 'x' } }),
      /environments\.production\.deploy\.comand: unknown field/,
    ],
    [
      'bad timeout',
      withEnv({ deploy: { timeout: '10 minutes' } }),
      /environments\.production\.deploy\.timeout: "10 minutes" is not a duration/,
    ],
    [
      'bare-number timeout',
      withEnv({ deploy: { timeout: '600' } }),
      /deploy\.timeout: "600" is not a duration; use e\.g\. "30s"/,
    ],
    [
      'bad migrate timeout',
      withEnv({ deploy: { migrate_timeout: 5 } }),
      /deploy\.migrate_timeout: 5 is not of type string/,
    ],
    [
      'bad kill grace',
      withEnv({ deploy: { kill_grace: '1 sec' } }),
      /deploy\.kill_grace: "1 sec" is not a duration/,
    ],
    [
      'empty command',
      withEnv({ deploy: { command: '' } }),
      /deploy\.command: "" must NOT have fewer than 1 characters/,
    ],
    [
      'command not a string',
      withEnv({ deploy: { command: ['./deploy.sh'] } }),
      /deploy\.command: \["\.\/deploy\.sh"\] is not of type string/,
    ],
    [
      'bad migration safety',
      withEnv({ deploy: { migration_safety: 'safe' } }),
      /deploy\.migration_safety: "safe" is not one of "reversible", "expand-only", "irreversible"/,
    ],
    [
      'bad backup_first',
      withEnv({ deploy: { backup_first: 'yes' } }),
      /deploy\.backup_first: "yes" is not of type boolean/,
    ],
    [
      'env value not a string',
      withEnv({ deploy: { env: { PORT: 8080 } } }),
      /deploy\.env\.PORT: 8080 is not of type string/,
    ],
    [
      'bad environment url',
      withEnv({ deploy: { environment_url: 'not a url' } }),
      /deploy\.environment_url: "not a url" must match/,
    ],
    [
      'smoke check without url',
      withEnv({ smoke: { checks: [{ name: 'h' }] } }),
      /smoke\.checks\[0\]: missing required field "url"/,
    ],
    [
      'bad smoke tier',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', tier: 'high' }] } }),
      /smoke\.checks\[0\]\.tier: "high" is not one of "critical", "standard"/,
    ],
    [
      'bad smoke method',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', method: 'FETCH' }] } }),
      /smoke\.checks\[0\]\.method: "FETCH" is not one of/,
    ],
    [
      'bad expected status',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', expect_status: 700 }] } }),
      /smoke\.checks\[0\]\.expect_status: 700 must be <= 599/,
    ],
    [
      'bad smoke timeout',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', timeout: 'soon' }] } }),
      /smoke\.checks\[0\]\.timeout: "soon" is not a duration/,
    ],
    [
      'json assertion without equals',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', json: [{ path: 'status' }] }] } }),
      /smoke\.checks\[0\]\.json\[0\]: missing required field "equals"/,
    ],
    [
      'bad base url',
      withEnv({ smoke: { base_url: 'localhost:8080' } }),
      /smoke\.base_url: "localhost:8080" must match \^https\?:/,
    ],
    [
      'bad required field',
      withEnv({ logging: { required_fields: ['timestamp', 'user'] } }),
      /logging\.required_fields\[1\]: "user" is not one of "timestamp", "level", "message", "request_id"/,
    ],
    [
      'coverage above 1',
      withEnv({ logging: { min_coverage: 95 } }),
      /logging\.min_coverage: 95 must be <= 1/,
    ],
    [
      'empty dry-run flag',
      withEnv({ deploy: { dry_run_flag: '' } }),
      /deploy\.dry_run_flag: "" must NOT have fewer than 1 characters/,
    ],
    [
      'working directory not a string',
      withEnv({ deploy: { working_directory: 5 } }),
      /deploy\.working_directory: 5 is not of type string/,
    ],
    [
      'empty log dir',
      withEnv({ deploy: { log_dir: '' } }),
      /deploy\.log_dir: "" must NOT have fewer than 1 characters/,
    ],
    [
      'migrate command not a string',
      withEnv({ deploy: { migrate_command: true } }),
      /deploy\.migrate_command: true is not of type string/,
    ],
    [
      'smoke checks not a list',
      withEnv({ smoke: { checks: { name: 'h' } } }),
      /smoke\.checks: \{"name":"h"\} is not of type array/,
    ],
    [
      'smoke check without name',
      withEnv({ smoke: { checks: [{ url: '/' }] } }),
      /smoke\.checks\[0\]: missing required field "name"/,
    ],
    [
      'unknown smoke check field',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', expect: 200 }] } }),
      /smoke\.checks\[0\]\.expect: unknown field/,
    ],
    [
      'header value not a string',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', headers: { 'x-n': 1 } }] } }),
      /smoke\.checks\[0\]\.headers\.x-n: 1 is not of type string/,
    ],
    [
      'body not a string',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', body: { a: 1 } }] } }),
      /smoke\.checks\[0\]\.body: \{"a":1\} is not of type string/,
    ],
    [
      'body_contains not a string',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', body_contains: 200 }] } }),
      /smoke\.checks\[0\]\.body_contains: 200 is not of type string/,
    ],
    [
      'empty JSON path',
      withEnv({ smoke: { checks: [{ name: 'h', url: '/', json: [{ path: '', equals: 1 }] }] } }),
      /smoke\.checks\[0\]\.json\[0\]\.path: "" must NOT have fewer than 1 characters/,
    ],
    [
      'empty logging file',
      withEnv({ logging: { file: '' } }),
      /logging\.file: "" must NOT have fewer than 1 characters/,
    ],
    [
      'logging command not a string',
      withEnv({ logging: { command: 3 } }),
      /logging\.command: 3 is not of type string/,
    ],
    [
      'duplicate required field',
      withEnv({ logging: { required_fields: ['level', 'level'] } }),
      /logging\.required_fields: \["level","level"\] must NOT have duplicate items/,
    ],
    [
      'environment not an object',
      { environments: { production: 'prod' } },
      /environments\.production: "prod" is not of type object/,
    ],
    [
      'no environments at all',
      { environments: {} },
      /environments: \{\} must NOT have fewer than 1 properties/,
    ],
    [
      'empty backup paths',
      withEnv({ backup: { paths: [] } }),
      /backup\.paths: \[\] must NOT have fewer than 1 items/,
    ],
    [
      'bad backup prefix',
      withEnv({ backup: { prefix: 'dhash_v2' } }),
      /backup\.prefix: "dhash_v2" must match/,
    ],
    ['bad backup keep', withEnv({ backup: { keep: 0 } }), /backup\.keep: 0 must be >= 1/],
    [
      'bad compression level',
      withEnv({ backup: { compression_level: 10 } }),
      /backup\.compression_level: 10 must be <= 9/,
    ],
    [
      'bad dump timeout',
      withEnv({ backup: { dump_timeout: 'an hour' } }),
      /backup\.dump_timeout: "an hour" is not a duration/,
    ],
    ['unknown backup field', withEnv({ backup: { path: 'data' } }), /backup\.path: unknown field/],
    [
      'bad logging timeout',
      withEnv({ logging: { timeout: '-1s' } }),
      /logging\.timeout: "-1s" is not a duration/,
    ],
  ])('rejects %s, naming the path and value', (_name, raw, expected) => {
    const message = problem(raw);
    expect(message.startsWith(`${FILE}: `)).toBe(true);
    expect(message).toMatch(expected);
  });
});

describe('published schema', () => {
  it('packages/deploy/rollout-config.schema.json matches the schema the loader uses', async () => {
    const { ROLLOUT_CONFIG_SCHEMA } = await import('../src/index.js');
    const { readFileSync, writeFileSync: write } = await import('node:fs');
    const file = fileURLToPath(new URL('../rollout-config.schema.json', import.meta.url));
    const text = `${JSON.stringify(ROLLOUT_CONFIG_SCHEMA, null, 2)}\n`;
    // regenerate: UPDATE_SCHEMA=1 pnpm test packages/deploy/__tests__/rollout-config (then pnpm format)
    if (process.env.UPDATE_SCHEMA) write(file, text);
    expect(JSON.parse(readFileSync(file, 'utf8'))).toEqual(JSON.parse(text));
  });
});
