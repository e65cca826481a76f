// sendNotification / startNotification: the one call every doorway and package uses. It renders
// the event once, journals a `pending` line per channel in the fallback file, sends to every
// configured channel in parallel under a hard wall-clock budget (default 30 s for the call, 10 s
// per attempt; the call returns within budget + ~0.3 s even if a receiver or library hangs), then
// journals `delivered`/`failed`. It throws only for caller mistakes (unknown event or channel, bad
// template, bad details), never because a channel could not be reached.
//
// On a rollback's critical path use startNotification: it validates, renders and writes the
// pending lines synchronously, then returns a handle at once; await `handle.done` only after the
// rollback (it never rejects).
import { createHash, randomUUID } from 'node:crypto';
import type { ConnectionOptions } from 'node:tls';
import { redactor } from '@guarded-rollout/action-io';
import { ConfigError, deadlineController, settleWithin } from '@guarded-rollout/config';
import {
  assertChannels,
  CHANNELS,
  secretsFromEnv,
  secretValues,
  setupChannels,
  type ChannelName,
  type ChannelSecrets,
  type ChannelSetup,
} from './channels.js';
import { renderDiscord } from './channels/discord.js';
import { renderEmail } from './channels/email.js';
import { renderSlack } from './channels/slack.js';
import { renderTeams } from './channels/teams.js';
import { renderWebhook, SIGNATURE_HEADER, signBody } from './channels/webhook.js';
import {
  postWithRetry,
  systemClock,
  type AttemptRecord,
  type Clock,
  type DeliveryEnvironment,
  type DeliveryResult,
} from './deliver.js';
import { sendEmail } from './email-send.js';
import { assertEvent, buildEventContext, EVENTS } from './events.js';
import { appendFallback, fallbackPathFor, type FallbackEntry, type FallbackStatus } from './fallback.js';
import { policyFromEnv, type UrlPolicy } from './url-policy.js';
import { buildMessage, type NotificationMessage } from './message.js';
import { DEFAULT_RETRY_POLICY, type RetryPolicy } from './retry.js';
import { loadTemplates, type TemplateSet } from './templates.js';
import { toPlainText } from './markup.js';

export const DEDUPE_HEADER = 'X-Guarded-Rollout-Dedupe-Key';
export const DEFAULT_BUDGET_MS = 30_000;
export const DEFAULT_ATTEMPT_TIMEOUT_MS = 10_000;
export const DEFAULT_FALLBACK_DIR = 'notify-fallback';
/** After the budget aborts every channel, how long a channel that ignores the abort is waited for
 *  before it is recorded as failed anyway. */
export const HARD_STOP_GRACE_MS = 250;

export interface SendOptions {
  event: string;
  environment: string;
  details?: Record<string, unknown>;
  /** Channels to try (default: all five); unconfigured ones are reported as skipped. */
  channels?: readonly string[];
  /** Where secrets are read from (default process.env), under the PRODUCT.md variable names. */
  env?: NodeJS.ProcessEnv;
  /** Variable names to read instead of the defaults. */
  envNames?: Partial<Record<keyof ChannelSecrets, string>>;
  /** Explicit secret values (e.g. action inputs); each wins over its variable. */
  secrets?: ChannelSecrets;
  /** A directory of `<event>.hbs` files replacing the shipped templates for those events. */
  templateDir?: string;
  /** The shipped template directory (found automatically when omitted). */
  defaultTemplateDir?: string;
  /** Preloaded templates (a long-running caller loads once). */
  templates?: TemplateSet;
  fallbackDir?: string;
  dryRun?: boolean;
  /** Whole call, all channels and retries included: a hard wall-clock limit (default 30 s). */
  budgetMs?: number;
  /** One attempt (DNS, connect, TLS, request, answer): a hard wall-clock limit (default 10 s). */
  attemptTimeoutMs?: number;
  /** Allow link-local / cloud metadata destinations (default: NOTIFY_ALLOW_LINK_LOCAL in env). */
  urlPolicy?: UrlPolicy;
  retryPolicy?: Partial<RetryPolicy>;
  /** Same key for one notification across channels and retries (default: derived + random). */
  dedupeKey?: string;
  smtpTls?: ConnectionOptions;
  /** Aborting ends every send at once; what was not delivered still goes to the fallback file. */
  signal?: AbortSignal;
  clock?: Clock;
  random?: () => number;
  fetch?: typeof fetch;
}

