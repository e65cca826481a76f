// A webhook sink for tests (and the benchmark/demo): a real HTTP server on 127.0.0.1 that records
// every request and answers from a script — any status with headers/body, or misbehaves on purpose
// ('hang' never answers, 'reset' drops the connection). Reusable by any package's tests.
import { createServer, type IncomingHttpHeaders, type Server } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';

export interface RecordedRequest {
  method: string;
  path: string;
  headers: IncomingHttpHeaders;
  body: string;
  /** The body parsed as JSON, or undefined when it is not JSON. */
  json: unknown;
  at: number;
}

export type SinkReply =
  { status: number; headers?: Record<string, string>; body?: string; delayMs?: number } | 'hang' | 'reset';

export interface Sink {
  url: string;
  /** URL of a path on this sink (each path can stand for one channel). */
  urlFor(path: string): string;
  requests: RecordedRequest[];
  requestsTo(path: string): RecordedRequest[];
  close(): Promise<void>;
}

/** `script(request, nth)` picks the reply; `nth` counts requests to the same path from 1.
 *  Default: 200 "ok". */
export async function startSink(
  script: (req: RecordedRequest, nth: number) => SinkReply = () => ({ status: 200, body: 'ok' }),
): Promise<Sink> {
  const requests: RecordedRequest[] = [];
  const counts = new Map<string, number>();
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  const server: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8');
      let json: unknown;
      try {
        json = JSON.parse(body);
      } catch {
        json = undefined;
      }
      const path = req.url ?? '/';
      const recorded: RecordedRequest = {
        method: req.method ?? '',
        path,
        headers: req.headers,
        body,
        json,
        at: Date.now(),
      };
      requests.push(recorded);
      const nth = (counts.get(path) ?? 0) + 1;
      counts.set(path, nth);
      const reply = script(recorded, nth);
      if (reply === 'hang') return; // the socket is destroyed on close()
      if (reply === 'reset') {
        req.socket.destroy();
        return;
      }
      const send = (): void => {
        res.writeHead(reply.status, { 'content-type': 'text/plain', ...reply.headers });
        res.end(reply.body ?? '');
      };
      if (reply.delayMs) {
        const t = setTimeout(() => {
          timers.delete(t);
          send();
        }, reply.delayMs);
        timers.add(t);
      } else send();
    });
  });
  server.on('connection', (socket) => {
    sockets.add(socket);
    socket.on('close', () => sockets.delete(socket));
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const url = `http://127.0.0.1:${port}`;
  return {
    url,
    urlFor: (path) => `${url}${path.startsWith('/') ? path : `/${path}`}`,
    requests,
    requestsTo: (path) => requests.filter((r) => r.path === path),
    close: async () => {
      for (const t of timers) clearTimeout(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}

/** A clock for tests: sleep advances time instantly and records each wait. */
export function fakeClock(start = Date.parse('2026-11-23T12:00:00Z')): {
  now: () => number;
  sleep: (ms: number) => Promise<void>;
  waits: number[];
} {
  let now = start;
  const waits: number[] = [];
  return {
    now: () => now,
    sleep: async (ms: number) => {
      waits.push(ms);
      now += ms;
    },
    waits,
  };
}
