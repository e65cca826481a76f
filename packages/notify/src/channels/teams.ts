// Microsoft Teams payload for a Workflows (Power Automate) "post to a channel when a webhook request
// is received" trigger: a message envelope carrying one Adaptive Card (schema 1.4, the highest
// Teams renders in webhooks). Teams rejects messages above about 28 KB, so the body is cut to fit.
import { truncate, TRUNCATION_MARKER } from '../markup.js';
import type { NotificationMessage } from '../message.js';
import type { Severity } from '../events.js';

export const TEAMS_LIMITS = { payloadBytes: 28 * 1024, cardVersion: '1.4' } as const;

const COLORS: Record<Severity, string> = { info: 'accent', success: 'good', warning: 'warning', danger: 'attention' };

export interface TeamsPayload {
  type: 'message';
  attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive'; contentUrl: null; content: Record<string, unknown> }];
}

export function payloadBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

function card(message: NotificationMessage, body: string): TeamsPayload {
  const items: Record<string, unknown>[] = [
    { type: 'TextBlock', text: message.title, weight: 'bolder', size: 'large', wrap: true, color: COLORS[message.severity] },
    { type: 'FactSet', facts: message.facts.map((f) => ({ title: f.name, value: f.value })) },
    { type: 'TextBlock', text: body, wrap: true },
    { type: 'TextBlock', text: `ref ${message.dedupeKey}`, isSubtle: true, size: 'small', wrap: true },
  ];
  const content: Record<string, unknown> = {
    $schema: 'http://adaptivecards.io/schemas/adaptive-card.json',
    type: 'AdaptiveCard',
    version: TEAMS_LIMITS.cardVersion,
    body: items,
    msteams: { width: 'Full' },
  };
  if (message.runUrl) content.actions = [{ type: 'Action.OpenUrl', title: 'Open workflow run', url: message.runUrl }];
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

export function renderTeams(message: NotificationMessage): TeamsPayload {
  let body = message.body;
  let payload = card(message, body);
  // Bounded: each pass removes at least the measured excess (JSON escaping can make a character
  // cost up to 6 bytes, hence the generous step).
  for (let i = 0; i < 8 && payloadBytes(payload) > TEAMS_LIMITS.payloadBytes; i++) {
    const excess = payloadBytes(payload) - TEAMS_LIMITS.payloadBytes;
    body = truncate(body, Math.max(0, body.length - excess - TRUNCATION_MARKER.length - 64));
    payload = card(message, body);
  }
  return payload;
}
