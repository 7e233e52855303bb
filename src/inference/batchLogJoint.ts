import * as tf from '../tf.js';
import type { BayesianModel } from './model.js';

/**
 * How far a row's gradient may exceed the batch's median row gradient (in norm) before it is
 * shortened to this multiple. Where q is near a posterior of any shape the rows' gradients are
 * of one order (for a Gaussian in whitened coordinates the norm is chi-distributed: the largest of
 * 64 rows is within ~5x the median even in one dimension), so the clip does not act. It acts on a
 * row far out in a tail that falls faster than any Gaussian's: on posteriordb's accel_gp (a log
 * sd that is itself a GP) one in twenty draws one Laplace sd out has a log density of -1e12 and
 * a gradient of 1e11, against a median of 1e3. Unclipped, such a row alone sets Adam's second
 * moments for thousands of steps (the fit stalls), or overflows float32 (the step is refused).
 */
export const ROW_GRADIENT_CLIP = 100;

/**
 * The longest row gradient a fit takes, whatever the batch's median: where most of a batch lies
 * far out (ADVI's first steps on a posterior against a wall, the median row's gradient 1e9), the
 * relative clip alone lets 1e28s through, and their squares overflow float32 in the optimiser.
 * At 1e12, a sum over 64 rows and a layer's activations squared stays far inside float32's range;
 * in a fit's coordinates (whitened: the posterior's sds are ~1) only the direction of such a pull
 * matters, and Adam takes its steps by direction.
 */
export const MAX_ROW_GRADIENT = 1e12;

/**
 * The log joints of a batch `z` `[n, dim]` as the variational fits take them (AVB's model
 * decoder, ADVI): rows of zero density dropped ({@link dropRowsOutside}) and each row's gradient
 * clipped to {@link ROW_GRADIENT_CLIP} times the batch's median ({@link clipRowGradients}).
 */
export function batchLogJoint(model: BayesianModel, z: tf.Tensor2D): tf.Tensor1D {
  return dropRowsOutside(model.logJoint(clipRowGradients(z)));
}

/**
 * A batch's log joints with the rows of zero density (-inf: a rejected ODE solve, a declared
 * model's point whose gradient is not finite) dropped, as Stan's ADVI drops such draws: they
 * become 0 and the rest are scaled by rows / kept rows, so the batch mean (what the objectives
 * take) is the kept rows' mean. A NaN row is kept, so that its step is refused: a log joint that
 * is NaN somewhere is a model missing a constraint there. A batch of zero density throughout is
 * left as it is (its step is refused too). Before, one such row made every step of accel_gp's
 * fit non-finite.
 */
export function dropRowsOutside(v: tf.Tensor): tf.Tensor1D {
  // The mask is made from the values, off the gradient tape (a comparison has no gradient).
  const keep = Array.from(v.dataSync(), (x) => x !== -Infinity);
  const kept = keep.filter(Boolean).length;
  if (kept === keep.length || kept === 0) return v as tf.Tensor1D;
  return tf.tidy(() =>
    tf.mul(tf.where(tf.tensor1d(keep, 'bool'), v, tf.zerosLike(v)), keep.length / kept),
  ) as tf.Tensor1D;
}

/**
 * The identity on `z` `[n, d]`, whose backward pass shortens each row's gradient to at most
 * {@link ROW_GRADIENT_CLIP} times the median norm of the rows with a gradient (a dropped row has
 * none), and to at most {@link MAX_ROW_GRADIENT}, keeping its direction: the far row still pulls
 * q in, as hard as the clip allows. The norms are taken in doubles, as a float32 sum of squares
 * of 1e20s would overflow. A row whose gradient is not finite is left so: its step is refused.
 */
export const clipRowGradients: (z: tf.Tensor2D) => tf.Tensor2D = tf.customGrad(
  (...args: unknown[]) => {
    const z = args[0] as tf.Tensor2D;
    return {
      value: tf.clone(z),
      gradFunc: (dy: tf.Tensor) => {
        const [n, d] = dy.shape;
        const g = dy.dataSync();
        const norms = new Float64Array(n);
        for (let r = 0; r < n; r++) {
          let s = 0;
          for (let j = r * d; j < (r + 1) * d; j++) s += g[j] * g[j];
          norms[r] = Math.sqrt(s);
        }
        const typical = median(norms.filter((x) => x > 0 && Number.isFinite(x)));
        const cap = Math.min(ROW_GRADIENT_CLIP * typical, MAX_ROW_GRADIENT);
        const scale = Array.from(norms, (x) => (x > cap && Number.isFinite(x) ? cap / x : 1));
        if (scale.every((s) => s === 1)) return [tf.clone(dy)];
        return [tf.mul(dy, tf.tensor2d(scale, [n, 1]))];
      },
    };
  },
) as unknown as (z: tf.Tensor2D) => tf.Tensor2D;

/** The median of `x` (Infinity when empty: nothing to clip against). */
function median(x: Float64Array): number {
  if (x.length === 0) return Infinity;
  const s = Float64Array.from(x).sort();
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}
