// posteriordb model hmm_example: a two-state hidden Markov model with unit-variance normal
// emissions, marginalised by the forward algorithm. theta1, theta2: the transition rows.
export default ({ avb, data }) => {
  const { N, K, y } = data;
  const { add, log, logSumExp, concat, normal, normalElementwise, simplex, positiveOrdered } = avb;
  return avb.model({
    name: 'hmm_example',
    parameters: { theta1: simplex(K), theta2: simplex(K), mu: positiveOrdered(K) },
    logDensity: ({ theta1, theta2, mu }) => {
      const logTheta = [log(theta1), log(theta2)]; // logTheta[j].at(k) = log P(state k | state j)
      // emission[k].at(t) = log normal(y[t] | mu[k], 1)
      const emission = Array.from({ length: K }, (_, k) => normalElementwise(y, mu.at(k), 1));
      let forward = Array.from({ length: K }, (_, k) => emission[k].at(0));
      for (let t = 1; t < N; t++) {
        forward = Array.from({ length: K }, (_, k) => {
          const into = Array.from({ length: K }, (_, j) => add(forward[j], logTheta[j].at(k)));
          return add(logSumExp(concat(...into)), emission[k].at(t));
        });
      }
      return add(
        add(normal(mu.at(0), 3, 1), normal(mu.at(1), 10, 1)),
        logSumExp(concat(...forward)),
      );
    },
  });
};
