// Generic webhook: the event as JSON, for receivers that do their own formatting. Signed with
// HMAC-SHA256 over the exact body bytes when a secret is configured (GitHub's header convention).
import { createHmac } from 'node:crypto';
import type { NotificationMessage } from '../message.js';

export const SIGNATURE_HEADER = 'X-Guarded-Rollout-Signature-256';
export const WEBHOOK_SCHEMA_VERSION = 1;

export function renderWebhook(message: NotificationMessage): Record<string, unknown> {
  return {
    schemaVersion: WEBHOOK_SCHEMA_VERSION,
    event: message.event,
    environment: message.environment,
    severity: message.severity,
    timestamp: message.timestamp,
    dedupeKey: message.dedupeKey,
    title: message.title,
    text: message.body,
    runUrl: message.runUrl,
    facts: message.facts,
    fields: message.context,
    details: message.details,
  };
}

/** `sha256=<hex>` of the body, the value of the signature header. */
export function signBody(body: string, secret: string): string {
  return `sha256=${createHmac('sha256', secret).update(body, 'utf8').digest('hex')}`;
}
