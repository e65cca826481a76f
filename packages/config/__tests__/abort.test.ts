import { describe, expect, it } from '@jest/globals';
import { sleep, withSignalAbort } from '../src/abort.js';

const timers = (): number => process.getActiveResourcesInfo().filter((r) => r === 'Timeout').length;

describe('sleep', () => {
  it('waits the time it is given', async () => {
    const started = Date.now();
    await sleep(60);
    expect(Date.now() - started).toBeGreaterThanOrEqual(55);
  });

  it('ends at once when its signal aborts and clears its timer, so nothing keeps the process alive', async () => {
    const before = timers();
    const controller = new AbortController();
    const started = Date.now();
    const waiting = sleep(600_000, controller.signal);
    expect(timers()).toBe(before + 1);
    setImmediate(() => controller.abort());
    await waiting;
    expect(Date.now() - started).toBeLessThan(1000);
    expect(timers()).toBe(before);
  });

  it('does not wait at all for a signal already aborted, nor for 0 or a negative time', async () => {
    const before = timers();
    const aborted = AbortSignal.abort();
    await sleep(600_000, aborted);
    await sleep(0);
    await sleep(-5);
    expect(timers()).toBe(before);
  });

  it('leaves no listener on a signal that outlives it', async () => {
    const controller = new AbortController();
    let added = 0;
    let removed = 0;
    const { signal } = controller;
    const add = signal.addEventListener.bind(signal);
    const remove = signal.removeEventListener.bind(signal);
    signal.addEventListener = ((...args: Parameters<typeof add>) => (added++, add(...args))) as typeof add;
    signal.removeEventListener = ((...args: Parameters<typeof remove>) => (
      removed++,
      remove(...args)
    )) as typeof remove;
    for (let i = 0; i < 5; i++) await sleep(1, signal);
    expect(added).toBe(5);
    expect(removed).toBe(5);
  });
});

describe('withSignalAbort', () => {
  it('aborts on the first SIGINT or SIGTERM, absorbs the later ones (saying so), and removes its handlers', async () => {
    const before = [process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')];
    const lines: string[] = [];
    const result = await withSignalAbort(
      async (signal) => {
        expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual([
          before[0]! + 1,
          before[1]! + 1,
        ]);
        expect(signal.aborted).toBe(false);
        process.emit('SIGINT');
        expect(signal.aborted).toBe(true);
        process.emit('SIGTERM');
        process.emit('SIGINT');
        return 'recorded';
      },
      (name, first) => lines.push(`received ${name}${first ? '' : ' again'}`),
    );
    expect(result).toBe('recorded');
    expect(lines).toEqual(['received SIGINT', 'received SIGTERM again', 'received SIGINT again']);
    expect([process.listenerCount('SIGINT'), process.listenerCount('SIGTERM')]).toEqual(before);
  });

  it('names SIGTERM when that comes first, and removes its handlers when the body throws', async () => {
    const before = process.listenerCount('SIGTERM');
    const lines: string[] = [];
    await expect(
      withSignalAbort(
        async (signal) => {
          process.emit('SIGTERM');
          throw new Error(`stopped: ${signal.aborted}`);
        },
        (name) => lines.push(name),
      ),
    ).rejects.toThrow('stopped: true');
    expect(lines).toEqual(['SIGTERM']);
    expect(process.listenerCount('SIGTERM')).toBe(before);
  });
});