export type ChannelStatus = 'delivered' | 'failed' | 'skipped' | 'misconfigured' | 'dry-run';

export interface ChannelResult {
  channel: ChannelName;
  status: ChannelStatus;
  attempts: number;
  durationMs: number;
  /** Why it was skipped or not delivered; free of secrets. */
  reason?: string;
  history: AttemptRecord[];
  /** The rendered payload (always for dry-run; for failures it is also in the fallback file). */
  payload?: unknown;
}

export interface SendResult {
  event: string;
  environment: string;
  dedupeKey: string;
  dryRun: boolean;
  title: string;
  text: string;
  channels: ChannelResult[];
  /** For the action output: true, false, "skipped" or "dry-run" per channel. */
  delivered: Record<string, boolean | 'skipped' | 'dry-run'>;
  /** The fallback file, when a message was not delivered (its `pending` and `failed` lines are
   *  there). Every call that sends journals to the file; this is null when all arrived. */
  fallbackPath: string | null;
  /** The fallback file could not be written (the message then exists only in this result). */
  fallbackError?: string;
  /** At least one configured channel did not get the message. */
  anyFailed: boolean;
}

/** All secrets the options carry, for a doorway to mask before it logs anything. */
export function notificationSecrets(options: Pick<SendOptions, 'env' | 'envNames' | 'secrets'>): string[] {
  return secretValues(mergeSecrets(options));
}

/** Redacts every form of every secret the options carry (for text a doorway prints or writes). */
export function notificationRedactor(
  options: Pick<SendOptions, 'env' | 'envNames' | 'secrets'>,
): (text: string) => string {
  return redactor(notificationSecrets(options));
}

/** The same error with every secret form removed from its message and stack (for doorways that
 *  print an unexpected error). */
export function redactError(error: unknown, redact: (text: string) => string): unknown {
  if (error instanceof Error) {
    error.message = redact(error.message);
    if (error.stack) error.stack = redact(error.stack);
  }
  return error;
}

function mergeSecrets(options: Pick<SendOptions, 'env' | 'envNames' | 'secrets'>): ChannelSecrets {
  const fromEnv = secretsFromEnv(options.env ?? process.env, options.envNames);
  const explicit = Object.fromEntries(
    Object.entries(options.secrets ?? {}).filter(([, v]) => typeof v === 'string' && v.trim() !== ''),
  );
  return { ...fromEnv, ...explicit };
}

export function deriveDedupeKey(
  event: string,
  environment: string,
  details: unknown,
  timestamp: string,
): string {
  const digest = createHash('sha256')
    .update(JSON.stringify([event, environment, details, timestamp, randomUUID()]))
    .digest('hex');
  return `gr-${digest.slice(0, 20)}`;
}

/** Renders each channel's native payload (pure; no secrets involved). */
export function renderChannelPayload(channel: ChannelName, message: NotificationMessage): unknown {
  switch (channel) {
    case 'slack':
      return renderSlack(message);
    case 'teams':
      return renderTeams(message);
    case 'discord':
      return renderDiscord(message);
    case 'webhook':
      return renderWebhook(message);
    case 'email':
      return renderEmail(message);
  }
}

const explainers: Partial<Record<ChannelName, (status: number, body: string) => string | undefined>> = {
  discord: (status) =>
    status === 404
      ? 'HTTP 404: the Discord webhook no longer exists (deleted or token revoked); not retried'
      : undefined,
  slack: (status, body) =>
    status === 404 || status === 410 || status === 403
      ? `HTTP ${status} ${body.slice(0, 60)}: the Slack webhook is disabled, revoked or its channel archived; not retried`
      : undefined,
  teams: (status) =>
    status === 404
      ? 'HTTP 404: the Teams workflow webhook does not exist (workflow deleted or URL wrong)'
      : undefined,
};

