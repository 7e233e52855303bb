"""Data for two posteriordb programs that avb does not ship, in the shape and scale of the
database's data sets (its own data are not vendored): mcycle_gp's accel_gp (brms's approximate
GP, 133 accelerations) and one_comp_mm_elim_abs (a Michaelis-Menten pharmacokinetic ODE, 20
concentrations). Run the programs from a posteriordb clone (models/stan/<name>.stan) on these.
Regenerate with `python3 examples/stan/make-ode-gp-data.py` (numpy and scipy; seed 2026)."""
import json
from os.path import dirname, join
import numpy as np
from scipy.integrate import solve_ivp

here = dirname(__file__)
rng = np.random.default_rng(2026)
# mcycle-shaped: 133 accelerations over 2.4-57.6 ms, brms approximate GP data (k = 20, c = 5/4, scaled x)
t = np.sort(rng.uniform(2.4, 57.6, 133)).round(1)
def f(t):
    return np.where(t < 14, 0.0, -120*np.exp(-((t-21)/4.5)**2) + 45*np.exp(-((t-31)/5)**2) - 8*np.exp(-((t-42)/6)**2))
def s(t):
    return 2 + 28*np.exp(-((t-26)/9)**2) + 6*(t > 35)
y = (f(t) + s(t)*rng.standard_normal(133)).round(1)
x = (t - t.mean()) / (t.max() - t.min())
L = 1.25 * np.abs(x).max()
NB = 20
sl = np.arange(1, NB+1) * np.pi / (2*L)
X = np.sin(np.outer(x + L, sl)) / np.sqrt(L)
d = dict(N=133, Y=y.tolist(), Kgp_1=1, Dgp_1=1, NBgp_1=NB, Xgp_1=X.round(6).tolist(), slambda_1=[[v] for v in sl.round(6)],
         Kgp_sigma_1=1, Dgp_sigma_1=1, NBgp_sigma_1=NB, Xgp_sigma_1=X.round(6).tolist(), slambda_sigma_1=[[v] for v in sl.round(6)], prior_only=0)
json.dump(d, open(join(here, 'accel_gp.json'), 'w'))
# one_comp_mm_elim_abs: k_a 0.75/day, K_m 1 mg/L, V_m 10, 100 mg into 20 L, 20 times, 10% noise
ka, Km, Vm, D, V = 0.75, 1.0, 10.0, 100.0, 20.0
def rhs(t, y):
    return [np.exp(-ka*t)*D*ka/V*(t > 0) - (Vm/V)*y[0]/(Km+y[0])]
times = np.linspace(0.5, 10, 20)
sol = solve_ivp(rhs, (0, 10), [0.0], t_eval=times, rtol=1e-10, atol=1e-12, method='LSODA')
C = sol.y[0]
Chat = C * np.exp(0.1*rng.standard_normal(20))
json.dump(dict(t0=0.0, D=D, V=V, N_t=20, times=times.round(4).tolist(), C_hat=Chat.round(4).tolist()), open(join(here, 'one_comp_mm_elim_abs.json'), 'w'))
