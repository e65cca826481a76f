import { describe, expect, it } from '@jest/globals';
import { errorDescription, findStaleDeployments, type DeploymentSnapshot } from '../src/index.js';

const now = new Date('2026-11-23T12:00:00Z');
const ninetyMinutes = 90 * 60_000;
const d = (
  id: number,
  latest: DeploymentSnapshot['latest'],
  createdAt = '2026-11-23T09:00:00Z',
): DeploymentSnapshot => ({
  id,
  environment: 'production',
  ref: `v1.${id}`,
  createdAt,
  latest,
});

describe('findStaleDeployments', () => {
  it.each([
    ['in_progress for 2 h', d(1, { state: 'in_progress', createdAt: '2026-11-23T10:00:00Z' }), true],
    ['queued for 2 h', d(2, { state: 'queued', createdAt: '2026-11-23T10:00:00Z' }), true],
    ['no status since creation 3 h ago', d(3, undefined), true],
    [
      'in_progress for 30 min (still monitoring)',
      d(4, { state: 'in_progress', createdAt: '2026-11-23T11:30:00Z' }),
      false,
    ],
    [
      'in_progress for exactly the limit (strictly greater trips)',
      d(5, { state: 'in_progress', createdAt: '2026-11-23T10:30:00Z' }),
      false,
    ],
    ['success long ago', d(6, { state: 'success', createdAt: '2026-11-23T08:00:00Z' }), false],
    ['failure long ago', d(7, { state: 'failure', createdAt: '2026-11-23T08:00:00Z' }), false],
    ['already marked error', d(8, { state: 'error', createdAt: '2026-11-23T08:00:00Z' }), false],
    ['inactive', d(9, { state: 'inactive', createdAt: '2026-11-23T08:00:00Z' }), false],
    [
      'in_progress with an unreadable timestamp (fails closed)',
      d(10, { state: 'in_progress', createdAt: 'yesterday-ish' }),
      true,
    ],
  ])('%s → stale: %s', (_name, deployment, expected) => {
    const stale = findStaleDeployments([deployment], now, ninetyMinutes);
    expect(stale.map((s) => s.id)).toEqual(expected ? [deployment.id] : []);
  });

  it('reports the state it was left in and since when', () => {
    const [stale] = findStaleDeployments(
      [d(1, { state: 'in_progress', createdAt: '2026-11-23T10:00:00Z' })],
      now,
      ninetyMinutes,
    );
    expect(stale).toEqual({
      id: 1,
      environment: 'production',
      ref: 'v1.1',
      state: 'in_progress',
      since: '2026-11-23T10:00:00Z',
      silentForMs: 2 * 3_600_000,
    });
  });

  it("writes a status description within GitHub's 140-character limit", () => {
    const [stale] = findStaleDeployments([d(1, undefined, '2026-11-23T01:00:00Z')], now, ninetyMinutes);
    const text = errorDescription({ ...stale!, state: 'in_progress'.repeat(10) }, '1h30m');
    expect(text.length).toBeLessThanOrEqual(140);
    expect(errorDescription(stale!, '1h30m')).toBe(
      'watchdog: still pending with no update since 2026-11-23T01:00:00Z (> 1h30m); runner lost or job killed',
    );
  });
});
