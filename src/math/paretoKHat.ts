/**
 * The Pareto k̂ diagnostic of importance weights (Vehtari, Simpson, Gelman, Yao & Gabry, "Pareto
 * smoothed importance sampling", 2015/2024; for variational inference Yao, Vehtari, Simpson &
 * Gelman 2018): the shape of a generalised Pareto distribution fitted to the largest weights.
 * k̂ < 0.5: q covers the posterior well; 0.5..0.7: usable with care; > 0.7: q misses mass the
 * posterior has (too narrow, a missed mode or tail) and its estimates should not be trusted.
 *
 * `logWeights`: log p(z, data) - log q(z) at draws of q. The tail is the largest
 * min(S / 5, 3 sqrt(S)) weights; the fit is Zhang & Stephens' (2009) profile-likelihood
 * estimate with the weakly informative prior on k of the PSIS paper.
 */
export function paretoKHat(logWeights: ArrayLike<number>): number {
  const lw = Float64Array.from(logWeights).filter((v) => !Number.isNaN(v));
  const s = lw.length;
  if (s < 20) return NaN;
  if (lw.some((v) => v === Infinity)) return Infinity;
  const max = lw.reduce((a, b) => Math.max(a, b), -Infinity);
  const sorted = Float64Array.from(lw, (v) => v - max).sort();
  const tail = Math.ceil(Math.min(0.2 * s, 3 * Math.sqrt(s)));
  const cutoff = sorted[s - tail - 1];
  // Equal weights in the tail: q is the posterior there.
  if (cutoff === 0) return 0;
  // The largest weight beats the tail's threshold by more than e^700: a few draws carry all
  // the weight (q far wider than the posterior, or elsewhere). No tail to fit; infinitely bad.
  if (-cutoff > 700) return Infinity;
  const exceed = sorted
    .subarray(s - tail)
    .map((v) => Math.exp(v) - Math.exp(cutoff))
    .filter((v) => v > 0);
  if (exceed.length <= 4) return Infinity;
  return generalisedParetoShape(exceed);
}

/** Zhang & Stephens' (2009) estimate of the GPD shape k of sorted positive exceedances `x`. */
function generalisedParetoShape(x: Float64Array): number {
  const n = x.length;
  const m = 30 + Math.floor(Math.sqrt(n));
  const quartile = x[Math.max(0, Math.floor(n / 4 + 0.5) - 1)];
  const b = Float64Array.from(
    { length: m },
    (_, j) => (1 - Math.sqrt(m / (j + 1 - 0.5))) / (3 * quartile) + 1 / x[n - 1],
  );
  const meanLog1p = (bj: number) => x.reduce((a, v) => a + Math.log1p(-bj * v), 0) / n;
  const k = Float64Array.from(b, meanLog1p);
  const profile = Float64Array.from(b, (bj, j) => n * (Math.log(-bj / k[j]) - k[j] - 1));
  // Posterior weights of the grid of b (normalised in a stable way).
  const w = Float64Array.from(
    profile,
    (lj) => 1 / profile.reduce((a, li) => a + Math.exp(li - lj), 0),
  );
  const total = w.reduce((a, v) => a + v, 0);
  const bPost = b.reduce((a, bj, j) => a + (bj * w[j]) / total, 0);
  // In this parametrisation mean(log(1 - b x)) is the shape itself (heavy tails: b < 0, k > 0);
  // shrunk toward 0.5 by a prior worth 10 observations, as PSIS does.
  const kPost = meanLog1p(bPost);
  return (n * kPost + 10 * 0.5) / (n + 10);
}
