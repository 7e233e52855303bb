// posteriordb model kidscore_momhsiq: kid's test score on mother's high school and IQ (flat
// priors on the coefficients; the IQ predictor is not centred, so they are correlated).
export default ({ avb, data }) => {
  const { kid_score, mom_iq, mom_hs } = data;
  const { add, mul, normal, cauchy, real, vector, total } = avb;
  return avb.model({
    name: 'kidscore_momhsiq',
    parameters: { beta: vector(3), sigma: real({ lower: 0 }) },
    logDensity: ({ beta, sigma }) =>
      total(
        cauchy(sigma, 0, 2.5),
        normal(
          kid_score,
          add(beta.at(0), add(mul(beta.at(1), mom_hs), mul(beta.at(2), mom_iq))),
          sigma,
        ),
      ),
  });
};
