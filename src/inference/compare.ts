import { Rng } from '../random/rng.js';
import { AvbUserError } from '../errors.js';
import { knnKl } from './knnKl.js';
import type { BayesianModel, Draws } from './model.js';
import type { SteinCheck } from '../math/steinCheck.js';
import { DEFAULT_NUTS, nuts } from './nuts.js';
import type { ChainPool, NutsAttempt, NutsChain, NutsOptions } from './nuts.js';
import { advi, avbInference } from './variational.js';
import { ELSEWHERE_MAX, type ModeSearch } from './laplace.js';
import { DEFAULT_ENSEMBLE_HMC } from '../math/ensembleHmc.js';
import {
  IS_SD_RATIO_MAX,
  IS_SHIFT_MAX,
  PARETO_K_BAD,
  PARETO_K_OK,
  STEIN_REFIT_SD_RATIO_MAX,
  STEIN_REFIT_SHIFT_MAX,
  STEIN_SD_RATIO_MAX,
  STEIN_SHIFT_MAX,
  refitSteinOff,
  steinMeanOff,
  steinPasses,
  steinSdOff,
} from './fitTrust.js';
import type {
  AvbInferenceOptions,
  PolishMode,
  PolishSummary,
  FitPersistence,
  InferenceProgress,
  VariationalResult,
} from './variational.js';

export const INFERENCE_METHODS = [
  'avb',
  'avb-ac',
  'advi-meanfield',
  'advi-fullrank',
  'nuts',
] as const;
export type InferenceMethod = (typeof INFERENCE_METHODS)[number];

export interface InferOptions {
  /** Draws to return (NUTS: split over its chains). */
  samples: number;
  seed: number;
  /** Iterations of AVB and ADVI (their defaults: 10,000). */
  iterations?: number;
  /** AVB and ADVI: stop once the ELBO has converged (default true; false: run `iterations`). */
  stopWhenConverged?: boolean;
  /** The variational methods: HMC polish of q's draws (defaults: AVB `auto`, ADVI `never`). */
  polish?: PolishMode;
  /** Every method: starts of the Laplace fit's mode search (default 4). */
  modeStarts?: number;
  /**
   * Every method: `laplace` (default) works in coordinates whitened by a Laplace fit, `none` in
   * the model's own (see `VariationalOptions.precondition`).
   */
  precondition?: 'laplace' | 'none';
  nuts?: Partial<NutsOptions>;
  /** AVB settings beyond the method's defaults (learning rates, contrast, ...). */
  avb?: Partial<AvbInferenceOptions>;
  onProgress?: InferenceProgress;
  /** Checkpoints and resuming: the variational methods' fit, or NUTS's chains. */
  persistence?: { fit?: FitPersistence; nuts?: NutsPersistence };
  /** NUTS: where its chains run (see {@link NutsOptions.pool}); absent: here, in turn. */
  chainPool?: ChainPool;
}

/** NUTS's checkpoints: its finished chains, and what the run spent up to each (for the summary). */
export type NutsPersistence = NonNullable<NutsOptions['persistence']> & {
  /** What the run's earlier segments spent, up to the checkpoint this one resumes from. */
  spent?: Spent;
  /** What the run has spent so far, called before each `onChain` and `onAttempt`. */
  onSpent?: (spent: Spent) => void;
};

export interface MethodResult {
  /** `interrupted`: stopped through `persistence` (Ctrl-C); no draws. */
  status: 'completed' | 'interrupted';
  method: InferenceMethod;
  draws: Draws;
  seconds: number;
  /**
   * Log-density evaluations (with their gradients) the method used: over the whole run, segments
   * before a resume included, as {@link runInference} returns them.
   */
  evaluations?: number;
  /** NUTS: rank-normalised split R-hat, bulk and tail ESS per quantity (Vehtari et al. 2021). */
  rhat?: number[];
  ess?: number[];
  essTail?: number[];
  divergences?: number;
  /** NUTS: the kept sampling's targetAccept, and the samplings rejected for their divergences. */
  targetAccept?: number;
  attempts?: NutsAttempt[];
  /** NUTS: kept transitions that reached `maxTreeDepth`. */
  treedepthHits?: number;
  maxTreeDepth?: number;
  /** Variational methods: Pareto k̂ of p / q at q's draws (see `VariationalResult`). */
  paretoK?: number;
  /** How the method's coordinates were chosen (variational methods and NUTS). */
  preconditioning?: string;
  /** What the Laplace fit's mode search found: its starts, modes and the mass elsewhere. */
  modeSearch?: ModeSearch;
  /** Variational methods: the ELBO estimate every 100 iterations (this segment of a run). */
  elboTrace?: number[];
  /** Variational methods: q's moments against their importance-weighted correction. */
  importance?: VariationalResult['importance'];
  /** Variational methods: q's moments against the posterior's from Stein's identities. */
  stein?: VariationalResult['stein'];
  /** AVB: what the affine refit of q's draws did. */
  affineRefit?: VariationalResult['affineRefit'];
  /** AVB with the affine refit: the Stein check of the adversarial fit's draws. */
  steinBeforeRefit?: VariationalResult['steinBeforeRefit'];
  /** Variational methods: what the HMC polish of q's draws did (absent when it did not run). */
  polish?: VariationalResult['polish'];
  /** Variational methods: iterations run (fewer than asked when stopped on convergence). */
  iterations?: number;
  /** Variational methods: whether the ELBO had stopped rising. */
  convergence?: VariationalResult['convergence'];
}

