// Stateful GitHub Deployments for the fake: deployments and their statuses live in memory per fake,
// shaped from GitHub's documented examples so every response stays schema-valid, and
// `auto_inactive` behaves as on GitHub (older successful deployments of the environment go inactive).
import { paginate, type FakeGitHub, type FakeRequest, type FakeResponse, type Handler } from '../server.js';
import { exampleResponse } from '../spec.js';

type Json = Record<string, unknown>;

export interface FakeDeployment {
  id: number;
  owner: string;
  repo: string;
  ref: string;
  environment: string;
  task: string;
  payload: unknown;
  description: string | null;
  transient: boolean;
  production: boolean;
  createdAt: string;
  statuses: FakeDeploymentStatus[];
}

export interface FakeDeploymentStatus {
  id: number;
  state: string;
  description: string;
  logUrl: string;
  environmentUrl: string;
  environment: string;
  createdAt: string;
}

/** What the routes remember; tests read it to assert on the trail a deploy left. */
export class DeploymentStore {
  readonly deployments: FakeDeployment[] = [];
  private nextStatusId = 1;

  /** The states posted to a deployment, oldest first (e.g. ["in_progress", "success"]). */
  states(deploymentId: number): string[] {
    return this.find(deploymentId)?.statuses.map((s) => s.state) ?? [];
  }

  find(id: number): FakeDeployment | undefined {
    return this.deployments.find((d) => d.id === id);
  }

  addStatus(
    deployment: FakeDeployment,
    fields: Omit<FakeDeploymentStatus, 'id' | 'createdAt'>,
  ): FakeDeploymentStatus {
    const status = { ...fields, id: this.nextStatusId++, createdAt: new Date().toISOString() };
    deployment.statuses.push(status);
    return status;
  }
}

const now = (): string => new Date().toISOString();

function deploymentBody(fake: FakeGitHub, d: FakeDeployment): Json {
  const base = exampleResponse('repos/create-deployment', 201) as Json;
  const url = `${fake.url}/repos/${d.owner}/${d.repo}/deployments/${d.id}`;
  return {
    ...base,
    id: d.id,
    node_id: `DE_fake${d.id}`,
    ref: d.ref,
    sha: /^[0-9a-f]{40}$/.test(d.ref) ? d.ref : 'a84d88e7554fc1fa21bcbc4efae3c782a70d2b9d',
    task: d.task,
    environment: d.environment,
    original_environment: d.environment,
    payload: d.payload,
    description: d.description,
    transient_environment: d.transient,
    production_environment: d.production,
    created_at: d.createdAt,
    updated_at: d.statuses.at(-1)?.createdAt ?? d.createdAt,
    url,
    statuses_url: `${url}/statuses`,
    repository_url: `${fake.url}/repos/${d.owner}/${d.repo}`,
  };
}

function statusBody(fake: FakeGitHub, d: FakeDeployment, s: FakeDeploymentStatus): Json {
  const base = exampleResponse('repos/create-deployment-status', 201) as Json;
  const deploymentUrl = `${fake.url}/repos/${d.owner}/${d.repo}/deployments/${d.id}`;
  return {
    ...base,
    id: s.id,
    node_id: `DES_fake${s.id}`,
    state: s.state,
    description: s.description,
    environment: s.environment,
    // GitHub sends "" for URLs never set, which its own schema (format: uri) rejects; the fake
    // keeps the example's target_url and omits the optional ones so responses stay schema-valid.
    ...(s.logUrl ? { target_url: s.logUrl, log_url: s.logUrl } : { log_url: undefined }),
    ...(s.environmentUrl ? { environment_url: s.environmentUrl } : { environment_url: undefined }),
    created_at: s.createdAt,
    updated_at: s.createdAt,
    url: `${deploymentUrl}/statuses/${s.id}`,
    deployment_url: deploymentUrl,
    repository_url: `${fake.url}/repos/${d.owner}/${d.repo}`,
  };
}

const notFound: FakeResponse = {
  status: 404,
  body: { message: 'Not Found', documentation_url: 'https://docs.github.com/rest' },
};

function deploymentOf(store: DeploymentStore, req: FakeRequest): FakeDeployment | undefined {
  const d = store.find(Number(req.params.deployment_id));
  return d && d.owner === req.params.owner && d.repo === req.params.repo ? d : undefined;
}

