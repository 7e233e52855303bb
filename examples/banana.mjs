// A 2-D "banana": z1 ~ N(0, 1), z2 | z1 ~ N((z1^2 - 1) / 2, 1). Curved, so no Gaussian fits it;
// exact moments: E z = (0, 0), sd z1 = 1, sd z2 = sqrt(1 + 2 / 4) = 1.2247.
//
//   avb infer examples/banana.mjs --method nuts --out runs/banana-nuts
//
// A model module exports (default) a BayesianModel, or, as here, a function of the tfjs
// namespace that returns one, so the module needs no tfjs install of its own.
export default (tf) => ({
  name: 'banana',
  dim: 2,
  parameterNames: ['z1', 'z2'],
  // log p(z) up to a constant for a batch z [n, 2] -> [n], written with tfjs ops.
  logJoint: (z) =>
    tf.tidy(() => {
      const z1 = z.slice([0, 0], [-1, 1]).reshape([-1]);
      const z2 = z.slice([0, 1], [-1, 1]).reshape([-1]);
      const r = tf.sub(z2, tf.mul(tf.sub(tf.square(z1), 1), 0.5));
      return tf.mul(tf.add(tf.square(z1), tf.square(r)), -0.5);
    }),
});
