import * as ad from '../modelling/autodiff.js';
import { Node } from '../modelling/autodiff.js';
import type { Val } from '../modelling/autodiff.js';
import { StanError, describe } from './operators.js';
import { flat, isScalar, numberOf, real, sizeOf, vec } from './values.js';
import type { Value } from './values.js';

/**
 * Stan's ODE solvers, all run by one adaptive Dormand–Prince 5(4) integrator on the modelling
 * kit: the kit differentiates the integrator's steps (discretise, then differentiate), so the
 * gradient is that of the numerical solution, accurate to about the tolerances. Stan's `bdf`
 * (for stiff systems) and `adams` run the same explicit method: right for the non-stiff
 * systems of posteriordb's models; where a system is stiff (far out in the tails, say) the step
 * size collapses and the solve stops at {@link MOST_ODE_STEPS}, rejecting the point.
 */
export const ODE_SOLVERS = new Set(
  ['rk45', 'bdf', 'adams', 'ckrk'].flatMap((m) => [
    `integrate_ode_${m}`,
    `ode_${m}`,
    `ode_${m}_tol`,
  ]),
);

/** The tightest tolerance used: Stan's `bdf` default (1e-10) would cost the explicit method ~6x the steps of 1e-8 for nothing a posterior can see. */
const TIGHTEST = 1e-8;

/**
 * The most steps one solve may take, whatever `max_num_steps` says. The kit keeps every step's
 * stages for the gradient (tens of kB a step on a one-state system), so Stan's default of 10⁶
 * exhausts the heap long before it stops a solve: one_comp_mm_elim_abs at a far-off point
 * (K_m → 0 makes it stiff) took the step size to 1e-14 and the process out of memory. Non-stiff
 * systems over posteriordb's horizons take a few hundred steps. A solve that needs more fails
 * the point (zero density), as Stan rejects one that exceeds `max_num_steps`.
 */
export const MOST_ODE_STEPS = 5000;

/**
 * `name(f, y0, t0, ts, ...)` with `rhs` calling the user's f and `a` the evaluated arguments
 * after f. Returns the states at `ts`: an array of real arrays (`integrate_ode_*`) or of vectors.
 */
export function solveOde(name: string, rhs: (args: Value[]) => Value, a: Value[]): Value {
  const old = name.startsWith('integrate_ode_');
  const [y0, t0v, tsv] = a;
  if (!y0 || !t0v || !tsv)
    throw new StanError(`${name} needs an initial state, time and output times`);
  let control = [1e-6, 1e-6, 1e6];
  let extra: Value[];
  if (old) {
    extra = a.slice(3, 6);
    if (a.length > 6) control = a.slice(6, 9).map(number);
  } else if (name.endsWith('_tol')) {
    control = a.slice(3, 6).map(number);
    extra = a.slice(6);
  } else extra = a.slice(3);
  const [rtol, atol] = control.slice(0, 2).map((t) => Math.max(t, TIGHTEST));
  const maxSteps = control[2];
  const t0 = number(t0v);
  const ts = times(tsv);
  if (ts.some((t, i) => t <= (i === 0 ? t0 : ts[i - 1])))
    throw new StanError(`${name}: the output times must increase and follow the initial time`);
  const n = sizeOf(y0);
  const state = (y: Val): Value =>
    old ? { k: 'arr', items: Array.from({ length: n }, (_, i) => real(element(y, i))) } : vec(y, n);
  const f = (t: number, y: Val): Val => {
    const out = flat(rhs([real(t), state(y), ...extra]));
    if (lengthOf(out) !== n)
      throw new StanError(`${name}: the system returned ${lengthOf(out)} values for ${n} states`);
    return out;
  };
  const states = integrate(f, flat(y0), t0, ts, { rtol, atol, maxSteps, name });
  return { k: 'arr', items: states.map(state) };
}

function number(v: Value): number {
  if (!isScalar(v)) throw new StanError(`expected a scalar, got ${describe(v)}`);
  if (v.v instanceof Node && v.v.variable)
    throw new StanError('ODE times and tolerances that depend on the parameters are not supported');
  return numberOf(v.v);
}

function times(v: Value): number[] {
  const x = flat(v);
  if (x instanceof Node && x.variable)
    throw new StanError('ODE times that depend on the parameters are not supported');
  return Array.from(x instanceof Node ? x.value : typeof x === 'number' ? [x] : x);
}

const lengthOf = (v: Val) => (typeof v === 'number' ? 1 : v.length);
const valuesOf = (v: Val): ArrayLike<number> =>
  v instanceof Node ? v.value : typeof v === 'number' ? [v] : v;
