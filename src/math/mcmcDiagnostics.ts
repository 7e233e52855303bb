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
  return rankRhatOf(split, normalScores(split));
}

/** {@link rankNormalizedRhat} of split chains whose bulk normal scores are already known. */
function rankRhatOf(split: number[][], scores: number[][]): number {
  const all = split.flat().sort((a, b) => a - b);
  const h = all.length / 2;
  // As numpy's median: the mean of the middle two, so that they tie once folded.
  const median = all.length % 2 ? all[Math.floor(h)] : (all[h - 1] + all[h]) / 2;
  const folded = split.map((c) => c.map((v) => Math.abs(v - median)));
  return Math.max(rhatOf(scores), rhatOf(normalScores(folded)));
}

/**
 * The three figures a sampler reports per quantity: {@link rankNormalizedRhat},
 * {@link essBulk} and {@link essTail}, the split chains and their normal scores computed once.
 */
export function chainDiagnostics(chains: number[][]): {
  rhat: number;
  essBulk: number;
  essTail: number;
} {
  // A quantity undefined in some draws (a generated quantity whose block failed there) has no
  // ranks to compare: NaN, as ArviZ gives.
  if (chains.some((c) => c.some(Number.isNaN))) return { rhat: NaN, essBulk: NaN, essTail: NaN };
  const split = splitChains(chains);
  const scores = normalScores(split);
  return { rhat: rankRhatOf(split, scores), essBulk: essOf(scores), essTail: essTail(chains) };
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
  let lo = Infinity;
  let hi = -Infinity;
  for (const v of flat) {
    lo = Math.min(lo, v);
    hi = Math.max(hi, v);
  }
  if (hi - lo < 1e-15) return m * n;
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

// AS 241's coefficients (Wichura 1988), lowest power first, as the doubles nearest to the
// published 20-digit values: numerator and denominator for |p − ½| ≤ 0.425, then for the tails
// with r = √(−log min(p, 1 − p)) ≤ 5 and beyond.
const CENTRAL = [
  [
    3.3871328727963665, 133.14166789178438, 1971.5909503065513, 13731.69376550946,
    45921.95393154987, 67265.7709270087, 33430.57558358813, 2509.0809287301227,
  ],
  [
    1, 42.31333070160091, 687.1870074920579, 5394.196021424751, 21213.794301586597,
    39307.89580009271, 28729.085735721943, 5226.495278852854,
  ],
];
const NEAR = [
  [
    1.4234371107496835, 4.630337846156546, 5.769497221460691, 3.6478483247632045,
    1.2704582524523684, 0.2417807251774506, 0.022723844989269184, 0.0007745450142783414,
  ],
  [
    1, 2.053191626637759, 1.6763848301838038, 0.6897673349851, 0.14810397642748008,
    0.015198666563616457, 0.0005475938084995345, 1.0507500716444169e-9,
  ],
];
const FAR = [
  [
    6.657904643501103, 5.463784911164114, 1.7848265399172913, 0.29656057182850487,
    0.026532189526576124, 0.0012426609473880784, 0.000027115555687434876, 2.0103343992922881e-7,
  ],
  [
    1, 0.599832206555888, 0.1369298809227358, 0.014875361290850615, 0.0007868691311456133,
    0.000018463183175100548, 1.421511758316446e-7, 2.0442631033899397e-15,
  ],
];

/** A ratio of polynomials in x (coefficients lowest power first), by Horner's rule. */
function rational([num, den]: number[][], x: number): number {
  let a = 0;
  let b = 0;
  for (let i = num.length - 1; i >= 0; i--) {
    a = a * x + num[i];
    b = b * x + den[i];
  }
  return a / b;
}

/**
 * The standard normal quantile Φ⁻¹(p), to about 1e-16 relative (Wichura 1988, algorithm AS 241,
 * PPND16: rational approximations in three ranges of p).
 */
export function normalQuantile(p: number): number {
  if (!(p > 0 && p < 1)) return p === 0 ? -Infinity : p === 1 ? Infinity : NaN;
  const q = p - 0.5;
  if (Math.abs(q) <= 0.425) return q * rational(CENTRAL, 0.180625 - q * q);
  const r = Math.sqrt(-Math.log(q < 0 ? p : 1 - p));
  const z = r <= 5 ? rational(NEAR, r - 1.6) : rational(FAR, r - 5);
  return q < 0 ? -z : z;
}
