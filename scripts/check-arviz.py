#!/usr/bin/env python3
"""Checks README's ArviZ recipe with ArviZ itself on avb run folders.

    python3 scripts/check-arviz.py RUN_DIR [RUN_DIR ...]

For each folder written by `avb infer --out RUN_DIR`, runs the recipe exactly as README shows it
(the Python block after "ArviZ, chains kept") on RUN_DIR/draws.csv, then checks against
RUN_DIR/summary.json: one posterior variable per reported quantity with dims (chain, draw) and
the run's chain and draw counts; for NUTS, the sampler statistics under ArviZ's names, the
divergences, and az.summary's r_hat, ess_bulk and ess_tail equal to avb's rhat, ess and essTail
(same algorithms: relative difference under 1e-8). Exit code 1 on any mismatch.

Needs arviz (0.23; pip install arviz). Not part of `npm test`: ArviZ is on PyPI only, which
CI machines cannot reach. Last run: see README ("ArviZ").
"""
import json
import os
import re
import sys
import warnings

warnings.filterwarnings("ignore")
README = os.path.join(os.path.dirname(__file__), "..", "README.md")


def recipe() -> str:
    text = open(README, encoding="utf8").read()
    m = re.search(r"ArviZ, chains kept.*?```python\n(.*?)```", text, re.S)
    if not m:
        sys.exit("README.md has no ArviZ recipe (a ```python block after 'ArviZ, chains kept')")
    lines = m.group(1).splitlines()
    indent = min(len(l) - len(l.lstrip()) for l in lines if l.strip())
    return "\n".join(l[indent:] for l in lines)


def check(run: str, code: str) -> list:
    import arviz as az

    here = os.getcwd()
    os.chdir(run)
    try:
        scope: dict = {}
        exec(code, scope)  # the recipe reads draws.csv and leaves `idata`
    finally:
        os.chdir(here)
    idata = scope["idata"]
    summary = json.load(open(os.path.join(run, "summary.json"), encoding="utf8"))
    post = idata.posterior
    problems = []
    names = list(summary["posterior"].keys())
    if sorted(post.data_vars) != sorted(names):
        problems.append(f"posterior variables {sorted(post.data_vars)} != {sorted(names)}")
    draws = post.sizes["chain"] * post.sizes["draw"]
    if draws != summary["draws"]:
        problems.append(f"{draws} draws in ArviZ, {summary['draws']} in summary.json")
    if summary["method"] == "nuts":
        stats = idata.sample_stats
        want = {"lp", "acceptance_rate", "step_size", "tree_depth", "n_steps", "diverging"}
        if set(stats.data_vars) != want:
            problems.append(f"sample_stats {sorted(stats.data_vars)} != {sorted(want)}")
        if int(stats.diverging.sum()) != summary["divergences"]:
            problems.append(f"{int(stats.diverging.sum())} divergences in ArviZ, {summary['divergences']} in avb")
        table = az.summary(idata, round_to="none")
        for name in names:
            ours = summary["posterior"][name]
            for theirs, key in (("r_hat", "rhat"), ("ess_bulk", "ess"), ("ess_tail", "essTail")):
                a, b = float(table.loc[name, theirs]), ours[key]
                if abs(a / b - 1) > 1e-8:
                    problems.append(f"{name}: ArviZ {theirs} {a!r}, avb {key} {b!r}")
    print(f"{run}: {summary['method']}, {post.sizes['chain']} chains x {post.sizes['draw']} draws, "
          f"{len(names)} quantities: {'OK' if not problems else 'MISMATCH'}")
    return problems


def main() -> None:
    if len(sys.argv) < 2:
        sys.exit(__doc__)
    import arviz as az

    print(f"arviz {az.__version__}")
    code = recipe()
    bad = [p for run in sys.argv[1:] for p in check(run, code)]
    for p in bad:
        print("  " + p)
    sys.exit(1 if bad else 0)


if __name__ == "__main__":
    main()
