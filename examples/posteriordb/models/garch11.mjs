// posteriordb model garch11: GARCH(1, 1) volatility, sigma_t² = alpha0 + alpha1 (y_{t-1} - mu)²
// + beta1 sigma_{t-1}², with alpha1 + beta1 < 1 (beta1's upper bound depends on alpha1).
export default ({ avb, data }) => {
  const { T, y, sigma1 } = data;
  const { add, mul, sub, sqrt, square, concat, normal, real, lift } = avb;
  return avb.model({
    name: 'garch11',
    parameters: {
      mu: real(),
      alpha0: real({ lower: 0 }),
      alpha1: real({ lower: 0, upper: 1 }),
      beta1: real({ lower: 0, upper: (p) => sub(1, p.alpha1) }),
    },
    logDensity: ({ mu, alpha0, alpha1, beta1 }) => {
      const variances = [lift(sigma1 * sigma1)];
      for (let t = 1; t < T; t++) {
        const shock = mul(alpha1, square(sub(y[t - 1], mu)));
        variances.push(add(add(alpha0, shock), mul(beta1, variances[t - 1])));
      }
      return normal(y, mu, sqrt(concat(...variances)));
    },
  });
};
