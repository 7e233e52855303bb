// posteriordb model arK: an autoregressive time series of order K (translated from its
// model.stan; run with `avb infer examples/posteriordb/models/arK.mjs --data <data.json>`).
export default ({ avb, data }) => {
  const { K, T, y } = data;
  const { add, matVec, normal, cauchy, real, vector, total } = avb;
  // Row r holds the K values before y[K + r] (y[t-1], ..., y[t-K]): mu = alpha + lags · beta.
  const rows = T - K;
  const lags = new Float64Array(rows * K);
  for (let r = 0; r < rows; r++) for (let k = 0; k < K; k++) lags[r * K + k] = y[K + r - k - 1];
  const later = y.slice(K);
  return avb.model({
    name: 'arK',
    parameters: { alpha: real(), beta: vector(K), sigma: real({ lower: 0 }) },
    logDensity: ({ alpha, beta, sigma }) =>
      total(
        normal(alpha, 0, 10),
        normal(beta, 0, 10),
        cauchy(sigma, 0, 2.5),
        normal(later, add(alpha, matVec(lags, rows, K, beta)), sigma),
      ),
  });
};
