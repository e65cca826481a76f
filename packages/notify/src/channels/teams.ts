// Microsoft Teams payload for a Workflows (Power Automate) "post to a channel when a webhook request
// is received" trigger: a message envelope carrying one Adaptive Card (schema 1.4, the highest
// Teams renders in webhooks). Teams rejects messages above about 28 KB, so the body is cut to fit.
import { truncate } from '../markup.js';
import type { NotificationMessage } from '../message.js';
import type { Severity } from '../events.js';

export const TEAMS_LIMITS = { payloadBytes: 28 * 1024, cardVersion: '1.4' } as const;

const COLORS: Record<Severity, string> = {
  info: 'accent',
  success: 'good',
  warning: 'warning',
  danger: 'attention',
};

export interface TeamsPayload {
  type: 'message';
  attachments: [
    {
      contentType: 'application/vnd.microsoft.card.adaptive';
      contentUrl: null;
      content: Record<string, unknown>;
    },
  ];
}

export function payloadBytes(payload: unknown): number {
  return Buffer.byteLength(JSON.stringify(payload), 'utf8');
}

function card(message: NotificationMessage, body: string): TeamsPayload {
  const items: Record<string, unknown>[] = [
    {
      type: 'TextBlock',
      text: message.title,
      weight: 'bolder',
      size: 'large',
      wrap: true,
      color: COLORS[message.severity],
    },
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
  if (message.runUrl)
    content.actions = [{ type: 'Action.OpenUrl', title: 'Open workflow run', url: message.runUrl }];
  return {
    type: 'message',
    attachments: [{ contentType: 'application/vnd.microsoft.card.adaptive', contentUrl: null, content }],
  };
}

export function renderTeams(message: NotificationMessage): TeamsPayload {
  const full = card(message, message.body);
  if (payloadBytes(full) <= TEAMS_LIMITS.payloadBytes) return full;
  // Bytes depend on the characters kept (UTF-8 and JSON escaping), so search for the longest body
  // prefix that fits: about 16 renders for a 60 000-character body.
  let lo = 0;
  let hi = message.body.length;
  while (lo < hi) {
    const mid = Math.ceil((lo + hi) / 2);
    if (payloadBytes(card(message, truncate(message.body, mid))) <= TEAMS_LIMITS.payloadBytes) lo = mid;
    else hi = mid - 1;
  }
  return card(message, truncate(message.body, lo));
}
