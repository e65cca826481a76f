// The gates config never fails open: values that would make a gate unable to trip, duplicate keys
// and prototype names are refused with one message naming file, JSON path, value and what is valid.
import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ConfigError } from '@guarded-rollout/config';
import { findDuplicateKeys, loadGatesConfig, parseGatesConfig } from '../src/index.js';

const shippedText = readFileSync(
  new URL('../../../action-templates/quality-gates-config.json', import.meta.url),
  'utf8',
);

function refusal(text: string, env = 'production', file = 'gates.json'): string {
  try {
    parseGatesConfig(text, env, file);
  } catch (error) {
    expect(error).toBeInstanceOf(ConfigError);
    expect((error as ConfigError).exitCode).toBe(2);
    expect((error as Error).stack ?? '').toBeDefined();
    return (error as Error).message;
  }
  throw new Error(`expected a refusal for env ${env}`);
}

describe('gates config refusals', () => {
  it('accepts the shipped file', () => {
    expect(parseGatesConfig(shippedText, 'production').gates).toHaveLength(4);
  });

  it('refuses a 0s gate window and a 0s watch window', () => {
    const gateWindow = shippedText.replace('"window": "10m"', '"window": "0s"');
    expect(refusal(gateWindow)).toMatch(
      /^gates\.json: environments\.production\.gates\.extraction_failure_rate\.window: "0s" .*longer than 0s/,
    );
    const watch = shippedText.replace('"window": "60m"', '"window": "0ms"');
    expect(refusal(watch)).toMatch(/environments\.production\.window: "0ms" .*longer than 0s/);
  });

  it('refuses a threshold that overflows to Infinity (1e309)', () => {
    const text = shippedText.replace('"threshold": 1000,', '"threshold": 1e309,');
    expect(refusal(text)).toMatch(
      /gates\.json: defaults\.gates\.low_confidence_queue\.threshold: Infinity .*1e309.*finite number/,
    );
  });

  it('refuses a negative gauge limit', () => {
    const text = shippedText.replace('"threshold": 1000,', '"threshold": -1,');
    expect(refusal(text)).toMatch(/low_confidence_queue\.threshold: -1 is negative; .* 0 or more/);
  });

  it('refuses duplicate keys, naming both lines', () => {
    const lines = shippedText.split('\n');
    const at = lines.findIndex((l) => l.includes('"threshold": 2000'));
    lines.splice(at + 1, 0, '        "threshold": 9000,');
    const text = lines.join('\n');
    expect(findDuplicateKeys(text)).toEqual([
      { path: 'defaults.gates.p95_hash_time', key: 'threshold', firstLine: at + 1, secondLine: at + 2 },
    ]);
    expect(refusal(text)).toBe(
      `gates.json: duplicate key "threshold" in defaults.gates.p95_hash_time (lines ${at + 1} and ${at + 2}); ` +
        'JSON would silently keep only the last one — keep one of them',
    );
    // Same key in different objects is fine; duplicates inside arrays of objects are found.
    expect(findDuplicateKeys('{"a":{"x":1},"b":{"x":2}}')).toEqual([]);
    expect(findDuplicateKeys('{"a":[{"x":1},{"x":2,\n"x":3}]}')).toEqual([
      { path: 'a[1]', key: 'x', firstLine: 1, secondLine: 2 },
    ]);
    expect(findDuplicateKeys('{"a\\"b":1,"a\\"b":2}')[0]?.key).toBe('a"b');
  });

  it('refuses prototype names as --env and as environment or gate names', () => {
    for (const env of ['__proto__', 'constructor', 'toString', 'hasOwnProperty'])
      expect(refusal(shippedText, env)).toMatch(
        new RegExp(`unknown environment "${env}"; this file defines: production, staging, development`),
      );
    const raw = JSON.parse(shippedText) as { environments: Record<string, unknown> };
    const withProto = shippedText.replace('"production": {}', '"__proto__": {}, "production": {}');
    expect(refusal(withProto)).toMatch(/environments: "__proto__" is not a valid environment name/);
    const gateProto = shippedText.replace('"production": {}', '"production": {"gates": {"constructor": {}}}');
    expect(refusal(gateProto)).toMatch(
      /environments\.production\.gates: "constructor" is not a valid gate name/,
    );
    expect(Object.keys(raw.environments)).toContain('production');
  });

  it('names the file when reading from disk', () => {
    const dir = mkdtempSync(join(tmpdir(), 'gates-'));
    const file = join(dir, 'quality-gates-config.json');
    writeFileSync(file, shippedText.replace('"window": "15m"', '"window": "0s"'));
    expect(() => loadGatesConfig(file, 'production')).toThrow(
      `${file}: environments.production.gates.p95_hash_time.window: "0s"`,
    );
  });
});
