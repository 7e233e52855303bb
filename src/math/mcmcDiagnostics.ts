/**
 * Convergence diagnostics of MCMC chains, computed exactly as ArviZ 0.23 and R's posterior
 * package compute them (Vehtari, Gelman, Simpson, Carpenter & Bürkner 2021, "Rank-normalization,
 * folding, and localization: an improved R-hat"), so that avb's `summary.json` and
 * `az.summary(...)` of its `draws.csv` show the same figures (`scripts/check-arviz.py` checks
 * this against ArviZ itself). Chains are arrays of draws of one quantity, all of one length.
 */

/** Each chain cut in halves, the middle draw of an odd length dropped. */
export function splitChains(chains: number[][]): number[][] {
  return chains.flatMap((c) => {
    const half = Math.floor(c.length / 2);
    return [c.slice(0, half), c.slice(c.length - half)];
  });
}

/** The classic potential scale reduction of chains taken as given (BDA3, eq. 11.4). */
function rhatOf(chains: number[][]): number {
  const n = chains[0].length;
  const means = chains.map((h) => h.reduce((a, b) => a + b, 0) / n);
  const grand = means.reduce((a, b) => a + b, 0) / means.length;
  const between = (n / (means.length - 1)) * means.reduce((a, m) => a + (m - grand) ** 2, 0);
  const within =
    chains.reduce((a, h, i) => a + h.reduce((s, v) => s + (v - means[i]) ** 2, 0) / (n - 1), 0) /
    chains.length;
  return Math.sqrt((((n - 1) / n) * within + between / n) / within);
}

/** Split R-hat (BDA3, eq. 11.4, on the chains' halves): ArviZ's `rhat(method="split")`. */
export function splitRhat(chains: number[][]): number {
  return rhatOf(splitChains(chains));
}

/**
 * Rank-normalised split R-hat, the larger of the bulk one (on the draws' normal scores) and the
 * tail one (on the scores of their distances from the median): Stan's and ArviZ's default
 * R-hat, which also sees chains that agree in location but not in scale.
 */
export function rankNormalizedRhat(chains: number[][]): number {
  const split = splitChains(chains);
  const all = split.flat().sort((a, b) => a - b);
  const h = all.length / 2;
  // As numpy's median: the mean of the middle two, so that they tie once folded.
  const median = all.length % 2 ? all[Math.floor(h)] : (all[h - 1] + all[h]) / 2;
  const folded = split.map((c) => c.map((v) => Math.abs(v - median)));
  return Math.max(rhatOf(normalScores(split)), rhatOf(normalScores(folded)));
}

/**
 * Effective sample size of the mean, on split chains: ArviZ's `ess(method="mean")` and the
 * posterior package's `ess_basic`.
 */
export function effectiveSampleSize(chains: number[][]): number {
  return essOf(splitChains(chains));
}

/** Bulk effective sample size (on split chains' normal scores): ArviZ's default `ess`. */
export function essBulk(chains: number[][]): number {
  return essOf(normalScores(splitChains(chains)));
}

/**
 * Tail effective sample size: the smaller of the ESS of the indicators of lying below the 5%
 * and the 95% quantiles (ArviZ's `ess(method="tail")`), how well the chains pin the tails.
 */
export function essTail(chains: number[][]): number {
  const sorted = chains.flat().sort((a, b) => a - b);
  const at = (p: number) => {
    const q = quantile(sorted, p);
    return essOf(splitChains(chains.map((c) => c.map((v) => (v <= q ? 1 : 0)))));
  };
  return Math.min(at(0.05), at(0.95));
}

/**
 * ESS of chains taken as given (BDA3 section 11.5; ArviZ's `_ess` step by step): the chains'
 * autocovariances and the between-chain variance give autocorrelations, summed in pairs until
 * a pair's sum turns negative (Geyer's initial positive sequence), made monotone, ESS = m n /
 * tau; antithetic chains give ESS above m n, capped at m n log10(m n). Constant draws: m n.
 */
