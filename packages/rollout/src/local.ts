// Local pieces of the world for the CLI, the demo and tests: state in memory, plain console
// groups, and notifications through packages/notify with the call's hard budget.
import { packageNotifier, type NotifierOptions } from '@guarded-rollout/monitor';
import { prepareNotifications } from '@guarded-rollout/notify';
import type { RolloutLog, RolloutNotifier, RolloutState } from './world.js';

export class MemoryState implements RolloutState {
  readonly values = new Map<string, string>();
  save(key: string, value: string): void {
    this.values.set(key, value);
  }
}

export function consoleLog(write: (line: string) => void = (l) => console.log(l)): RolloutLog {
  return {
    info: write,
    warning: (line) => write(`warning: ${line}`),
    async group(name, run) {
      write(`== ${name}`);
      return run();
    },
  };
}

/** Every event through packages/notify (channels from the environment, fallback file), bounded
 *  by the call's budget; a signal given to the call cuts the send short. Each send is journalled
 *  `pending` synchronously when it starts (startNotification), so the caller can start one and
 *  go on with a rollback without waiting for any receiver. */
export function packageRolloutNotifier(base: Omit<NotifierOptions, 'budgetMs' | 'signal'>): RolloutNotifier {
  // Templates compiled now, not on the rollback path.
  prepareNotifications(base.templateDir ? { templateDir: base.templateDir } : {});
  return (event, details, call) =>
    packageNotifier({ ...base, budgetMs: call.budgetMs, ...(call.signal ? { signal: call.signal } : {}) })(
      event,
      details,
    );
}