/**
 * The model with a count of its log-density evaluations (each row of a `logJoint` batch, each
 * `logDensityAndGradient` call, the gradient's included): the cost measure that does not
 * depend on the machine.
 */
export function countingEvaluations(model: BayesianModel): {
  model: BayesianModel;
  count: () => number;
} {
  let n = 0;
  const exact = model.logDensityAndGradient;
  const rows = model.logDensityAndGradientRows;
  return {
    model: {
      ...model,
      logJoint: (z) => {
        n += z.shape[0];
        return model.logJoint(z);
      },
      ...(exact
        ? {
            logDensityAndGradient: (z: Float64Array) => {
              n++;
              return exact(z);
            },
          }
        : {}),
      ...(rows
        ? {
            logDensityAndGradientRows: (zs: Float64Array, count: number) => {
              n += count;
              return rows(zs, count);
            },
          }
        : {}),
    },
    count: () => n,
  };
}

/**
 * Runs one inference method on a model; returns its draws of the reported quantities. The time
 * and density evaluations are the whole run's: a variational fit's checkpoints and NUTS's carry
 * what the segments before spent up to the last one ({@link Spent}), so a resumed run's summary
 * does not report its last segment alone (work redone after a resume, the warm start's mode
 * search, a polish or a chain stopped part-way, counts again).
 */
export async function runInference(
  model: BayesianModel,
  method: InferenceMethod,
  o: InferOptions,
): Promise<MethodResult> {
  const counted = countingEvaluations(model);
  const began = performance.now();
  const fit = o.persistence?.fit;
  const chains = o.persistence?.nuts;
  const before =
    method === 'nuts'
      ? { state: undefined, spent: chains?.spent ?? { seconds: 0, evaluations: 0 } }
      : spentBefore(fit?.resumeFrom);
  // Evaluations of this segment's NUTS chains that ran in workers, as they finish.
  let elsewhere = 0;
  const spent = (): Spent => ({
    seconds: before.spent.seconds + (performance.now() - began) / 1000,
    evaluations: before.spent.evaluations + counted.count() + elsewhere,
  });
  const persistence = {
    fit: fit && {
      ...fit,
      resumeFrom: before.state,
      ...(fit.onSnapshot
        ? {
            onSnapshot: (s: unknown, i: number) => fit.onSnapshot!({ state: s, spent: spent() }, i),
          }
        : {}),
    },
    nuts: chains && {
      ...chains,
      onChain: (chain: NutsChain, index: number, away: boolean) => {
        if (away) elsewhere += chain.gradientEvaluations;
        chains.onSpent?.(spent());
        chains.onChain?.(chain, index, away);
      },
      onAttempt: (attempt: NutsAttempt) => {
        chains.onSpent?.(spent());
        chains.onAttempt?.(attempt);
      },
    },
  };
  const r = await runMethod(counted.model, method, { ...o, persistence });
  return {
    ...r,
    evaluations: before.spent.evaluations + counted.count() + (r.evaluations ?? 0),
    seconds: before.spent.seconds + r.seconds,
  };
}

/** What a run's earlier segments spent, up to the checkpoint it resumes from. */
export interface Spent {
  seconds: number;
  evaluations: number;
}

/**
 * The fit's own state in a checkpoint and what was spent before it; a checkpoint written before
 * checkpoints carried it holds the state alone (nothing counted before).
 */
function spentBefore(resumeFrom: unknown): { state: unknown; spent: Spent } {
  const c = resumeFrom as { state?: unknown; spent?: Spent } | undefined;
  if (c && typeof c === 'object' && 'state' in c && c.spent)
    return { state: c.state, spent: c.spent };
  return { state: resumeFrom, spent: { seconds: 0, evaluations: 0 } };
}

