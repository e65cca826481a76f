// The channel-neutral message: the rendered template plus the facts every channel shows
// (environment, version, actor, run). Channel renderers turn it into their native payloads.
import { EVENT_SEVERITY, type EventContext, type NotifyEvent, type Severity } from './events.js';
import type { RenderedMessage, TemplateSet } from './templates.js';

export interface Fact {
  name: string;
  value: string;
}

export interface NotificationMessage extends RenderedMessage {
  event: NotifyEvent;
  environment: string;
  severity: Severity;
  facts: Fact[];
  runUrl: string | null;
  timestamp: string;
  /** Same for every channel and every retry of one notification, so a receiver can drop a
   *  duplicate delivered after an ambiguous timeout. */
  dedupeKey: string;
  context: EventContext;
  /** The caller's details as given (the generic webhook forwards them). */
  details: Record<string, unknown>;
}

export function buildMessage(
  templates: TemplateSet,
  context: EventContext,
  details: Record<string, unknown>,
): NotificationMessage {
  const event = context.event as NotifyEvent;
  const rendered = templates[event](context);
  const text = (name: string): string | null => {
    const v = context[name];
    return typeof v === 'string' && v !== '' ? v : null;
  };
  const facts: Fact[] = [];
  const add = (name: string, value: string | null): void => {
    if (value) facts.push({ name, value });
  };
  add('Environment', text('environment'));
  add('Event', `${text('eventTitle')} (${event})`);
  add('Version', text('version'));
  add('Actor', text('actor'));
  add('Repository', text('repository'));
  add('Time', text('timestamp'));
  return {
    ...rendered,
    event,
    environment: String(context.environment),
    severity: EVENT_SEVERITY[event],
    facts,
    runUrl: text('runUrl'),
    timestamp: String(context.timestamp),
    dedupeKey: String(context.dedupeKey),
    context,
    details,
  };
}

export const SEVERITY_EMOJI: Record<Severity, string> = {
  info: 'ℹ️',
  success: '✅',
  warning: '⚠️',
  danger: '🚨',
};
