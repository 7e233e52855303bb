// posteriordb model eight_schools_noncentered: the eight schools with theta = mu + tau * theta_trans.
export default ({ avb, data }) => {
  const { J, y, sigma } = data;
  const { add, mul, normal, cauchy, real, vector, total } = avb;
  return avb.model({
    name: 'eight_schools_noncentered',
    parameters: { theta_trans: vector(J), mu: real(), tau: real({ lower: 0 }) },
    transformed: ({ theta_trans, mu, tau }) => ({ theta: add(mul(theta_trans, tau), mu) }),
    logDensity: ({ theta_trans, mu, tau, theta }) =>
      total(
        normal(theta_trans, 0, 1),
        normal(y, theta, sigma),
        normal(mu, 0, 5),
        cauchy(tau, 0, 5),
      ),
  });
};