async function runMethod(
  model: BayesianModel,
  method: InferenceMethod,
  o: InferOptions,
): Promise<MethodResult> {
  const common = {
    samples: o.samples,
    seed: o.seed,
    onProgress: o.onProgress,
    persistence: o.persistence?.fit,
    ...(o.iterations !== undefined ? { iterations: o.iterations } : {}),
    ...(o.stopWhenConverged !== undefined ? { stopWhenConverged: o.stopWhenConverged } : {}),
    ...(o.modeStarts !== undefined ? { modeStarts: o.modeStarts } : {}),
    ...(o.precondition !== undefined ? { precondition: o.precondition } : {}),
    ...(o.polish !== undefined ? { polish: o.polish } : {}),
  };
  switch (method) {
    case 'nuts': {
      const chains = o.nuts?.chains ?? 4;
      const r = await nuts(model, {
        seed: o.seed,
        onProgress: o.onProgress,
        samples: Math.ceil(o.samples / chains),
        ...(o.modeStarts !== undefined ? { modeStarts: o.modeStarts } : {}),
        ...(o.precondition !== undefined ? { precondition: o.precondition } : {}),
        ...o.nuts,
        persistence: o.persistence?.nuts,
        pool: o.chainPool,
      });
      return {
        status: r.status,
        method,
        draws: r.draws,
        seconds: r.seconds,
        rhat: r.rhat,
        ess: r.ess,
        essTail: r.essTail,
        divergences: r.divergences,
        targetAccept: r.targetAccept,
        attempts: r.attempts,
        treedepthHits: r.treedepthHits,
        maxTreeDepth: o.nuts?.maxTreeDepth ?? DEFAULT_NUTS.maxTreeDepth,
        preconditioning: r.preconditioning,
        ...(r.modeSearch ? { modeSearch: r.modeSearch } : {}),
        // Those of chains run elsewhere (runInference adds the ones counted here).
        evaluations: r.evaluationsElsewhere ?? 0,
      };
    }
    case 'advi-meanfield':
    case 'advi-fullrank': {
      const kind = method === 'advi-meanfield' ? 'meanfield' : 'fullrank';
      const r = await advi(model, { ...common, kind });
      return variationalResult(method, r);
    }
    case 'avb':
    case 'avb-ac': {
      const r = await avbInference(model, {
        ...(method === 'avb' ? { contrast: 'none' as const } : {}),
        ...common,
        ...o.avb,
      });
      return variationalResult(method, r);
    }
  }
}

function variationalResult(method: InferenceMethod, r: VariationalResult): MethodResult {
  return {
    status: r.status,
    method,
    draws: r.draws,
    seconds: r.seconds,
    paretoK: r.paretoK,
    preconditioning: r.preconditioning,
    ...(r.modeSearch ? { modeSearch: r.modeSearch } : {}),
    convergence: r.convergence,
    iterations: r.iterations,
    importance: r.importance,
    stein: r.stein,
    ...(r.affineRefit ? { affineRefit: r.affineRefit } : {}),
    ...(r.steinBeforeRefit ? { steinBeforeRefit: r.steinBeforeRefit } : {}),
    ...(r.polish ? { polish: r.polish } : {}),
    elboTrace: r.elboTrace,
  };
}

/** The Stein check's warnings: empty when q's means and sds agree with the posterior's. */
function steinVerdict(st: SteinCheck): string[] {
  const out: string[] = [];
  const why = "that q's draws and the model's gradient imply (Stein's identities)";
  if (st.degenerate)
    return [
      `q's draws have a singular covariance (they lie on a lower-dimensional set, as no posterior with a density does): q is degenerate; do not trust it — run NUTS`,
    ];
  if (!Number.isFinite(st.meanShift))
    return [
      `q's draws and the model's gradient imply no posterior curved like a Gaussian around them (Stein's identities): q is far off the posterior; do not trust it — run NUTS, or more iterations`,
    ];
  if (steinMeanOff(st))
    out.push(
      `q's mean of ${st.meanName} is ${st.meanShift.toFixed(2)} sds from the posterior mean ${why}, more than ${STEIN_SHIFT_MAX}: q is off the posterior; do not trust its means — run NUTS, or more iterations`,
    );
  if (steinSdOff(st))
    out.push(
      `q's sd of ${st.sdName} is ${st.sdRatio.toFixed(2)} × the posterior sd ${why} (outside ${(1 / STEIN_SD_RATIO_MAX).toFixed(2)}..${STEIN_SD_RATIO_MAX}): q is ${st.sdRatio < 1 ? 'too narrow' : 'too wide'}; do not trust its sds — run NUTS, or more iterations`,
    );
  return out;
}

/** The Stein check's warnings of a fit: its own draws', or AVB's before and after its refit. */
function steinWarnings(r: MethodResult): string[] | undefined {
  // With AVB's affine refit, the refitted draws pass the Stein check by construction where the
  // refit converged, and where it stopped short the check sees a step of an ELBO ascent that
  // only ever brought q closer to p (on posteriordb's eight schools it rose from 0.06 to 0.10
  // sd on a fit within 0.04 sd of the truth): the adversarial fit's own draws are judged, which
  // vouch for the shape the refit kept.
  // A refit that left q's draws far off, though, says the shape is wrong (fitTrust.ts).
  const before = r.steinBeforeRefit;
  return before
    ? [
        ...steinVerdict(before).map(
          (w) =>
            `before the affine refit (which moved q's location and scale to where the exact ELBO wants them, but kept the fit's shape), ${w}`,
        ),
        ...(r.stein && steinPasses(before) && refitSteinOff(r.stein)
          ? [refitSteinWarning(r.stein)]
          : []),
      ]
    : r.stein
      ? steinVerdict(r.stein)
      : undefined;
}

