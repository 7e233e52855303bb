// A conjugate Bayesian linear regression, declared the Stan way (parameters, then the model):
//   sigma2 ~ inv_gamma(3, 2);  beta ~ normal(0, sqrt(sigma2 / 0.1));  y ~ normal(beta[1] + beta[2] x, sqrt(sigma2))
//   generated: y10, a draw of y at x = 10 (the posterior predictive)
// Its posterior has a closed form (normal-inverse-gamma), which avb's tests check against.
//
//   avb infer examples/regression.mjs --data examples/regression-data.json --method nuts
//   avb infer examples/regression.mjs --data examples/regression-data-2.json --method avb-ac
export default ({ avb, data }) =>
  avb.model({
    name: 'regression',
    parameters: { beta: avb.vector(2), sigma2: avb.real({ lower: 0 }) },
    logDensity: ({ beta, sigma2 }) => {
      const { add, mul, sqrt, total, normal, invGamma } = avb;
      const mu = add(beta.at(0), mul(beta.at(1), data.x));
      return total(
        invGamma(sigma2, 3, 2),
        normal(beta, 0, sqrt(mul(sigma2, 10))),
        normal(data.y, mu, sqrt(sigma2)),
      );
    },
    generated: ({ beta, sigma2 }, rng) => ({
      y10: beta.value[0] + 10 * beta.value[1] + Math.sqrt(sigma2.value[0]) * rng.normal(),
    }),
  });
