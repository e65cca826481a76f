// A local artifact service on loopback that @actions/artifact (v6) really talks to: Azurite (the
// Azure Storage emulator, in-memory blob mode) holds the bytes, and a small Twirp server implements
// the results API the library calls (github.actions.results.api.v1.ArtifactService: CreateArtifact,
// FinalizeArtifact, ListArtifacts, GetSignedArtifactURL; JSON with proto field names). The runtime
// token is a signed JWT whose `scp` carries `Actions.Results:<runBackendId>:<jobBackendId>`, checked
// on every call. It also serves as the fake GitHub's artifact source (REST list / download 302).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHmac, randomBytes, randomUUID, timingSafeEqual } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createRequire } from 'node:module';
import {
  BlobSASPermissions,
  BlobServiceClient,
  SASProtocol,
  StorageSharedKeyCredential,
  generateBlobSASQueryParameters,
} from '@azure/storage-blob';
import type { ArtifactRecord, ArtifactSource } from '@guarded-rollout/fake-github';

// Azurite's documented development account (public, fixed in the emulator).
const ACCOUNT = 'devstoreaccount1';
const ACCOUNT_KEY =
  'Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==';
const CONTAINER = 'actions-results';
const SERVICE = 'github.actions.results.api.v1.ArtifactService';

export interface StoredArtifact {
  id: number;
  name: string;
  runId: number;
  runBackendId: string;
  jobBackendId: string;
  blobName: string;
  finalized: boolean;
  size: number;
  digest?: string;
  createdAt: string;
  expiresAt: string;
  headSha: string;
  headBranch: string;
  expired: boolean;
}

export interface RunIdentity {
  runId: number;
  /** The job's name; each job of a run gets its own backend id. */
  job?: string;
  headSha?: string;
  headBranch?: string;
}

/** What a node action step gets from the runner to reach the artifact service. */
export interface ArtifactRuntime {
  ACTIONS_RUNTIME_TOKEN: string;
  ACTIONS_RESULTS_URL: string;
  ACTIONS_RUNTIME_URL: string;
}

export interface ArtifactService extends ArtifactSource {
  /** Base URL of the Twirp results API (ACTIONS_RESULTS_URL). */
  readonly resultsUrl: string;
  /** Azurite's blob endpoint (http://127.0.0.1:<port>). */
  readonly blobUrl: string;
  readonly artifacts: StoredArtifact[];
  /** Every Twirp call, for assertions ("GetSignedArtifactURL 200"). */
  readonly calls: { method: string; status: number }[];
  /** The runtime env of one job of a run (a fresh token per call). */
  envFor(identity: RunIdentity): ArtifactRuntime;
  /** Marks an artifact expired (REST then answers 410 for its download, as GitHub does). */
  expire(id: number): void;
  stop(): Promise<void>;
}

function base64url(data: Buffer | string): string {
  return Buffer.from(data).toString('base64url');
}

class TwirpError extends Error {
  constructor(
    readonly status: number,
    readonly code: string,
    message: string,
  ) {
    super(message);
  }
}

async function startAzurite(): Promise<{ child: ChildProcess; url: string }> {
  const main = createRequire(import.meta.url).resolve('azurite/dist/src/blob/main.js');
  const child = spawn(
    process.execPath,
    [
      main,
      '--blobHost',
      '127.0.0.1',
      '--blobPort',
      '0',
      '--inMemoryPersistence',
      '--extentMemoryLimit',
      '512',
      '--skipApiVersionCheck',
      '--disableTelemetry',
      '--silent',
    ],
    { stdio: ['ignore', 'pipe', 'pipe'], env: { PATH: process.env.PATH, HOME: process.env.HOME } },
  );
  let log = '';
  const url = await new Promise<string>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`Azurite did not start within 60 s:\n${log}`)), 60_000);
    const onData = (d: Buffer): void => {
      log += d.toString();
      const m = /successfully listens on (http:\/\/127\.0\.0\.1:\d+)/.exec(log);
      if (m) {
        clearTimeout(timer);
        resolve(m[1]!);
      }
    };
    child.stdout!.on('data', onData);
    child.stderr!.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`Azurite exited (${code}) before listening:\n${log}`));
    });
  });
  child.stdout!.resume();
  child.stderr!.resume();
  return { child, url };
}

