import { describe, expect, it } from '@jest/globals';
import { findItem, normaliseItemText, parseTaskItems } from '../src/checklist.js';
import { defaultPolicy } from '../src/policy.js';
import { evaluateChecklist, type RuleResult } from '../src/rules.js';
import { TEMPLATE, completeBody, untick } from './bodies.js';

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
      name: 'inline code in item text',
      body: '- [x] `deploy-dryrun.log` passed',
      text: 'deploy-dryrun.log',
      state: 'ticked',
    },
    {
      name: 'link in item text',
      body: '- [x] [deploy-dryrun.log](https://example.invalid/run) passed',
      text: 'deploy-dryrun.log',
      state: 'ticked',
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

describe('checklist rules on the template', () => {
  const policy = defaultPolicy();

  it('passes on the completed template', () => {
    const { rules } = evaluateChecklist(completeBody(), policy, true);
    expect(rules.filter((r) => r.status === 'fail')).toEqual([]);
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
    const two = completeBody().replace('- [ ] Risk level: High', '- [x] Risk level: High');
    expect(rule(evaluateChecklist(two, policy, false).rules, 'risk-level').reason).toMatch(
      /2 risk levels ticked \(Low, High\)/,
    );
  });

  it('asks for "Ready for deployment: YES" only on deploy PRs', () => {
    const notReady = untick(completeBody(), 'Ready for deployment: YES');
    expect(rule(evaluateChecklist(notReady, policy, false).rules, 'ready').status).toBe('skipped');
    expect(rule(evaluateChecklist(notReady, policy, true).rules, 'ready').status).toBe('fail');
    const both = completeBody().replace('- [ ] Ready for deployment: NO', '- [x] Ready for deployment: NO');
    expect(rule(evaluateChecklist(both, policy, true).rules, 'ready').reason).toMatch(/NO.*is ticked/);
  });

  it('reports a ticked-and-unticked duplicate as a problem, not as ticked', () => {
    const body = `${completeBody()}\n\n- [ ] \`deploy-dryrun.log\` passed\n`;
    expect(rule(evaluateChecklist(body, policy, false).rules, 'checklist-artifacts').reason).toMatch(
      /deploy-dryrun.log" appears 2 times .*ticked and unticked/,
    );
  });

  it('does not count the template ticked inside a code fence', () => {
    const body = `Here is what I would tick:\n\n\`\`\`\`markdown\n${completeBody()}\n\`\`\`\`\n`;
    const { rules } = evaluateChecklist(body, policy, false);
    expect(rule(rules, 'checklist').reason).toMatch(/no task-list checklist/);
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
