// posteriordb model diamonds (brms): a Gaussian regression on K - 1 centred predictors with a
// student-t intercept and a half-student-t sd. Translated from its model.stan.
export default ({ avb, data }) => {
  const { N, Y, K, X, prior_only } = data;
  const { add, matVec, normal, studentT, real, vector, total } = avb;
  // Stan's transformed data: the predictors but the first column, centred.
  const Kc = K - 1;
  const means = Array.from({ length: Kc }, (_, c) => X.reduce((s, row) => s + row[c + 1], 0) / N);
  const Xc = new Float64Array(N * Kc);
  for (let n = 0; n < N; n++) for (let c = 0; c < Kc; c++) Xc[n * Kc + c] = X[n][c + 1] - means[c];
  return avb.model({
    name: 'diamonds',
    parameters: { b: vector(Kc), Intercept: real(), sigma: real({ lower: 0 }) },
    // The half-t's normalising -log(1/2) is a constant: left out.
    logDensity: ({ b, Intercept, sigma }) =>
      total(
        normal(b, 0, 1),
        studentT(Intercept, 3, 8, 10),
        studentT(sigma, 3, 0, 10),
        prior_only ? 0 : normal(Y, add(Intercept, matVec(Xc, N, Kc, b)), sigma),
      ),
  });
};
