import { describe, expect, it } from '@jest/globals';
import { findItem, normaliseItemText, parseBody, parseTaskItems } from '../src/checklist.js';
import { defaultPolicy } from '../src/policy.js';
import { evaluateChecklist, type RuleResult } from '../src/rules.js';
import { TEMPLATE, completeBody, seedBody } from './bodies.js';

const rule = (rules: RuleResult[], id: string): RuleResult => rules.find((r) => r.id === id)!;

describe('checklist parser', () => {
  const cases: { name: string; body: string; text: string; state: string }[] = [
    {
      name: 'plain ticked item',
      body: '- [x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'ticked',
    },
    { name: 'upper-case X', body: '- [X] deploy-dryrun.log', text: 'deploy-dryrun.log', state: 'ticked' },
    { name: '* bullet', body: '* [x] deploy-dryrun.log', text: 'deploy-dryrun.log', state: 'ticked' },
    { name: '+ bullet', body: '+ [x] deploy-dryrun.log', text: 'deploy-dryrun.log', state: 'ticked' },
    { name: 'ordered bullet', body: '1. [x] deploy-dryrun.log', text: 'deploy-dryrun.log', state: 'ticked' },
    { name: 'unticked', body: '- [ ] deploy-dryrun.log', text: 'deploy-dryrun.log', state: 'unticked' },
    {
      name: 'inside a code fence',
      body: '```\n- [x] deploy-dryrun.log\n```',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'inside a tilde fence',
      body: '~~~md\n- [x] deploy-dryrun.log\n~~~',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'indented code block',
      body: 'text\n\n    - [x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'inline code',
      body: 'Tick it like `- [x] deploy-dryrun.log`',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'inside an HTML comment',
      body: '<!--\n- [x] deploy-dryrun.log\n-->',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'HTML comment hiding a ticked duplicate',
      body: '- [ ] deploy-dryrun.log\n<!-- - [x] deploy-dryrun.log -->',
      text: 'deploy-dryrun.log',
      state: 'unticked',
    },
    {
      name: 'quoted in a blockquote',
      body: '> - [x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'nested list',
      body: '- [ ] Dry-run logs:\n  - [x] deploy-dryrun.log\n  - [ ] migrate-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'ticked',
    },
    {
      name: 'nested parent stays its own item',
      body: '- [x] Dry-run logs:\n  - [ ] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'unticked',
    },
    {
      name: 'duplicated, both ticked',
      body: '- [x] deploy-dryrun.log\n- [x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'ticked',
    },
    {
      name: 'duplicated, ticked then unticked',
      body: '- [x] deploy-dryrun.log\n- [ ] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'conflicting',
    },
    {
      name: 'CRLF line endings',
      body: '- [ ] a\r\n- [x] deploy-dryrun.log\r\n',
      text: 'deploy-dryrun.log',
      state: 'ticked',
    },
    {
      name: 'bold and emoji',
      body: '- [x] ✅ **Risk level:** 🟢 Low',
      text: 'Risk level: Low',
      state: 'ticked',
    },
    {
      name: 'extra whitespace',
      body: '-   [x]    Risk   level :   Low  ',
      text: 'Risk level: Low',
      state: 'ticked',
    },
    {
      name: 'prefix of a longer word does not match',
      body: '- [x] Risk level: Lower',
      text: 'Risk level: Low',
      state: 'absent',
    },
    {
      name: 'not a task: [x] without list',
      body: '[x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'not a task: [x] mid-line',
      body: '- the [x] deploy-dryrun.log',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'inline code then other words (not the label)',
      body: '- [x] `deploy-dryrun.log` passed',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
    {
      name: 'link then other words (not the label)',
      body: '- [x] [deploy-dryrun.log](https://example.invalid/run) passed',
      text: 'deploy-dryrun.log',
      state: 'absent',
    },
  ];
  it.each(cases)('$name → $state', ({ body, text, state }) => {
    expect(findItem(parseTaskItems(body), text).state).toBe(state);
  });

  it('normalises emoji, bold and punctuation for matching', () => {
    expect(normaliseItemText('✅ **Security & quality checks:** Passed ✅')).toBe(
      'security quality checks passed',
    );
    expect(normaliseItemText('`premerge_artifacts/` (CI bundle)')).toBe('premerge_artifacts/ ci bundle');
  });
});

describe('labels are matched exactly, never by prefix', () => {
  const state = (body: string, pattern: string) => findItem(parseTaskItems(body), pattern).state;
  it.each([
    ['- [x] Integration tests FAILED', 'Integration tests', 'absent'],
    ['- [x] **Integration tests** FAILED', 'Integration tests', 'absent'],
    ['- [x] **Integration tests:** FAILED', 'Integration tests', 'ticked'],
    ['- [x] Integration tests: passed', 'Integration tests', 'ticked'],
    ['- [x] `deploy-dryrun.log` FAILED', 'deploy-dryrun.log', 'absent'],
    ['- [x] `deploy-dryrun.log`', 'deploy-dryrun.log', 'ticked'],
    ['- [x] `premerge_artifacts/` (CI artifact bundle)', 'premerge_artifacts/', 'ticked'],
    ['- [x] Risk level: Lower', 'Risk level: Low', 'absent'],
    ['- [x] ✅ **Risk level:** 🟢 Low', 'Risk level: Low', 'ticked'],
  ])('%s against "%s" → %s', (body, pattern, expected) => {
    expect(state(body, pattern)).toBe(expected);
  });
});

describe('inline choice lines', () => {
  const items = (line: string) => parseTaskItems(line);
  it('reads **Risk Level:** [ ] Low [x] Medium as one ticked choice', () => {
    const body = '**Risk Level:** [ ] Low [x] Medium [ ] High [ ] Critical';
    expect(findItem(items(body), 'Risk level: Medium').state).toBe('ticked');
    expect(findItem(items(body), 'Risk level: Low').state).toBe('unticked');
  });
  it('reads the ready line and the backup verification line', () => {
    const ready = '**Ready for deployment:** [x] YES - All requirements met [ ] NO - See comments';
    expect(findItem(items(ready), 'Ready for deployment: YES').state).toBe('ticked');
    expect(findItem(items(ready), 'Ready for deployment: NO').state).toBe('unticked');
    const backup = '**Backup verification result:** [x] ✅ PASS / [ ] ❌ FAIL';
    expect(findItem(items(backup), 'Backup verification result: PASS').state).toBe('ticked');
    expect(findItem(items(backup), 'Backup verification result: FAIL').state).toBe('unticked');
  });
  it('reads **Label:** value fields', () => {
    expect(parseBody('**Environment:** staging  \n**Component:** DHash').fields.get('environment')).toBe(
      'staging',
    );
  });
});

describe('checklist rules on our template and the seed template', () => {
  const policy = defaultPolicy();
  const failing = (rules: RuleResult[]) => rules.filter((r) => r.status === 'fail');

  it.each([
    ['action-templates/PR_BODY.md', completeBody],
    ['the seed PR template', seedBody],
  ])('passes on %s filled in correctly', (_name, body) => {
    const { rules } = evaluateChecklist(body(), policy, true);
    expect(failing(rules)).toEqual([]);
    expect(rule(rules, 'risk-level').reason).toMatch(/Medium/);
    expect(rule(rules, 'ready').status).toBe('pass');
    expect(rule(rules, 'backup-verification').status).toBe('pass');
  });

  it('fails on the untouched template, naming what is missing', () => {
    const { rules } = evaluateChecklist(TEMPLATE, policy, true);
    expect(rule(rules, 'checklist-artifacts').status).toBe('fail');
    expect(rule(rules, 'checklist-artifacts').missing).toContain('checklist: deploy-dryrun.log');
    expect(rule(rules, 'checklist-artifacts').missing).not.toContain('checklist: monitor_logs/');
    expect(rule(rules, 'risk-level').reason).toMatch(/no risk level ticked/);
    expect(rule(rules, 'ready').status).toBe('fail');
  });

  it('requires exactly one risk level', () => {
    const two = seedBody().replace('[ ] High', '[x] High');
    expect(rule(evaluateChecklist(two, policy, false).rules, 'risk-level').reason).toMatch(
      /2 risk levels ticked \(Medium, High\)/,
    );
  });

  it('fails "Integration tests FAILED" ticked in place of the real box', () => {
    const body = seedBody().replace(
      /- \[x\] \*\*Integration tests:\*\*.*/g,
      '- [x] Integration tests FAILED',
    );
    const ci = rule(evaluateChecklist(body, policy, false).rules, 'checklist-ci');
    expect(ci.status).toBe('fail');
    expect(ci.missing).toContain('checklist: Integration tests');
  });

  it('fails a backup verification ticked FAIL, and a ready NO', () => {
    expect(
      rule(evaluateChecklist(seedBody({ backupResult: 'FAIL' }), policy, true).rules, 'backup-verification')
        .reason,
    ).toMatch(/FAIL.*is ticked/);
    expect(rule(evaluateChecklist(seedBody({ ready: 'NO' }), policy, true).rules, 'ready').reason).toMatch(
      /NO.*is ticked/,
    );
  });

  it('asks for "Ready for deployment: YES" only on deploy PRs', () => {
    const notReady = seedBody().replace('[x] YES', '[ ] YES');
    expect(rule(evaluateChecklist(notReady, policy, false).rules, 'ready').status).toBe('skipped');
    expect(rule(evaluateChecklist(notReady, policy, true).rules, 'ready').status).toBe('fail');
  });

  it('reports a ticked-and-unticked duplicate in one section as a problem, not as ticked', () => {
    const body = completeBody().replace(
      '  - [x] `deploy-dryrun.log`',
      '  - [x] `deploy-dryrun.log`\n  - [ ] `deploy-dryrun.log`',
    );
    expect(rule(evaluateChecklist(body, policy, false).rules, 'checklist-artifacts').reason).toMatch(
      /deploy-dryrun.log" appears 2 times .*ticked and unticked/,
    );
  });

  it('does not count the template ticked inside a code fence', () => {
    const body = `Here is what I would tick:\n\n\`\`\`\`markdown\n${completeBody()}\n\`\`\`\`\n`;
    const { rules } = evaluateChecklist(body, policy, false);
    expect(rule(rules, 'checklist').reason).toMatch(/no task-list checklist/);
  });

  it('refuses a body longer than GitHub allows, with a message', () => {
    const body = '- [x] a\n'.repeat(50_000);
    const { rules } = evaluateChecklist(body, policy, false);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.reason).toMatch(/400000 characters; GitHub allows 65536/);
  });

  it.each([
    ['empty body', null, /PR body is empty/],
    ['whitespace body', '  \n ', /PR body is empty/],
    ['prose only', 'Just a fix, trust me.', /no task-list checklist/],
    ['binary garbage', '\u0000\u0001\uFFFD[x]\u0000', /no task-list checklist/],
  ])('malformed PR body (%s) fails with a clear reason', (_name, body, reason) => {
    const { rules } = evaluateChecklist(body, policy, false);
    expect(rules).toHaveLength(1);
    expect(rules[0]!.status).toBe('fail');
    expect(rules[0]!.reason).toMatch(reason);
  });
});

