/**
 * How learning rates change over a run, as one factor of the configured rates per step: the one
 * place every optimisation's schedule lives (training, Bayesian AVB, ADVI, the self-checks).
 *
 * - `constant`: 1.
 * - `cosine`: from 1 at the first step to 0 at `totalSteps`, (1 + cos(pi t / T)) / 2: fast
 *   progress early, small steps to settle at the end.
 * - `linearTail`: 1 until half-way, then linearly to `final` at `totalSteps` (Bayesian AVB's
 *   `finalLearningRate`: a late, smaller rate averages out minibatch noise in q).
 * - `drop`: 1 before step `at`, then `factor` (the self-check's last phase at a tenth of the rate).
 */
export type LrSchedule =
  | { kind: 'constant' }
  | { kind: 'cosine'; totalSteps: number }
  | { kind: 'linearTail'; totalSteps: number; final: number }
  | { kind: 'drop'; at: number; factor: number };

/** The factor of the learning rates at step `t` (0-based: the step about to be taken). */
export function scheduleFactor(s: LrSchedule | undefined, t: number): number {
  if (!s) return 1;
  switch (s.kind) {
    case 'constant':
      return 1;
    case 'cosine':
      return 0.5 * (1 + Math.cos((Math.PI * Math.min(t, s.totalSteps)) / s.totalSteps));
    case 'linearTail': {
      const late = Math.min(1, Math.max(0, (2 * t) / s.totalSteps - 1));
      return 1 - (1 - s.final) * late;
    }
    case 'drop':
      return t < s.at ? 1 : s.factor;
  }
}