function essOf(chains: number[][]): number {
  const m = chains.length;
  const n = chains[0].length;
  if (n < 4) return NaN;
  const flat = chains.flat();
  if (flat.some((v) => !Number.isFinite(v))) return NaN;
  if (Math.max(...flat) - Math.min(...flat) < 1e-15) return m * n;
  const means = chains.map((c) => c.reduce((a, b) => a + b, 0) / n);
  const centred = chains.map((c, i) => c.map((v) => v - means[i]));
  // Mean over chains of the (biased, divisor n) autocovariance at lag t.
  const acov = (t: number) => {
    let v = 0;
    for (const c of centred) for (let i = 0; i + t < n; i++) v += c[i] * c[i + t];
    return v / (m * n);
  };
  const meanVar = (acov(0) * n) / (n - 1);
  const grand = means.reduce((a, b) => a + b, 0) / m;
  const between = m > 1 ? means.reduce((a, v) => a + (v - grand) ** 2, 0) / (m - 1) : 0;
  const varPlus = (meanVar * (n - 1)) / n + between;
  const rhoAt = (t: number) => 1 - (meanVar - acov(t)) / varPlus;
  const rho = new Float64Array(n);
  let even = 1;
  let odd = rhoAt(1);
  rho[0] = even;
  rho[1] = odd;
  let t = 1;
  for (; t < n - 3 && even + odd > 0; t += 2) {
    even = rhoAt(t + 1);
    odd = rhoAt(t + 2);
    if (even + odd >= 0) {
      rho[t + 1] = even;
      rho[t + 2] = odd;
    }
  }
  const maxT = t - 2;
  // A positive autocorrelation past the last pair kept is counted once (antithetic chains).
  if (even > 0) rho[maxT + 1] = even;
  for (let k = 1; k <= maxT - 2; k += 2) {
    if (rho[k + 1] + rho[k + 2] > rho[k - 1] + rho[k]) {
      rho[k + 1] = (rho[k - 1] + rho[k]) / 2;
      rho[k + 2] = rho[k + 1];
    }
  }
  let sum = 0;
  for (let k = 0; k <= maxT; k++) sum += rho[k];
  const total = m * n;
  return total / Math.max(-1 + 2 * sum + rho[maxT + 1], 1 / Math.log10(total));
}

/**
 * Normal scores of all draws together: Φ⁻¹((r − 3/8) / (S + 1/4)) of each draw's rank r among
 * the S draws (ties share their average rank), in the chains' shape.
 */
function normalScores(chains: number[][]): number[][] {
  const flat = chains.flat();
  const order = flat.map((_, i) => i).sort((a, b) => flat[a] - flat[b]);
  const rank = new Float64Array(flat.length);
  for (let i = 0; i < order.length;) {
    let j = i;
    while (j + 1 < order.length && flat[order[j + 1]] === flat[order[i]]) j++;
    for (let k = i; k <= j; k++) rank[order[k]] = (i + j) / 2 + 1;
    i = j + 1;
  }
  const s = flat.length;
  let at = 0;
  return chains.map((c) => c.map(() => normalQuantile((rank[at++] - 3 / 8) / (s + 1 / 4))));
}

/** numpy's default (linear) quantile of sorted values. */
function quantile(sorted: number[], p: number): number {
  const h = p * (sorted.length - 1);
  const lo = Math.floor(h);
  const hi = Math.min(lo + 1, sorted.length - 1);
  return sorted[lo] + (h - lo) * (sorted[hi] - sorted[lo]);
}

/**
 * The standard normal quantile Φ⁻¹(p), to about 1e-16 relative (Wichura 1988, algorithm AS 241,
 * PPND16: rational approximations in three ranges of p).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) {
    const r = 0.180625 - q * q;
    return (
      (q *
        (((((((2509.0809287301226727 * r + 33430.575583588128105) * r + 67265.770927008700853) * r +
          45921.953931549871457) *
          r +
          13731.693765509461125) *
          r +
          1971.5909503065514427) *
          r +
          133.14166789178437745) *
          r +
          3.387132872796366608)) /
      (((((((5226.495278852854561 * r + 28729.085735721942674) * r + 39307.89580009271061) * r +
        21213.794301586595867) *
        r +
        5394.1960214247511077) *
        r +
        687.1870074920579083) *
        r +
        42.313330701600911252) *
        r +
        1)
    );
  }
  let r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  let z: number;
  if (r <= 5) {
    r -= 1.6;
    z =
      (((((((7.7454501427834140764e-4 * r + 0.0227238449892691845833) * r +
        0.24178072517745061177) *
        r +
        1.27045825245236838258) *
        r +
        3.64784832476320460504) *
        r +
        5.7694972214606914055) *
        r +
        4.6303378461565452959) *
        r +
        1.42343711074968357734) /
      (((((((1.05075007164441684324e-9 * r + 5.475938084995344946e-4) * r +
        0.0151986665636164571966) *
        r +
        0.14810397642748007459) *
        r +
        0.68976733498510000455) *
        r +
        1.6763848301838038494) *
        r +
        2.05319162663775882187) *
        r +
        1);
  } else {
    r -= 5;
    z =
      (((((((2.01033439929228813265e-7 * r + 2.71155556874348757815e-5) * r +
        0.0012426609473880784386) *
        r +
        0.026532189526576123093) *
        r +
        0.29656057182850489123) *
        r +
        1.7848265399172913358) *
        r +
        5.4637849111641143699) *
        r +
        6.6579046435011037772) /
      (((((((2.04426310338993978564e-15 * r + 1.4215117583164458887e-7) * r +
        1.8463183175100546818e-5) *
        r +
        7.868691311456132591e-4) *
        r +
        0.0148753612908506148525) *
        r +
        0.13692988092273580531) *
        r +
        0.59983220655588793769) *
        r +
        1);
  }
  return q < 0 ? -z : z;
}
