// posteriordb model gp_pois_regr: a latent Gaussian process f = L f_tilde (L the Cholesky factor
// of an exponentiated-quadratic covariance) with Poisson counts k ~ poisson_log(f).
export default ({ avb, data }) => {
  const { N, x, k } = data;
  const { add, cholesky, gpExpQuadCov, matVec, gamma, normal, poissonLog, real, vector, total } =
    avb;
  const jitter = new Float64Array(N * N);
  for (let i = 0; i < N; i++) jitter[i * N + i] = 1e-10;
  return avb.model({
    name: 'gp_pois_regr',
    parameters: { rho: real({ lower: 0 }), alpha: real({ lower: 0 }), f_tilde: vector(N) },
    transformed: ({ rho, alpha, f_tilde }) => {
      const L = cholesky(add(gpExpQuadCov(x, alpha, rho), jitter), N);
      return { f: matVec(L, N, N, f_tilde) };
    },
    logDensity: ({ rho, alpha, f_tilde, f }) =>
      total(gamma(rho, 25, 4), normal(alpha, 0, 2), normal(f_tilde, 0, 1), poissonLog(k, f)),
  });
};
