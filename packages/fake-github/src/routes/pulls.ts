// Stateful fake routes for pre-merge gatekeeping: pull requests, reviews, issue comments, check
// runs, workflow runs with their artifacts and org team membership. Tests seed a PullsState and
// assert on what the code under test wrote (check runs) and how many requests it made.
import { exampleResponse } from '../spec.js';
import { paginate, type FakeGitHub, type FakeRequest, type FakeResponse } from '../server.js';

type Json = Record<string, unknown>;

export interface SeedPull {
  number: number;
  body: string | null;
  author: string;
  headSha: string;
  baseRef?: string;
  labels?: string[];
  title?: string;
}

export interface SeedReview {
  user: string;
  state: 'APPROVED' | 'CHANGES_REQUESTED' | 'COMMENTED' | 'DISMISSED' | 'PENDING';
  commitId: string;
  submittedAt: string;
  body?: string;
}

export interface SeedComment {
  user: string;
  body: string;
  createdAt: string;
}

export interface SeedWorkflowRun {
  headSha: string;
  /** Workflow file, e.g. ".github/workflows/premerge.yml". */
  path?: string;
  name?: string;
  event?: string;
  status?: 'queued' | 'in_progress' | 'completed';
  conclusion?: 'success' | 'failure' | 'cancelled' | null;
  createdAt: string;
  /** Artifact names uploaded by the run; `{ name, expired }` to mark one expired. */
  artifacts?: (string | { name: string; expired: boolean })[];
}

/** How the fake answers team-membership lookups: as GitHub does for a token with or without Members: read. */
export type TeamAccess = 'granted' | 'forbidden';

export class PullsState {
  readonly pulls = new Map<number, Json>();
  readonly reviews = new Map<number, Json[]>();
  readonly comments = new Map<number, Json[]>();
  readonly checkRuns: Json[] = [];
  readonly workflowRuns: Json[] = [];
  readonly artifacts = new Map<number, Json[]>();
  readonly teams = new Map<string, Set<string>>();
  teamAccess: TeamAccess = 'granted';
  private nextId = 1000;

  private user(login: string, type: 'User' | 'Bot' = 'User'): Json {
    const base = structuredClone((exampleResponse('pulls/get', 200) as Json).user as Json);
    return { ...base, login, id: this.loginId(login), type };
  }

  private loginId(login: string): number {
    let h = 7;
    for (const c of login) h = (h * 31 + c.charCodeAt(0)) % 1_000_000_007;
    return h;
  }

  addPull(seed: SeedPull): Json {
    const pull = exampleResponse('pulls/get', 200) as Json;
    pull.number = seed.number;
    pull.title = seed.title ?? `PR ${seed.number}`;
    pull.body = seed.body;
    pull.user = this.user(seed.author);
    pull.head = { ...(pull.head as Json), sha: seed.headSha };
    pull.base = { ...(pull.base as Json), ref: seed.baseRef ?? 'main' };
    const label = ((pull.labels as Json[])[0] ?? {}) as Json;
    pull.labels = (seed.labels ?? []).map((name, i) => ({ ...label, id: i + 1, name }));
    // GitHub's own example lists a requested team without the "type" its schema requires.
    pull.requested_teams = [];
    pull.requested_reviewers = [];
    this.pulls.set(seed.number, pull);
    return pull;
  }

  /** Moves the PR's head (a push): reviews stay on their old commit, as on GitHub. */
  push(number: number, headSha: string): void {
    const pull = this.pulls.get(number);
    if (!pull) throw new Error(`no PR #${number}`);
    pull.head = { ...(pull.head as Json), sha: headSha };
  }

  setBody(number: number, body: string | null): void {
    const pull = this.pulls.get(number);
    if (!pull) throw new Error(`no PR #${number}`);
    pull.body = body;
  }

  addReview(number: number, seed: SeedReview): Json {
    const review = (exampleResponse('pulls/list-reviews', 200) as Json[])[0]!;
    const id = this.nextId++;
    Object.assign(review, {
      id,
      node_id: `PRR_${id}`,
      user: this.user(seed.user),
      body: seed.body ?? '',
      state: seed.state,
      commit_id: seed.commitId,
      submitted_at: seed.submittedAt,
    });
    const list = this.reviews.get(number) ?? [];
    list.push(review);
    this.reviews.set(number, list);
    return review;
  }

  addComment(number: number, seed: SeedComment): Json {
    const comment = (exampleResponse('issues/list-comments', 200) as Json[])[0]!;
    const id = this.nextId++;
    Object.assign(comment, {
      id,
      node_id: `IC_${id}`,
      user: this.user(seed.user),
      body: seed.body,
      created_at: seed.createdAt,
      updated_at: seed.createdAt,
    });
    const list = this.comments.get(number) ?? [];
    list.push(comment);
    this.comments.set(number, list);
    return comment;
  }

  addWorkflowRun(seed: SeedWorkflowRun): Json {
    const run = (
      (exampleResponse('actions/list-workflow-runs-for-repo', 200) as Json).workflow_runs as Json[]
    )[0]!;
    const id = this.nextId++;
    Object.assign(run, {
      id,
      run_number: id,
      head_sha: seed.headSha,
      path: seed.path ?? '.github/workflows/premerge.yml',
      name: seed.name ?? 'premerge',
      event: seed.event ?? 'pull_request',
      status: seed.status ?? 'completed',
      conclusion: seed.conclusion === undefined ? 'success' : seed.conclusion,
      created_at: seed.createdAt,
      updated_at: seed.createdAt,
    });
    this.workflowRuns.push(run);
    const template = (exampleResponse('actions/list-workflow-run-artifacts', 200) as Json)
      .artifacts as Json[];
    this.artifacts.set(
      id,
      (seed.artifacts ?? []).map((a) => {
        const { name, expired } = typeof a === 'string' ? { name: a, expired: false } : a;
        const artifactId = this.nextId++;
        return {
          ...structuredClone(template[0]!),
          id: artifactId,
          node_id: `A_${artifactId}`,
          name,
          expired,
          workflow_run: { id, head_sha: seed.headSha },
        };
      }),
    );
    return run;
  }

