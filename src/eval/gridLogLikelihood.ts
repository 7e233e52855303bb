import * as tf from '../tf.js';
import { LOG_2PI } from '../math/gaussian.js';
import type { Decoder } from '../nn/decoders.js';

export interface GridOptions {
  /** Half-width of the square [-r, r]^2 integrated over. The N(0, I) mass outside r = 8 is ~1e-15. */
  radius: number;
  /** Grid points per axis (midpoint rule). */
  points: number;
  /** Grid points decoded per batch (bounds memory). */
  chunk: number;
}

export const DEFAULT_GRID: GridOptions = { radius: 8, points: 401, chunk: 20000 };

/**
 * log p(x) = log ∫ p(x|z) N(z; 0, I) dz for a model with a 2-D latent, by the midpoint rule on a
 * grid. For smooth decoders the error is far below what training or AIS can resolve (the
 * integrand is smooth, so the midpoint rule converges as h^2; the tail outside the square has
 * prior mass below 1e-14). Returns one value per row of `x [n, ...]`; accumulates in float64.
 */
export function gridLogLikelihood(
  decoder: Decoder,
  x: tf.Tensor,
  o: GridOptions = DEFAULT_GRID,
): Float64Array {
  const n = x.shape[0];
  const h = (2 * o.radius) / o.points;
  const coords = Float64Array.from({ length: o.points }, (_, i) => -o.radius + (i + 0.5) * h);
  const total = o.points * o.points;
  // Running log-sum-exp per data point, in doubles.
  const maxes = new Float64Array(n).fill(-Infinity);
  const sums = new Float64Array(n);
  const logCell = 2 * Math.log(h) - LOG_2PI;
  for (let start = 0; start < total; start += o.chunk) {
    const m = Math.min(o.chunk, total - start);
    const zs = new Float32Array(2 * m);
    const logPrior = new Float64Array(m);
    for (let k = 0; k < m; k++) {
      const idx = start + k;
      const z1 = coords[Math.floor(idx / o.points)];
      const z2 = coords[idx % o.points];
      zs[2 * k] = z1;
      zs[2 * k + 1] = z2;
      logPrior[k] = logCell - 0.5 * (z1 * z1 + z2 * z2);
    }
    const ll = tf.tidy(() => {
      const z = tf.tensor2d(zs, [m, 2]);
      // Decode once per grid point, then score every data point: [m, n].
      const rows: tf.Tensor[] = [];
      for (let i = 0; i < n; i++) {
        const xi = tf.tile(x.slice([i], [1]), [m, ...Array<number>(x.rank - 1).fill(1)]);
        rows.push(decoder.logLikelihood(xi, z));
      }
      return tf.stack(rows, 1);
    });
    const vals = ll.dataSync();
    ll.dispose();
    for (let i = 0; i < n; i++) {
      for (let k = 0; k < m; k++) {
        const v = vals[k * n + i] + logPrior[k];
        if (v > maxes[i]) {
          sums[i] = sums[i] * Math.exp(maxes[i] - v) + 1;
          maxes[i] = v;
        } else {
          sums[i] += Math.exp(v - maxes[i]);
        }
      }
    }
  }
  return Float64Array.from(maxes, (mx, i) => mx + Math.log(sums[i]));
}
