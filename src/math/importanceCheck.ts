/**
 * A check of a variational fit's means and sds against their importance-sampling correction:
 * with weights w = p(z, data) / q(z) at q's draws, the self-normalised weighted moments estimate
 * the posterior's own. Where q is right the two agree within Monte-Carlo noise; where q is too
 * narrow, shifted or the wrong shape (an ADVI Gaussian on a funnel), they differ, in the very
 * units an accuracy comparison uses (posterior sds). Reliable while the Pareto k̂ of the weights
 * is below 0.7 (beyond, k̂ itself is the warning).
 */

/** The quantity whose moments moved most under the correction. */
export interface ImportanceCheck {
  /** The worst quantity by mean shift, and by sd ratio. */
  meanName: string;
  /** |mean_q − mean_IS| / sd_IS. */
  meanShift: number;
  sdName: string;
  /** sd_q / sd_IS, the farthest from 1 over the quantities. */
  sdRatio: number;
  /** Effective sample size of the weights, (Σw)² / Σw². */
  ess: number;
}

/**
 * `values[i]`: draw i's quantities (in `names` order); `logW[i]`: its log weight. Weights are
 * truncated at mean(w) √S (Ionides 2008) so that one draw cannot carry the estimate.
 */
export function importanceCheck(
  values: number[][],
  logW: ArrayLike<number>,
  names: string[],
): ImportanceCheck | undefined {
  const s = values.length;
  if (s < 100 || logW.length !== s) return undefined;
  let max = -Infinity;
  for (let i = 0; i < s; i++) if (logW[i] > max) max = logW[i];
  if (!Number.isFinite(max)) return undefined;
  const w = Float64Array.from({ length: s }, (_, i) =>
    Number.isFinite(logW[i]) ? Math.exp(logW[i] - max) : 0,
  );
  const cap = (w.reduce((a, b) => a + b, 0) / s) * Math.sqrt(s);
  for (let i = 0; i < s; i++) w[i] = Math.min(w[i], cap);
  const total = w.reduce((a, b) => a + b, 0);
  const ess = total ** 2 / w.reduce((a, b) => a + b * b, 0);
  let worstMean = { name: names[0], shift: 0 };
  let worstSd = { name: names[0], ratio: 1 };
  names.forEach((name, k) => {
    let m = 0;
    let mw = 0;
    for (let i = 0; i < s; i++) {
      m += values[i][k];
      mw += w[i] * values[i][k];
    }
    m /= s;
    mw /= total;
    let v = 0;
    let vw = 0;
    for (let i = 0; i < s; i++) {
      v += (values[i][k] - m) ** 2;
      vw += w[i] * (values[i][k] - mw) ** 2;
    }
    const sd = Math.sqrt(v / (s - 1));
    const sdw = Math.sqrt(vw / total);
    if (!(sdw > 0)) return;
    const shift = Math.abs(m - mw) / sdw;
    const ratio = sd / sdw;
    if (shift > worstMean.shift) worstMean = { name, shift };
    if (Math.abs(Math.log(ratio)) > Math.abs(Math.log(worstSd.ratio))) worstSd = { name, ratio };
  });
  return {
    meanName: worstMean.name,
    meanShift: worstMean.shift,
    sdName: worstSd.name,
    sdRatio: worstSd.ratio,
    ess,
  };
}