// Loading and compiling the templates, and deriving every secret form, take tens of ms; a rollback
// announcing itself must not pay that again on its critical path, so both are kept per process.
const templateCache = new Map<string, TemplateSet>();
function cachedTemplates(defaultDir: string | undefined, overrideDir: string | undefined): TemplateSet {
  const key = `${defaultDir ?? ''}\u0000${overrideDir ?? ''}`;
  let set = templateCache.get(key);
  if (!set) {
    set = loadTemplates({ defaultDir, overrideDir });
    templateCache.set(key, set);
  }
  return set;
}
const redactorCache = new Map<string, (text: string) => string>();
function cachedRedactor(secrets: string[]): (text: string) => string {
  const key = secrets.join('\u0000');
  let r = redactorCache.get(key);
  if (!r) {
    if (redactorCache.size > 32) redactorCache.clear();
    r = redactor(secrets);
    redactorCache.set(key, r);
  }
  return r;
}

const warmed = new WeakSet<TemplateSet>();

/** Loads the templates (and checks them) ahead of time, so the first notification of a run —
 *  possibly the one announcing a rollback — does not spend time on it. Throws ConfigError. */
export function prepareNotifications(
  options: Pick<SendOptions, 'defaultTemplateDir' | 'templateDir'> = {},
): void {
  const templates = cachedTemplates(options.defaultTemplateDir, options.templateDir);
  if (warmed.has(templates)) return;
  warmed.add(templates);
  // Handlebars compiles a template on its first render: render each once with empty details.
  for (const event of EVENTS) {
    try {
      templates[event](
        buildEventContext({
          event,
          environment: 'warm-up',
          details: {},
          timestamp: new Date(0).toISOString(),
          dedupeKey: 'warm-up',
        }),
      );
    } catch {
      // a template that needs details renders fine later; compiling was the point
    }
  }
}

/** A notification on its way. `done` never rejects and settles within the budget (+ ~0.3 s). */
export interface NotificationHandle {
  readonly dedupeKey: string;
  readonly done: Promise<SendResult>;
  /** Stops every send now; what was not delivered is journalled as failed. */
  abort(): void;
}

/** Sends and waits for the result (throws only for caller mistakes). */
export async function sendNotification(options: SendOptions): Promise<SendResult> {
  return startNotification(options).done;
}

/**
 * Validates, renders and journals `pending` synchronously (throws ConfigError for caller
 * mistakes), then sends in the background. For a rollback: start it, run the rollback, and await
 * `done` afterwards — the rollback never waits for a receiver.
 */
