import { afterAll, beforeAll, describe, expect, it } from '@jest/globals';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { installArtifactRoutes, startFakeGitHub, type FakeGitHub } from '@guarded-rollout/fake-github';
import { runNodeAction, startArtifactService, type ArtifactService } from '../src/index.js';

// Runner semantics (signals, /proc, bash, dash) are Linux's, as on ubuntu-latest; other OSes skip.
const describeOnLinux = process.platform === 'linux' ? describe : describe.skip;

const probe = fileURLToPath(new URL('./fixtures/probe-action', import.meta.url));
const dirs: string[] = [];
const workspace = (): string => {
  const d = mkdtempSync(join(tmpdir(), 'harness-art-'));
  dirs.push(d);
  return d;
};
let service: ArtifactService;
let fake: FakeGitHub;
beforeAll(async () => {
  if (process.platform !== 'linux') return;
  service = await startArtifactService();
  fake = await startFakeGitHub();
  fake.token = 'ghs_reader';
  installArtifactRoutes(fake, service);
}, 90_000);
afterAll(async () => {
  await service?.stop();
  await fake?.stop();
  for (const d of dirs) rmSync(d, { recursive: true, force: true });
});

describeOnLinux('the local artifact service', () => {
  it('takes an upload from @actions/artifact in one job and serves it to another job through the REST API', async () => {
    const github = { repository: 'octo-org/octo-repo', runId: 4242, apiUrl: fake.url };
    const up = await runNodeAction(probe, {
      workspace: workspace(),
      inputs: { mode: 'upload', greeting: 'backup-production-run4242-attempt1' },
      github,
      runtime: service.envFor({ runId: 4242, job: 'deploy' }),
    }).result;
    expect(up.stderr).toBe('');
    expect(up.code).toBe(0);
    const stored = service.artifacts.find((a) => a.name === 'backup-production-run4242-attempt1')!;
    expect(up.outputs['artifact-id']).toBe(String(stored.id));
    expect(stored).toMatchObject({ finalized: true, runId: 4242 });
    expect(stored.digest).toMatch(/^sha256:[0-9a-f]{64}$/);

    // A second upload of the same name in the same run is refused (409), as on GitHub.
    const again = await runNodeAction(probe, {
      workspace: workspace(),
      inputs: { mode: 'upload', greeting: 'backup-production-run4242-attempt1' },
      github,
      runtime: service.envFor({ runId: 4242, job: 'deploy' }),
    }).result;
    expect(again.code).not.toBe(0);
    expect(again.stdout + again.stderr).toMatch(/409/);

    // Another run's job finds it by run id and name via REST and downloads it (302 to the blob).
    const wsDown = workspace();
    const down = await runNodeAction(probe, {
      workspace: wsDown,
      inputs: { mode: 'download', greeting: 'backup-production-run4242-attempt1', 'run-id': '4242' },
      github: { ...github, runId: 5000, token: 'ghs_reader' },
      runtime: service.envFor({ runId: 5000, job: 'rollback' }),
    }).result;
    expect(down.stderr).toBe('');
    expect(down.code).toBe(0);
    expect(readFileSync(join(wsDown, 'downloaded', 'payload.txt'), 'utf8')).toBe('payload\n');
    expect(fake.count('actions/download-artifact')).toBe(1);

    // A later job of the same run downloads it through the results API (no REST, no token).
    const wsSame = workspace();
    const same = await runNodeAction(probe, {
      workspace: wsSame,
      inputs: { mode: 'download-internal', greeting: 'backup-production-run4242-attempt1' },
      github,
      runtime: service.envFor({ runId: 4242, job: 'verify' }),
    }).result;
    expect(same.code).toBe(0);
    expect(same.outputs['artifact-id']).toBe(String(stored.id));
    expect(readFileSync(join(wsSame, 'downloaded', 'payload.txt'), 'utf8')).toBe('payload\n');
    expect(service.calls.map((c) => `${c.method} ${c.status}`)).toEqual(
      expect.arrayContaining(['ListArtifacts 200', 'GetSignedArtifactURL 200', 'CreateArtifact 409']),
    );
    expect(fake.violations).toEqual([]);
  }, 90_000);

  it('refuses a results call without a valid token scope', async () => {
    const call = (auth: string) =>
      fetch(`${service.resultsUrl}twirp/github.actions.results.api.v1.ArtifactService/ListArtifacts`, {
        method: 'POST',
        headers: { 'content-type': 'application/json', authorization: auth },
        body: JSON.stringify({ workflow_run_backend_id: 'x', workflow_job_run_backend_id: 'y' }),
      });
    expect((await call('')).status).toBe(401);
    const forged = service.envFor({ runId: 1 }).ACTIONS_RUNTIME_TOKEN.replace(/\.[^.]+$/, '.AAAA');
    expect((await call(`Bearer ${forged}`)).status).toBe(401);
    expect((await call(`Bearer ${service.envFor({ runId: 1 }).ACTIONS_RUNTIME_TOKEN}`)).status).toBe(403);
  });
});
