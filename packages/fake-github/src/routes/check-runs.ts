// Check runs as GitHub keeps them: each belongs to the app whose token created it, carries an
// external_id, can be updated only by that app, and an update that sets no conclusion keeps the
// previous one (so "in progress" over a green run still shows green). Installed after
// installPullRoutes, these handlers replace its simpler check-run routes.
import { exampleResponse } from '../spec.js';
import { paginate, type FakeGitHub, type FakeRequest } from '../server.js';

type Json = Record<string, unknown>;

/** The GitHub Actions app, which a workflow's GITHUB_TOKEN writes check runs as. */
export const ACTIONS_APP_ID = 15368;

export class CheckRunStore {
  readonly runs: Json[] = [];
  /** Which app a token belongs to (default: the GitHub Actions app). */
  readonly tokenApps = new Map<string, number>();
  private nextId = 1;

  appOf(request: FakeRequest): number {
    const token = (request.headers.authorization ?? '').replace(/^(token|Bearer) /, '');
    return this.tokenApps.get(token) ?? ACTIONS_APP_ID;
  }

  /** Adds a run as another app would (for "never adopt someone else's run" tests). */
  seed(fields: {
    headSha: string;
    name: string;
    appId: number;
    conclusion?: string;
    externalId?: string;
  }): Json {
    return this.create(fields.appId, {
      name: fields.name,
      head_sha: fields.headSha,
      status: 'completed',
      conclusion: fields.conclusion ?? 'success',
      external_id: fields.externalId ?? '',
    });
  }

  create(appId: number, body: Json): Json {
    const id = this.nextId++;
    const example = exampleResponse('checks/create', 201) as Json;
    const run: Json = {
      ...example,
      id,
      node_id: `CR_${id}`,
      name: body.name,
      head_sha: body.head_sha,
      external_id: '',
      status: 'queued',
      conclusion: null,
      app: { ...(example.app as Json), id: appId },
    };
    this.apply(run, body);
    this.runs.push(run);
    return run;
  }

  apply(run: Json, body: Json): void {
    for (const key of ['status', 'conclusion', 'details_url', 'external_id', 'started_at', 'completed_at'])
      if (key in body) run[key] = body[key];
    // Setting a conclusion completes the run (GitHub's rule); no conclusion keeps the old one.
    if ('conclusion' in body && body.conclusion) run.status = 'completed';
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

  /** Runs on a head with this name (oldest first), optionally of one app. */
  on(headSha: string, name?: string, appId?: number): Json[] {
    return this.runs.filter(
      (r) =>
        r.head_sha === headSha &&
        (name === undefined || r.name === name) &&
        (appId === undefined || (r.app as Json).id === appId),
    );
  }

  /** What branch protection sees for a required check of this app: its newest run's conclusion. */
  verdict(headSha: string, name: string, appId = ACTIONS_APP_ID): string | null | undefined {
    const runs = this.on(headSha, name, appId);
    const newest = runs[runs.length - 1];
    if (!newest) return undefined;
    return newest.status === 'completed' ? (newest.conclusion as string | null) : null;
  }
}

const notFound = {
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
};

export function installCheckRunRoutes(
  fake: FakeGitHub,
  store: CheckRunStore = new CheckRunStore(),
): CheckRunStore {
  fake.on('checks/list-for-ref', (req, f) => {
    const name = req.query.get('check_name') ?? undefined;
    const appId = req.query.get('app_id') ? Number(req.query.get('app_id')) : undefined;
    const status = req.query.get('status');
    let runs = store.on(req.params.ref!, name, appId).filter((r) => !status || r.status === status);
    if ((req.query.get('filter') ?? 'latest') === 'latest') {
      const newest = new Map<string, Json>();
      for (const r of runs) newest.set(`${String(r.name)}\u0000${String((r.app as Json).id)}`, r);
      runs = [...newest.values()];
    }
    runs = [...runs].reverse(); // newest first
    const page = paginate(req, f, runs);
    return { ...page, body: { total_count: runs.length, check_runs: page.body } };
  });
  fake.on('checks/create', (req) => ({
    status: 201,
    body: store.create(store.appOf(req), req.body as Json),
  }));
  fake.on('checks/update', (req) => {
    const run = store.runs.find((c) => c.id === Number(req.params.check_run_id));
    if (!run) return notFound;
    if ((run.app as Json).id !== store.appOf(req))
      return {
        status: 403,
        body: {
          message:
            'Invalid app_id `' +
            String(store.appOf(req)) +
            '` - check run can only be modified by its creator',
          documentation_url: 'https://docs.github.com/rest/checks/runs#update-a-check-run',
        },
      };
    store.apply(run, req.body as Json);
    return { status: 200, body: run };
  });
  return store;
}
