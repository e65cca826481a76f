// The always-valid tests behind baseline gates. Each returns the log of a nonnegative
// supermartingale under the null hypothesis ("no worse than the reference"); by Ville's
// inequality it exceeds ln(1/α) at ANY time with probability ≤ α, so it may be checked after every
// poll without inflating the false-alarm rate (Howard, Ramdas, McAuliffe & Sekhon 2021; Johari,
// Pekelis & Walsh 2017/2022).
import { betaQuantile, logBeta, logIncompleteBetaUpper, normalCdf, studentTQuantile } from './special.js';

/** Exact (Clopper–Pearson) one-sided upper confidence bound on a binomial rate: P(rate > bound) ≤ α. */
export function binomialUpperBound(failures: number, trials: number, alpha: number): number {
  if (trials <= 0 || failures >= trials) return 1;
  return betaQuantile(1 - alpha, failures + 1, trials - failures);
}

/** Prior of the beta-binomial mixture: Beta(1, (1 − p₀)/p₀) truncated to [p₀, 1]. Its mass sits just
 *  above the reference (mean ≈ 2 p₀ for a small p₀), so small regressions are found quickly, while
 *  its heavy tail still covers large ones. */
export function mixturePrior(reference: number): { a: number; b: number } {
  return { a: 1, b: Math.max((1 - reference) / reference, 1e-9) };
}

/**
 * ln M for H₀: rate ≤ p₀ after `failures` bad events out of `trials`:
 *   M = ∫_{p₀}^1 (p/p₀)^x ((1−p)/(1−p₀))^(n−x) π(dp),  π = Beta(a, b) restricted to [p₀, 1].
 * For every p ≥ p₀ the integrand is a supermartingale under any rate ≤ p₀, hence so is M.
 */
export function binomialMixtureLogStatistic(
  failures: number,
  trials: number,
  reference: number,
  prior = mixturePrior(reference),
): number {
  if (trials <= 0) return 0;
  if (reference >= 1) return -Infinity;
  if (reference <= 0) return failures > 0 ? Infinity : 0;
  const { a, b } = prior;
  const x = failures;
  const n = trials;
  const posterior = logBeta(a + x, b + n - x) + logIncompleteBetaUpper(reference, a + x, b + n - x);
  const priorMass = logBeta(a, b) + logIncompleteBetaUpper(reference, a, b);
  return posterior - priorMass - x * Math.log(reference) - (n - x) * Math.log1p(-reference);
}

/** Student-t one-sided upper confidence bound on a mean from a baseline sample. */
export function meanUpperBound(values: readonly number[], alpha: number): { bound: number; sd: number } {
  const n = values.length;
  const mean = values.reduce((s, v) => s + v, 0) / Math.max(n, 1);
  if (n < 2) return { bound: n ? mean : Number.NaN, sd: Number.NaN };
  const sd = Math.sqrt(values.reduce((s, v) => s + (v - mean) ** 2, 0) / (n - 1));
  return { bound: mean + (studentTQuantile(1 - alpha, n - 1) * sd) / Math.sqrt(n), sd };
}

/**
 * ln M for H₀: mean ≤ μ₀ of σ-sub-Gaussian observations, from S = Σ(xᵢ − μ₀) over t observations:
 * a one-sided normal mixture of exp(λS − λ²tσ²/2) over λ ~ half-normal with variance ρ/σ²... i.e.
 *   M = 2/√(1+ρV) · exp(S²/(2(V+1/ρ))) · Φ(S/√(V+1/ρ)),  V = tσ².
 */
export function gaussianMixtureLogStatistic(sum: number, count: number, sigma: number, rho: number): number {
  if (count <= 0) return 0;
  const v = count * sigma * sigma;
  const a = v + 1 / rho;
  return (
    Math.log(2) - 0.5 * Math.log1p(rho * v) + (sum * sum) / (2 * a) + Math.log(normalCdf(sum / Math.sqrt(a)))
  );
}

/** ρ that makes the normal mixture tightest around `count` observations (Howard et al. 2021, eq. 3.8
 *  with the one-sided correction ignored): it tunes the test to the middle of the watch window. */
export function gaussianMixtureRho(sigma: number, count: number, alpha: number): number {
  const l = -2 * Math.log(alpha) + Math.log(-2 * Math.log(alpha) + 1);
  return l / (sigma * sigma * Math.max(count, 1));
}