export function startNotification(options: SendOptions): NotificationHandle {
  const event = assertEvent(options.event);
  if (!options.environment?.trim())
    throw new ConfigError('environment is required (e.g. production)', { field: 'environment' });
  const channels = assertChannels(
    options.channels && options.channels.length > 0 ? options.channels : CHANNELS,
  );
  const details = options.details ?? {};
  if (details === null || typeof details !== 'object' || Array.isArray(details)) {
    throw new ConfigError('details must be a JSON object', { field: 'details' });
  }
  const budgetMs = options.budgetMs ?? DEFAULT_BUDGET_MS;
  const attemptTimeoutMs = options.attemptTimeoutMs ?? DEFAULT_ATTEMPT_TIMEOUT_MS;
  for (const [field, value] of [
    ['budgetMs', budgetMs],
    ['attemptTimeoutMs', attemptTimeoutMs],
  ] as const) {
    if (!Number.isFinite(value) || value <= 0)
      throw new ConfigError(`${field} must be a positive number of milliseconds; found ${value}`, { field });
  }
  const clock = options.clock ?? systemClock;
  const random = options.random ?? Math.random;
  const templates = options.templates ?? cachedTemplates(options.defaultTemplateDir, options.templateDir);
  const timestamp = new Date(clock.now()).toISOString();
  const dedupeKey = options.dedupeKey ?? deriveDedupeKey(event, options.environment, details, timestamp);
  const context = buildEventContext({
    event,
    environment: options.environment,
    details,
    timestamp,
    dedupeKey,
  });
  const message = buildMessage(templates, context, details);

  const secrets = mergeSecrets(options);
  const redact = cachedRedactor(secretValues(secrets));
  const urlPolicy = options.urlPolicy ?? policyFromEnv(options.env ?? process.env);
  const setups = setupChannels(channels, secrets, options.envNames, urlPolicy);
  const fallbackDir = options.fallbackDir ?? DEFAULT_FALLBACK_DIR;

  // The journal: every write is synchronous, and a failing disk never stops a send.
  let fallbackError: string | undefined;
  let journalled = false;
  const journal = (entries: FallbackEntry[]): void => {
    if (entries.length === 0) return;
    try {
      appendFallback(fallbackDir, entries, redact);
      journalled = true;
    } catch (error) {
      fallbackError ??= redact(`cannot write the fallback file: ${(error as Error).message}`);
    }
  };
  const entry = (
    channel: string,
    status: FallbackStatus,
    payload: unknown,
    error = '',
    attempts = 0,
  ): FallbackEntry => ({
    at: new Date(clock.now()).toISOString(),
    dedupeKey,
    event,
    environment: options.environment,
    channel,
    status,
    error,
    attempts,
    title: message.title,
    text: toPlainText(message.body),
    payload,
  });

  // Render every payload now (pure): the pending lines carry them.
  const rendered = setups.map((setup) => {
    try {
      return { setup, payload: renderChannelPayload(setup.channel, message) };
    } catch (error) {
      return { setup, renderError: redact(`rendering failed: ${(error as Error).message}`) };
    }
  });
  if (!options.dryRun) {
    const before: FallbackEntry[] = [];
    for (const r of rendered) {
      if (r.setup.state === 'configured' && !r.renderError)
        before.push(entry(r.setup.channel, 'pending', r.payload));
      else if (r.setup.state === 'configured')
        before.push(entry(r.setup.channel, 'failed', null, r.renderError));
      else if (r.setup.state === 'misconfigured')
        before.push(entry(r.setup.channel, 'misconfigured', r.payload ?? null, redact(r.setup.reason)));
    }
    if (setups.every((s) => s.state === 'skipped')) {
      // No channel is configured: the message would otherwise vanish.
      before.push(entry('none', 'skipped', renderWebhook(message), 'no channel is configured'));
    }
    journal(before);
  }

  // The hard budget: a real timer (not the injectable clock: deliveries are real I/O) aborts every
  // send at `budgetMs`; a channel that ignores the abort is recorded as failed HARD_STOP_GRACE_MS later.
  const budget = deadlineController(budgetMs, options.signal);
  const startedAt = Date.now();
  const deliveryEnv: DeliveryEnvironment = {
    fetch: options.fetch ?? globalThis.fetch,
    clock,
    random,
    policy: { ...DEFAULT_RETRY_POLICY, ...options.retryPolicy },
    attemptTimeoutMs,
    deadline: clock.now() + budgetMs,
    signal: budget.signal,
    redact,
    urlPolicy,
  };

  const runOne = async (r: (typeof rendered)[number]): Promise<ChannelResult> => {
    const { setup } = r;
    if (r.renderError)
      return {
        channel: setup.channel,
        status: 'failed',
        attempts: 0,
        durationMs: 0,
        history: [],
        reason: r.renderError,
      };
    let finished = false;
    const finish = (result: ChannelResult): ChannelResult => {
      if (finished) return result;
      finished = true;
      if (!options.dryRun && setup.state === 'configured') {
        journal([
          result.status === 'delivered'
            ? entry(setup.channel, 'delivered', null, '', result.attempts)
            : entry(setup.channel, 'failed', r.payload, result.reason ?? 'not delivered', result.attempts),
        ]);
      }
      return result;
    };
    const sending = deliverToChannel(setup, r.payload, message, deliveryEnv, options, redact).catch(
      (error: unknown): ChannelResult => ({
        channel: setup.channel,
        status: 'failed',
        attempts: 0,
        durationMs: Date.now() - startedAt,
        history: [],
        reason: redact(`unexpected failure: ${(error as Error).message}`),
        payload: r.payload,
      }),
    );
    return finish(
      await settleWithin(sending, budgetMs + HARD_STOP_GRACE_MS - (Date.now() - startedAt), () => ({
        channel: setup.channel,
        status: 'failed',
        attempts: 0,
        durationMs: Date.now() - startedAt,
        history: [],
        reason: `did not stop within the call's time budget of ${budgetMs} ms; abandoned`,
        payload: r.payload,
      })),
    );
  };

  const done = Promise.all(rendered.map(runOne))
    .then((results): SendResult => {
      const undelivered = results.filter((r) => r.status === 'failed' || r.status === 'misconfigured');
      const nothingConfigured = !options.dryRun && results.every((r) => r.status === 'skipped');
      const delivered: SendResult['delivered'] = {};
      for (const r of results) {
        delivered[r.channel] =
          r.status === 'delivered'
            ? true
            : r.status === 'skipped'
              ? 'skipped'
              : r.status === 'dry-run'
                ? 'dry-run'
                : false;
      }
      return {
        event,
        environment: options.environment,
        dedupeKey,
        dryRun: Boolean(options.dryRun),
        title: message.title,
        text: message.body,
        channels: results,
        delivered,
        fallbackPath:
          journalled && (undelivered.length > 0 || nothingConfigured) ? fallbackPathFor(fallbackDir) : null,
        ...(fallbackError ? { fallbackError } : {}),
        anyFailed: undelivered.length > 0,
      };
    })
    .finally(() => budget.dispose());
  return { dedupeKey, done, abort: () => budget.abort(new Error('notification aborted by the caller')) };
}