describe('adversarial bodies are judged fast and never throw', () => {
  const limit = 65_536;
  const bodies: [string, string][] = [
    ['60,000 nested quotes', `${'>'.repeat(60_000)} - [x] a`],
    ['64 KB of _*', '_*'.repeat(limit / 2)],
    ['64 KB of [ without ]', `- [x] ${'[('.repeat(limit / 2 - 4)}`],
    ['a 64 KB heading of #s', `# ${'# '.repeat(limit / 2 - 2)}x`],
    ['8,000 boxes', '- [x] a\n'.repeat(8_000)],
    ['64 KB of <!--', '<!--'.repeat(limit / 4)],
  ];
  it.each(bodies)('%s', (_name, body) => {
    expect(body.length).toBeLessThanOrEqual(limit);
    const started = process.hrtime.bigint();
    expect(() => evaluateChecklist(body, policy0, true)).not.toThrow();
    // Generous for a loaded CI machine; bench/pr-check.mjs measures the real figures.
    expect(Number(process.hrtime.bigint() - started) / 1e6).toBeLessThan(1000);
  });
});
const policy0 = defaultPolicy();

describe('policy file', () => {
  it('the shipped example (action-templates/guarded-rollout.yml) is valid', async () => {
    const { loadPolicyFile } = await import('../src/policy.js');
    const policy = loadPolicyFile(
      new URL('../../../action-templates/guarded-rollout.yml', import.meta.url).pathname,
    );
    expect(policy.roster).toEqual({ sre: ['@acme/sre'], operators: ['@acme/ops'] });
    expect(policy.requiredApprovals).toBe(2);
  });
});