/** The handlers by operationId, for tests that wrap one (e.g. to inject a rate limit). */
export function deploymentHandlers(store: DeploymentStore): Record<string, Handler> {
  const handlers: Record<string, Handler> = {};
  const on = (operationId: string, handler: Handler): void => {
    handlers[operationId] = handler;
  };
  on('repos/create-deployment', (req, fake) => {
    const body = req.body as Json;
    const environment = (body.environment as string | undefined) ?? 'production';
    const description = (body.description as string | null | undefined) ?? '';
    if (typeof description === 'string' && description.length > 140) {
      return {
        status: 422,
        body: {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'Deployment',
              field: 'description',
              code: 'custom',
              message: 'description is too long (maximum is 140 characters)',
            },
          ],
        },
      };
    }
    let payload: unknown = body.payload ?? {};
    if (typeof payload === 'string') payload = payload === '' ? {} : (JSON.parse(payload) as unknown);
    const deployment: FakeDeployment = {
      id: store.deployments.length + 1,
      owner: req.params.owner!,
      repo: req.params.repo!,
      ref: body.ref as string,
      environment,
      task: (body.task as string | undefined) ?? 'deploy',
      payload,
      description,
      transient: (body.transient_environment as boolean | undefined) ?? false,
      production: (body.production_environment as boolean | undefined) ?? environment === 'production',
      createdAt: now(),
      statuses: [],
    };
    store.deployments.push(deployment);
    return { status: 201, body: deploymentBody(fake, deployment) };
  });

  on('repos/list-deployments', (req, f) => {
    const q = req.query;
    const matching = store.deployments
      .filter((d) => d.owner === req.params.owner && d.repo === req.params.repo)
      .filter(
        (d) =>
          (!q.get('environment') || d.environment === q.get('environment')) &&
          (!q.get('ref') || d.ref === q.get('ref')) &&
          (!q.get('task') || d.task === q.get('task')),
      )
      .reverse(); // GitHub lists newest first
    return paginate(
      req,
      f,
      matching.map((d) => deploymentBody(f, d)),
    );
  });

  on('repos/get-deployment', (req, f) => {
    const d = deploymentOf(store, req);
    return d ? { status: 200, body: deploymentBody(f, d) } : notFound;
  });

  on('repos/create-deployment-status', (req, f) => {
    const d = deploymentOf(store, req);
    if (!d) return notFound;
    const body = req.body as Json;
    const description = (body.description as string | undefined) ?? '';
    if (description.length > 140) {
      return {
        status: 422,
        body: {
          message: 'Validation Failed',
          errors: [
            {
              resource: 'DeploymentStatus',
              field: 'description',
              code: 'custom',
              message: 'description is too long (maximum is 140 characters)',
            },
          ],
        },
      };
    }
    const environment = (body.environment as string | undefined) ?? d.environment;
    const status = store.addStatus(d, {
      state: body.state as string,
      description,
      logUrl: (body.log_url as string | undefined) ?? (body.target_url as string | undefined) ?? '',
      environmentUrl: (body.environment_url as string | undefined) ?? '',
      environment,
    });
    // GitHub's docs word auto_inactive as "non-production" deployments; in practice it marks every
    // prior successful, non-transient deployment of the same environment inactive, which we mirror.
    if (body.state === 'success' && body.auto_inactive !== false) {
      for (const older of store.deployments) {
        if (older === d || older.owner !== d.owner || older.repo !== d.repo || older.transient) continue;
        if (older.environment !== environment || older.statuses.at(-1)?.state !== 'success') continue;
        store.addStatus(older, {
          state: 'inactive',
          description: '',
          logUrl: '',
          environmentUrl: '',
          environment,
        });
      }
    }
    return { status: 201, body: statusBody(f, d, status) };
  });

  on('repos/list-deployment-statuses', (req, f) => {
    const d = deploymentOf(store, req);
    if (!d) return notFound;
    return paginate(
      req,
      f,
      [...d.statuses].reverse().map((s) => statusBody(f, d, s)),
    );
  });

  on('repos/get-deployment-status', (req, f) => {
    const d = deploymentOf(store, req);
    const s = d?.statuses.find((x) => x.id === Number(req.params.status_id));
    return d && s ? { status: 200, body: statusBody(f, d, s) } : notFound;
  });
  return handlers;
}

/** Installs create/list/get deployment and create/list/get deployment-status handlers; returns their store. */
export function installDeploymentRoutes(fake: FakeGitHub, store = new DeploymentStore()): DeploymentStore {
  for (const [operationId, handler] of Object.entries(deploymentHandlers(store)))
    fake.on(operationId, handler);
  return store;
}