async function deliverToChannel(
  setup: ChannelSetup,
  payload: unknown,
  message: NotificationMessage,
  env: DeliveryEnvironment,
  options: SendOptions,
  redact: (text: string) => string,
): Promise<ChannelResult> {
  const { channel } = setup;
  const started = env.clock.now();
  const base = { channel, attempts: 0, history: [] as AttemptRecord[] };
  if (options.dryRun)
    return {
      ...base,
      status: 'dry-run',
      durationMs: 0,
      payload,
      ...(setup.state !== 'configured' ? { reason: redact(setup.reason) } : {}),
    };
  if (setup.state === 'skipped') return { ...base, status: 'skipped', durationMs: 0, reason: setup.reason };
  if (setup.state === 'misconfigured')
    return { ...base, status: 'misconfigured', durationMs: 0, reason: redact(setup.reason), payload };

  let result: DeliveryResult;
  try {
    if (channel === 'email' && setup.smtp) {
      result = await sendEmail(
        { ...setup.smtp, ...(options.smtpTls ? { tls: options.smtpTls } : {}) },
        payload as ReturnType<typeof renderEmail>,
        { [DEDUPE_HEADER]: message.dedupeKey },
        `<${message.dedupeKey}@guarded-rollout.invalid>`,
        env,
      );
    } else {
      const body = JSON.stringify(payload);
      const headers: Record<string, string> = {
        [DEDUPE_HEADER]: message.dedupeKey,
        'Idempotency-Key': message.dedupeKey,
      };
      if (channel === 'webhook' && setup.signingSecret)
        headers[SIGNATURE_HEADER] = signBody(body, setup.signingSecret);
      result = await postWithRetry({ url: setup.url, body, headers, explain: explainers[channel] }, env);
    }
  } catch (error) {
    // A bug or an unexpected library failure must still not break the other channels.
    result = {
      delivered: false,
      attempts: 1,
      error: `unexpected failure: ${(error as Error).message}`,
      history: [],
    };
  }
  const history = result.history.map((h) => ({ ...h, outcome: redact(h.outcome) }));
  return {
    channel,
    status: result.delivered ? 'delivered' : 'failed',
    attempts: result.attempts,
    durationMs: env.clock.now() - started,
    history,
    ...(result.error ? { reason: redact(result.error) } : {}),
    ...(result.delivered ? {} : { payload }),
  };
}
