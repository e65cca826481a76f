// Time as the monitor sees it: an injectable clock (real or fake) and the virtual time of a
// time-compressed run, where `timeScale` virtual milliseconds pass per real millisecond.
import { sleep } from '@guarded-rollout/config';

export interface Clock {
  /** Real milliseconds (epoch). */
  now(): number;
  /** Resolves after `ms` real milliseconds, or early when `signal` aborts. */
  sleep(ms: number, signal?: AbortSignal): Promise<void>;
}

export const systemClock: Clock = { now: () => Date.now(), sleep };

/** A clock for tests and simulations: sleeping advances time instantly. */
export class FakeClock implements Clock {
  constructor(private current = Date.parse('2026-01-01T00:00:00Z')) {}
  now(): number {
    return this.current;
  }
  async sleep(ms: number, signal?: AbortSignal): Promise<void> {
    if (signal?.aborted) return;
    this.current += Math.max(0, ms);
  }
  advance(ms: number): void {
    this.current += ms;
  }
}
