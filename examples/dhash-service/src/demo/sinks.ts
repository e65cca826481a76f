// Local notification sinks for the demo: one HTTP server that accepts Slack-, Teams- and
// Discord-format webhook posts (each on its own path, checked for the shape that service
// expects) and an SMTP server (smtp-server) that accepts mail. Every message is appended to
// <dir>/<channel>.jsonl so the report can show exactly what each channel received.
import { appendFileSync, mkdirSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { join } from 'node:path';
import { SMTPServer } from 'smtp-server';

export interface Sinks {
  urls: { slack: string; teams: string; discord: string };
  smtpUrl: string;
  received: Record<string, number>;
  close(): Promise<void>;
}

/** What makes a payload acceptable to each service (the parts their docs require). */
const SHAPES: Record<string, (body: Record<string, unknown>) => boolean> = {
  slack: (b) => typeof b.text === 'string',
  teams: (b) => b.type === 'message' && Array.isArray(b.attachments),
  discord: (b) => typeof b.content === 'string' && (b.content as string).length <= 2000,
};

export async function startSinks(dir: string): Promise<Sinks> {
  mkdirSync(dir, { recursive: true });
  const received: Record<string, number> = { slack: 0, teams: 0, discord: 0, email: 0 };
  const http: Server = createServer((req, res) => {
    const channel = (req.url ?? '').replace(/^\/hooks\//, '').split('/')[0] ?? '';
    let text = '';
    req.on('data', (c: Buffer) => (text += c.toString()));
    req.on('end', () => {
      let body: Record<string, unknown> | undefined;
      try {
        body = JSON.parse(text) as Record<string, unknown>;
      } catch {
        body = undefined;
      }
      const shape = SHAPES[channel];
      if (req.method !== 'POST' || !shape || !body || !shape(body)) {
        res.writeHead(400).end('bad payload');
        return;
      }
      received[channel] = (received[channel] ?? 0) + 1;
      appendFileSync(
        join(dir, `${channel}.jsonl`),
        `${JSON.stringify({ at: new Date().toISOString(), body })}\n`,
      );
      res.writeHead(channel === 'discord' ? 204 : 200).end(channel === 'slack' ? 'ok' : '');
    });
  });
  await new Promise<void>((r) => http.listen(0, '127.0.0.1', r));
  const httpPort = (http.address() as AddressInfo).port;

  const smtp = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      let raw = '';
      stream.on('data', (c: Buffer) => (raw += c.toString()));
      stream.on('end', () => {
        received.email = (received.email ?? 0) + 1;
        const subject = /^Subject: (.*)$/im.exec(raw)?.[1] ?? '';
        appendFileSync(
          join(dir, 'email.jsonl'),
          `${JSON.stringify({ at: new Date().toISOString(), from: session.envelope.mailFrom, to: session.envelope.rcptTo.map((r) => r.address), subject })}\n`,
        );
        callback();
      });
    },
  });
  await new Promise<void>((r) => smtp.listen(0, '127.0.0.1', () => r()));
  const smtpPort = (smtp.server.address() as AddressInfo).port;
  const base = `http://127.0.0.1:${httpPort}/hooks`;
  return {
    urls: {
      slack: `${base}/slack/T000/B000/demo-token`,
      teams: `${base}/teams/demo`,
      discord: `${base}/discord/123/demo-token`,
    },
    smtpUrl: `smtp://127.0.0.1:${smtpPort}`,
    received,
    close: async () => {
      http.closeAllConnections();
      await Promise.all([new Promise((r) => http.close(r)), new Promise<void>((r) => smtp.close(() => r()))]);
    },
  };
}
