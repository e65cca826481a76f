// The events a guarded rollout announces and the fields each one offers to its template. The
// declared fields are the contract between callers (details JSON), templates (checked at load
// time) and renderers, so a typo in a template is an error, not a silently empty line.
import { ConfigError, describeValue } from '@guarded-rollout/config';

export const EVENTS = [
  'deploy-started',
  'deploy-succeeded',
  'deploy-failed',
  'gate-violation',
  'rollback-started',
  'rollback-succeeded',
  'rollback-failed',
  'escalation',
  'monitoring-complete',
  'custom',
] as const;

export type NotifyEvent = (typeof EVENTS)[number];

export type Severity = 'info' | 'success' | 'warning' | 'danger';

/** A field's shape: a scalar shown as text, a list of strings, or a list of records. */
export type FieldShape = 'text' | 'boolean' | 'strings' | { items: readonly string[] };

const GATE_ITEM = { items: ['gate', 'status', 'value', 'limit', 'reason'] } as const;

/** Fields every event offers. */
const COMMON_FIELDS: Record<string, FieldShape> = {
  event: 'text',
  eventTitle: 'text',
  environment: 'text',
  version: 'text',
  actor: 'text',
  runUrl: 'text',
  repository: 'text',
  timestamp: 'text',
  dedupeKey: 'text',
  message: 'text',
  nextSteps: 'strings',
  runbook: 'strings',
};

const EVENT_FIELDS: Record<NotifyEvent, Record<string, FieldShape>> = {
  'deploy-started': { previousVersion: 'text', deploymentType: 'text' },
  'deploy-succeeded': { previousVersion: 'text', duration: 'text' },
  'deploy-failed': { failedStep: 'text', reason: 'text', backup: 'text' },
  'gate-violation': { violatedGates: GATE_ITEM, elapsed: 'text', autoRollback: 'boolean' },
  'rollback-started': { backup: 'text', reason: 'text', violatedGates: GATE_ITEM },
  'rollback-succeeded': { backup: 'text', healthChecksOk: 'text', duration: 'text' },
  'rollback-failed': { backup: 'text', reason: 'text' },
  escalation: { stage: 'text', elapsed: 'text', gates: GATE_ITEM },
  'monitoring-complete': { result: 'text', duration: 'text', gates: GATE_ITEM },
  custom: { title: 'text' },
};

export const EVENT_TITLES: Record<NotifyEvent, string> = {
  'deploy-started': 'Deploy started',
  'deploy-succeeded': 'Deploy succeeded',
  'deploy-failed': 'Deploy failed',
  'gate-violation': 'Quality gate violated',
  'rollback-started': 'Rollback started',
  'rollback-succeeded': 'Rollback succeeded',
  'rollback-failed': 'Rollback FAILED',
  escalation: 'Monitoring escalation',
  'monitoring-complete': 'Monitoring complete',
  custom: 'Notice',
};

export const EVENT_SEVERITY: Record<NotifyEvent, Severity> = {
  'deploy-started': 'info',
  'deploy-succeeded': 'success',
  'deploy-failed': 'danger',
  'gate-violation': 'danger',
  'rollback-started': 'warning',
  'rollback-succeeded': 'success',
  'rollback-failed': 'danger',
  escalation: 'warning',
  'monitoring-complete': 'info',
  custom: 'info',
};

export function isEvent(value: string): value is NotifyEvent {
  return (EVENTS as readonly string[]).includes(value);
}

export function assertEvent(value: string, field = 'event'): NotifyEvent {
  if (!isEvent(value)) {
    throw new ConfigError(
      `${field}: ${describeValue(value)} is not a known event; use one of ${EVENTS.join(', ')}`,
      {
        field,
      },
    );
  }
  return value;
}

/** The fields a template for this event may reference. */
export function eventFields(event: NotifyEvent): Record<string, FieldShape> {
  return { ...COMMON_FIELDS, ...EVENT_FIELDS[event] };
}

export type GateLine = { gate: string; status: string; value: string; limit: string; reason: string };
export type FieldValue = string | boolean | null | string[] | GateLine[];
/** What a template sees: every declared field present (null when not given), so strict mode
 *  catches only real typos. */
export type EventContext = Record<string, FieldValue>;

