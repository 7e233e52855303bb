import type { ImportanceCheck } from '../math/importanceCheck.js';
import type { SteinCheck } from '../math/steinCheck.js';

/**
 * The thresholds by which a variational fit's own checks are read, and the one question the
 * polish (`math/ensembleHmc.ts`) asks of them: does the fit vouch for its draws? The warnings
 * that word each failure are `compare.ts`'s `methodWarnings`.
 */

/** Pareto k̂ above which a variational fit is not to be trusted (Yao et al. 2018). */
export const PARETO_K_BAD = 0.7;
/** ... and above which its tails are short but its means and sds usable. */
export const PARETO_K_OK = 0.5;
/**
 * Largest mean shift (in sds) and sd ratio between q's moments and their importance-weighted
 * correction before a warning: a little inside the 0.1 sd / [0.9, 1.1] that counts as right, so
 * that a fit outside it is flagged despite the correction's own Monte-Carlo noise (about 0.02
 * sd with 4,000 draws).
 */
export const IS_SHIFT_MAX = 0.08;
export const IS_SD_RATIO_MAX = 1.08;
/**
 * Largest mean shift (in sds) and sd ratio between q's moments and the posterior's as Stein's
 * identities estimate them (`math/steinCheck.ts`) before a warning: as for the importance check,
 * a little inside the floor, because the estimate is exact only for a Gaussian posterior (on
 * AVB+AC's posteriordb fits within the floor its worst shift was within 0.03 sd of the true worst
 * mean error, its sd ratios 0.96-1.08 where the true worst were 0.95-1.09; README).
 */
export const STEIN_SHIFT_MAX = 0.08;
export const STEIN_SD_RATIO_MAX = 1.08;

/** Whether a Stein check's means and sds agree with the posterior's it implies. */
export function steinPasses(st: SteinCheck): boolean {
  return !st.degenerate && !steinMeanOff(st) && !steinSdOff(st);
}

/** Whether the Stein check puts q's worst mean too far from the posterior's (or nowhere). */
export function steinMeanOff(st: SteinCheck): boolean {
  return !(st.meanShift <= STEIN_SHIFT_MAX);
}

/** Whether the Stein check puts q's worst sd outside the allowed ratio to the posterior's. */
export function steinSdOff(st: SteinCheck): boolean {
  return !(Math.abs(Math.log(st.sdRatio)) <= Math.log(STEIN_SD_RATIO_MAX));
}

/**
 * The same bounds with twice the margin, for AVB's refitted draws. The refit moves q's location
 * and scale up the exact ELBO, which on a posterior q can fit brings their Stein check closer to
 * the identities (AVB+AC's 21 posteriordb fits within the floor: worst 0.10 sd and 1.06 after,
 * 0.06 and 1.06 before), so the fit's own draws are what is judged. But a refit that stops with
 * its draws still far off says the shape is wrong even where the noisier check before it passed:
 * one_comp_mm_elim_abs (README), 0.06 / 1.03 before, 0.24 / 0.72 after, log V_m's sd truly 0.69 ×.
 */
export const STEIN_REFIT_SHIFT_MAX = 2 * STEIN_SHIFT_MAX;
export const STEIN_REFIT_SD_RATIO_MAX = 1 + 2 * (STEIN_SD_RATIO_MAX - 1);

/** Whether AVB's refitted draws are off by more than twice the Stein check's margin. */
export function refitSteinOff(st: SteinCheck): boolean {
  return (
    st.degenerate === true ||
    !(st.meanShift <= STEIN_REFIT_SHIFT_MAX) ||
    !(Math.abs(Math.log(st.sdRatio)) <= Math.log(STEIN_REFIT_SD_RATIO_MAX))
  );
}

/** What a fit's checks found, as `VariationalResult` holds them. */
export interface FitChecks {
  paretoK?: number;
  importance?: ImportanceCheck;
  stein?: SteinCheck;
  steinBeforeRefit?: SteinCheck;
  /** Whether q had converged (`variational.ts`'s `Convergence`). */
  convergence?: { converged: boolean };
}

/**
 * Why a fit's draws are not to be trusted by its own checks, in a few words; undefined when
 * they pass. Read as `methodWarnings` reads them: for AVB (`avb`), whose k̂ and importance
 * weights carry its adversary's error, the Stein check of the adversarial fit's draws decides
 * (k̂ above 0.7 with a Stein check that passes is the adversary's noise on fits that are right),
 * with the refitted draws' check read at twice the margin ({@link refitSteinOff});
 * for ADVI, k̂ and the importance check as well. A fit whose q was still moving is not trusted
 * either.
 */
export function fitDistrust(r: FitChecks, avb: boolean): string | undefined {
  const st = r.steinBeforeRefit ?? r.stein;
  if (st && !steinPasses(st))
    return st.degenerate
      ? "q's draws are degenerate"
      : !Number.isFinite(st.meanShift)
        ? "the Stein check finds no posterior like a Gaussian around q's draws"
        : `the Stein check of the fit's draws (${st.meanName}'s mean ${st.meanShift.toFixed(2)} sds off, ${st.sdName}'s sd ${st.sdRatio.toFixed(2)} ×)`;
  const after = r.steinBeforeRefit ? r.stein : undefined;
  if (after && refitSteinOff(after))
    return `the Stein check of the refitted draws (${after.meanName}'s mean ${after.meanShift.toFixed(2)} sds off, ${after.sdName}'s sd ${after.sdRatio.toFixed(2)} ×)`;
  if (!avb && r.paretoK !== undefined && r.paretoK > PARETO_K_BAD)
    return `Pareto k̂ ${r.paretoK.toFixed(2)} > ${PARETO_K_BAD}`;
  const is = r.importance;
  if (
    !avb &&
    is &&
    (is.meanShift > IS_SHIFT_MAX || Math.abs(Math.log(is.sdRatio)) > Math.log(IS_SD_RATIO_MAX))
  )
    return `the importance check (${is.meanName}'s mean moves ${is.meanShift.toFixed(2)} sds, ${is.sdName}'s sd ${is.sdRatio.toFixed(2)} ×)`;
  if (r.convergence && !r.convergence.converged) return 'q had not converged';
  return undefined;
}
