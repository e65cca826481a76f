import { afterAll, describe, expect, it } from '@jest/globals';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import {
  checkoutClean,
  initWorkspaceRepo,
  inputEnvName,
  killProcesses,
  leftoverProcesses,
  parseCommandFile,
  runCompositeRunStep,
  runNodeAction,
  runPostStep,
} from '../src/index.js';

// Runner semantics (signals, /proc, bash, dash) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

const probe = fileURLToPath(new URL('./fixtures/probe-action', import.meta.url));
const dirs: string[] = [];
const workspace = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'harness-ws-'));
  dirs.push(d);
  return d;
};
afterAll(() => {
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describe('runner file commands', () => {
  it.each([
    ['name=value\n', { name: 'value' }],
    ['a<<EOF\nline 1\nline 2\nEOF\nb=x=y\n', { a: 'line 1\nline 2', b: 'x=y' }],
    ['a<<D\n\nD\n', { a: '' }],
    ['a=1\na=2\n', { a: '2' }],
  ])('parses %j', (text, expected) => {
    expect(parseCommandFile(text)).toEqual(expected);
  });
  it('refuses a heredoc without its delimiter and a line without "="', () => {
    expect(() => parseCommandFile('a<<EOF\nx\n', 'out')).toThrow(
      'out: matching delimiter "EOF" not found for a',
    );
    expect(() => parseCommandFile('garbage\n', 'out')).toThrow('out: invalid line 1: "garbage"');
  });
  it.each([
    ['dry-run', 'INPUT_DRY-RUN'],
    ['health url', 'INPUT_HEALTH_URL'],
    ['Base-Dir', 'INPUT_BASE-DIR'],
  ])('input %s is %s', (name, env) => expect(inputEnvName(name)).toBe(env));
});

describeOnLinux('a node action step', () => {
  it('gets INPUT_* (defaults applied, hyphens kept), outputs, state for post, env, summary', async () => {
    const ws = workspace();
    const runnerTemp = mkdtempSync(join(tmpdir(), 'harness-rt-'));
    dirs.push(runnerTemp);
    const step = runNodeAction(probe, {
      workspace: ws,
      runnerTemp,
      inputs: { 'dry-run': 'true', typo: 'x' },
      github: { token: 'ghs_fake' },
    });
    const main = await step.result;
    expect(main.code).toBe(0);
    expect(main.outputs.inputs).toBe(
      'INPUT_DRY-RUN,INPUT_GREETING,INPUT_MODE,INPUT_ON-SIGNAL,INPUT_RUN-ID,INPUT_TOKEN,INPUT_TYPO',
    );
    expect(main.env['INPUT_TOKEN']).toBe('ghs_fake');
    expect(main.outputs).toMatchObject({ greeting: 'hello', 'dry-run': 'true', multi: 'line one\nline two' });
    expect(main.outputs['has-runtime-token']).toBe('false');
    expect(main.state).toEqual({ started: 'yes' });
    expect(main.exportedEnv).toEqual({ FROM_PROBE: '1' });
    expect(main.summary).toBe('### probe\n');
    expect(main.commands.warnings).toEqual(['probe warning']);
    expect(main.runnerWarnings[0]).toMatch(/^Unexpected input\(s\) 'typo'/);
    // The test process's own env (e.g. jest's NODE_OPTIONS) does not leak into the step.
    expect(main.env.NODE_OPTIONS).toBeUndefined();
    const post = await runPostStep(probe, main, { workspace: ws, runnerTemp }).result;
    expect(post.outputs['post-saw-state']).toBe('yes');
  });

  it('gets the artifact runtime variables only when the runner gives them (node steps)', async () => {
    const main = await runNodeAction(probe, {
      workspace: workspace(),
      runtime: { ACTIONS_RUNTIME_TOKEN: 't', ACTIONS_RESULTS_URL: 'http://127.0.0.1:9/' },
    }).result;
    expect(main.outputs['has-runtime-token']).toBe('true');
  });

  it('names the file and field of a bad action.yml', () => {
    const dir = workspace();
    writeFileSync(join(dir, 'action.yml'), "runs:\n  using: 'composite'\n  steps: []\n");
    expect(() => runNodeAction(dir, { workspace: dir })).toThrow(
      `${dir}/action.yml: runs.using is "composite"; runNodeAction runs node20/node24 actions`,
    );
  });
});

describeOnLinux('a composite run: step', () => {
  it('sees no INPUT_* and no artifact runtime token, only its env:', async () => {
    const r = await runCompositeRunStep(
      'env | grep -E "^(INPUT_|ACTIONS_RUNTIME)" || echo none; echo "x=$GREETING" >> "$GITHUB_OUTPUT"',
      {
        workspace: workspace(),
        env: { GREETING: 'hi' },
      },
    ).result;
    expect(r.stdout.trim()).toBe('none');
    expect(r.outputs).toEqual({ x: 'hi' });
  });
});

describeOnLinux('shell: sh (dash) in a run: step', () => {
  it('drops hyphenated names like INPUT_DRY-RUN from the env its commands get; bash keeps them', async () => {
    const script = `node -e 'console.log(process.env["INPUT_DRY-RUN"] ?? "missing")'\n`;
    const env = { 'INPUT_DRY-RUN': 'true' };
    const sh = await runCompositeRunStep(script, { workspace: workspace(), env, shell: 'sh' }).result;
    const bash = await runCompositeRunStep(script, { workspace: workspace(), env }).result;
    expect(sh.stdout.trim()).toBe('missing');
    expect(bash.stdout.trim()).toBe('true');
  });
});

describeOnLinux("the runner's cancel schedule (SIGINT, SIGTERM at 7.5 s, SIGKILL at 10 s)", () => {
  it('measures each signal; bash as the direct child leaves its command running', async () => {
    // The three cases run together: together they take the schedule's 10 s once.
    const quick = runNodeAction(probe, { workspace: workspace(), inputs: { mode: 'wait' } });
    const stubborn = runNodeAction(probe, {
      workspace: workspace(),
      inputs: { mode: 'wait', 'on-signal': 'ignore' },
    });
    const ws = workspace();
    const composite = runCompositeRunStep(
      `node -e "setInterval(() => {}, 1000)"\necho after > "${ws}/after"\n`,
      { workspace: ws },
    );
    await Promise.all([
      quick.waitForOutput(/waiting/),
      stubborn.waitForOutput(/waiting/),
      // the node child is up once it shows in /proc under the step's marker
      (async () => {
        for (let i = 0; i < 600 && leftoverProcesses(composite.marker).length < 2; i++) {
          await new Promise((r) => setTimeout(r, 50));
        }
      })(),
    ]);
    const [q, s, c] = await Promise.all([quick.cancel(), stubborn.cancel(), composite.cancel()]);
    const left = leftoverProcesses(composite.marker);
    killProcesses(left);

    expect(q.lastSignal).toBe('SIGINT');
    expect(q.exitedAtMs).toBeLessThan(5000);
    expect((await quick.result).code).toBe(130);
    expect(existsSync(join((await quick.result).env.GITHUB_WORKSPACE!, 'cancel-recorded'))).toBe(true);

    expect(s.sigtermAtMs).toBeGreaterThanOrEqual(7400);
    expect(s.sigkillAtMs).toBeGreaterThanOrEqual(9900);
    expect(s.lastSignal).toBe('SIGKILL');
    expect((await stubborn.result).signal).toBe('SIGKILL');
    expect((await stubborn.result).stdout).toMatch(/got SIGINT[\s\S]*got SIGTERM/);

    // bash defers SIGINT while it waits; SIGTERM ends bash at 7.5 s, and its command lives on.
    expect(c.sigtermAtMs).toBeGreaterThanOrEqual(7400);
    expect(c.exitedAtMs).toBeGreaterThanOrEqual(7400);
    expect(left.map((p) => p.command)).toEqual([expect.stringContaining('setInterval')]);
    expect(existsSync(join(ws, 'after'))).toBe(false);
    expect(leftoverProcesses(quick.marker)).toEqual([]);
  }, 60_000);
});

describeOnLinux("checkout's clean", () => {
  it('removes untracked and ignored files (a backups/ dir too) and resets tracked ones', () => {
    const ws = workspace();
    initWorkspaceRepo(ws, { '.gitignore': 'backups/\n', 'app.txt': 'v1\n' });
    mkdirSync(join(ws, 'backups'));
    writeFileSync(join(ws, 'backups', 'dhash_production_x.zip'), 'zip');
    writeFileSync(join(ws, 'untracked.txt'), 'x');
    writeFileSync(join(ws, 'app.txt'), 'changed\n');
    checkoutClean(ws);
    expect(existsSync(join(ws, 'backups'))).toBe(false);
    expect(existsSync(join(ws, 'untracked.txt'))).toBe(false);
    expect(readFileSync(join(ws, 'app.txt'), 'utf8')).toBe('v1\n');
  });
});