const element = (v: Val, i: number) =>
  v instanceof Node ? (v.variable ? ad.index(v, i) : v.value[i]) : valuesOf(v)[i];

// Dormand & Prince (1980): stages, the 5th-order weights (= the last stage's row: first same as
// last) and the error weights (5th - 4th order).
const C = [0, 1 / 5, 3 / 10, 4 / 5, 8 / 9, 1, 1];
const A = [
  [],
  [1 / 5],
  [3 / 40, 9 / 40],
  [44 / 45, -56 / 15, 32 / 9],
  [19372 / 6561, -25360 / 2187, 64448 / 6561, -212 / 729],
  [9017 / 3168, -355 / 33, 46732 / 5247, 49 / 176, -5103 / 18656],
  [35 / 384, 0, 500 / 1113, 125 / 192, -2187 / 6784, 11 / 84],
];
const E = [71 / 57600, 0, -71 / 16695, 71 / 1920, -17253 / 339200, 22 / 525, -1 / 40];

/** y + h * sum_j w[j] k[j] on the kit (terms with a zero weight skipped). */
function combine(y: Val, h: number, w: number[], k: Val[]): Val {
  let acc = y;
  w.forEach((wj, j) => {
    if (wj !== 0) acc = ad.add(acc, ad.mul(h * wj, k[j]));
  });
  return acc;
}

/** The states at each of `ts`: adaptive steps, each ending exactly on the next output time. */
function integrate(
  f: (t: number, y: Val) => Val,
  y0: Val,
  t0: number,
  ts: number[],
  o: { rtol: number; atol: number; maxSteps: number; name: string },
): Val[] {
  let t = t0;
  let y = y0;
  let k1 = f(t, y);
  let h = initialStep(y, k1, ts[ts.length - 1] - t0, o);
  const out: Val[] = [];
  let steps = 0;
  const most = Math.min(o.maxSteps, MOST_ODE_STEPS);
  for (const tEnd of ts) {
    while (t < tEnd) {
      if (++steps > most)
        throw new RangeError(
          `${o.name}: more than ${most} steps by t = ${t} (stiff here?); the point is rejected`,
        );
      const last = t + h >= tEnd;
      const step = last ? tEnd - t : h;
      const k: Val[] = [k1];
      for (let s = 1; s < 7; s++) k.push(f(t + C[s] * step, combine(y, step, A[s], k)));
      // k[6] was evaluated at the proposed new state, which is A[6]'s combination.
      const yNew = combine(y, step, A[6], k);
      const err = errorNorm(y, yNew, step, k, o);
      if (!Number.isFinite(err)) throw new RangeError(`${o.name}: the solution is not finite`);
      if (err <= 1) {
        t = last ? tEnd : t + step;
        y = yNew;
        k1 = k[6];
      }
      // Standard step-size control (safety 0.9, growth at most 5x, shrink at most 5x); a step cut
      // short to land on an output time does not shrink the next one.
      const next = step * Math.min(5, Math.max(0.2, 0.9 * Math.pow(Math.max(err, 1e-10), -0.2)));
      h = last && err <= 1 ? Math.max(h, next) : next;
    }
    out.push(y);
  }
  return out;
}

function errorNorm(
  y: Val,
  yNew: Val,
  h: number,
  k: Val[],
  o: { rtol: number; atol: number },
): number {
  const a = valuesOf(y);
  const b = valuesOf(yNew);
  const ks = k.map(valuesOf);
  let s = 0;
  for (let i = 0; i < a.length; i++) {
    let e = 0;
    for (let j = 0; j < 7; j++) if (E[j] !== 0) e += E[j] * ks[j][i];
    const scale = o.atol + o.rtol * Math.max(Math.abs(a[i]), Math.abs(b[i]));
    s += ((h * e) / scale) ** 2;
  }
  return Math.sqrt(s / Math.max(1, a.length));
}

/** Hairer, Nørsett & Wanner's first guess: 1% of |y| / |y'|, within the interval. */
function initialStep(y: Val, dy: Val, span: number, o: { rtol: number; atol: number }): number {
  const a = valuesOf(y);
  const d = valuesOf(dy);
  let d0 = 0;
  let d1 = 0;
  for (let i = 0; i < a.length; i++) {
    const scale = o.atol + o.rtol * Math.abs(a[i]);
    d0 += (a[i] / scale) ** 2;
    d1 += (d[i] / scale) ** 2;
  }
  const h = d0 < 1e-10 || d1 < 1e-10 ? 1e-6 : 0.01 * Math.sqrt(d0 / d1);
  return Math.min(h, span);
}
