// Special functions the baseline tests need (log-gamma, regularized incomplete beta and gamma, the
// normal and Student t distributions), written here because no maintained npm package gives them
// in log space to the ~1e-12 accuracy the SciPy reference tests demand, without native code.

const LANCZOS = [
  0.99999999999980993, 676.5203681218851, -1259.1392167224028, 771.32342877765313, -176.61502916214059,
  12.507343278686905, -0.13857109526572012, 9.9843695780195716e-6, 1.5056327351493116e-7,
];

/** ln Γ(x) for x > 0 (Lanczos, g = 7). */
export function logGamma(x: number): number {
  if (x < 0.5) return Math.log(Math.PI / Math.abs(Math.sin(Math.PI * x))) - logGamma(1 - x);
  const z = x - 1;
  let sum = LANCZOS[0]!;
  for (let i = 1; i < 9; i++) sum += LANCZOS[i]! / (z + i);
  const t = z + 7.5;
  return 0.5 * Math.log(2 * Math.PI) + (z + 0.5) * Math.log(t) - t + Math.log(sum);
}

/** ln B(a, b). */
export function logBeta(a: number, b: number): number {
  return logGamma(a) + logGamma(b) - logGamma(a + b);
}

/** Lentz's continued fraction for the incomplete beta function (Numerical Recipes' betacf). */
function betaContinuedFraction(x: number, a: number, b: number): number {
  const tiny = 1e-300;
  let c = 1;
  let d = 1 - ((a + b) * x) / (a + 1);
  if (Math.abs(d) < tiny) d = tiny;
  d = 1 / d;
  let h = d;
  for (let m = 1; m <= 100_000; m++) {
    const m2 = 2 * m;
    let aa = (m * (b - m) * x) / ((a + m2 - 1) * (a + m2));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    h *= d * c;
    aa = (-(a + m) * (a + b + m) * x) / ((a + m2) * (a + m2 + 1));
    d = 1 + aa * d;
    if (Math.abs(d) < tiny) d = tiny;
    c = 1 + aa / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-15) return h;
  }
  return h;
}

/** ln I_x(a, b), the log of the regularized incomplete beta function, accurate in both tails. */
export function logIncompleteBeta(x: number, a: number, b: number): number {
  if (x <= 0) return -Infinity;
  if (x >= 1) return 0;
  // The continued fraction converges fast below the mean; above it, use I_x(a,b) = 1 − I_{1−x}(b,a).
  const direct = (y: number, p: number, q: number): number =>
    p * Math.log(y) + q * Math.log1p(-y) - logBeta(p, q) + Math.log(betaContinuedFraction(y, p, q) / p);
  if (x < (a + 1) / (a + b + 2)) return direct(x, a, b);
  return Math.log1p(-Math.exp(direct(1 - x, b, a)));
}

/** I_x(a, b). */
export function incompleteBeta(x: number, a: number, b: number): number {
  return Math.exp(logIncompleteBeta(x, a, b));
}

/** ln(1 − I_x(a, b)) = ln I_{1−x}(b, a), the upper tail. */
export function logIncompleteBetaUpper(x: number, a: number, b: number): number {
  return logIncompleteBeta(1 - x, b, a);
}

/** The q-quantile of Beta(a, b) (bisection on the CDF; monotone, so it cannot fail to converge). */
export function betaQuantile(q: number, a: number, b: number): number {
  if (q <= 0) return 0;
  if (q >= 1) return 1;
  let lo = 0;
  let hi = 1;
  for (let i = 0; i < 200 && hi - lo > 1e-16 * Math.max(lo, 1e-300); i++) {
    const mid = lo > 0 && hi / lo > 1e3 ? Math.sqrt(lo * hi) : (lo + hi) / 2;
    if (incompleteBeta(mid, a, b) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}

/** Regularized lower incomplete gamma P(a, x) (series / continued fraction, Numerical Recipes). */
export function incompleteGammaP(a: number, x: number): number {
  if (x <= 0) return 0;
  const front = -x + a * Math.log(x) - logGamma(a);
  if (x < a + 1) {
    let sum = 1 / a;
    let term = sum;
    for (let n = 1; n < 10_000; n++) {
      term *= x / (a + n);
      sum += term;
      if (Math.abs(term) < Math.abs(sum) * 1e-16) break;
    }
    return sum * Math.exp(front);
  }
  const tiny = 1e-300;
  let b = x + 1 - a;
  let c = 1 / tiny;
  let d = 1 / b;
  let h = d;
  for (let i = 1; i < 10_000; i++) {
    const an = -i * (i - a);
    b += 2;
    d = an * d + b;
    if (Math.abs(d) < tiny) d = tiny;
    c = b + an / c;
    if (Math.abs(c) < tiny) c = tiny;
    d = 1 / d;
    const step = d * c;
    h *= step;
    if (Math.abs(step - 1) < 1e-16) break;
  }
  return 1 - Math.exp(front) * h;
}

/** Standard normal CDF Φ(z). */
export function normalCdf(z: number): number {
  if (z === 0) return 0.5;
  const tail = 0.5 * (1 - incompleteGammaP(0.5, (z * z) / 2));
  return z > 0 ? 1 - tail : tail;
}

/** CDF of Student's t with ν degrees of freedom. */
export function studentTCdf(t: number, nu: number): number {
  const tail = 0.5 * incompleteBeta(nu / (nu + t * t), nu / 2, 0.5);
  return t > 0 ? 1 - tail : tail;
}

/** The q-quantile of Student's t with ν degrees of freedom (q in (0.5, 1)). */
export function studentTQuantile(q: number, nu: number): number {
  let lo = 0;
  let hi = 1;
  while (studentTCdf(hi, nu) < q && hi < 1e12) hi *= 2;
  for (let i = 0; i < 200 && hi - lo > 1e-14 * hi; i++) {
    const mid = (lo + hi) / 2;
    if (studentTCdf(mid, nu) < q) lo = mid;
    else hi = mid;
  }
  return (lo + hi) / 2;
}