/** The refitted draws' Stein check, off by more than twice its margin where the fit's passed. */
function refitSteinWarning(st: SteinCheck): string {
  const off = st.degenerate
    ? 'degenerate'
    : `${st.meanName}'s mean ${st.meanShift.toFixed(2)} sds off, ${st.sdName}'s sd ${st.sdRatio.toFixed(2)} ×`;
  return `after the affine refit q's draws still fail the Stein check by more than twice its margin (${off}; bounds ${STEIN_REFIT_SHIFT_MAX} sd and ${STEIN_REFIT_SD_RATIO_MAX} ×), though the fit's own draws passed it: q's shape is not the posterior's; do not trust its sds and tails — run NUTS, or --polish always`;
}

/** Largest rank-normalised split R-hat of a converged NUTS run (Vehtari et al. 2021). */
export const RHAT_MAX = 1.01;
/** Fewest effective draws (all chains, bulk and tail) for stable posterior summaries. */
export const ESS_MIN = 400;

/**
 * What a user must not miss about a result, in words: a variational fit whose Pareto k̂ says q
 * misses posterior mass; NUTS's divergences, chains that disagree (R-hat) or too few effective
 * draws. Empty when the result can be trusted by these checks.
 */
export function methodWarnings(r: MethodResult, names: string[]): string[] {
  const p = r.polish;
  // A polish that forgot q's draws replaced them: the fit's checks no longer describe them.
  if (p && p.converged) return [...polishWarnings(p), ...elsewhereWarnings(r)];
  const out: string[] = p ? polishWarnings(p) : [];
  const k = r.paretoK;
  const avb = r.method === 'avb' || r.method === 'avb-ac';
  const stein = steinWarnings(r);
  // AVB's k̂ comes from its adversary's estimate of log q: read with the Stein check. That check
  // does not see a long tail, so the warning says what it cannot vouch for: a two-compartment PK
  // ODE (README) passed it at 1.00 with log CL's sd 0.84 × NUTS's (skewness −2.4, q's −0.8).
  const avbSteinPassed = avb && stein?.length === 0;
  if (k !== undefined && k > PARETO_K_BAD && avbSteinPassed)
    out.push(
      `Pareto k̂ ${k.toFixed(2)} > ${PARETO_K_BAD} with AVB's estimate of log q (its adversary's, whose error alone raises k̂ on fits that are right): q may miss tail mass; its means and sds passed the Stein check, which does not see a long tail, so where the posterior is skewed its sds and extreme quantiles can still be short — --polish always moves its draws to the posterior by HMC, or run NUTS`,
    );
  else if (k !== undefined && k > PARETO_K_BAD)
    out.push(
      `Pareto k̂ ${k.toFixed(2)} > ${PARETO_K_BAD}: q misses posterior mass (too narrow, a missed mode or tail); do not trust its means and sds — run NUTS, or more iterations`,
    );
  // AVB's k̂ in (0.5, 0.7] with a Stein check that passes is its adversary's noise (8 of AVB+AC's
  // 24 fits within the floor on posteriordb, README): no warning.
  else if (k !== undefined && k > PARETO_K_OK && !avbSteinPassed)
    out.push(
      `Pareto k̂ ${k.toFixed(2)} > ${PARETO_K_OK}: q's tails are lighter than the posterior's; its means are usable, its tails and extreme quantiles less so`,
    );
  if (stein) out.push(...stein);
  // AVB's weights use its adversary's estimate of log q, whose error moves the weighted moments
  // by 0.1-0.3 sd on fits that are right (measured on posteriordb): there only k̂ warns.
  const is = avb ? undefined : r.importance;
  if (is && !(k !== undefined && k > PARETO_K_BAD)) {
    if (is.meanShift > IS_SHIFT_MAX)
      out.push(
        `q's mean of ${is.meanName} moves by ${is.meanShift.toFixed(2)} posterior sds under importance weighting (more than ${IS_SHIFT_MAX}): q is off the posterior; do not trust its means — run NUTS, or more iterations`,
      );
    if (Math.abs(Math.log(is.sdRatio)) > Math.log(IS_SD_RATIO_MAX))
      out.push(
        `q's sd of ${is.sdName} is ${is.sdRatio.toFixed(2)} × its importance-weighted value (outside ${(1 / IS_SD_RATIO_MAX).toFixed(2)}..${IS_SD_RATIO_MAX}): q is ${is.sdRatio < 1 ? 'too narrow' : 'too wide'}; do not trust its sds — run NUTS, or more iterations`,
      );
  }
  out.push(...elsewhereWarnings(r));
  const c = r.convergence;
  if (c && !(c.elboConverged ?? c.converged))
    out.push(
      Number.isFinite(c.rise)
        ? `the ELBO was still rising over the last fifth of the iterations (by ${c.rise.toFixed(3)} ± ${c.se.toFixed(3)} nats): q has not converged; run more --iterations`
        : 'too few iterations (under 500) to tell whether q converged; run more --iterations',
    );
  if (c?.qShift && !c.qShift.stable)
    out.push(
      `q was still moving over the fit's last part (between the halves of its pooled draws a mean moved by ${c.qShift.mean.toFixed(2)} sds, an sd by ${(100 * (Math.exp(c.qShift.logSd) - 1)).toFixed(0)}%): q has not converged; run more --iterations`,
    );
  if (r.divergences) out.push(divergenceWarning(r));
  if (r.treedepthHits)
    out.push(
      `${r.treedepthHits} transitions hit the maximum tree depth ${r.maxTreeDepth}: NUTS was cut short there and explores slowly; reparameterise the model (or it is badly scaled)`,
    );
  // The worst defined figure (a constant quantity's R-hat is NaN, and so is one undefined in
  // some draws: neither may hide the others).
  const worst = (v: number[] | undefined, pick: (a: number, b: number) => boolean) =>
    v?.reduce(
      (best, x, i) => (!Number.isNaN(x) && (Number.isNaN(v[best]) || pick(x, v[best])) ? i : best),
      0,
    );
  const r1 = worst(r.rhat, (a, b) => a > b);
  if (r.rhat && r1 !== undefined && r.rhat[r1] > RHAT_MAX)
    out.push(
      `R-hat ${r.rhat[r1].toFixed(3)} > ${RHAT_MAX} for ${names[r1]}: the chains disagree; run longer (--warmup, --samples) or check for several modes`,
    );
  for (const [what, ess] of [
    ['bulk', r.ess],
    ['tail', r.essTail],
  ] as const) {
    const e1 = worst(ess, (a, b) => a < b);
    if (ess && e1 !== undefined && ess[e1] < ESS_MIN)
      out.push(
        `${what} effective sample size ${ess[e1].toFixed(0)} < ${ESS_MIN} for ${names[e1]}: too few independent draws for stable ${what === 'bulk' ? 'means and medians' : 'tail quantiles'}; draw more`,
      );
  }
  return out;
}