export interface EventInput {
  event: NotifyEvent;
  environment: string;
  details?: Record<string, unknown>;
  /** ISO time of the event. */
  timestamp: string;
  dedupeKey: string;
}

const scalar = (value: unknown): string | undefined =>
  typeof value === 'string'
    ? value
    : typeof value === 'number' && Number.isFinite(value)
      ? String(value)
      : undefined;

/** The seed's runbook, for events after which an operator may have to act. */
export function defaultRunbook(event: NotifyEvent, environment: string): string[] {
  const verify = [
    'LATEST_BACKUP=$(ls -1 backups/dhash_*.zip | sort -r | head -n1)',
    'sha256sum -c "${LATEST_BACKUP}.sha256"',
  ];
  switch (event) {
    case 'deploy-failed':
    case 'gate-violation':
    case 'rollback-failed':
      return [...verify, `guarded-rollout rollback --env ${environment} --latest --target .`];
    case 'escalation':
      return [`guarded-rollout gates check --env ${environment}`];
    default:
      return [];
  }
}

/** Builds the template context from caller details, checking each declared field's type and
 *  naming the offending `details.<field>` when it is wrong. Undeclared keys are kept only in the
 *  generic webhook payload. */
export function buildEventContext(input: EventInput): EventContext {
  const fields = eventFields(input.event);
  const details = input.details ?? {};
  const context: EventContext = {};
  for (const [name, shape] of Object.entries(fields)) {
    const raw = details[name];
    const where = `details.${name}`;
    if (raw === undefined || raw === null) {
      context[name] = shape === 'text' || shape === 'boolean' ? null : [];
      continue;
    }
    if (shape === 'text') {
      const text = scalar(raw);
      if (text === undefined)
        throw new ConfigError(`${where}: ${describeValue(raw)} is not text or a number`, { field: where });
      context[name] = text;
    } else if (shape === 'boolean') {
      if (typeof raw !== 'boolean')
        throw new ConfigError(`${where}: ${describeValue(raw)} is not true or false`, { field: where });
      context[name] = raw;
    } else if (shape === 'strings') {
      const list = Array.isArray(raw) ? raw : [raw];
      context[name] = list.map((item, i) => {
        const text = scalar(item);
        if (text === undefined)
          throw new ConfigError(`${where}[${i}]: ${describeValue(item)} is not text`, { field: where });
        return text;
      });
    } else {
      if (!Array.isArray(raw))
        throw new ConfigError(`${where}: must be a list of gates, got ${describeValue(raw)}`, {
          field: where,
        });
      context[name] = raw.map((item, i) => gateLine(item, `${where}[${i}]`));
    }
  }
  context.event = input.event;
  context.eventTitle = EVENT_TITLES[input.event];
  context.environment = input.environment;
  context.timestamp = input.timestamp;
  context.dedupeKey = input.dedupeKey;
  if ((context.runbook as string[]).length === 0)
    context.runbook = defaultRunbook(input.event, input.environment);
  return context;
}

/** Accepts the gate engine's GateResult shape ({gate, value, threshold, unit, reason}) as well as
 *  pre-formatted {gate|name, value, limit}. */
function gateLine(item: unknown, where: string): GateLine {
  if (item === null || typeof item !== 'object' || Array.isArray(item)) {
    throw new ConfigError(
      `${where}: ${describeValue(item)} is not a gate object like {"gate":"p95_hash_time","value":"2400 ms","limit":"> 2000 ms"}`,
      { field: where },
    );
  }
  const o = item as Record<string, unknown>;
  const gate = scalar(o.gate) ?? scalar(o.name);
  if (gate === undefined)
    throw new ConfigError(`${where}.gate: missing; name the gate`, { field: `${where}.gate` });
  const unit = scalar(o.unit);
  const fmt = (raw: unknown): string | undefined => {
    const text = scalar(raw);
    return text !== undefined && unit && typeof raw === 'number' ? `${text} ${unit}` : text;
  };
  const threshold = fmt(o.threshold);
  const limitRaw = scalar(o.limit) ?? (threshold !== undefined ? `> ${threshold}` : undefined);
  return {
    gate,
    status: scalar(o.status) ?? 'violated',
    value: fmt(o.value) ?? 'n/a',
    limit: limitRaw ?? 'n/a',
    reason: scalar(o.reason) ?? '',
  };
}
