import { describe, expect, it } from '@jest/globals';
import { readFileSync, writeFileSync } from 'node:fs';
import { ConfigError } from '@guarded-rollout/config';
import { parseGatesConfig, qualityGatesSchema, loadGatesConfig } from '../src/index.js';

const shippedPath = new URL('../../../action-templates/quality-gates-config.json', import.meta.url);
const shipped = JSON.parse(readFileSync(shippedPath, 'utf8')) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any -- free-form JSON fixture
const text = (value: unknown): string => JSON.stringify(value);
const withEnv = (env: Record<string, unknown>, defaults: Record<string, unknown> = shipped.defaults) =>
  text({ ...shipped, defaults, environments: { ...shipped.environments, ...env } });

function errorOf(json: string, env = 'production'): string {
  try {
    parseGatesConfig(json, env);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    return (error as Error).message;
  }
  throw new Error('expected a ConfigError');
}

describe('quality-gates-config.json', () => {
  it('resolves the seed production defaults', () => {
    const prod = parseGatesConfig(text(shipped), 'production');
    expect(prod.policy).toEqual({
      windowMs: 3_600_000,
      cadence: {
        initialIntervalMs: 30_000,
        initialPhaseMs: 300_000,
        intervalMs: 120_000,
        suspicionIntervalMs: 15_000,
        sentinelIntervalMs: 15_000,
        fastBurnWindowMs: 60_000,
      },
      escalationsMs: [900_000, 1_800_000],
      sourceErrors: { failClosed: true, maxConsecutive: 2 },
      analysis: { requestsPerSecond: 1 },
    });
    expect(prod.gates.map((g) => [g.name, g.kind, g.threshold, 'windowMs' in g ? g.windowMs : null])).toEqual(
      [
        ['health', 'consecutive_failures', 2, null],
        ['extraction_failure_rate', 'ratio', 0.05, 600_000],
        ['p95_hash_time', 'percentile', 2000, 900_000],
        ['low_confidence_queue', 'gauge', 1000, null],
      ],
    );
  });

  it('deep-merges per-environment overrides onto the defaults', () => {
    const staging = parseGatesConfig(text(shipped), 'staging');
    const p95 = staging.gates.find((g) => g.name === 'p95_hash_time')!;
    expect(p95).toMatchObject({ threshold: 3000, windowMs: 900_000, percentile: 95 });
    const dev = parseGatesConfig(text(shipped), 'development');
    expect(dev.policy.windowMs).toBe(900_000);
    expect(dev.policy.escalationsMs).toEqual([]);
    expect(dev.gates.map((g) => g.name)).not.toContain('low_confidence_queue');
  });

  it('accepts an environment with any name, and a new gate defined there with its kind', () => {
    const config = parseGatesConfig(
      withEnv({ canary: { gates: { error_budget: { kind: 'gauge', metric: 'errors', threshold: 3 } } } }),
      'canary',
    );
    expect(config.gates.map((g) => g.name)).toContain('error_budget');
  });

  it('keeps the root copy identical to the shipped template', () => {
    expect(readFileSync(new URL('../../../quality-gates-config.json', import.meta.url), 'utf8')).toBe(
      readFileSync(shippedPath, 'utf8'),
    );
  });

  it('publishes the schema it validates with', () => {
    const file = new URL('../../../action-templates/quality-gates.schema.json', import.meta.url);
    // `pnpm docs` regenerates the published copy.
    if (process.env.UPDATE_PUBLISHED === '1')
      writeFileSync(file, `${JSON.stringify(qualityGatesSchema, null, 2)}\n`);
    const published = JSON.parse(readFileSync(file, 'utf8'));
    expect(published).toEqual(JSON.parse(JSON.stringify(qualityGatesSchema)));
  });

  it('loads from a file and names it in errors', () => {
    expect(() => loadGatesConfig('/nonexistent/quality-gates-config.json', 'production')).toThrow(
      '/nonexistent/quality-gates-config.json: file not found',
    );
  });
});

describe('config errors name the path, the value and what is valid', () => {
  const p95 = shipped.defaults.gates.p95_hash_time;
  it.each([
    [
      'a bad duration in an environment override',
      withEnv({ production: { gates: { p95_hash_time: { window: '15 minutes' } } } }),
      'production',
      'environments.production.gates.p95_hash_time.window: "15 minutes" is not a duration; use e.g. "30s", "15m" or "1h"',
    ],
    [
      'a bad duration in defaults',
      withEnv({}, { ...shipped.defaults, window: 60 }),
      'production',
      'defaults.window: 60 is not of type string',
    ],
    [
      'an unknown environment',
      text(shipped),
      'prod',
      'unknown environment "prod"; this file defines: production, staging, development',
    ],
    [
      'an unknown gate in an override',
      withEnv({ production: { gates: { p99_hash_time: { threshold: 1 } } } }),
      'production',
      'environments.production.gates.p99_hash_time: unknown gate; it is not in defaults.gates (health, extraction_failure_rate, p95_hash_time, low_confidence_queue)',
    ],
    [
      'a misspelt field',
      withEnv({ staging: { gates: { p95_hash_time: { treshold: 1 } } } }),
      'staging',
      'environments.staging.gates.p95_hash_time.treshold: unknown field',
    ],
    [
      'an unknown gate kind',
      withEnv(
        {},
        {
          ...shipped.defaults,
          gates: { ...shipped.defaults.gates, x: { kind: 'median', metric: 'm', threshold: 1 } },
        },
      ),
      'production',
      'defaults.gates.x.kind: "median" is not a known kind',
    ],
    [
      'a ratio threshold given as a percentage',
      withEnv({ production: { gates: { extraction_failure_rate: { threshold: 5 } } } }),
      'production',
      'environments.production.gates.extraction_failure_rate.threshold: 5 must be <= 1',
    ],
    [
      'a gate missing a required field',
      withEnv(
        {},
        {
          ...shipped.defaults,
          gates: { ...shipped.defaults.gates, p95_hash_time: { ...p95, metric: undefined } },
        },
      ),
      'production',
      'defaults.gates.p95_hash_time: missing required field "metric"',
    ],
    [
      'a secret-looking field',
      withEnv({ production: { slack_webhook_url: 'https://hooks.example/x' } }),
      'production',
      'environments.production.slack_webhook_url: unknown field',
    ],
    [
      'an escalation after the window',
      withEnv({ development: { ...shipped.environments.development, escalations: ['30m'] } }),
      'development',
      'environments.development.escalations: an escalation after the 15m window can never fire',
    ],
    [
      'every gate disabled',
      withEnv({
        production: {
          gates: Object.fromEntries(Object.keys(shipped.defaults.gates).map((g) => [g, { enabled: false }])),
        },
      }),
      'production',
      'environments.production: every gate is disabled',
    ],
  ])('%s', (_name, json, env, message) => {
    expect(errorOf(json, env)).toContain(message);
  });

  it('reports JSON syntax errors with line and column', () => {
    expect(errorOf('{\n  "defaults": {,\n}')).toMatch(
      /quality-gates-config.json: is not valid JSON at line 2, column \d+/,
    );
  });
});
