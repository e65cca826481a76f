// E-mail delivery through nodemailer over SMTP (smtps:// = implicit TLS, smtp:// = STARTTLS when
// the server offers it), with the same retry policy as the webhooks: SMTP 4xx replies and
// connection failures are transient, 5xx replies and authentication failures are not.
// nodemailer's own timeouts are idle timeouts (a server trickling one byte a second never trips
// them), so each attempt also runs under withDeadline, which closes the transport on time.
import type { ConnectionOptions } from 'node:tls';
import nodemailer from 'nodemailer';
import { withDeadline } from '@guarded-rollout/config';
import { assertResolvedHostAllowed, DestinationRefusedError } from './url-policy.js';
import {
  deliverWithRetry,
  type AttemptReport,
  type DeliveryEnvironment,
  type DeliveryResult,
} from './deliver.js';
import type { EmailContent } from './channels/email.js';

export interface SmtpTarget {
  url: string;
  to: string;
  from: string;
  /** Extra TLS settings (e.g. a private CA); never needed for public mail servers. */
  tls?: ConnectionOptions;
}

const TRANSIENT_CODES = new Set([
  'ECONNECTION',
  'ETIMEDOUT',
  'ESOCKET',
  'EDNS',
  'ECONNRESET',
  'ECONNREFUSED',
  'EPROTOCOL',
]);

/** Maps a nodemailer failure onto the retry policy's outcomes (SMTP reply codes to HTTP-like ones). */
export function smtpFailure(error: unknown, redact: (text: string) => string = (t) => t): AttemptReport {
  const raw = error as { code?: string; responseCode?: number; response?: string; message?: string };
  // Redacted before anything is cut short: a server may echo the AUTH line (base64 credentials).
  const e = {
    ...raw,
    response: raw.response === undefined ? undefined : redact(String(raw.response)),
    message: raw.message === undefined ? undefined : redact(String(raw.message)),
  };
  const reply = e.response ? e.response.slice(0, 200) : undefined;
  if (typeof e.responseCode === 'number') {
    // 4xx SMTP replies are "try again later"; 5xx are final.
    const status = e.responseCode >= 400 && e.responseCode < 500 ? 503 : 400;
    return {
      outcome: { kind: 'response', status },
      explanation: `SMTP ${e.responseCode}${reply ? `: ${reply}` : ''}`,
    };
  }
  if (e.code === 'ETIMEDOUT') return { outcome: { kind: 'timeout' } };
  if (e.code && TRANSIENT_CODES.has(e.code))
    return { outcome: { kind: 'network', error: `SMTP ${e.code}: ${e.message ?? ''}`.trim() } };
  return {
    outcome: { kind: 'response', status: 400 },
    explanation: `SMTP ${e.code ?? 'error'}: ${e.message ?? redact(String(error))}`,
  };
}

export async function sendEmail(
  target: SmtpTarget,
  content: EmailContent,
  headers: Record<string, string>,
  messageId: string,
  env: DeliveryEnvironment,
): Promise<DeliveryResult> {
  const redact = env.redact ?? ((text: string) => text);
  return deliverWithRetry(async (timeoutMs) => {
    const attempt = await withDeadline(timeoutMs, env.signal, async (signal): Promise<AttemptReport> => {
      await assertResolvedHostAllowed(new URL(target.url).hostname, env.urlPolicy ?? {});
      const transport = nodemailer.createTransport({
        url: target.url,
        connectionTimeout: timeoutMs,
        greetingTimeout: timeoutMs,
        socketTimeout: timeoutMs,
        logger: false,
        ...(target.tls ? { tls: target.tls } : {}),
      });
      // nodemailer takes no AbortSignal: closing the transport ends the connection.
      const abort = (): void => transport.close();
      signal.addEventListener('abort', abort, { once: true });
      try {
        await transport.sendMail({
          from: target.from,
          to: target.to,
          subject: content.subject,
          text: content.text,
          html: content.html,
          messageId,
          headers,
        });
        // SMTP 250 accepted: reported to the retry loop as a success.
        return { outcome: { kind: 'response', status: 200 } };
      } finally {
        signal.removeEventListener('abort', abort);
        transport.close();
      }
    });
    if (attempt.ok) return attempt.value;
    if (attempt.reason === 'timeout') return { outcome: { kind: 'timeout' } };
    if (attempt.reason === 'aborted') return { outcome: { kind: 'network', error: 'cancelled' } };
    if (attempt.error instanceof DestinationRefusedError)
      return { outcome: { kind: 'refused', error: `request refused: ${attempt.error.message}` } };
    return smtpFailure(attempt.error, redact);
  }, env);
}
