import type { Dataset } from './dataset.js';

/**
 * The paper's synthetic data set: the four one-hot vectors of R^4, equally likely.
 * The best achievable average log-likelihood is -log 4 = -1.386 nats.
 */
export function syntheticDataset(): Dataset {
  const x = new Float32Array(16);
  for (let i = 0; i < 4; i++) x[i * 4 + i] = 1;
  return {
    name: 'synthetic',
    exampleShape: [4],
    kind: 'binary',
    train: { x, count: 4, labels: Int32Array.from([0, 1, 2, 3]) },
    test: { x: x.slice(), count: 4, labels: Int32Array.from([0, 1, 2, 3]) },
    source: 'built in: the one-hot vectors of R^4 (paper, section 6)',
  };
}
