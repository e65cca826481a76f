// The JSON Schema of quality-gates-config.json. Published verbatim as
// action-templates/quality-gates.schema.json (a test keeps the two identical).
import { DURATION_PATTERN } from '@guarded-rollout/config';

const duration = {
  type: 'string',
  pattern: DURATION_PATTERN,
  description: 'A duration such as "30s", "15m", "1h".',
};
const threshold = {
  type: 'number',
  description: 'The gate trips when the observed value is strictly greater than this.',
};
const sources = {
  type: 'object',
  description: 'Optional per-provider overrides of where the value comes from (e.g. a PromQL query).',
  additionalProperties: { type: 'string' },
};
const common = {
  enabled: { type: 'boolean', description: 'false switches the gate off for this environment.' },
  description: { type: 'string' },
  sources,
};

const gateProperties = {
  consecutive_failures: {
    kind: { const: 'consecutive_failures' },
    source: { enum: ['health'], description: 'What is checked; only the health endpoint today.' },
    threshold: {
      ...threshold,
      minimum: 0,
      description: 'Trips after more than this many consecutive non-OK checks.',
    },
    ...common,
  },
  ratio: {
    kind: { const: 'ratio' },
    numerator: { type: 'string', description: 'Counter of bad events, e.g. extractions_failed.' },
    denominator: { type: 'string', description: 'Counter of all events, e.g. extractions_total.' },
    window: duration,
    threshold: { ...threshold, minimum: 0, maximum: 1, description: 'A fraction: 0.05 means 5 %.' },
    min_events: {
      type: 'integer',
      minimum: 1,
      description: 'Fewer events than this in the window is insufficient data.',
    },
    ...common,
  },
  percentile: {
    kind: { const: 'percentile' },
    metric: { type: 'string', description: 'Histogram or sample metric, e.g. hash_duration_ms.' },
    percentile: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 100 },
    window: duration,
    threshold: { ...threshold, minimum: 0 },
    unit: { type: 'string' },
    min_samples: { type: 'integer', minimum: 1 },
    ...common,
  },
  gauge: {
    kind: { const: 'gauge' },
    metric: { type: 'string', description: 'Gauge metric, e.g. low_confidence_queue_length.' },
    threshold,
    unit: { type: 'string' },
    ...common,
  },
  baseline: {
    kind: { const: 'baseline' },
    compare: {
      enum: ['ratio', 'percentile', 'gauge'],
      description:
        'What is compared with the pre-deploy baseline: a failure ratio (numerator/denominator), the share of ' +
        'a latency metric above the baseline percentile, or the mean of a gauge.',
    },
    numerator: { type: 'string', description: 'compare ratio: counter of bad events.' },
    denominator: { type: 'string', description: 'compare ratio: counter of all events.' },
    metric: {
      type: 'string',
      description: 'compare percentile: histogram/samples metric; gauge: gauge metric.',
    },
    percentile: { type: 'number', exclusiveMinimum: 0, exclusiveMaximum: 100 },
    unit: { type: 'string' },
    margin: {
      type: 'number',
      minimum: 0,
      description:
        'Practical margin, relative: 0.5 tolerates up to 50 % worse than the baseline (upper bound) (default 0.5).',
    },
    alpha: {
      type: 'number',
      exclusiveMinimum: 0,
      maximum: 0.2,
      description: 'False-alarm probability over the whole watch, however often it is polled (default 0.01).',
    },
    baseline_period: {
      ...duration,
      description: 'How long before the deploy the baseline is recorded (default 15m).',
    },
    mode: {
      enum: ['enforce', 'warn'],
      description:
        'enforce: a regression is a violation (rollback); warn: reported and notified only (default enforce).',
    },
    min_events: {
      type: 'integer',
      minimum: 1,
      description: 'Fewest baseline events (gauge: readings) that make a baseline (default 100; gauge 5).',
    },
    ...common,
  },
} as const;

/** A baseline gate names the metrics its comparison needs. */
const baselineConditions = [
  { if: { properties: { compare: { const: 'ratio' } } }, then: { required: ['numerator', 'denominator'] } },
  { if: { properties: { compare: { const: 'percentile' } } }, then: { required: ['metric', 'percentile'] } },
  { if: { properties: { compare: { const: 'gauge' } } }, then: { required: ['metric'] } },
];

