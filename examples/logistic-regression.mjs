// Bayesian logistic regression with an intercept and one slope: y_i ~ Bernoulli(sigmoid(a + b x_i)),
// a, b ~ N(0, 2^2). Twenty fixed points; two parameters, so a grid gives the exact posterior.
//
//   avb infer examples/logistic-regression.mjs --method avb-ac --out runs/logreg-avb
export const x = [
  -2.1, -1.7, -1.4, -1.2, -0.9, -0.7, -0.5, -0.3, -0.1, 0.0, 0.2, 0.3, 0.5, 0.6, 0.8, 1.0, 1.3, 1.5,
  1.8, 2.2,
];
export const y = [0, 0, 0, 1, 0, 0, 1, 0, 0, 1, 1, 0, 1, 1, 0, 1, 1, 1, 1, 1];
export const priorSd = 2;

export default (tf) => {
  const xs = tf.tensor2d(x, [1, x.length]);
  const ys = tf.tensor2d(y, [1, y.length]);
  return {
    name: 'logistic-regression',
    dim: 2,
    parameterNames: ['a', 'b'],
    logJoint: (z) =>
      tf.tidy(() => {
        const a = z.slice([0, 0], [-1, 1]);
        const b = z.slice([0, 1], [-1, 1]);
        const logits = tf.add(a, tf.mul(b, xs)); // [n, 20]
        // log sigmoid(l) for y = 1 and log sigmoid(-l) for y = 0: y l - softplus(l).
        const logLik = tf.sum(tf.sub(tf.mul(ys, logits), tf.softplus(logits)), 1);
        const logPrior = tf.mul(tf.sum(tf.square(z), 1), -0.5 / (priorSd * priorSd));
        return tf.add(logLik, logPrior);
      }),
  };
};
