// The fake's HTTP edge: routes a request to its GitHub operation, validates the request body,
// calls the test's handler, validates the response, and records everything for assertions.
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { findOperation, requestProblems, responseProblems } from './spec.js';

export interface FakeRequest {
  method: string;
  path: string;
  operationId: string;
  params: Record<string, string>;
  query: URLSearchParams;
  headers: IncomingMessage['headers'];
  body: unknown;
}

export interface FakeResponse {
  status: number;
  body?: unknown;
  headers?: Record<string, string>;
}

export type Handler = (request: FakeRequest, fake: FakeGitHub) => FakeResponse | Promise<FakeResponse>;

export interface RecordedRequest {
  method: string;
  path: string;
  operationId: string | undefined;
  status: number;
  body: unknown;
}

export class FakeGitHub {
  readonly requests: RecordedRequest[] = [];
  /** Every request or response that does not match GitHub's OpenAPI description. Tests assert it is empty. */
  readonly violations: string[] = [];
  private readonly handlers = new Map<string, Handler>();
  private server: Server | undefined;
  url = '';
  /** When set, requests without `Authorization: token|Bearer <this>` get 401. */
  token: string | undefined;
  /** Fault injectors, asked in order before a valid request reaches its handler; the first
   *  response returned is sent instead (a 500, a secondary rate limit, …). */
  readonly faults: ((request: FakeRequest) => FakeResponse | undefined)[] = [];

  /** Handles an operation (by GitHub's operationId, e.g. "repos/create-deployment"). */
  on(operationId: string, handler: Handler): this {
    this.handlers.set(operationId, handler);
    return this;
  }

  async start(): Promise<this> {
    this.server = createServer((req, res) => {
      this.handle(req, res).catch((error: unknown) => {
        this.violations.push(`${req.method} ${req.url}: fake failed: ${(error as Error).message}`);
        if (!res.headersSent) res.writeHead(500, { 'content-type': 'application/json' });
        res.end(JSON.stringify({ message: 'fake failed' }));
      });
    });
    await new Promise<void>((resolve) => this.server!.listen(0, '127.0.0.1', resolve));
    this.url = `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`;
    return this;
  }

  async stop(): Promise<void> {
    if (!this.server) return;
    this.server.closeAllConnections();
    await new Promise<void>((resolve) => this.server!.close(() => resolve()));
    this.server = undefined;
  }

  /** Number of requests made for an operation (or all, without argument). */
  count(operationId?: string): number {
    return operationId
      ? this.requests.filter((r) => r.operationId === operationId).length
      : this.requests.length;
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const url = new URL(req.url ?? '/', 'http://fake');
    const method = req.method ?? 'GET';
    const chunks: Buffer[] = [];
    for await (const chunk of req) chunks.push(chunk as Buffer);
    const text = Buffer.concat(chunks).toString('utf8');
    let body: unknown;
    const send = (
      status: number,
      payload: unknown,
      headers: Record<string, string> = {},
      operationId?: string,
    ): void => {
      this.requests.push({ method, path: url.pathname, operationId, status, body });
      const data = payload === undefined ? '' : JSON.stringify(payload);
      res.writeHead(status, {
        'content-type': 'application/json; charset=utf-8',
        'x-github-api-version-selected': '2022-11-28',
        ...headers,
      });
      res.end(data);
    };
    try {
      body = text ? JSON.parse(text) : undefined;
    } catch {
      this.violations.push(`${method} ${url.pathname}: request body is not JSON`);
      send(400, { message: 'Problems parsing JSON' });
      return;
    }
    const matched = findOperation(method, url.pathname);
    if (!matched) {
      this.violations.push(`${method} ${url.pathname}: not an operation of the GitHub REST API`);
      send(404, { message: 'Not Found' });
      return;
    }
    const { operation, params } = matched;
    if (this.token !== undefined) {
      const auth = req.headers.authorization ?? '';
      if (auth !== `token ${this.token}` && auth !== `Bearer ${this.token}`) {
        send(
          401,
          { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' },
          {},
          operation.operationId,
        );
        return;
      }
    }
    const handler = this.handlers.get(operation.operationId);
    if (!handler) {
      this.violations.push(`${method} ${url.pathname}: no fake handler for ${operation.operationId}`);
      send(501, { message: `fake has no handler for ${operation.operationId}` }, {}, operation.operationId);
      return;
    }
    const invalid = requestProblems(operation, body);
    if (invalid.length) {
      // GitHub answers 422 to a body its schema rejects; the handler never sees it.
      for (const problem of invalid) this.violations.push(`${operation.operationId} request: ${problem}`);
      send(422, { message: 'Validation Failed', errors: invalid }, {}, operation.operationId);
      return;
    }
    const request: FakeRequest = {
      method,
      path: url.pathname,
      operationId: operation.operationId,
      params,
      query: url.searchParams,
      headers: req.headers,
      body,
    };
    const injected = this.faults.reduce<FakeResponse | undefined>(
      (r, fault) => r ?? fault(request),
      undefined,
    );
    if (injected) {
      send(injected.status, injected.body, injected.headers, operation.operationId);
      return;
    }
    let response: FakeResponse;
    try {
      response = await handler(request, this);
    } catch (error) {
      this.violations.push(`${operation.operationId} handler threw: ${(error as Error).message}`);
      send(500, { message: (error as Error).message }, {}, operation.operationId);
      return;
    }
    if (response.status < 400) {
      for (const problem of responseProblems(operation, response.status, response.body)) {
        this.violations.push(`${operation.operationId} ${response.status} response: ${problem}`);
      }
    }
    send(response.status, response.body, response.headers, operation.operationId);
  }
}

/** Starts a fake on 127.0.0.1 with the given handlers. */
export async function startFakeGitHub(handlers: Record<string, Handler> = {}): Promise<FakeGitHub> {
  const fake = new FakeGitHub();
  for (const [id, handler] of Object.entries(handlers)) fake.on(id, handler);
  return fake.start();
}

/** One page of a list, with GitHub's Link header (per_page default 30, max 100). */
export function paginate<T>(request: FakeRequest, fake: FakeGitHub, items: readonly T[]): FakeResponse {
  const perPage = Math.min(100, Math.max(1, Number(request.query.get('per_page') ?? 30)));
  const page = Math.max(1, Number(request.query.get('page') ?? 1));
  const last = Math.max(1, Math.ceil(items.length / perPage));
  const slice = items.slice((page - 1) * perPage, page * perPage);
  const link = (p: number, rel: string): string => {
    const q = new URLSearchParams(request.query);
    q.set('page', String(p));
    q.set('per_page', String(perPage));
    return `<${fake.url}${request.path}?${q.toString()}>; rel="${rel}"`;
  };
  const links = [
    ...(page < last ? [link(page + 1, 'next'), link(last, 'last')] : []),
    ...(page > 1 ? [link(1, 'first'), link(page - 1, 'prev')] : []),
  ];
  return { status: 200, body: slice, headers: links.length ? { link: links.join(', ') } : {} };
}

/** A fake whose `operationId` accepts each request and never answers: a hung GitHub API. */
export async function startHungGitHub(
  operationId: string,
): Promise<{ fake: FakeGitHub; asked: () => number; first: Promise<void> }> {
  let count = 0;
  let firstAsked!: () => void;
  const first = new Promise<void>((resolve) => (firstAsked = resolve));
  const fake = await startFakeGitHub({
    [operationId]: () => {
      count++;
      firstAsked();
      return new Promise<FakeResponse>(() => {});
    },
  });
  return { fake, asked: () => count, first };
}
