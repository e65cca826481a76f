import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { processAlive } from '@guarded-rollout/deploy';
import { TOKEN, bundle, fake, runBundle, script, store, useFakeGitHub, workspace } from './harness.js';

useFakeGitHub();

describe('deploy action bundle: cancellation and the post step', () => {
  it('on SIGTERM mid-deploy stops the tree, posts status error and reports cancelled', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN, 'kill-grace': '30s' });
    const pids = join(ws.dir, 'pids');
    // Ignores SIGTERM, so only the shortened cancellation grace (then SIGKILL) can stop it.
    ws.env.INPUT_COMMAND = script(
      ws.dir,
      'deploy.sh',
      `trap '' TERM\nsleep 300 & echo $! >> ${pids}\necho $$ >> ${pids}\nwhile true; do sleep 1; done`,
    );
    const child = spawn(process.execPath, [bundle], {
      cwd: ws.dir,
      env: ws.env,
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    let stdout = '';
    child.stdout.on('data', (c: Buffer) => (stdout += c.toString()));
    const exited = new Promise<number | null>((r) => child.on('exit', (code) => r(code)));
    const until = Date.now() + 15_000;
    while (
      Date.now() < until &&
      !(existsSync(pids) && readFileSync(pids, 'utf8').trim().split(/\s+/).length >= 2)
    )
      await new Promise((r) => setTimeout(r, 50));
    const tree = readFileSync(pids, 'utf8').trim().split(/\s+/).map(Number);
    const id = Number(ws.state()['deployment-id']);
    expect(store.states(id)).toEqual(['in_progress']);
    const signalled = Date.now();
    child.kill('SIGTERM');
    const code = await exited;
    expect(Date.now() - signalled).toBeLessThan(8000); // inside the runner's ~10 s grace
    expect(code).toBe(1);
    expect(store.states(id)).toEqual(['in_progress', 'error']);
    expect(store.find(id)!.statuses.at(-1)!.description).toMatch(/^cancelled/);
    expect(ws.outputs()).toMatchObject({ status: 'cancelled' });
    expect(stdout).toContain('::error::deploy cancelled');
    expect(tree.filter(processAlive)).toEqual([]);
    expect(fake.violations).toEqual([]);
  }, 30_000);

  it('post step closes a deployment the main step never finished', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN });
    const r0 = await runBundle(ws, { ...ws.env, INPUT_COMMAND: 'sleep 300', INPUT_TIMEOUT: '200ms' });
    expect(r0.status).toBe(1);
    const id = Number(ws.outputs()['deployment-id']);
    // Simulate a main step killed before it finished: state has the id but no "finished".
    const postEnv = {
      ...ws.env,
      STATE_isPost: 'true',
      'STATE_deployment-id': String(id),
      STATE_environment: 'production',
    };
    const r = await runBundle(ws, postEnv);
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('::warning::the deploy to production did not finish');
    expect(store.states(id)).toEqual(['in_progress', 'failure', 'error']);
  });

  it('post step is quiet after a finished deploy', async () => {
    const ws = workspace({ environment: 'production', token: TOKEN });
    const r = await runBundle(ws, { ...ws.env, STATE_isPost: 'true', STATE_finished: 'true' });
    expect(r.status).toBe(0);
    expect(r.stdout).toContain('nothing left to report');
  });
});