/** The mode search's: modes the fit (or NUTS's start) did not cover. */
function elsewhereWarnings(r: MethodResult): string[] {
  const m = r.modeSearch;
  if (!(m && m.elsewhere > ELSEWHERE_MAX)) return [];
  return [
    `the posterior has at least ${m.modes} modes: the mode search from ${m.starts} starts found them, and the ones not fitted hold about ${(100 * m.elsewhere).toFixed(0)}% of the mass by their Laplace approximations; this ${r.method === 'nuts' ? 'run started its chains at the main one' : 'fit is around the main one'} and may miss the others — compare runs with other seeds, or reparameterise the model`,
  ];
}

/**
 * Divergent proposals of the polish, as a fraction of all, above which it warns: its chains
 * then could not enter part of the posterior (as NUTS's divergences say). On posteriordb's GP,
 * whose ridge makes NUTS diverge at Stan's default target, the polish left 6-10 in ~40,000
 * (README); any NUTS divergence warns, but there one in 4,000 draws.
 */
export const POLISH_DIVERGENT_MAX = 1e-3;

/**
 * The polish's: it could not run, did not forget q's draws, or diverged; and where it did all
 * it should after a fit that failed its checks, the milder warning that the tails may still be
 * short: it stops on what the bulk remembers, and a heavy tail fills last (BUGS's surgical,
 * whose σ² has an inverse-gamma(0.001, 0.001) prior: σ²'s sd went from 0.57 to 0.87 of the
 * reference's, σ's to 0.98; README).
 */
function polishWarnings(p: PolishSummary): string[] {
  const out: string[] = [];
  if (p.fitFailed && p.converged && !p.skipped)
    out.push(
      `the fit's own checks failed (${p.reason}), so HMC moved its draws to the posterior (${p.iterations} transitions; they forgot q's after ${p.forgotAt}): their means and sds are the chains', but a heavy tail may still be short; for tail quantiles run NUTS`,
    );
  if (p.skipped)
    out.push(
      `HMC could not polish the fit's draws (${p.skipped}; run because: ${p.reason}): do not trust them — run NUTS`,
    );
  else if (!p.converged && p.forgotAt !== undefined)
    out.push(
      `HMC from the fit's draws (run because: ${p.reason}) forgot them after ${p.forgotAt} transitions, but after ${p.iterations} its chains' means or spread were still moving together (by up to ${p.drift.toFixed(2)} sds, or √2 × log sd, over the second half of its run): the draws lie between q's and the posterior's; do not trust them — run NUTS`,
    );
  else if (!p.converged)
    out.push(
      `HMC from the fit's draws (run because: ${p.reason}) had not forgotten them after ${p.iterations} transitions (their correlation with q's draws ${p.memory.toFixed(2)}, forgotten below ${DEFAULT_ENSEMBLE_HMC.forget}): the draws lie between q's and the posterior's; do not trust them — run NUTS`,
    );
  if (p.proposals > 0 && p.divergent / p.proposals > POLISH_DIVERGENT_MAX)
    out.push(
      `${p.divergent} of the HMC polish's ${p.proposals} proposals diverged: its chains may have missed part of the posterior; run NUTS (at --max-target-accept 0.99), or reparameterise the model`,
    );
  return out;
}

