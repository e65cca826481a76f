// An SMTP sink for tests: a real smtp-server on 127.0.0.1 with a self-signed certificate made in
// the test (STARTTLS on smtp://, implicit TLS for smtps://), password auth, and every accepted
// message parsed by mailparser. `failWith` answers DATA with an SMTP error code instead.
import type { AddressInfo } from 'node:net';
import { simpleParser, type ParsedMail } from 'mailparser';
import { generate } from 'selfsigned';
import { SMTPServer } from 'smtp-server';

export interface SmtpSink {
  port: number;
  /** PEM of the server certificate, to trust it as a CA in the client. */
  cert: string;
  messages: { mail: ParsedMail; secure: boolean; user: string | undefined; raw: string }[];
  attempts: number;
  close(): Promise<void>;
}

let certCache: Promise<{ cert: string; private: string }> | undefined;
function certificate(): Promise<{ cert: string; private: string }> {
  certCache ??= generate([{ name: 'commonName', value: '127.0.0.1' }], {
    keySize: 2048,
    extensions: [
      {
        name: 'subjectAltName',
        altNames: [
          { type: 7, ip: '127.0.0.1' },
          { type: 2, value: 'localhost' },
        ],
      },
    ],
  });
  return certCache;
}

export async function startSmtpSink(
  options: {
    secure?: boolean;
    user?: string;
    pass?: string;
    failWith?: (attempt: number) => number | undefined;
  } = {},
): Promise<SmtpSink> {
  const pems = await certificate();
  const sink: SmtpSink = {
    port: 0,
    cert: pems.cert,
    messages: [],
    attempts: 0,
    close: async () => undefined,
  };
  const server = new SMTPServer({
    secure: options.secure ?? false,
    key: pems.private,
    cert: pems.cert,
    authMethods: ['PLAIN', 'LOGIN'],
    logger: false,
    onAuth(auth, _session, callback) {
      if (
        auth.username === (options.user ?? 'mailer') &&
        auth.password === (options.pass ?? 'smtp-pass-s3cret')
      )
        return callback(null, { user: auth.username });
      return callback(Object.assign(new Error('Invalid username or password'), { responseCode: 535 }));
    },
    onData(stream, session, callback) {
      sink.attempts++;
      const chunks: Buffer[] = [];
      stream.on('data', (c: Buffer) => chunks.push(c));
      stream.on('end', () => {
        const code = options.failWith?.(sink.attempts);
        if (code)
          return callback(
            Object.assign(new Error(code >= 500 ? 'Message rejected' : 'Try again later'), {
              responseCode: code,
            }),
          );
        const raw = Buffer.concat(chunks).toString('utf8');
        simpleParser(raw)
          .then((mail) => {
            sink.messages.push({
              mail,
              secure: session.secure,
              user: session.user as string | undefined,
              raw,
            });
            callback();
          })
          .catch((error: Error) => callback(error));
      });
    },
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  sink.port = (server.server.address() as AddressInfo).port;
  sink.close = () => new Promise<void>((resolve) => server.close(() => resolve()));
  return sink;
}
