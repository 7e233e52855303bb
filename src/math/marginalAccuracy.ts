/**
 * How close one set of draws is to a reference, marginal by marginal, in the reference's own
 * units (its sd): the figures posteriordb comparisons use.
 */

/** The accuracy of one quantity's marginal. */
export interface MarginalAccuracy {
  name: string;
  /** |E_q − E_ref| / sd_ref. */
  meanError: number;
  /** sd_q / sd_ref. */
  sdRatio: number;
  /** The 1-D Wasserstein-1 distance between the two marginals, divided by sd_ref. */
  wasserstein: number;
}

function meanSd(v: ArrayLike<number>): { mean: number; sd: number } {
  let s = 0;
  for (let i = 0; i < v.length; i++) s += v[i];
  const mean = s / v.length;
  let ss = 0;
  for (let i = 0; i < v.length; i++) ss += (v[i] - mean) ** 2;
  return { mean, sd: Math.sqrt(ss / Math.max(1, v.length - 1)) };
}

/**
 * W1 between the empirical distributions of a and b: ∫₀¹ |F_a⁻¹(u) − F_b⁻¹(u)| du, exact for
 * step quantile functions (the integral over the merged breakpoints of the two).
 */
export function wasserstein1(a: ArrayLike<number>, b: ArrayLike<number>): number {
  const x = Float64Array.from(a).sort();
  const y = Float64Array.from(b).sort();
  const n = x.length;
  const m = y.length;
  let i = 0;
  let j = 0;
  let u = 0;
  let w = 0;
  while (i < n && j < m) {
    const nextX = (i + 1) / n;
    const nextY = (j + 1) / m;
    const next = Math.min(nextX, nextY);
    w += (next - u) * Math.abs(x[i] - y[j]);
    u = next;
    if (nextX <= next) i++;
    if (nextY <= next) j++;
  }
  return w;
}

/** Each named quantity's accuracy; `draws[name]` and `reference[name]` hold its values. */
export function marginalAccuracy(
  draws: Record<string, ArrayLike<number>>,
  reference: Record<string, ArrayLike<number>>,
  names: string[],
): MarginalAccuracy[] {
  return names.map((name) => {
    const q = draws[name];
    const r = reference[name];
    const a = meanSd(q);
    const b = meanSd(r);
    return {
      name,
      meanError: Math.abs(a.mean - b.mean) / b.sd,
      sdRatio: a.sd / b.sd,
      wasserstein: wasserstein1(q, r) / b.sd,
    };
  });
}

/** The worst of each figure over the marginals: the largest mean error and distance, and the
 * sd ratio farthest from 1 (on a log scale, so 0.5 and 2 are equally far). */
export function worstAccuracy(m: MarginalAccuracy[]): {
  meanError: number;
  sdRatio: number;
  wasserstein: number;
  worstMeanName: string;
} {
  let worst = m[0];
  let ratio = 1;
  let w = 0;
  for (const x of m) {
    if (x.meanError > worst.meanError) worst = x;
    if (Math.abs(Math.log(x.sdRatio)) > Math.abs(Math.log(ratio))) ratio = x.sdRatio;
    w = Math.max(w, x.wasserstein);
  }
  return { meanError: worst.meanError, sdRatio: ratio, wasserstein: w, worstMeanName: worst.name };
}
