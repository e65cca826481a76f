import { describe, expect, it } from '@jest/globals';
import { spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { processAlive } from '@guarded-rollout/deploy';
import { readEvidenceLog } from '@guarded-rollout/evidence';
import { runNodeAction } from '@guarded-rollout/runner-harness';
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

  it('cancelled by the runner during a smoke check that hangs: the check ends at once, smoke-result cancelled, one line, before SIGTERM', async () => {
    let asked!: () => void;
    const hung = new Promise<void>((r) => (asked = r));
    // The new release answers /health and hangs on /search.
    const service = createServer((req, res) => {
      if (req.url === '/health') res.end('ok');
      else asked();
    });
    await new Promise<void>((r) => service.listen(0, '127.0.0.1', r));
    const root = mkdtempSync(join(tmpdir(), 'deploy-action-smoke-'));
    writeFileSync(
      join(root, 'guarded-rollout.config.json'),
      JSON.stringify({
        environments: {
          production: {
            smoke: {
              base_url: `http://127.0.0.1:${(service.address() as AddressInfo).port}`,
              checks: [
                { name: 'health', tier: 'critical', url: '/health' },
                { name: 'search', tier: 'critical', url: '/search', timeout: '5m' },
                { name: 'hash', tier: 'standard', url: '/hash' },
              ],
            },
          },
        },
      }),
    );
    try {
      const running = runNodeAction(fileURLToPath(new URL('..', import.meta.url)), {
        workspace: root,
        inputs: { environment: 'production', command: 'true', 'smoke-tier': 'all' },
      });
      await hung;
      const timings = await running.cancel();
      const main = await running.result;
      expect(timings.lastSignal).toBe('SIGINT');
      expect(timings.exitedAtMs).toBeLessThan(2500); // not the check's 5 minutes, nor the runner's kill
      expect(main.code).toBe(1);
      expect(main.stdout).toContain(
        '::warning::received SIGINT: stopping the smoke checks (the deploy itself is done) and recording what ran',
      );
      expect(main.outputs).toMatchObject({ status: 'succeeded', 'smoke-result': 'cancelled' });
      expect(main.stdout).toContain(
        '::error::the deploy succeeded, but its smoke tests were cancelled after 1 of 3 all smoke checks (1 passed, 0 failed); the rest were not run: the release is live and not smoke-tested; run them with guarded-rollout smoke --env production --tier all',
      );
      const log = readEvidenceLog(join(root, 'postdeploy-smoketests.log'));
      expect(log.result).toMatchObject({ status: 'fail', cancelled: true, not_run: ['hash'] });
    } finally {
      service.closeAllConnections();
      service.close();
    }
  }, 60_000);

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