/** NUTS's divergences, with the samplings rejected for theirs and what is left to try. */
function divergenceWarning(r: MethodResult): string {
  const before = r.attempts?.length
    ? ` (it sampled again after ${r.attempts.map((a) => `${a.divergences} at ${a.targetAccept}`).join(', ')})`
    : '';
  const fix =
    r.targetAccept !== undefined && r.targetAccept < 0.99
      ? 'raise --max-target-accept (to 0.99) or reparameterise the model'
      : 'reparameterise the model (a non-centred form, tighter priors)';
  return `${r.divergences} divergent transitions after warm-up at target-accept ${r.targetAccept ?? '?'}${before}: NUTS may have missed part of the posterior; ${fix}`;
}

export interface QuantitySummary {
  mean: number;
  sd: number;
  q2_5: number;
  q25: number;
  q50: number;
  q75: number;
  q97_5: number;
  /**
   * MCMC only: rank-normalised split R-hat, bulk and tail effective sample sizes (ArviZ's
   * `az.summary` columns r_hat, ess_bulk and ess_tail).
   */
  rhat?: number;
  ess?: number;
  essTail?: number;
}

/** Posterior mean, sd and quantiles (2.5, 25, 50, 75, 97.5 %) per reported quantity. */
export function posteriorSummary(r: MethodResult): Record<string, QuantitySummary> {
  const out: Record<string, QuantitySummary> = {};
  r.draws.names.forEach((name, k) => {
    const v = r.draws.values.map((row) => row[k]).sort((a, b) => a - b);
    // NaN in some draws (a generated quantity whose block failed there): every figure NaN,
    // not quantiles of an order that NaN breaks.
    if (v.some(Number.isNaN)) v.fill(NaN);
    const n = v.length;
    const mean = v.reduce((a, b) => a + b, 0) / n;
    const sd = Math.sqrt(v.reduce((a, b) => a + (b - mean) ** 2, 0) / (n - 1));
    const q = (p: number) => v[Math.min(n - 1, Math.max(0, Math.round(p * (n - 1))))];
    out[name] = {
      mean,
      sd,
      q2_5: q(0.025),
      q25: q(0.25),
      q50: q(0.5),
      q75: q(0.75),
      q97_5: q(0.975),
    };
    if (r.rhat) out[name].rhat = r.rhat[k];
    if (r.ess) out[name].ess = r.ess[k];
    if (r.essTail) out[name].essTail = r.essTail[k];
  });
  return out;
}

/** A Stein check as `summary.json` has it. */
function steinSummary(st: SteinCheck) {
  return {
    meanShift: finiteOrString(st.meanShift),
    meanShiftOf: st.meanName,
    sdRatio: finiteOrString(st.sdRatio),
    sdRatioOf: st.sdName,
  };
}

/** A method's result as `summary.json` holds it. */
export function methodSummary(model: BayesianModel, r: MethodResult) {
  return {
    model: model.name,
    ...(model.notes?.length ? { notes: model.notes } : {}),
    method: r.method,
    seconds: r.seconds,
    ...(r.evaluations !== undefined ? { evaluations: r.evaluations } : {}),
    draws: r.draws.values.length,
    ...(r.divergences !== undefined ? { divergences: r.divergences } : {}),
    ...(r.targetAccept !== undefined ? { targetAccept: r.targetAccept } : {}),
    // Samplings rejected for their divergences before the one kept (NUTS).
    ...(r.attempts?.length
      ? {
          rejectedSamplings: r.attempts.map((a) => ({
            targetAccept: a.targetAccept,
            divergences: a.divergences,
          })),
        }
      : {}),
    ...(r.treedepthHits !== undefined ? { treedepthHits: r.treedepthHits } : {}),
    ...(r.paretoK !== undefined ? { paretoK: finiteOrString(r.paretoK) } : {}),
    ...(r.preconditioning !== undefined ? { preconditioning: r.preconditioning } : {}),
    ...(r.modeSearch
      ? {
          modeSearch: {
            starts: r.modeSearch.starts,
            modes: r.modeSearch.modes,
            massElsewhere: Number(r.modeSearch.elsewhere.toPrecision(3)),
          },
        }
      : {}),
    ...(r.iterations !== undefined ? { iterations: r.iterations } : {}),
    ...(r.importance !== undefined
      ? {
          importanceCheck: {
            meanShift: Number(r.importance.meanShift.toFixed(3)),
            meanShiftOf: r.importance.meanName,
            sdRatio: Number(r.importance.sdRatio.toFixed(3)),
            sdRatioOf: r.importance.sdName,
            ess: Math.round(r.importance.ess),
          },
        }
      : {}),
    ...(r.stein !== undefined ? { steinCheck: steinSummary(r.stein) } : {}),
    ...(r.affineRefit !== undefined
      ? {
          affineRefit: {
            steps: r.affineRefit.steps,
            elboGain: Number(r.affineRefit.gain.toFixed(4)),
            meanMoved: Number(r.affineRefit.meanMoved.toFixed(3)),
            sdRatio: Number(r.affineRefit.sdRatio.toFixed(3)),
            converged: r.affineRefit.converged,
          },
        }
      : {}),
    ...(r.steinBeforeRefit !== undefined
      ? { steinCheckBeforeRefit: steinSummary(r.steinBeforeRefit) }
      : {}),
    ...(r.polish !== undefined ? { polish: polishSummary(r.polish) } : {}),
    ...(r.convergence !== undefined ? { converged: r.convergence.converged } : {}),
    // AVB's pooled draws: how far q moved between the halves of the window (in q's sds).
    ...(r.convergence?.qShift
      ? {
          qShift: {
            mean: Number(r.convergence.qShift.mean.toFixed(3)),
            logSd: Number(r.convergence.qShift.logSd.toFixed(3)),
          },
        }
      : {}),
    posterior: posteriorSummary(r),
    /** Empty when the checks of {@link methodWarnings} pass; also printed by `avb infer`. */
    warnings: [
      ...withAdvice(methodWarnings(r, r.draws.names), model),
      ...generatedWarnings(r.draws, model),
    ],
  };
}