const required: Record<keyof typeof gateProperties, string[]> = {
  consecutive_failures: ['kind', 'source', 'threshold'],
  ratio: ['kind', 'numerator', 'denominator', 'window', 'threshold'],
  percentile: ['kind', 'metric', 'percentile', 'window', 'threshold'],
  gauge: ['kind', 'metric', 'threshold'],
  baseline: ['kind', 'compare'],
};

const fullGate = {
  type: 'object',
  required: ['kind'],
  discriminator: { propertyName: 'kind' },
  oneOf: Object.entries(gateProperties).map(([kind, properties]) => ({
    type: 'object',
    properties,
    required: required[kind as keyof typeof gateProperties],
    additionalProperties: false,
    ...(kind === 'baseline' ? { allOf: baselineConditions } : {}),
  })),
};

const allGateFields = Object.fromEntries(
  Object.values(gateProperties).flatMap((props) => Object.entries(props)),
);
/** An environment's override of a gate: any subset of the fields (the kind comes from defaults). */
const gateOverride = {
  type: 'object',
  properties: { ...allGateFields, kind: { enum: Object.keys(gateProperties) } },
  additionalProperties: false,
};

const cadence = {
  type: 'object',
  properties: {
    initial_interval: { ...duration, description: 'Poll interval during the initial phase (default 30s).' },
    initial_phase: { ...duration, description: 'Length of the initial phase (default 5m).' },
    interval: { ...duration, description: 'Poll interval after the initial phase (default 120s).' },
    suspicion_interval: {
      ...duration,
      description: 'Fast poll interval while a failure is suspected but not yet confirmed; "0s" disables it.',
    },
    sentinel_interval: {
      ...duration,
      description:
        'Cheap checks (health + one scrape) between the scheduled polls, judged like polls (default 15s); "0s" disables them.',
    },
    fast_burn_window: {
      ...duration,
      description:
        'Window of the fast-burn rules (default 1m): a ratio over 5× its limit (at most 40%), or over half the requests above a percentile limit, in this window violates at once; a failure still suspected at the end of the watch is followed for this long (overtime); "0s" disables both.',
    },
  },
  additionalProperties: false,
};

const policyProperties = {
  window: { ...duration, description: 'How long a deploy is watched (default 60m).' },
  cadence,
  escalations: {
    type: 'array',
    items: duration,
    description: 'Times after the start at which an unhealthy deploy is escalated (default 15m, 30m).',
  },
  source_errors: {
    type: 'object',
    properties: {
      fail_closed: { type: 'boolean', description: 'Count source errors as failures (default true).' },
      max_consecutive: {
        type: 'integer',
        minimum: 0,
        description:
          'A metric gate is violated after more than this many consecutive source errors (default 2).',
      },
    },
    additionalProperties: false,
  },
  analysis: {
    type: 'object',
    properties: {
      requests_per_second: {
        type: 'number',
        exclusiveMinimum: 0,
        description: 'Traffic assumed by the detection-latency analysis (default 1).',
      },
    },
    additionalProperties: false,
  },
};

export const qualityGatesSchema = {
  $schema: 'https://json-schema.org/draft/2020-12/schema',
  $id: 'https://github.com/guarded-rollout/guarded-rollout/action-templates/quality-gates.schema.json',
  title: 'Guarded rollout quality gates',
  description:
    'Quality gates watched after a deploy. `defaults` applies to every environment; `environments.<name>` ' +
    'overrides any field (deep-merged). Secrets never belong in this file.',
  type: 'object',
  required: ['defaults', 'environments'],
  properties: {
    $schema: { type: 'string' },
    version: { const: 1 },
    defaults: {
      type: 'object',
      required: ['gates'],
      properties: {
        ...policyProperties,
        gates: { type: 'object', additionalProperties: fullGate, minProperties: 1 },
      },
      additionalProperties: false,
    },
    environments: {
      type: 'object',
      minProperties: 1,
      additionalProperties: {
        type: 'object',
        properties: {
          ...policyProperties,
          gates: { type: 'object', additionalProperties: gateOverride },
        },
        additionalProperties: false,
      },
    },
  },
  additionalProperties: false,
} as const;
