// The 6-parameter Gaussian regression of bench/nuts.mjs: y ~ normal(X beta, sigma),
// beta ~ normal(0, 10), sigma ~ normal(0, 10) on sigma > 0.
export default ({ avb, data }) => {
  const X = data.X.flat(); // row-major N × K
  return avb.model({
    name: 'regression',
    parameters: { beta: avb.vector(data.K), sigma: avb.real({ lower: 0 }) },
    logDensity: ({ beta, sigma }) =>
      avb.total(
        avb.normal(beta, 0, 10),
        avb.normal(sigma, 0, 10),
        avb.normal(data.y, avb.matVec(X, data.N, data.K, beta), sigma),
      ),
  });
};
