"""Test error of a spiking run's weights in the spiking network and in the calibrated rate model.

For each ``train_spiking`` checkpoint (``checkpoints/spk.npz``, finished run or not; copy it out of a
run in progress) prints the spiking learner's test error stored with it (the Brian2 network's own
inference) beside that of the same weights in the calibrated rate model (its free fixed point, the
inference the rate learner uses), on the config's test set. The difference is what the spiking
network's inference (finite populations, finite counting window) costs over the learned weights.
``--free-ms T1 T2 …`` also tests the Brian2 network with those counting windows (``--n-test``
examples, the same for every window and for the rate model; on the config's ``[learner] workers``
processes). Usage::

    python benchmarks/spiking_weights_in_rate_model.py spk_epoch3.npz spk_epoch6.npz \\
        --config experiments/train_spiking_mnist_full.toml --set data.dir=../shared/data/mnist
"""

from __future__ import annotations

import argparse
import time
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("checkpoints", nargs="+")
    p.add_argument("--config", default=str(REPO / "experiments" / "train_spiking.toml"))
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--free-ms", type=float, nargs="*", default=[])
    p.add_argument("--n-test", type=int, default=0, help="first N test examples (0: all)")
    a = p.parse_args()

    from stdp_ebm.spiking.calibration import CalibrationParams, calibrate
    from stdp_ebm.checkpoint import Checkpoint
    from stdp_ebm.experiments import RunContext
    from stdp_ebm.experiments.train_spiking import build, load_task, rate_train_cfg
    from stdp_ebm.network import Network
    from stdp_ebm.rate import DynamicsParams, model_from_config
    from stdp_ebm.runner import resolve
    from stdp_ebm.seeds import Seeds
    from stdp_ebm.spiking import SpikingParams, load_models
    from stdp_ebm.learning import EPLearner, evaluate

    cfg = resolve(a.config, a.overrides)[0]
    seeds, t = Seeds(cfg["seed"]), rate_train_cfg(cfg)
    data = load_task(cfg["task"], seeds.rng("data"), t.batch_size, cfg["data"]["dir"])
    n_test = a.n_test or len(data.x_test)
    x_test, y_test = data.x_test[:n_test], data.y_test[:n_test]
    rho = calibrate(SpikingParams.of(cfg), CalibrationParams.of(cfg), load_models(),
                    seeds.int("calibration")).tabulate()
    layers = len(cfg["network"]["sizes"]) - 1
    for path in map(Path, a.checkpoints):
        history, arrays = Checkpoint(path.parent, path.stem).read()
        net = Network([arrays[f"W_{k}"] for k in range(layers)],
                      [arrays[f"b_{k}"] for k in range(layers + 1)])
        model = model_from_config(net, DynamicsParams.of(cfg), rho=rho)
        err = evaluate(EPLearner(model, t, 0).predict, x_test, y_test, 1000)
        spiking = 100 * history.test_error[-1]
        print(f"{path}: after epoch {history.epochs}: Brian2 network {spiking:.2f} % (all test "
              f"examples, in training), the same weights in the calibrated rate model "
              f"{100 * err:.2f} % ({n_test} test examples)", flush=True)
        for free_ms in a.free_ms:
            c = resolve(a.config, a.overrides + [f"spiking.free_ms={free_ms}"])[0]
            with closing(build(c, RunContext(Seeds(c["seed"])), data)[3]) as spk:
                spk.net = net.copy()
                t0 = time.perf_counter()
                err = evaluate(spk.predict, x_test, y_test, t.batch_size)
            print(f"  Brian2 network counting {free_ms:g} ms: {100 * err:.2f} % ({n_test} test "
                  f"examples, {time.perf_counter() - t0:.0f} s on {c['learner']['workers']} "
                  "worker(s))", flush=True)


if __name__ == "__main__":
    main()
