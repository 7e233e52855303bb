// posteriordb model low_dim_gauss_mix: a two-component normal mixture, identified by ordered means.
export default ({ avb, data }) => {
  const { y } = data;
  const { sum, logMix, normal, normalElementwise, beta, ordered, real, vector, total } = avb;
  return avb.model({
    name: 'low_dim_gauss_mix',
    parameters: {
      mu: ordered(2),
      sigma: vector(2, { lower: 0 }),
      theta: real({ lower: 0, upper: 1 }),
    },
    logDensity: ({ mu, sigma, theta }) =>
      total(
        normal(sigma, 0, 2),
        normal(mu, 0, 2),
        beta(theta, 5, 5),
        sum(
          logMix(
            theta,
            normalElementwise(y, mu.at(0), sigma.at(0)),
            normalElementwise(y, mu.at(1), sigma.at(1)),
          ),
        ),
      ),
  });
};
