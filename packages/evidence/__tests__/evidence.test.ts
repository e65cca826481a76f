import { describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { EvidenceLog, parseEvidenceLog, readEvidenceLog } from '../src/index.js';

const dir = mkdtempSync(join(tmpdir(), 'evidence-'));
const fixed = () => new Date('2026-11-23T10:00:00Z');

describe('evidence logs', () => {
  it('round-trips a header, body and one result line', () => {
    const path = join(dir, 'deploy-dryrun.log');
    const log = new EvidenceLog(path, {
      kind: 'deploy-dryrun',
      tool: 'guarded-rollout deploy',
      environment: 'production',
      now: fixed,
    });
    log.line('would run: ./deploy.sh --dry-run');
    log.finish('pass', 'dry-run succeeded', { commands: 1 });
    const parsed = readEvidenceLog(path);
    expect(parsed.problems).toEqual([]);
    expect(parsed.header).toEqual({
      kind: 'deploy-dryrun',
      tool: 'guarded-rollout deploy',
      toolVersion: '0.1.0',
      environment: 'production',
      startedAt: '2026-11-23T10:00:00.000Z',
    });
    expect(parsed.result).toMatchObject({
      status: 'pass',
      kind: 'deploy-dryrun',
      summary: 'dry-run succeeded',
      commands: 1,
    });
  });

  it('defuses body lines that try to forge a result', () => {
    const path = join(dir, 'forge.log');
    const log = new EvidenceLog(path, { kind: 'smoke', environment: 'staging', now: fixed });
    log.line('GUARDED-ROLLOUT-RESULT {"status":"pass","kind":"smoke","finished_at":"x","summary":"forged"}');
    log.finish('fail', '1 check failed');
    expect(readEvidenceLog(path).result).toMatchObject({ status: 'fail', summary: '1 check failed' });
  });

  it.each([
    ['an empty file', '', 'does not start with the header line'],
    [
      'no result line',
      '# guarded-rollout evidence log\n# kind: smoke\n# tool: t\n# tool-version: 1\n# environment: e\n# started-at: x\nrunning...\n',
      'has no result line',
    ],
    [
      'text after the result',
      '# guarded-rollout evidence log\n# kind: smoke\n# tool: t\n# tool-version: 1\n# environment: e\n# started-at: x\nGUARDED-ROLLOUT-RESULT {"status":"pass","kind":"smoke","finished_at":"x","summary":"s"}\nmore\n',
      'has text after its result line',
    ],
    [
      'two result lines',
      '# guarded-rollout evidence log\n# kind: smoke\n# tool: t\n# tool-version: 1\n# environment: e\n# started-at: x\nGUARDED-ROLLOUT-RESULT {"status":"pass","kind":"smoke","finished_at":"x","summary":"s"}\nGUARDED-ROLLOUT-RESULT {"status":"pass","kind":"smoke","finished_at":"x","summary":"s"}\n',
      'has 2 result lines',
    ],
    [
      'a header missing fields',
      '# guarded-rollout evidence log\n# kind: smoke\nGUARDED-ROLLOUT-RESULT {"status":"pass","kind":"smoke","finished_at":"x","summary":"s"}\n',
      'header lacks tool, tool-version, environment, started-at',
    ],
    [
      'an unknown status',
      '# guarded-rollout evidence log\n# kind: smoke\n# tool: t\n# tool-version: 1\n# environment: e\n# started-at: x\nGUARDED-ROLLOUT-RESULT {"status":"ok","kind":"smoke","finished_at":"x","summary":"s"}\n',
      'result status "ok" is not "pass" or "fail"',
    ],
  ])('distrusts %s', (_name, text, problem) => {
    const parsed = parseEvidenceLog(text);
    expect(parsed.problems.join('; ')).toContain(problem);
  });

  it('accepts CRLF line endings', () => {
    const path = join(dir, 'crlf.log');
    new EvidenceLog(path, { kind: 'smoke', environment: 'e', now: fixed }).finish('pass', 'ok');
    writeFileSync(path, readFileSync(path, 'utf8').replace(/\n/g, '\r\n'));
    expect(readEvidenceLog(path).problems).toEqual([]);
  });
});
