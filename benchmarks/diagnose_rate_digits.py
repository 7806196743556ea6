"""Diagnosis: which settings let the calibrated rate model (Hopfield energy, ρ_LIF) learn digits.

The rate learner of ``experiments/train_spiking*.toml`` (symmetric ±β, ε = 0.5) alone, on the
``train_digits`` split restricted to ``--classes`` classes and pooled ``--pool``×``--pool``, with
ρ_LIF measured as in those configs (``--config``'s [spiking]/[calibration]). Prints the test error
per epoch, the states at the calibrated range's ends, the predicted-class counts and the hidden
units that never fire. Usage (the measurements of docs/spiking_learning.md)::

    python benchmarks/diagnose_rate_digits.py --classes 3 --pool 2 --H 8 --ntrain 200 --epochs 20
    python benchmarks/diagnose_rate_digits.py --classes 10 --H 50 --nudged 10
    python benchmarks/diagnose_rate_digits.py --mnist ../shared/data/mnist --ntrain 2000 --H 100 \
        --nudged 10 --epochs 3 --lrs 0.1 0.15       # MNIST instead (first 2000 test images)
    python benchmarks/diagnose_rate_digits.py --config experiments/train_spiking.toml --nudged 10 \
        --validation 300 --lrs 0.15 0.075         # choose settings on held-out training examples
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(REPO / "experiments" / "train_spiking_quick.toml"))
    p.add_argument("--classes", type=int, default=10)
    p.add_argument("--pool", type=int, default=1)
    p.add_argument("--H", type=int, default=50)
    p.add_argument("--ntrain", type=int, default=0)
    p.add_argument("--init", type=float, default=0.4)
    p.add_argument("--beta", type=float, default=0.2)
    p.add_argument("--lrs", type=float, nargs=2, default=[0.3, 0.15])
    p.add_argument("--decay", type=float, default=0.8)
    p.add_argument("--epochs", type=int, default=8)
    p.add_argument("--bs", type=int, default=10)
    p.add_argument("--free", type=int, default=60)
    p.add_argument("--nudged", type=int, default=20)
    p.add_argument("--mnist", default=None, help="MNIST IDX directory: MNIST instead of digits")
    p.add_argument("--validation", type=int, default=0,
                   help="hold out the last N training examples and report the error on them "
                        "instead of the test set (for choosing settings)")
    a = p.parse_args()

    from stdp_ebm.spiking.calibration import CalibrationParams, calibrate
    from stdp_ebm.data import Dataset, load_digits, load_mnist
    from stdp_ebm.energy import HOPFIELD
    from stdp_ebm.network import random_network
    from stdp_ebm.rate import RateModel
    from stdp_ebm.runner import resolve
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import SpikingParams, load_models
    from stdp_ebm.learning import EPLearner, TrainParams, train_ep

    cfg = resolve(a.config)[0]
    rho = calibrate(SpikingParams.of(cfg), CalibrationParams.of(cfg), load_models(), 1).tabulate()
    lo, hi = rho.bounds
    seeds = Seeds(1234)
    full = load_digits(seeds.rng("data"), 0.2)
    side = 8 // a.pool

    def part(x, y):
        keep = np.argmax(y, 1) < a.classes
        x = x[keep].reshape(-1, side, a.pool, side, a.pool).mean(axis=(2, 4))
        return x.reshape(-1, side * side), y[keep][:, :a.classes]

    (xtr, ytr), (xte, yte) = part(full.x_train, full.y_train), part(full.x_test, full.y_test)
    if a.mnist:
        mnist = load_mnist(a.mnist)
        xtr, ytr, xte, yte = mnist.x_train, mnist.y_train, mnist.x_test[:2000], mnist.y_test[:2000]
    if a.validation:
        xtr, ytr, xte, yte = (xtr[:-a.validation], ytr[:-a.validation], xtr[-a.validation:],
                              ytr[-a.validation:])
    n = (a.ntrain or len(xtr)) // a.bs * a.bs
    data = Dataset("digits", xtr[:n], ytr[:n], xte, yte)
    net = random_network([xtr.shape[1], a.H, ytr.shape[1]], seeds.rng("network"), a.init, 0, 0)
    model = RateModel(net, rho, epsilon=0.5, projected=True, energy_form=HOPFIELD)
    t = TrainParams(epochs=a.epochs, batch_size=a.bs, lrs=a.lrs, lr_decay=a.decay, free_steps=a.free,
             nudged_steps=a.nudged, beta=a.beta, symmetric=True, random_sign=False,
             persistent=False, eval_batch=400)
    learner = EPLearner(model, t, 0)

    def states():
        return learner._free(xte, model.input_drive(xte))

    def report(h) -> None:
        s = states()
        ry = rho(s[-1])
        print(f"epoch {h.epochs}: {'validation' if a.validation else 'test'} error {100 * h.test_error[-1]:.1f} %; h at s_min "
              f"{np.mean(s[1] <= lo):.2f}, at s_max {np.mean(s[1] >= hi):.2f}; y at s_min "
              f"{np.mean(s[-1] <= lo):.2f}; ρ(y) of the target class {np.mean(ry[yte > 0]):.2f}, "
              f"of the others {np.mean(ry[yte == 0]):.2f}", flush=True)

    train_ep(model, data, t, seeds.rng("order"), on_epoch=report)
    s = states()
    print("predicted-class counts", np.bincount(np.argmax(s[-1], 1), minlength=a.classes),
          "true", np.bincount(np.argmax(yte, 1), minlength=a.classes))
    print("hidden units with ρ < 0.05 on every test example:",
          int(np.sum(rho(s[1]).max(axis=0) < 0.05)), "of", a.H)


if __name__ == "__main__":
    main()
