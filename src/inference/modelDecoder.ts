import * as tf from '../tf.js';
import type { Dataset } from '../data/dataset.js';
import type { Decoder } from '../nn/decoders.js';
import { Module } from '../nn/module.js';
import { logStandardNormal } from '../math/gaussian.js';
import { batchLogJoint } from './batchLogJoint.js';
import type { BayesianModel } from './model.js';

/** The data of a model with fixed data, as the trainer sees it: one empty example. */
export const NO_DATA: Dataset = {
  name: 'none',
  exampleShape: [0],
  kind: 'real',
  train: { x: new Float32Array(0), count: 1 },
  source: 'a Bayesian model: the data are inside its log joint',
};

/**
 * A Bayesian model as AVB's decoder: log p(x|z) = log p(z, data) - log N(z; 0, I) for the empty
 * x, so that the objectives' prior N(0, I) plus this term is the model's log joint.
 */
export class ModelDecoder extends Module implements Decoder {
  readonly likelihood = 'gaussian' as const;
  constructor(
    private readonly model: BayesianModel,
    /** Rows of a batch on which the log joint is evaluated. */
    private readonly rows: number,
  ) {
    super();
  }

  logLikelihood(_x: tf.Tensor, z: tf.Tensor): tf.Tensor1D {
    const n = z.shape[0];
    const m = Math.min(this.rows, n);
    const prior = logStandardNormal(z);
    if (m === n) return tf.sub(batchLogJoint(this.model, z as tf.Tensor2D), prior) as tf.Tensor1D;
    // The log joint on the first m rows only, scaled by n / m, zero on the rest, less log N(z)
    // on every row: the batch mean (all the objectives use) is still an unbiased estimate of
    // E_q[log p(x|z)], at m log joints instead of n. log N(z) is on every row because the
    // objectives' prior term is: the two then cancel row by row, as they do in the exact ELBO.
    // Subsampled with the log joint, their difference was noise of the size of |z|^2 (thousands
    // of nats once q's draws are far from the whitened mode), on the primal's gradient too.
    const head = z.slice([0, 0], [m, -1]);
    const logJoint = tf.mul(batchLogJoint(this.model, head as tf.Tensor2D), n / m);
    return tf.sub(tf.concat([logJoint, tf.zeros([n - m])]), prior) as tf.Tensor1D;
  }

  mean(z: tf.Tensor): tf.Tensor {
    return tf.zeros([z.shape[0], 0]);
  }

  /** The data are fixed (inside the log joint): the empty x. */
  sample(z: tf.Tensor): tf.Tensor {
    return tf.zeros([z.shape[0], 0]);
  }
}
