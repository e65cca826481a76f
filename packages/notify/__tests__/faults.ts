// Fault-injecting receivers on 127.0.0.1 (port 0) for the notify tests and bench: raw TCP servers
// that misbehave the way real webhooks and mail servers do — accept and hang, half a response,
// trickle bytes forever (slow-loris), an unending body — plus a real smtp-server that never greets
// and echoing receivers (HTTP and SMTP) that send back whatever they were given.
import { createServer as createHttpServer } from 'node:http';
import { createServer, type AddressInfo, type Server, type Socket } from 'node:net';
import { SMTPServer } from 'smtp-server';

export interface Receiver {
  port: number;
  url: string;
  /** Connections accepted so far. */
  connections: number;
  /** Resolves when the first request (or SMTP connection) has arrived. */
  firstContact: Promise<void>;
  close(): Promise<void>;
}

type Behaviour = (socket: Socket, every: (ms: number, fn: () => void) => void) => void;

async function tcpReceiver(behaviour: Behaviour, scheme = 'http'): Promise<Receiver> {
  const sockets = new Set<Socket>();
  const timers = new Set<NodeJS.Timeout>();
  let contact!: () => void;
  const firstContact = new Promise<void>((resolve) => (contact = resolve));
  const receiver = { connections: 0 } as Receiver;
  const server: Server = createServer((socket) => {
    receiver.connections++;
    sockets.add(socket);
    socket.on('error', () => undefined);
    socket.on('close', () => sockets.delete(socket));
    socket.once('data', () => contact());
    if (scheme === 'smtp') contact();
    const every = (ms: number, fn: () => void): void => {
      const t = setInterval(() => (socket.destroyed ? clearInterval(t) : fn()), ms);
      timers.add(t);
    };
    behaviour(socket, every);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return Object.assign(receiver, {
    port,
    url: `${scheme}://127.0.0.1:${port}`,
    firstContact,
    close: async () => {
      for (const t of timers) clearInterval(t);
      for (const s of sockets) s.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  });
}

/** Reads the request head, then calls `reply` once (HTTP receivers). */
function afterRequest(reply: Behaviour): Behaviour {
  return (socket, every) => {
    let seen = '';
    const onData = (chunk: Buffer): void => {
      seen += chunk.toString('latin1');
      if (seen.includes('\r\n\r\n')) {
        socket.off('data', onData);
        reply(socket, every);
      }
    };
    socket.on('data', onData);
  };
}

export const httpFaults = {
  /** Accepts the POST and never answers. */
  hang: () => tcpReceiver(afterRequest(() => undefined)),
  /** Half of the status line and headers, then silence. */
  halfHeaders: () => tcpReceiver(afterRequest((s) => s.write('HTTP/1.1 200 OK\r\nContent-Type: text/pl'))),
  /** A 503 whose headers promise a body that never comes. */
  halfBody: () =>
    tcpReceiver(
      afterRequest((s) => s.write('HTTP/1.1 503 Service Unavailable\r\nContent-Length: 100\r\n\r\nbusy')),
    ),
  /** Accepts (200) but never finishes the body. */
  acceptedHalfBody: () =>
    tcpReceiver(afterRequest((s) => s.write('HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\nok'))),
  /** A 200 that only arrives after 30 s. */
  slow200: () =>
    tcpReceiver(
      afterRequest((s, every) => {
        let sent = false;
        every(30_000, () => {
          if (!sent) s.end('HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok');
          sent = true;
        });
      }),
    ),
  /** A 500 whose chunked body never ends (1 KB every 20 ms). */
  unending500: () =>
    tcpReceiver(
      afterRequest((s, every) => {
        s.write('HTTP/1.1 500 Internal Server Error\r\nTransfer-Encoding: chunked\r\n\r\n');
        every(20, () => s.write(`400\r\n${'x'.repeat(1024)}\r\n`));
      }),
    ),
  /** Rate limited for an hour. */
  retryAfterHour: () =>
    tcpReceiver(
      afterRequest((s) =>
        s.end('HTTP/1.1 429 Too Many Requests\r\nRetry-After: 3600\r\nContent-Length: 4\r\n\r\nslow'),
      ),
    ),
  /** Slow-loris: the response head one byte every 100 ms, forever (idle timeouts never fire). */
  slowLoris: () =>
    tcpReceiver(
      afterRequest((s, every) => {
        const head = 'HTTP/1.1 200 OK\r\n';
        let i = 0;
        every(100, () => s.write(i < head.length ? head[i++]! : 'X')); // then an endless header name
      }),
    ),
  /** Redirects to the cloud metadata service. */
  redirectToMetadata: () =>
    tcpReceiver(
      afterRequest((s) =>
        s.end(
          'HTTP/1.1 307 Temporary Redirect\r\nLocation: http://169.254.169.254/latest/meta-data/\r\nContent-Length: 0\r\n\r\n',
        ),
      ),
    ),
};

export const smtpFaults = {
  /** smtp-server that accepts the connection and never sends its 220 greeting. */
  neverGreets: async (): Promise<Receiver> => {
    let contact!: () => void;
    const firstContact = new Promise<void>((resolve) => (contact = resolve));
    const receiver = { connections: 0, firstContact } as Receiver;
    const server = new SMTPServer({
      logger: false,
      authOptional: true,
      onConnect(_session, _callback) {
        receiver.connections++;
        contact(); // the callback is never called: no greeting
      },
    });
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
    receiver.port = (server.server.address() as AddressInfo).port;
    receiver.url = `smtp://127.0.0.1:${receiver.port}`;
    receiver.close = () =>
      new Promise<void>((resolve) => {
        // smtp-server waits for open connections unless told to drop them.
        (server as unknown as { connections: Set<{ close(): void }> }).connections?.forEach((c) => c.close());
        server.close(() => resolve());
      });
    return receiver;
  },
  /** Slow-loris: "220-" continuation lines, one every 100 ms, so the greeting never completes
   *  and nodemailer's idle timeouts never fire. */
  slowLoris: () =>
    tcpReceiver((s, every) => {
      every(100, () => s.write('220-still greeting\r\n'));
    }, 'smtp'),
};

/** An HTTP receiver that answers 400 with everything it got: request line, headers, body. */
export async function httpEcho(): Promise<Receiver & { seen: string[] }> {
  const seen: string[] = [];
  let contact!: () => void;
  const firstContact = new Promise<void>((resolve) => (contact = resolve));
  const server = createHttpServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const text = `${req.method} ${req.url}\n${JSON.stringify(req.headers)}\n${Buffer.concat(chunks).toString()}`;
      seen.push(text);
      contact();
      // URL-encoded and base64 copies too: a receiver may reflect any encoding.
      const body = `you sent: ${text}\nencoded: ${encodeURIComponent(req.url ?? '')}\nb64: ${Buffer.from(req.url ?? '').toString('base64')}`;
      res.writeHead(400, { 'content-type': 'text/plain' }).end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    seen,
    port,
    url: `http://127.0.0.1:${port}`,
    connections: 0,
    firstContact,
    close: () =>
      new Promise<void>((resolve) => {
        server.closeAllConnections();
        server.close(() => resolve());
      }),
  };
}

/** A raw SMTP receiver that echoes every line it gets back in its replies (so the base64 AUTH
 *  LOGIN / PLAIN credentials come back), then refuses the login with the credentials decoded. */
export function smtpEcho(): Promise<Receiver & { seen: string[] }> {
  const seen: string[] = [];
  return tcpReceiver((socket) => {
    socket.write('220 echo.test ESMTP\r\n');
    let buffer = '';
    let pending: 'user' | 'pass' | undefined;
    let user = '';
    socket.on('data', (chunk: Buffer) => {
      buffer += chunk.toString('latin1');
      let nl: number;
      while ((nl = buffer.indexOf('\r\n')) >= 0) {
        const line = buffer.slice(0, nl);
        buffer = buffer.slice(nl + 2);
        seen.push(line);
        const decoded = Buffer.from(line.split(' ').pop() ?? '', 'base64').toString('latin1');
        if (pending === 'user') {
          user = decoded;
          pending = 'pass';
          socket.write(`334 UGFzc3dvcmQ6 (got ${line})\r\n`);
        } else if (pending === 'pass') {
          pending = undefined;
          socket.write(`535 5.7.8 bad login ${user}:${decoded} (got ${line})\r\n`);
        } else if (/^(EHLO|HELO)/i.test(line)) {
          socket.write(`250-echo.test hello ${line}\r\n250 AUTH LOGIN\r\n`);
        } else if (/^AUTH LOGIN/i.test(line)) {
          const initial = line.split(' ')[2];
          if (initial) {
            user = Buffer.from(initial, 'base64').toString('latin1');
            pending = 'pass';
            socket.write(`334 UGFzc3dvcmQ6 (got ${line})\r\n`);
          } else {
            pending = 'user';
            socket.write(`334 VXNlcm5hbWU6 (got ${line})\r\n`);
          }
        } else if (/^AUTH PLAIN/i.test(line)) {
          socket.write(`535 5.7.8 bad login ${decoded.replace(/\0/g, '|')} (got ${line})\r\n`);
        } else if (/^QUIT/i.test(line)) {
          socket.end('221 bye\r\n');
        } else {
          socket.write(`502 unknown ${line}\r\n`);
        }
      }
    });
  }, 'smtp').then((r) => Object.assign(r, { seen }));
}
