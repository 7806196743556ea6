"""The compiled episode against the Cython learner: ΔW, Δb and ŷ of one mini-batch over seeds.

A tiny network (``--sizes``, ``--batch`` examples, ``--neurons`` per unit, the ``[spiking]`` and
``[learner]`` settings of ``experiments/train_spiking.toml`` otherwise) with fixed weights, inputs
and targets; for each of ``--seeds`` seeds one mini-batch from the initial state on each side: a
fresh :class:`~stdp_ebm.spiking.learner.SpikingLearner` (Brian2's Cython runtime, the callback
episode) and one run of :class:`~stdp_ebm.spiking.episode_program.EpisodeProgram` (built once in
``--build-dir``). The two use different random streams (numpy's against the program's mt19937),
so they agree in distribution only. Two tests of equal means over the components of (ΔW, Δb, ŷ):
Welch's t-test per component, reported as the smallest p-value times the number of components
(Bonferroni), and a permutation test of the sum of the squared Welch statistics (the seeds'
labels shuffled ``--permutations`` times; exact under equal distributions whatever the
correlations between components, and it pools the components' evidence). Also reported: the
standard errors against the means (what difference the test resolves) and the common-random-number
check of the program (reference phase at +β: ΔW and Δb must be 0 up to the rounding of the
negated integrals). Runs in its own process (the standalone device is process-wide). Usage::

    python benchmarks/episode_agreement.py [--seeds 20] [--input current|poisson] \\
        [--build-dir DIR] [--json out.json] [--program-dt-ms 0.1] [--teach-every-step]

``--program-dt-ms`` builds the program at another time step than the Cython side: a negative
control, which the tests should reject. ``--teach-every-step`` builds it with its teaching current
summed every step instead of once per phase: the program's rows must be the same to the bit.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "train_spiking.toml"


def flat(dW: list, db: list, y: np.ndarray) -> np.ndarray:
    return np.concatenate([a.ravel() for a in (*dW, *db, y)])


def welch_z2(a: np.ndarray, b: np.ndarray) -> float:
    """Σ over components of the squared Welch statistic of equal means (rows: samples)."""
    se2 = a.var(axis=0, ddof=1) / len(a) + b.var(axis=0, ddof=1) / len(b)
    return float(np.sum((a.mean(axis=0) - b.mean(axis=0)) ** 2 / se2))


def permutation_p(a: np.ndarray, b: np.ndarray, permutations: int, seed: int = 0) -> float:
    """P-value of :func:`welch_z2` against random relabellings of the pooled samples."""
    rng = np.random.default_rng(seed)
    pooled, observed = np.concatenate([a, b]), welch_z2(a, b)
    hits = sum(welch_z2(*np.split(pooled[rng.permutation(len(pooled))], [len(a)])) >= observed
               for _ in range(permutations))
    return (hits + 1) / (permutations + 1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--sizes", type=int, nargs="+", default=[4, 5, 3])
    p.add_argument("--batch", type=int, default=2)
    p.add_argument("--neurons", type=int, default=5)
    p.add_argument("--seeds", type=int, default=20)
    p.add_argument("--input", choices=("poisson", "current"), default="current")
    p.add_argument("--build-dir", default=None)
    p.add_argument("--permutations", type=int, default=10000)
    p.add_argument("--program-dt-ms", type=float, default=None,
                   help="a negative control: the program at another time step than the Cython side")
    p.add_argument("--teach-every-step", action="store_true",
                   help="the program sums its teaching current every step: the same results")
    p.add_argument("--json", default=None)
    a = p.parse_args()

    from scipy.stats import ttest_ind

    from stdp_ebm.activation import HardSigmoid
    from stdp_ebm.energy import HOPFIELD
    from stdp_ebm.network import random_network
    from stdp_ebm.runner import resolve
    from stdp_ebm.spiking import SpikingParams, load_models
    from stdp_ebm.spiking.episode_program import SELF_TEST, EpisodeProgram
    from stdp_ebm.spiking.learner import SpikingLearner

    cfg = resolve(CONFIG, [f"spiking.neurons_per_unit={a.neurons}"])[0]
    sp, rule_dt = SpikingParams.of(cfg), cfg["learner"]["rule_dt_ms"]
    models, rho = load_models(), HardSigmoid()
    rng = np.random.default_rng(0)
    net = random_network(a.sizes, rng, 1.0, 0.0, 0.0)
    x = rng.uniform(0, 1, (a.batch, a.sizes[0]))
    d = np.eye(a.sizes[-1])[rng.integers(0, a.sizes[-1], a.batch)]
    t0 = time.perf_counter()
    prog_sp = sp if a.program_dt_ms is None else sp.replace(dt_ms=a.program_dt_ms)
    prog = EpisodeProgram(net, rho, prog_sp, models, a.batch, HOPFIELD,
                          a.build_dir or tempfile.mkdtemp(prefix="episode_"), a.input, rule_dt,
                          teach_every_step=a.teach_every_step)
    build_s = time.perf_counter() - t0
    program = np.array([flat(*(lambda r: (r.dW, r.db, r.y))(prog.delta(net.W, net.b, x, d, s)))
                        for s in range(1, a.seeds + 1)])
    crn = prog.delta(net.W, net.b, x, d, 1, reference_sign=SELF_TEST)
    cython = []
    for s in range(1, a.seeds + 1):
        learner = SpikingLearner(net, rho, sp, models, s, a.batch, [0.1] * (len(a.sizes) - 1),
                                 HOPFIELD, a.input, rule_dt)
        cython.append(flat(*learner.delta(x, d)))
    c = np.array(cython)
    varying = (program.std(axis=0) > 0) | (c.std(axis=0) > 0)  # ΔW_0 of a silent pixel is 0
    p_values = ttest_ind(program[:, varying], c[:, varying], equal_var=False).pvalue
    se = np.sqrt(program.var(axis=0, ddof=1) / a.seeds + c.var(axis=0, ddof=1) / a.seeds)[varying]
    mean = np.abs(c.mean(axis=0))[varying]
    out = {"sizes": a.sizes, "batch": a.batch, "neurons": a.neurons, "input": a.input,
           "dt_ms": sp.dt_ms, "program_dt_ms": prog_sp.dt_ms,
           "seeds": a.seeds, "components": int(varying.sum()), "build_s": build_s,
           "bonferroni_p": float(min(1.0, p_values.min() * varying.sum())),
           "permutation_p": permutation_p(program[:, varying], c[:, varying], a.permutations),
           "max_abs_z": float(np.max(np.abs(program.mean(axis=0)[varying]
                                             - c.mean(axis=0)[varying]) / se)),
           "median_se_over_abs_mean": float(np.median(se / np.maximum(mean, 1e-12))),
           "sd_ratio_program_over_cython": float(np.median(program.std(axis=0, ddof=1)[varying]
                                                           / c.std(axis=0, ddof=1)[varying])),
           "crn_max_abs_dW": float(max(np.abs(w).max() for w in crn.dW)),
           "crn_max_abs_db": float(max(np.abs(v).max() for v in crn.db)),
           "program": program.tolist(), "cython": c.tolist()}
    print(json.dumps({k: v for k, v in out.items() if k not in ("program", "cython")}, indent=1))
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
