/**
 * k-nearest-neighbour estimate of KL(P || Q) from samples (Wang, Kulkarni & Verdú 2009):
 *   D = (d / n) sum_i log(nu_k(i) / rho_k(i)) + log(m / (n - 1))
 * where rho_k(i) is the distance from p_i to its k-th nearest neighbour among the other P samples
 * and nu_k(i) the distance to its k-th nearest among the Q samples. `p` and `q` are arrays of
 * points (each a number[] of length d). Brute force: fine for a few thousand points in 1-2 D.
 */
export function knnKl(p: number[][], q: number[][], k = 5): number {
  const n = p.length;
  const m = q.length;
  const d = p[0].length;
  let sum = 0;
  for (let i = 0; i < n; i++) {
    const rho = kthDistance(p[i], p, k, i);
    const nu = kthDistance(p[i], q, k, -1);
    // Ties (repeated points, e.g. MCMC draws that stayed put) give zero distances; floor them.
    sum += Math.log(Math.max(nu, 1e-12) / Math.max(rho, 1e-12));
  }
  return (d / n) * sum + Math.log(m / (n - 1));
}

function kthDistance(x: number[], pts: number[][], k: number, skip: number): number {
  const best = new Array<number>(k).fill(Infinity); // ascending squared distances
  for (let j = 0; j < pts.length; j++) {
    if (j === skip) continue;
    let s = 0;
    for (let t = 0; t < x.length; t++) s += (x[t] - pts[j][t]) ** 2;
    if (s < best[k - 1]) {
      let pos = k - 1;
      while (pos > 0 && best[pos - 1] > s) {
        best[pos] = best[pos - 1];
        pos--;
      }
      best[pos] = s;
    }
  }
  return Math.sqrt(best[k - 1]);
}
