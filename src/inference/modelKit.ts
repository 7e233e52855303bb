import * as autodiff from '../modelling/autodiff.js';
import { cholesky } from '../modelling/cholesky.js';
import * as constraints from '../modelling/constraints.js';
import * as distributions from '../modelling/distributions.js';
import { lbeta, lgamma, digamma } from '../modelling/special.js';
import { declareModel } from './declaredModel.js';

/**
 * What a model module gets to write a declared model with (as `avb` in its argument):
 * parameter blocks (`real`, `vector`, `positive`, `simplex`, `ordered`, `positiveOrdered`,
 * `sumToZeroVector`, ...),
 * distributions (`normal`, `studentT`, `cauchy`, ...), operations on values (`add`, `mul`,
 * `exp`, `dot`, `matVec`, `logSumExp`, `logMix`, ...) and `model`, which builds the model.
 *
 * ```js
 * export default ({ avb, data }) => avb.model({
 *   name: 'regression',
 *   parameters: { beta: avb.vector(2), sigma: avb.positive() },
 *   logDensity: ({ beta, sigma }) =>
 *     avb.normal(data.y, avb.add(beta.at(0), avb.mul(beta.at(1), data.x)), sigma),
 * });
 * ```
 */
export const MODEL_KIT = {
  ...autodiff,
  ...distributions,
  ...constraints,
  cholesky,
  lgamma,
  digamma,
  lbeta,
  model: declareModel,
};

export type ModelKit = typeof MODEL_KIT;