/**
 * A warning when generated quantities are NaN in some draws: where the block threw (a family's
 * parameter outside its domain, a declared bound broken, `reject`), or computed a NaN.
 */
export function generatedWarnings(draws: Draws, model: BayesianModel): string[] {
  const g = model.generatedQuantities;
  if (!g) return [];
  const columns = g.names.map((n) => draws.names.indexOf(n)).filter((i) => i >= 0);
  const bad = draws.values.filter((row) => columns.some((i) => Number.isNaN(row[i]))).length;
  if (bad === 0) return [];
  const error = g.lastError();
  return [
    `generated quantities are NaN in ${bad} of ${draws.values.length} draws${error ? ` (the block failed there, the last time with: ${error})` : ''}; their summaries are NaN, the parameters' are not affected`,
  ];
}

/**
 * The warnings, and one more for a centred hierarchy (a funnel; `avb infer --centred`): NUTS and
 * variational fits can miss its neck with no other sign. BUGS's seeds as written: NUTS, 4 ×
 * 10,000 draws and no divergence, put 0.06% of tau's mass above 1,000 where the exact marginal
 * (quadrature) has 0.93%, and its sd at 0.44 of the exact one; non-centred, 0.93% (README).
 */
function withAdvice(warnings: string[], model: BayesianModel): string[] {
  const [funnels, ridges] = [model.centredHierarchies ?? [], model.centredLocations ?? []];
  const are = (names: readonly string[]) =>
    `${names.join(', ')} ${names.length > 1 ? 'are' : 'is'}`;
  return [
    ...warnings,
    ...(funnels.length > 0
      ? [
          `${are(funnels)} sampled as a centred hierarchy (a funnel, whose neck NUTS and variational fits can miss with no other warning); run it without --centred, which avb samples non-centred`,
        ]
      : []),
    ...(ridges.length > 0
      ? [
          `${are(ridges)} sampled as written, a normal whose location is a function of other parameters (a curved ridge, whose arms NUTS and variational fits can miss with no other warning); run it without --centred, which avb samples non-centred`,
        ]
      : []),
  ];
}

/** The polish's figures for `summary.json`, rounded. */
function polishSummary(p: PolishSummary) {
  return {
    reason: p.reason,
    fitFailed: p.fitFailed,
    ...(p.skipped ? { skipped: p.skipped } : {}),
    transitions: p.iterations,
    ...(p.forgotAt !== undefined ? { forgotAt: p.forgotAt } : {}),
    converged: p.converged,
    memory: Number(p.memory.toFixed(3)),
    drift: finiteOrString(p.drift),
    stepSize: finiteOrString(p.stepSize),
    acceptance: finiteOrString(p.acceptance),
    divergent: p.divergent,
    proposals: p.proposals,
    meanMoved: Number(p.meanMoved.toFixed(3)),
    sdRatio: Number(p.sdRatio.toFixed(3)),
    seconds: Number(p.seconds.toFixed(1)),
  };
}

/** A figure for JSON, which has no Infinity or NaN: those are written as strings. */
function finiteOrString(v: number): number | string {
  return Number.isFinite(v) ? Number(v.toFixed(3)) : String(v);
}

/** A marginal compared with NUTS: its label (`mu`, `(mu, tau)`) and the quantities it spans. */
export interface ComparedMarginal {
  label: string;
  columns: string[];
}

