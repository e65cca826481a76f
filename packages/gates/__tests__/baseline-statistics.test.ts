// The baseline statistics against reference values computed with SciPy
// (fixtures/baseline-reference.py → fixtures/baseline-reference.json; rerun the script to refresh).
import { describe, expect, it } from '@jest/globals';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';
import {
  binomialMixtureLogStatistic,
  binomialUpperBound,
  gaussianMixtureLogStatistic,
  logGamma,
  logIncompleteBeta,
  logIncompleteBetaUpper,
  normalCdf,
  studentTQuantile,
} from '../src/baseline/index.js';

type Row = number[];
const reference = JSON.parse(
  readFileSync(new URL('./fixtures/baseline-reference.json', import.meta.url), 'utf8'),
) as Record<string, Row[]> & { scipy: string };

/** |actual − expected| within a relative tolerance (absolute near zero). */
function close(actual: number, expected: number, rel: number): void {
  expect(Math.abs(actual - expected)).toBeLessThanOrEqual(rel * Math.max(1, Math.abs(expected)));
}

describe(`special functions match SciPy ${reference.scipy}`, () => {
  it.each(reference.logGamma!)('ln Γ(%p) = %p', (x, want) => close(logGamma(x!), want!, 1e-12));
  it.each(reference.logIncompleteBeta!)('ln I_%p(%p, %p) = %p', (x, a, b, want) =>
    close(logIncompleteBeta(x!, a!, b!), want!, 1e-10),
  );
  it.each(reference.logIncompleteBetaUpper!)('ln(1 − I_%p(%p, %p)) = %p', (x, a, b, want) =>
    close(logIncompleteBetaUpper(x!, a!, b!), want!, 1e-10),
  );
  it.each(reference.normalCdf!)('Φ(%p) = %p', (z, want) => close(normalCdf(z!), want!, 1e-12));
  it.each(reference.studentTQuantile!)('t quantile %p with %p df = %p', (q, nu, want) =>
    close(studentTQuantile(q!, nu!), want!, 1e-9),
  );
});

describe('baseline tests match SciPy', () => {
  it.each(reference.binomialUpperBound!)(
    'Clopper–Pearson upper bound for %p/%p at α = %p is %p',
    (x, n, alpha, want) => close(binomialUpperBound(x!, n!, alpha!), want!, 1e-10),
  );
  it.each(reference.binomialMixtureLogStatistic!)(
    'beta-binomial mixture: %p/%p against %p (prior Beta(%p, %p)) → ln M = %p',
    (x, n, p0, a, b, want) => close(binomialMixtureLogStatistic(x!, n!, p0!, { a: a!, b: b! }), want!, 1e-9),
  );
  it.each(reference.gaussianMixtureLogStatistic!)(
    'one-sided normal mixture: S = %p over %p polls, σ = %p, ρ = %p → ln M = %p',
    (s, t, sigma, rho, want) => close(gaussianMixtureLogStatistic(s!, t!, sigma!, rho!), want!, 1e-9),
  );
});

describe('the mixture is a test martingale', () => {
  it('has expectation ≤ 1 under the null (exact sum over every outcome of 60 trials)', () => {
    // E[M_n] = Σ_x C(n,x) p^x (1−p)^(n−x) M(x, n) must be ≤ 1 for every rate p ≤ p₀, and = 1 at p₀.
    const n = 60;
    const p0 = 0.05;
    for (const p of [0.01, 0.03, 0.05]) {
      let expectation = 0;
      for (let x = 0; x <= n; x++) {
        const logChoose = logGamma(n + 1) - logGamma(x + 1) - logGamma(n - x + 1);
        expectation += Math.exp(
          logChoose + x * Math.log(p) + (n - x) * Math.log1p(-p) + binomialMixtureLogStatistic(x, n, p0),
        );
      }
      if (p === p0) close(expectation, 1, 1e-9);
      else expect(expectation).toBeLessThan(1);
    }
  });

  it('grows without bound once the rate is well above the reference', () => {
    expect(binomialMixtureLogStatistic(200, 10_000, 0.01)).toBeGreaterThan(Math.log(200));
    expect(binomialMixtureLogStatistic(100, 10_000, 0.01)).toBeLessThan(0);
  });
});

// The fixture is what the script prints: regenerate it here when SciPy is installed (Debian
// python3-scipy) so a hand-edited fixture cannot pass; without SciPy the committed values stand.
const hasScipy = spawnSync('python3', ['-c', 'import scipy'], { encoding: 'utf8' }).status === 0;
(hasScipy ? describe : describe.skip)('the fixture is reproducible', () => {
  it('baseline-reference.py prints the committed values', () => {
    const script = fileURLToPath(new URL('./fixtures/baseline-reference.py', import.meta.url));
    const run = spawnSync('python3', [script], { encoding: 'utf8', timeout: 60_000 });
    expect(run.stderr).toBe('');
    const fresh = JSON.parse(run.stdout) as Record<string, unknown>;
    expect(Object.keys(fresh).sort()).toEqual(Object.keys(reference).sort());
    for (const key of Object.keys(reference).filter((k) => k !== 'scipy')) {
      const rows = reference[key]!;
      (fresh[key] as Row[]).forEach((row, i) => row.forEach((v, j) => close(rows[i]![j]!, v, 1e-12)));
    }
  });
});
