// One fake GitHub for pr-check tests: pulls/reviews/comments/runs (PullsState), GitHub-faithful
// check runs (app + external_id), team member lists, and artifact zips behind a 302.
import {
  ArtifactBlobs,
  CheckRunStore,
  installArtifactRoutes,
  installCheckRunRoutes,
  installPullListRoutes,
  installPullRoutes,
  installTeamMemberRoutes,
  PullsState,
  startFakeGitHub,
  type FakeGitHub,
  type FakeResponse,
} from '@guarded-rollout/fake-github';

export const TOKEN = 'ghs_test_token';

export interface World {
  fake: FakeGitHub;
  gh: PullsState;
  checks: CheckRunStore;
  blobs: ArtifactBlobs;
  reset: () => void;
  /** A premerge run of `.github/workflows/premerge.yml` on pull_request with this bundle. */
  seedPremerge: (
    headSha: string,
    zip: Buffer | undefined,
    extra?: {
      createdAt?: string;
      conclusion?: 'success' | 'failure';
      path?: string;
      event?: string;
      name?: string;
    },
  ) => number;
  /** Fail the next `times` requests of an operation with this response. */
  failNext: (operationId: string, times: number, response: FakeResponse) => void;
  stop: () => Promise<void>;
}

export async function startWorld(): Promise<World> {
  const fake = await startFakeGitHub();
  fake.token = TOKEN;
  const blobs = await new ArtifactBlobs().start();
  const world: World = {
    fake,
    gh: new PullsState(),
    checks: new CheckRunStore(),
    blobs,
    reset() {
      world.gh = installPullRoutes(fake, new PullsState());
      world.checks = installCheckRunRoutes(fake, new CheckRunStore());
      installTeamMemberRoutes(fake, world.gh);
      installPullListRoutes(fake, world.gh);
      blobs.zips.clear();
      blobs.downloads = 0;
      blobs.leakedAuthorization = 0;
      installArtifactRoutes(fake, {
        listArtifacts: () =>
          [...world.gh.artifacts.entries()].flatMap(([runId, list]) =>
            list.map((a) => ({
              id: a.id as number,
              name: a.name as string,
              sizeInBytes: a.size_in_bytes as number,
              createdAt: '2026-11-23T10:30:00Z',
              expiresAt: '2027-02-21T10:30:00Z',
              runId,
              headSha: (a.workflow_run as { head_sha: string }).head_sha,
              headBranch: 'feature',
              expired: a.expired === true,
            })),
          ),
        downloadUrl: (id) => blobs.signedUrl(id),
      });
      fake.faults.length = 0;
      fake.requests.length = 0;
      fake.violations.length = 0;
    },
    seedPremerge(headSha, zip, extra = {}) {
      const run = world.gh.addWorkflowRun({
        headSha,
        createdAt: extra.createdAt ?? '2026-11-23T10:00:00Z',
        conclusion: extra.conclusion ?? 'success',
        ...(extra.path ? { path: extra.path } : {}),
        ...(extra.event ? { event: extra.event } : {}),
        ...(extra.name ? { name: extra.name } : {}),
        artifacts: zip ? ['premerge_artifacts'] : [],
      });
      const id = run.id as number;
      for (const artifact of world.gh.artifacts.get(id) ?? []) {
        artifact.size_in_bytes = zip!.length;
        blobs.zips.set(artifact.id as number, zip!);
      }
      return id;
    },
    failNext(operationId, times, response) {
      let left = times;
      fake.faults.push((req) => {
        if (req.operationId !== operationId || left <= 0) return undefined;
        left--;
        return response;
      });
    },
    async stop() {
      await blobs.stop();
      await fake.stop();
    },
  };
  world.reset();
  return world;
}
