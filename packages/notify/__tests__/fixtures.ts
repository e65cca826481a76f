// Shared test fixtures: the repository's template directory and a message built from it.
import { fileURLToPath } from 'node:url';
import {
  buildEventContext,
  buildMessage,
  loadTemplates,
  type NotificationMessage,
  type NotifyEvent,
} from '../src/index.js';

export const TEMPLATE_DIR = fileURLToPath(
  new URL('../../../action-templates/notifications', import.meta.url),
);

export const templates = loadTemplates({ defaultDir: TEMPLATE_DIR });

export function message(
  event: NotifyEvent,
  details: Record<string, unknown> = {},
  environment = 'production',
): NotificationMessage {
  const context = buildEventContext({
    event,
    environment,
    details,
    timestamp: '2026-11-23T12:00:00.000Z',
    dedupeKey: 'gr-test-key',
  });
  return buildMessage(templates, context, details);
}

export const VIOLATION_DETAILS = {
  version: '1.4.2',
  actor: 'octocat',
  runUrl: 'https://github.com/acme/dhash/actions/runs/42',
  elapsed: '12m',
  autoRollback: true,
  violatedGates: [
    { gate: 'p95_hash_time', value: '2400 ms', limit: '> 2000 ms over 15m' },
    {
      gate: 'extraction_failure_rate',
      value: 0.083,
      threshold: 0.05,
      reason: '8.3% of 1200 requests failed',
    },
  ],
};