/** Starts Azurite and the results API on 127.0.0.1 (random ports). */
export async function startArtifactService(
  options: { retentionDays?: number; now?: () => Date } = {},
): Promise<ArtifactService> {
  const now = options.now ?? ((): Date => new Date());
  const azurite = await startAzurite();
  const credential = new StorageSharedKeyCredential(ACCOUNT, ACCOUNT_KEY);
  const blobService = new BlobServiceClient(`${azurite.url}/${ACCOUNT}`, credential);
  const container = blobService.getContainerClient(CONTAINER);
  await container.createIfNotExists();

  const secret = randomBytes(32);
  const runBackendIds = new Map<number, string>();
  const runs = new Map<string, { runId: number; headSha: string; headBranch: string }>();
  const artifacts: StoredArtifact[] = [];
  const calls: { method: string; status: number }[] = [];
  let nextId = 1001;

  const sign = (claims: Record<string, unknown>): string => {
    const head = base64url(JSON.stringify({ alg: 'HS256', typ: 'JWT' }));
    const body = base64url(JSON.stringify(claims));
    const mac = createHmac('sha256', secret).update(`${head}.${body}`).digest('base64url');
    return `${head}.${body}.${mac}`;
  };
  const verify = (req: IncomingMessage): { run: string; job: string } => {
    const auth = req.headers.authorization ?? '';
    const token = /^Bearer (.+)$/.exec(auth)?.[1];
    if (!token) throw new TwirpError(401, 'unauthenticated', 'missing bearer token');
    const [head, body, mac] = token.split('.');
    const expected = createHmac('sha256', secret).update(`${head}.${body}`).digest();
    const given = Buffer.from(mac ?? '', 'base64url');
    if (given.length !== expected.length || !timingSafeEqual(given, expected)) {
      throw new TwirpError(401, 'unauthenticated', 'token signature invalid');
    }
    const claims = JSON.parse(Buffer.from(body!, 'base64url').toString()) as { scp?: string; exp?: number };
    if (claims.exp && claims.exp * 1000 < now().getTime())
      throw new TwirpError(401, 'unauthenticated', 'token expired');
    const scope = (claims.scp ?? '').split(' ').find((s) => s.startsWith('Actions.Results:'));
    const parts = scope?.split(':');
    if (!parts || parts.length !== 3)
      throw new TwirpError(403, 'permission_denied', 'no Actions.Results scope');
    return { run: parts[1]!, job: parts[2]! };
  };

  const sas = (blobName: string, permissions: string): string =>
    generateBlobSASQueryParameters(
      {
        containerName: CONTAINER,
        blobName,
        permissions: BlobSASPermissions.parse(permissions),
        startsOn: new Date(Date.now() - 5 * 60_000),
        expiresOn: new Date(Date.now() + 60 * 60_000),
        protocol: SASProtocol.HttpsAndHttp,
      },
      credential,
    ).toString();
  const blobUrlOf = (blobName: string, permissions: string): string =>
    `${azurite.url}/${ACCOUNT}/${CONTAINER}/${blobName.split('/').map(encodeURIComponent).join('/')}?${sas(blobName, permissions)}`;

  const requireScope = (scope: { run: string; job: string }, body: Record<string, unknown>): void => {
    if (body.workflow_run_backend_id !== scope.run || body.workflow_job_run_backend_id !== scope.job) {
      throw new TwirpError(403, 'permission_denied', 'backend ids do not match the token scope');
    }
  };
  const monolith = (a: StoredArtifact): Record<string, unknown> => ({
    workflow_run_backend_id: a.runBackendId,
    workflow_job_run_backend_id: a.jobBackendId,
    database_id: String(a.id),
    name: a.name,
    size: String(a.size),
    created_at: a.createdAt,
    ...(a.digest ? { digest: a.digest } : {}),
  });

  const methods: Record<
    string,
    (body: Record<string, unknown>, scope: { run: string; job: string }) => Promise<unknown>
  > = {
    async CreateArtifact(body, scope) {
      requireScope(scope, body);
      const name = String(body.name ?? '');
      if (!name) throw new TwirpError(400, 'invalid_argument', 'name is required');
      if (body.version !== 7)
        throw new TwirpError(400, 'invalid_argument', `unsupported version ${String(body.version)}`);
      // Names are unique within a workflow run (every attempt), as on GitHub.
      if (artifacts.some((a) => a.runBackendId === scope.run && a.name === name)) {
        throw new TwirpError(
          409,
          'already_exists',
          `an artifact with name ${name} already exists on the workflow run`,
        );
      }
      const run = runs.get(scope.run)!;
      const created = now();
      const expires =
        typeof body.expires_at === 'string'
          ? body.expires_at
          : new Date(created.getTime() + (options.retentionDays ?? 90) * 86_400_000).toISOString();
      const blobName = `${scope.run}/${scope.job}/${name}.zip`;
      artifacts.push({
        id: nextId++,
        name,
        runId: run.runId,
        runBackendId: scope.run,
        jobBackendId: scope.job,
        blobName,
        finalized: false,
        size: 0,
        createdAt: created.toISOString(),
        expiresAt: expires,
        headSha: run.headSha,
        headBranch: run.headBranch,
        expired: false,
      });
      return { ok: true, signed_upload_url: blobUrlOf(blobName, 'cw') };
    },
    async FinalizeArtifact(body, scope) {
      requireScope(scope, body);
      const a = artifacts.find((x) => x.runBackendId === scope.run && x.name === body.name && !x.finalized);
      if (!a) throw new TwirpError(404, 'not_found', `no pending artifact named ${String(body.name)}`);
      const props = await container
        .getBlobClient(a.blobName)
        .getProperties()
        .catch(() => undefined);
      if (!props) throw new TwirpError(404, 'not_found', `artifact ${a.name} was never uploaded`);
      if (String(props.contentLength) !== String(body.size)) {
        throw new TwirpError(
          400,
          'invalid_argument',
          `size ${String(body.size)} does not match the ${props.contentLength} bytes uploaded`,
        );
      }
      a.finalized = true;
      a.size = props.contentLength ?? 0;
      if (typeof body.hash === 'string') a.digest = body.hash;
      return { ok: true, artifact_id: String(a.id) };
    },
    async ListArtifacts(body, scope) {
      if (body.workflow_run_backend_id !== scope.run) {
        throw new TwirpError(403, 'permission_denied', 'backend ids do not match the token scope');
      }
      const list = artifacts.filter(
        (a) =>
          a.finalized &&
          !a.expired &&
          a.runBackendId === scope.run &&
          (body.name_filter === undefined || a.name === body.name_filter) &&
          (body.id_filter === undefined || String(a.id) === String(body.id_filter)),
      );
      return { artifacts: list.map(monolith) };
    },
    async GetSignedArtifactURL(body, scope) {
      if (body.workflow_run_backend_id !== scope.run) {
        throw new TwirpError(403, 'permission_denied', 'backend ids do not match the token scope');
      }
      const a = artifacts.find((x) => x.finalized && x.runBackendId === scope.run && x.name === body.name);
      if (!a) throw new TwirpError(404, 'not_found', `no artifact named ${String(body.name)}`);
      return { signed_url: blobUrlOf(a.blobName, 'r') };
    },
  };

  const handle = async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = [];
    for await (const c of req) chunks.push(c as Buffer);
    const method = new RegExp(`^/twirp/${SERVICE.replace(/\./g, '\\.')}/(\\w+)$`).exec(req.url ?? '')?.[1];
    const reply = (status: number, payload: unknown): void => {
      calls.push({ method: method ?? String(req.url), status });
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(payload));
    };
    try {
      if (req.method !== 'POST' || !method || !methods[method]) {
        throw new TwirpError(404, 'bad_route', `no handler for ${req.method} ${req.url}`);
      }
      if (!String(req.headers['content-type']).startsWith('application/json')) {
        throw new TwirpError(400, 'malformed', 'content-type must be application/json');
      }
      const scope = verify(req);
      let body: Record<string, unknown>;
      try {
        body = JSON.parse(Buffer.concat(chunks).toString('utf8')) as Record<string, unknown>;
      } catch {
        throw new TwirpError(400, 'malformed', 'body is not JSON');
      }
      reply(200, await methods[method](body, scope));
    } catch (error) {
      if (error instanceof TwirpError) reply(error.status, { code: error.code, msg: error.message });
      else reply(500, { code: 'internal', msg: (error as Error).message });
    }
  };

  const server: Server = createServer((req, res) => {
    void handle(req, res);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const resultsUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;

  return {
    resultsUrl,
    blobUrl: azurite.url,
    artifacts,
    calls,
    envFor(identity) {
      let run = runBackendIds.get(identity.runId);
      if (!run) {
        run = randomUUID();
        runBackendIds.set(identity.runId, run);
        runs.set(run, {
          runId: identity.runId,
          headSha: identity.headSha ?? 'a'.repeat(40),
          headBranch: identity.headBranch ?? 'main',
        });
      }
      const job = randomUUID();
      const token = sign({
        scp: `Actions.GenericRead:00000000-0000-0000-0000-000000000000 Actions.Results:${run}:${job}`,
        iat: Math.floor(now().getTime() / 1000),
        exp: Math.floor(now().getTime() / 1000) + 6 * 3600,
        job: identity.job ?? 'job',
      });
      return {
        ACTIONS_RUNTIME_TOKEN: token,
        ACTIONS_RESULTS_URL: resultsUrl,
        ACTIONS_RUNTIME_URL: resultsUrl,
      };
    },
    expire(id) {
      const a = artifacts.find((x) => x.id === id);
      if (a) a.expired = true;
    },
    listArtifacts(): ArtifactRecord[] {
      return artifacts
        .filter((a) => a.finalized)
        .map((a) => ({
          id: a.id,
          name: a.name,
          sizeInBytes: a.size,
          ...(a.digest ? { digest: a.digest } : {}),
          createdAt: a.createdAt,
          expiresAt: a.expiresAt,
          runId: a.runId,
          headSha: a.headSha,
          headBranch: a.headBranch,
          expired: a.expired,
        }));
    },
    downloadUrl(id) {
      const a = artifacts.find((x) => x.id === id && x.finalized);
      if (!a) throw new Error(`no artifact ${id}`);
      return blobUrlOf(a.blobName, 'r');
    },
    async stop() {
      server.closeAllConnections();
      await new Promise<void>((resolve) => server.close(() => resolve()));
      if (azurite.child.exitCode === null) {
        const gone = new Promise<void>((resolve) => azurite.child.once('exit', () => resolve()));
        azurite.child.kill('SIGTERM');
        const timer = setTimeout(() => azurite.child.kill('SIGKILL'), 5000);
        await gone;
        clearTimeout(timer);
      }
    },
  };
}
