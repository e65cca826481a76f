import { afterAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import { assessLogLines, DEFAULTS, validateLogging } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'logging-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
const opts = { requiredFields: DEFAULTS.requiredFields, minCoverage: 0.95 };
const line = (over: object = {}): string =>
  JSON.stringify({
    timestamp: '2026-11-23T12:00:00.123Z',
    level: 'info',
    message: 'hashed image',
    request_id: 'req-1',
    ...over,
  });

const GOOD = Array.from({ length: 20 }, (_, i) => line({ request_id: `req-${i}` })).join('\n');

describe('assessLogLines', () => {
  it('passes a corpus of well-formed JSON lines', () => {
    const a = assessLogLines(`${GOOD}\n`, opts);
    expect(a).toMatchObject({ totalLines: 20, structuredLines: 20, coverage: 1, passed: true, leaks: [] });
  });

  it('accepts common logger aliases (msg, time, reqId, severity)', () => {
    const a = assessLogLines(
      JSON.stringify({
        time: '2026-11-23T12:00:00+01:00',
        severity: 'WARNING',
        msg: 'slow hash',
        reqId: 'abc',
      }),
      opts,
    );
    expect(a.passed).toBe(true);
  });

  it.each([
    ['plain text', 'hashed image in 12ms', 'not JSON'],
    ['a JSON array', '[1,2]', 'not a JSON object'],
    [
      'epoch timestamp',
      line({ timestamp: 1764000000000 }),
      'timestamp 1764000000000 is not ISO-8601 with a time zone',
    ],
    [
      'zone-less timestamp',
      line({ timestamp: '2026-11-23 12:00:00' }),
      'timestamp "2026-11-23 12:00:00" is not ISO-8601 with a time zone',
    ],
    ['numeric level', line({ level: 30 }), 'level 30 is not a log level name'],
    ['no message', line({ message: undefined }), 'missing message'],
    ['no request id', line({ request_id: undefined }), 'missing request_id'],
  ])('flags %s', (_name, text, problem) => {
    const a = assessLogLines(text, opts);
    expect(a.problems).toEqual([{ line: 1, problem }]);
    expect(a.passed).toBe(false);
  });

  it.each([
    ['GitHub token', line({ message: 'using ghp_abcdefghijklmnopqrstuvwxyz0123456789' })],
    ['Slack token', line({ message: 'token xoxb-1234567890-abcdefghij' })],
    ['webhook URL', line({ message: 'posting to https://hooks.slack.com/services/T000/B000/XXXXXXXX' })],
    ['webhook URL', line({ message: 'https://discord.com/api/webhooks/123/abc' })],
    ['credentials in URL', line({ message: 'connecting to postgres://dhash:hunter2@db:5432/dhash' })],
    ['bearer credential', line({ message: 'Authorization: Bearer abcdefghijklmnop1234' })],
    ['email address', line({ user: 'jane.doe@example.com' })],
    ['password field', line({ password: 'hunter22' })],
    ['private key', line({ message: '-----BEGIN RSA PRIVATE KEY-----' })],
    ['AWS access key', line({ message: 'AKIAIOSFODNN7EXAMPLE' })],
  ])('flags a line leaking a %s', (kind, text) => {
    const a = assessLogLines(text, opts);
    expect(a.leaks.map((l) => l.kind)).toContain(kind);
    expect(a.passed).toBe(false);
  });

  it('fails when coverage falls below the minimum, and passes at it', () => {
    const lines = [...Array.from({ length: 19 }, () => line()), 'plain text'];
    expect(assessLogLines(lines.join('\n'), opts).passed).toBe(true); // 95% exactly
    expect(assessLogLines([...lines, 'more text'].join('\n'), opts).summary).toMatch(
      /structured coverage 90\.5% is below 95\.0%/,
    );
  });

  it('fails on an empty log', () => {
    expect(assessLogLines('\n\n', opts).summary).toBe('no log lines to check');
  });
});

describe('validateLogging on sample corpora', () => {
  const fixture = (name: string): string => fileURLToPath(new URL(`./fixtures/${name}`, import.meta.url));

  it('passes a realistic service log, including logger aliases', async () => {
    const report = await validateLogging({
      environment: 'staging',
      file: fixture('good-service.log'),
      logDir: dir,
      ...opts,
    });
    expect(report).toMatchObject({ passed: true, totalLines: 5, structuredLines: 5, leaks: [] });
  });

  it('reports every problem of a bad service log, and withholds the leaked values', async () => {
    const report = await validateLogging({
      environment: 'staging',
      file: fixture('bad-service.log'),
      logDir: dir,
      ...opts,
    });
    expect(report.passed).toBe(false);
    expect(report.problems).toEqual([
      { line: 2, problem: 'not JSON' },
      { line: 3, problem: 'timestamp 1764000001120 is not ISO-8601 with a time zone' },
      { line: 4, problem: 'level 30 is not a log level name' },
      { line: 8, problem: 'missing request_id' },
    ]);
    expect(report.leaks).toEqual([
      { line: 5, kind: 'email address' },
      { line: 6, kind: 'webhook URL' },
      { line: 7, kind: 'credentials in URL' },
    ]);
    const text = readFileSync(report.logPath, 'utf8');
    for (const secret of ['jane.doe@example.com', 'hooks.slack.com', 's3cr3tpass'])
      expect(text).not.toContain(secret);
    expect(readEvidenceLog(report.logPath).result).toMatchObject({ status: 'fail', lines: 8, structured: 4 });
  });
});

describe('validateLogging', () => {
  it('writes test_logging.log with the result for a good file', async () => {
    const file = join(dir, 'good.log');
    writeFileSync(file, GOOD);
    const report = await validateLogging({ environment: 'staging', file, logDir: dir, ...opts });
    expect(report.passed).toBe(true);
    const log = readEvidenceLog(report.logPath);
    expect(log.problems).toEqual([]);
    expect(log.result).toMatchObject({
      status: 'pass',
      kind: 'test_logging',
      lines: 20,
      coverage: 1,
      leaks: 0,
    });
  });

  it('never repeats a leaked secret in its own log', async () => {
    const file = join(dir, 'bad.log');
    const secret = 'ghp_abcdefghijklmnopqrstuvwxyz0123456789';
    writeFileSync(file, `${GOOD}\n${line({ message: `token ${secret}` })}\nnot json\n`);
    const report = await validateLogging({ environment: 'staging', file, logDir: dir, ...opts });
    expect(report.passed).toBe(false);
    const text = readFileSync(report.logPath, 'utf8');
    expect(text).toContain('line 21: GitHub token');
    expect(text).toContain('line 22: not JSON');
    expect(text).not.toContain(secret);
    expect(readEvidenceLog(report.logPath).result).toMatchObject({ status: 'fail', leaks: 1 });
  });

  it('reads the logs a command prints', async () => {
    const report = await validateLogging({
      environment: 'staging',
      command: `printf '%s\\n' '${line()}' '${line()}'`,
      logDir: dir,
      ...opts,
    });
    expect(report).toMatchObject({ totalLines: 2, passed: true });
  });

  it('names a log file that cannot be read', async () => {
    await expect(
      validateLogging({ environment: 'staging', file: join(dir, 'missing.log'), logDir: dir, ...opts }),
    ).rejects.toThrow(/missing\.log: log file cannot be read \(ENOENT\)/);
  });

  it('asks for a source when none is given', async () => {
    await expect(validateLogging({ environment: 'staging', logDir: dir, ...opts })).rejects.toThrow(
      /no log source/,
    );
  });
});