/**
 * The marginals compared for any model: each of its first three reported quantities, and the
 * joint of its first two (or of `pair`). For the paper's eight schools: mu, tau, theta_1 and
 * (mu, tau), as in its Table 1.
 */
export function comparedMarginals(model: BayesianModel, pair?: string[]): ComparedMarginal[] {
  const names = model.summaryNames;
  for (const n of pair ?? [])
    if (!names.includes(n))
      throw new AvbUserError(
        `--pair: ${model.name} reports no quantity '${n}'; choose from ${names.join(', ')}`,
      );
  const joint = pair ?? names.slice(0, 2);
  const single = [...new Set([...names.slice(0, 3), ...joint])];
  return [
    ...single.map((n) => ({ label: n, columns: [n] })),
    ...(joint.length === 2 ? [{ label: `(${joint.join(', ')})`, columns: joint }] : []),
  ];
}

/** At most `max` draws of the named columns, evenly spaced. */
export function columns(d: Draws, cols: string[], max: number): number[][] {
  const idx = cols.map((c) => d.names.indexOf(c));
  const step = Math.max(1, Math.floor(d.values.length / max));
  const out: number[][] = [];
  for (let i = 0; i < d.values.length && out.length < max; i += step)
    out.push(idx.map((k) => d.values[i][k]));
  return out;
}

/**
 * MCMC draws made symmetric under the model's exact symmetry (`model.mirror`): each draw is
 * mirrored with probability 1/2. Chains of a posterior with mirror modes need not cross between
 * them; the symmetric posterior is then the right reference.
 */
export function symmetrised(model: BayesianModel, d: Draws, seed: number): Draws {
  if (!model.mirror) return d;
  const rng = new Rng(seed);
  return { ...d, values: d.values.map((v) => (rng.uniform() < 0.5 ? model.mirror!(v) : v)) };
}

/** Draws per method used by the KL estimates and the figure. */
export const COMPARED_DRAWS = 2000;
/** NUTS draws of the reference in a comparison (thinned to {@link COMPARED_DRAWS} for the KL). */
export const REFERENCE_DRAWS = 40000;

export interface Comparison {
  results: MethodResult[];
  /** The marginals compared, and KL(method || NUTS) on each, by method and label. */
  marginals: ComparedMarginal[];
  klToNuts: Record<string, Record<string, number>>;
  /** The quantities a figure of the draws should show (the joint marginal's, or the first). */
  pair: string[];
  /** The reference: NUTS's draws, symmetrised where the model declares a symmetry. */
  reference: Draws;
  /** Draws per method in the KL estimates; NUTS's draws before thinning. */
  comparedDraws: number;
  referenceDraws: number;
}

/**
 * Runs every method on `model` and estimates KL(method || NUTS) per marginal
 * ({@link comparedMarginals}) with the kNN estimator (k = 5) on {@link COMPARED_DRAWS} draws each;
 * the NUTS reference is a long run ({@link REFERENCE_DRAWS} draws, thinned), symmetrised where
 * the model declares a symmetry. Returns data; `experiments/comparisonReport.ts` renders it.
 */
export async function compareMethods(
  model: BayesianModel,
  o: InferOptions & {
    onMethod?: (m: InferenceMethod) => void;
    pair?: string[];
    /** NUTS draws of the reference (default {@link REFERENCE_DRAWS}). */
    referenceDraws?: number;
  },
): Promise<Comparison> {
  const marginals = comparedMarginals(model, o.pair);
  const results: MethodResult[] = [];
  for (const method of INFERENCE_METHODS) {
    o.onMethod?.(method);
    // The reference is a long run: evenly thinned, its draws are close to independent.
    const long = o.referenceDraws ?? REFERENCE_DRAWS;
    const samples = method === 'nuts' ? Math.max(o.samples, long) : o.samples;
    results.push(await runInference(model, method, { ...o, samples }));
  }
  const nutsResult = results.find((r) => r.method === 'nuts')!;
  const reference = symmetrised(model, nutsResult.draws, o.seed + 1);
  const n = Math.min(COMPARED_DRAWS, o.samples);
  const kl: Record<string, Record<string, number>> = {};
  for (const r of results.filter((x) => x.method !== 'nuts')) {
    kl[r.method] = {};
    for (const m of marginals)
      kl[r.method][m.label] = knnKl(
        columns(r.draws, m.columns, n),
        columns(reference, m.columns, n),
      );
  }
  const joint = marginals.find((m) => m.columns.length === 2);
  return {
    results,
    marginals,
    klToNuts: kl,
    pair: joint?.columns ?? [model.summaryNames[0]],
    reference,
    comparedDraws: n,
    referenceDraws: nutsResult.draws.values.length,
  };
}

/** Display names of the methods (figure panels, report tables). */
export const METHOD_TITLES: Record<InferenceMethod, string> = {
  avb: 'AVB',
  'avb-ac': 'AVB + adaptive contrast',
  'advi-meanfield': 'ADVI (mean-field)',
  'advi-fullrank': 'ADVI (full-rank)',
  nuts: 'NUTS',
};