  setTeam(org: string, team: string, members: string[]): void {
    this.teams.set(`${org}/${team}`.toLowerCase(), new Set(members.map((m) => m.toLowerCase())));
  }

  /** Check runs our code created, by name and head SHA. */
  checkRunsFor(headSha: string, name?: string): Json[] {
    return this.checkRuns.filter((c) => c.head_sha === headSha && (name === undefined || c.name === name));
  }
}

const notFound: FakeResponse = {
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
};

function pullOf(
  state: PullsState,
  request: FakeRequest,
  key: 'pull_number' | 'issue_number',
): Json | undefined {
  return state.pulls.get(Number(request.params[key]));
}

/** Installs the pre-merge routes on a fake; returns the state the tests seed and inspect. */
export function installPullRoutes(fake: FakeGitHub, state: PullsState = new PullsState()): PullsState {
  fake.on('pulls/get', (req) => {
    const pull = pullOf(state, req, 'pull_number');
    return pull ? { status: 200, body: pull } : notFound;
  });
  fake.on('pulls/list-reviews', (req, f) => {
    if (!pullOf(state, req, 'pull_number')) return notFound;
    return paginate(req, f, state.reviews.get(Number(req.params.pull_number)) ?? []);
  });
  fake.on('issues/list-comments', (req, f) => {
    if (!pullOf(state, req, 'issue_number')) return notFound;
    const since = req.query.get('since');
    const all = state.comments.get(Number(req.params.issue_number)) ?? [];
    return paginate(
      req,
      f,
      since ? all.filter((c) => Date.parse(c.updated_at as string) >= Date.parse(since)) : all,
    );
  });
  fake.on('actions/list-workflow-runs-for-repo', (req, f) => {
    const headSha = req.query.get('head_sha');
    const event = req.query.get('event');
    // GitHub lists newest first.
    const runs = state.workflowRuns
      .filter((r) => (!headSha || r.head_sha === headSha) && (!event || r.event === event))
      .sort((a, b) => Date.parse(b.created_at as string) - Date.parse(a.created_at as string));
    const page = paginate(req, f, runs);
    return { ...page, body: { total_count: runs.length, workflow_runs: page.body } };
  });
  fake.on('actions/list-workflow-run-artifacts', (req, f) => {
    const artifacts = state.artifacts.get(Number(req.params.run_id));
    if (!artifacts) return notFound;
    const name = req.query.get('name');
    const matching = name ? artifacts.filter((a) => a.name === name) : artifacts;
    const page = paginate(req, f, matching);
    return { ...page, body: { total_count: matching.length, artifacts: page.body } };
  });
  fake.on('checks/list-for-ref', (req, f) => {
    const name = req.query.get('check_name') ?? undefined;
    const runs = state.checkRunsFor(req.params.ref!, name);
    const page = paginate(req, f, runs);
    return { ...page, body: { total_count: runs.length, check_runs: page.body } };
  });
  fake.on('checks/create', (req) => {
    const body = req.body as Json;
    const id = state.checkRuns.length + 1;
    const run = {
      ...(exampleResponse('checks/create', 201) as Json),
      id,
      node_id: `CR_${id}`,
      name: body.name,
      head_sha: body.head_sha,
    };
    applyCheckRunUpdate(run, body);
    state.checkRuns.push(run);
    return { status: 201, body: run };
  });
  fake.on('checks/update', (req) => {
    const run = state.checkRuns.find((c) => c.id === Number(req.params.check_run_id));
    if (!run) return notFound;
    applyCheckRunUpdate(run, req.body as Json);
    return { status: 200, body: run };
  });
  fake.on('teams/get-membership-for-user-in-org', (req) => {
    if (state.teamAccess === 'forbidden') {
      // What a GITHUB_TOKEN (an installation token without Members: read) gets from this endpoint.
      return {
        status: 403,
        body: {
          message: 'Resource not accessible by integration',
          documentation_url: 'https://docs.github.com/rest/teams/members#get-team-membership-for-a-user',
          status: '403',
        },
      };
    }
    const members = state.teams.get(`${req.params.org}/${req.params.team_slug}`.toLowerCase());
    if (!members?.has(req.params.username!.toLowerCase())) return notFound;
    const membership = {
      ...(exampleResponse('teams/get-membership-for-user-in-org', 200) as Json),
      state: 'active',
      role: 'member',
    };
    return { status: 200, body: membership };
  });
  return state;
}

function applyCheckRunUpdate(run: Json, body: Json): void {
  for (const key of [
    'status',
    'conclusion',
    'details_url',
    'external_id',
    'started_at',
    'completed_at',
  ] as const) {
    if (key in body) run[key] = body[key];
  }
  if (body.status && body.status !== 'completed' && !('conclusion' in body)) run.conclusion = null;
  if (body.output) {
    const output = body.output as Json;
    run.output = {
      ...(run.output as Json),
      title: output.title ?? null,
      summary: output.summary ?? null,
      text: output.text ?? null,
    };
  }
}
