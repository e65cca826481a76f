// GitHub's REST routes for workflow-run artifacts (list by repository or run, get one, download as a
// 302 to a signed blob URL). The artifacts themselves live in whatever the test plugs in — normally
// the runner harness's local artifact service, so an artifact uploaded by @actions/artifact in one
// job is listed and downloaded here by another, as on GitHub.
import { paginate, type FakeGitHub, type FakeRequest, type FakeResponse, type Handler } from '../server.js';

/** One finalized artifact as GitHub's REST API describes it. */
export interface ArtifactRecord {
  id: number;
  name: string;
  sizeInBytes: number;
  /** "sha256:<hex>" when known. */
  digest?: string;
  createdAt: string;
  expiresAt: string;
  runId: number;
  headSha: string;
  headBranch: string;
  expired?: boolean;
}

/** Where the routes read artifacts from and get download URLs (the local artifact service implements it). */
export interface ArtifactSource {
  /** Every artifact of the repository, in any order. */
  listArtifacts(): ArtifactRecord[];
  /** A short-lived signed URL of the artifact's zip. */
  downloadUrl(id: number): Promise<string> | string;
}

const notFound: FakeResponse = {
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
};

function artifactBody(fake: FakeGitHub, req: FakeRequest, a: ArtifactRecord): Record<string, unknown> {
  const repoUrl = `${fake.url}/repos/${req.params.owner}/${req.params.repo}`;
  return {
    id: a.id,
    node_id: `MDg6QXJ0aWZhY3Q${a.id}`,
    name: a.name,
    size_in_bytes: a.sizeInBytes,
    url: `${repoUrl}/actions/artifacts/${a.id}`,
    archive_download_url: `${repoUrl}/actions/artifacts/${a.id}/zip`,
    expired: a.expired ?? false,
    created_at: a.createdAt,
    expires_at: a.expiresAt,
    updated_at: a.createdAt,
    ...(a.digest ? { digest: a.digest } : {}),
    workflow_run: {
      id: a.runId,
      repository_id: 1296269,
      head_repository_id: 1296269,
      head_branch: a.headBranch,
      head_sha: a.headSha,
    },
  };
}

/** Newest first, as GitHub lists artifacts. */
function newestFirst(list: ArtifactRecord[]): ArtifactRecord[] {
  return [...list].sort((a, b) => b.createdAt.localeCompare(a.createdAt) || b.id - a.id);
}

function listResponse(fake: FakeGitHub, req: FakeRequest, items: ArtifactRecord[]): FakeResponse {
  const page = paginate(req, fake, newestFirst(items));
  return {
    ...page,
    body: {
      total_count: items.length,
      artifacts: (page.body as ArtifactRecord[]).map((a) => artifactBody(fake, req, a)),
    },
  };
}

/** The handlers by operationId, for tests that wrap one (e.g. to inject a 500). */
export function artifactHandlers(source: ArtifactSource): Record<string, Handler> {
  const byName = (req: FakeRequest, list: ArtifactRecord[]): ArtifactRecord[] => {
    const name = req.query.get('name');
    return name === null ? list : list.filter((a) => a.name === name);
  };
  return {
    'actions/list-artifacts-for-repo': (req, fake) =>
      listResponse(fake, req, byName(req, source.listArtifacts())),
    'actions/list-workflow-run-artifacts': (req, fake) =>
      listResponse(
        fake,
        req,
        byName(
          req,
          source.listArtifacts().filter((a) => a.runId === Number(req.params.run_id)),
        ),
      ),
    'actions/get-artifact': (req, fake) => {
      const a = source.listArtifacts().find((x) => x.id === Number(req.params.artifact_id));
      return a ? { status: 200, body: artifactBody(fake, req, a) } : notFound;
    },
    'actions/download-artifact': async (req) => {
      const a = source.listArtifacts().find((x) => x.id === Number(req.params.artifact_id));
      if (!a || req.params.archive_format !== 'zip') return notFound;
      if (a.expired) {
        return {
          status: 410,
          body: { message: 'Artifact has expired', documentation_url: 'https://docs.github.com/rest' },
        };
      }
      return { status: 302, headers: { location: await source.downloadUrl(a.id) } };
    },
  };
}

/** Serves the artifact routes from `source` on the fake. */
export function installArtifactRoutes(fake: FakeGitHub, source: ArtifactSource): FakeGitHub {
  for (const [id, handler] of Object.entries(artifactHandlers(source))) fake.on(id, handler);
  return fake;
}
