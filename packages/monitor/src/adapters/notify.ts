// The monitor's Notifier backed by packages/notify: every event goes through sendNotification
// (templates, Slack/Teams/Discord/email/webhook, retry, fallback file) with a bounded budget so a
// slow channel cannot hold the rollout. Returns what was delivered, for the summary.
import { prepareNotifications, sendNotification, type ChannelSecrets } from '@guarded-rollout/notify';
import type { NotifyEvent } from '../guarded.js';
import type { NotificationRecord } from '../summary.js';

export interface NotifierOptions {
  environment: string;
  /** Where channel variables are read (SLACK_WEBHOOK_URL, ...). */
  env?: NodeJS.ProcessEnv;
  /** Explicit channel secrets (action inputs); each wins over its variable. */
  secrets?: ChannelSecrets;
  fallbackDir?: string;
  templateDir?: string;
  /** Whole send, all channels and retries (default 15 s). */
  budgetMs?: number;
  attemptTimeoutMs?: number;
  signal?: AbortSignal;
}

/** A Notifier that always resolves with the per-channel record. */
export type RecordingNotifier = (
  event: NotifyEvent,
  details: Record<string, unknown>,
) => Promise<NotificationRecord>;

export function packageNotifier(options: NotifierOptions): RecordingNotifier {
  // Templates compiled now, not when the rollback announces itself (that call must cost ~ms).
  try {
    prepareNotifications(options.templateDir ? { templateDir: options.templateDir } : {});
  } catch {
    // a bad template is reported by the send itself (fail open)
  }
  return async (event, details) => {
    const result = await sendNotification({
      event,
      environment: options.environment,
      details,
      ...(options.env ? { env: options.env } : {}),
      ...(options.secrets ? { secrets: options.secrets } : {}),
      ...(options.fallbackDir ? { fallbackDir: options.fallbackDir } : {}),
      ...(options.templateDir ? { templateDir: options.templateDir } : {}),
      budgetMs: options.budgetMs ?? 15_000,
      ...(options.attemptTimeoutMs ? { attemptTimeoutMs: options.attemptTimeoutMs } : {}),
      ...(options.signal ? { signal: options.signal } : {}),
    });
    const delivered: NotificationRecord['delivered'] = {};
    for (const [channel, d] of Object.entries(result.delivered))
      delivered[channel] = d === 'dry-run' ? 'skipped' : d;
    return {
      event,
      at: new Date().toISOString(),
      delivered,
      ...(result.fallbackPath ? { fallbackPath: result.fallbackPath } : {}),
      ...(result.fallbackError ? { error: `fallback not written: ${result.fallbackError}` } : {}),
    };
  };
}
