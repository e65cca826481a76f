// Percentiles from raw samples and from Prometheus-style cumulative histogram buckets.

/** Nearest-rank percentile: the smallest sample with at least p % of samples at or below it.
 *  Chosen over interpolation so "p95 > limit" means exactly "more than 5 % of samples exceed it". */
export function nearestRankPercentile(values: readonly number[], percentile: number): number {
  if (values.length === 0) return Number.NaN;
  const sorted = [...values].sort((a, b) => a - b);
  const rank = Math.max(1, Math.ceil((percentile / 100) * sorted.length));
  return sorted[rank - 1]!;
}

export interface Bucket {
  /** Upper bound, inclusive; Infinity for the +Inf bucket. */
  le: number;
  /** Cumulative count of observations ≤ le. */
  count: number;
}

/** Estimates a quantile from cumulative buckets exactly as PromQL's histogram_quantile does:
 *  linear interpolation inside the bucket holding the rank, lower bound 0 for the first bucket
 *  (when its bound is positive), and the highest finite bound when the rank falls in +Inf. */
export function histogramQuantile(quantile: number, buckets: readonly Bucket[]): number {
  if (buckets.length < 2 || Number.isNaN(quantile)) return Number.NaN;
  if (quantile < 0) return Number.NEGATIVE_INFINITY;
  if (quantile > 1) return Number.POSITIVE_INFINITY;
  const sorted = [...buckets].sort((a, b) => a.le - b.le);
  if (sorted[sorted.length - 1]!.le !== Number.POSITIVE_INFINITY) return Number.NaN;
  // Prometheus repairs non-monotonic counts (from scrape races) by carrying the maximum forward.
  for (let i = 1; i < sorted.length; i++) {
    if (sorted[i]!.count < sorted[i - 1]!.count)
      sorted[i] = { le: sorted[i]!.le, count: sorted[i - 1]!.count };
  }
  const total = sorted[sorted.length - 1]!.count;
  if (total === 0) return Number.NaN;
  const rank = quantile * total;
  let index = sorted.findIndex((b) => b.count >= rank);
  if (index < 0) index = sorted.length - 1;
  if (index === sorted.length - 1) return sorted[sorted.length - 2]!.le;
  if (index === 0 && sorted[0]!.le <= 0) return sorted[0]!.le;
  const upper = sorted[index]!;
  const lowerBound = index === 0 ? 0 : sorted[index - 1]!.le;
  const lowerCount = index === 0 ? 0 : sorted[index - 1]!.count;
  const inBucket = upper.count - lowerCount;
  if (inBucket === 0) return upper.le;
  return lowerBound + (upper.le - lowerBound) * ((rank - lowerCount) / inBucket);
}
