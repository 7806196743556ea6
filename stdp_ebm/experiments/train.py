"""Training with the rule: two-phase (free / nudged) learning of the rate model, with a backprop baseline.

The network is trained by :func:`stdp_ebm.learning.train_ep` (free phase, nudged phase under
F = E + βC (Eq 13), update by the closed form of the symmetrised rule (Eq 26)); the same initial
network is trained as a feed-forward chain by backprop (:func:`stdp_ebm.learning.train_bp`) on the same
split, batches, learning rates and epochs, both in the precision ``dynamics.dtype``. Both
checkpoint after every epoch into the run directory's ``checkpoints/`` (``ep.npz``, ``bp.npz``); an
interrupted run is left in ``.<run dir>.partial`` and the same command (or ``--resume RUN_DIR``)
continues it from its last epoch (:mod:`stdp_ebm.rundir`). The trained rate-model network is saved as ``trained_network.npz``
(network-file format, usable with ``--network``; with ``input_dropout`` p its W_0 is scaled by
1 − p, the mean input that predictions use).

data.npz names (``m`` is ``ep`` or ``bp``):

* ``epoch`` — 1 … epochs
* ``{m}_train_error``, ``{m}_test_error`` (fractions), ``{m}_train_cost`` (mean C), ``{m}_wall_s``
* ``ep_W_{k}``, ``ep_b_{k}`` — the trained rate-model network; ``init_W_0`` its initial W_0

summary.json: ``test_error_fraction`` (the rule's final test error) and per learner
``test_error_fraction``, ``train_error_fraction``, ``best_test_error_fraction``, ``best_epoch``,
``wall_s``, ``epoch_s``. Errors are fractions in [0, 1] everywhere, named ``_fraction``.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .. import progress
from ..activation import HardSigmoid
from ..checkpoint import Checkpoint, History, read_checkpoints
from ..config import Key, data_dir_key, data_directory, require
from ..data import Dataset, load_digits, load_mnist
from ..network import NETWORK_SCHEMA, Network, random_network, save_network
from ..plotting import (error_floor, figure, layer_colors, log_percent_axis, mark_floor,
                        panel_label, plot_percent)
from ..rate import DTYPE_KEY, DYNAMICS_SCHEMA, RateModel
from ..seeds import Seeds
from ..learning import TRAIN_SCHEMA, TrainParams, train_bp, train_ep
from . import Experiment, Result, RunContext

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

N_INPUTS = {"digits": 64, "mnist": 784}
LEARNERS = {"ep": "rule (EP, Eq 26)", "bp": "backprop baseline"}

SCHEMA = {
    "network": NETWORK_SCHEMA.subset("sizes", "init_scale", "bias_low", "bias_high",
                                     sizes=[64, 300, 10], init_scale=1.0, bias_low=0.0,
                                     bias_high=0.0),
    "dynamics": DYNAMICS_SCHEMA.subset("epsilon", "beta1", "beta2").plus(dtype=DTYPE_KEY),
    "data": {
        "dataset": Key("str", "digits", "digits: scikit-learn's bundled 8×8 set; mnist: IDX files "
                                        "in dir", choices=tuple(N_INPUTS)),
        "dir": data_dir_key("data/mnist", "directory of the four MNIST IDX files (.gz or raw)"),
        "test_fraction": Key("float", 0.2, "digits: fraction held out for testing (stratified)",
                             low=0.0, open_low=True, high=1.0, open_high=True),
        "n_train": Key("int", 0, "use only the first n training examples (0: all)", low=0),
        "n_test": Key("int", 0, "use only the first n test examples (0: all)", low=0),
        "validation": Key("int", 0, "if > 0: hold out the last n training examples and report "
                                    "them as the 'test' set, for choosing hyper-parameters without "
                                    "the test set", low=0),
    },
    "train": TRAIN_SCHEMA.plus(
        baseline=Key("bool", True, "also train the same architecture by backprop")),
}


def check(cfg: dict, source: str) -> None:
    """Cross-key checks: layer sizes fit the data set, one learning rate per weight matrix."""
    sizes = cfg["network"]["sizes"]
    n_in = N_INPUTS[cfg["data"]["dataset"]]
    require(len(sizes) >= 2 and sizes[0] == n_in and sizes[-1] == 10, source, "[network] sizes",
            sizes, f"must start with {n_in} inputs ({cfg['data']['dataset']}) and end with 10 outputs")
    require(len(cfg["train"]["lrs"]) == len(sizes) - 1, source, "[train] lrs", cfg["train"]["lrs"],
            f"needs one learning rate per weight matrix ({len(sizes) - 1})")


def load_data(sec: dict, rng: np.random.Generator) -> Dataset:
    """The data set of the [data] section (its validation split if ``validation`` > 0), cut to
    n_train / n_test when those are non-zero."""
    data = load_digits(rng, sec["test_fraction"]) if sec["dataset"] == "digits" \
        else load_mnist(data_directory(sec["dir"], "MNIST needs its four IDX files"))
    if sec["validation"]:
        data = data.validation(sec["validation"])
    n_train = sec["n_train"] or len(data.x_train)
    n_test = sec["n_test"] or len(data.x_test)
    return data.subset(n_train, n_test) if (n_train, n_test) != (len(data.x_train),
                                                                  len(data.x_test)) else data


def _checkpoint(ctx: RunContext, tag: str) -> Checkpoint | None:
    """``checkpoints/<tag>.npz`` in the run directory being written (none for a sweep point)."""
    return None if ctx.work_dir is None else Checkpoint(Path(ctx.work_dir) / "checkpoints", tag)


def inference_network(net: Network, input_dropout: float) -> Network:
    """``net`` as predictions use it: with input dropout p they see (1 − p)·x, and since ρ(x) = x on
    the pixels' range [0, 1] that is W_0 scaled by (1 − p) (so the saved file needs no option)."""
    if not input_dropout:
        return net
    out = net.copy()
    out.W[0] *= 1.0 - input_dropout
    return out


def _summary(h: History) -> dict:
    return {"test_error_fraction": h.test_error[-1], "train_error_fraction": h.train_error[-1],
            "best_test_error_fraction": min(h.test_error), "best_epoch": int(np.argmin(h.test_error)) + 1,
            "wall_s": float(np.sum(h.wall_s)), "epoch_s": float(np.mean(h.wall_s))}


def run(cfg: dict, ctx: RunContext) -> Result:
    n, d, t, tp = cfg["network"], cfg["dynamics"], cfg["train"], TrainParams.of(cfg)
    data = load_data(cfg["data"], ctx.seeds.rng("data")).astype(d["dtype"])
    net = random_network(n["sizes"], ctx.seeds.rng("network"), n["init_scale"], n["bias_low"],
                         n["bias_high"]).astype(d["dtype"])
    initial = net.copy()
    rho = HardSigmoid(d["beta1"], d["beta2"])
    with progress.EpochBars("EP") as bars:
        histories = {"ep": train_ep(RateModel(net, rho, epsilon=d["epsilon"]), data, tp,
                                    ctx.seeds.rng("train_ep"), _checkpoint(ctx, "ep"),
                                    progress.epoch_lines("EP", t["epochs"]), bars)}
    if ctx.work_dir is not None:
        save_network(inference_network(net, t["input_dropout"]).astype(np.float64),
                     Path(ctx.work_dir) / "trained_network.npz")
    if t["baseline"]:
        with progress.EpochBars("BP") as bars:
            histories["bp"] = train_bp(initial, rho, data, tp, ctx.seeds.rng("train_bp"),
                                       _checkpoint(ctx, "bp"), progress.epoch_lines("BP", t["epochs"]),
                                       bars)
    out: dict[str, np.ndarray] = {"epoch": np.arange(1, t["epochs"] + 1)}
    for m, h in histories.items():
        out.update({f"{m}_{k}": v for k, v in h.arrays().items()})
    out.update({f"ep_W_{k}": w for k, w in enumerate(net.W)})
    out["init_W_0"] = initial.W[0]  # what the rule started from: receptive fields show the change
    out.update({f"ep_b_{k}": b for k, b in enumerate(net.b)})
    summary = {"dataset": data.name, "sizes": net.sizes, "n_train": len(data.x_train),
               "n_test": len(data.x_test), "epochs": t["epochs"],
               "test_error_fraction": histories["ep"].test_error[-1],
               **{m: _summary(h) for m, h in histories.items()}}
    return Result(out, summary)


def interim(cfg: dict, work_dir: Path) -> tuple[dict, dict] | None:
    """The learning curves and current W_0 of a run in progress, from the checkpoints of its
    finished epochs (None before the first); the initial W_0 is drawn again from the seed."""
    got = read_checkpoints(Path(work_dir) / "checkpoints", LEARNERS)
    if "ep" not in got:  # the rule trains first
        return None
    n = cfg["network"]
    init = random_network(n["sizes"], Seeds(cfg["seed"]).rng("network"), n["init_scale"],
                          n["bias_low"], n["bias_high"])
    out = {"epoch": np.arange(1, cfg["train"]["epochs"] + 1), "init_W_0": init.W[0],
           "ep_W_0": got["ep"][1]["W_0"]}
    for m, (h, _) in got.items():
        out.update({f"{m}_{k}": v for k, v in h.arrays().items()})
    ep = got["ep"][0]
    summary = {"dataset": cfg["data"]["dataset"], "sizes": n["sizes"], "epochs": ep.epochs,
               "test_error_fraction": ep.test_error[-1], "in_progress_of": cfg["train"]["epochs"]}
    return out, summary


def figures(data: dict, summary: dict, cfg: dict) -> dict:
    out = {"learning_curves": _learning_curves(data, summary)}
    side = int(round(np.sqrt(data["ep_W_0"].shape[0])))
    if side * side == data["ep_W_0"].shape[0] and "init_W_0" in data:
        out["receptive_fields"] = _receptive_fields(data["ep_W_0"] - data["init_W_0"], side)
    return out


def _learning_curves(data: dict, summary: dict):
    fig, (ax_err, ax_cost) = figure(2, 1, width=3.5, height=2.7)
    epoch = data["epoch"]
    colors = dict(zip(LEARNERS, layer_colors(2)))
    marker = "o" if len(epoch) <= 30 else None
    # zeros drawn below one error in the larger set (a run in progress has no sizes: 0.01 %)
    n_most = max(summary.get("n_train", 0), summary.get("n_test", 0)) or 5000
    floor = error_floor(n_most)
    zeros = False
    for m, label in LEARNERS.items():
        if f"{m}_test_error" not in data:
            continue
        ep = epoch[:len(data[f"{m}_test_error"])]  # a run in progress: the finished epochs
        zeros |= plot_percent(ax_err, ep, 100 * data[f"{m}_test_error"], floor, "-",
                              marker=marker, color=colors[m], label=f"{label}, test")
        zeros |= plot_percent(ax_err, ep, 100 * data[f"{m}_train_error"], floor, "--",
                              color=colors[m], label=f"{label}, train")
        ax_cost.plot(ep, data[f"{m}_train_cost"], "-", color=colors[m], label=label)
    if summary["dataset"] == "mnist":
        ax_err.axhspan(2.0, 3.0, color="0.85", zorder=0,
                       label="Scellier & Bengio 2017, test (2–3 %)")
    log_percent_axis(ax_err)
    if zeros:
        mark_floor(ax_err, n_most)
    ax_err.set_xlabel("epoch")
    ax_err.set_ylabel("error (%)")
    ax_cost.set_yscale("log")
    ax_cost.set_xlabel("epoch")
    ax_cost.set_ylabel("mean training cost C")
    fig.legend(*ax_err.get_legend_handles_labels(), loc="outside lower center", ncol=3)
    panel_label(ax_err, "a")
    panel_label(ax_cost, "b")
    of = f" of {summary['in_progress_of']} (in progress)" if "in_progress_of" in summary else ""
    fig.suptitle(f"{summary['dataset']} {'-'.join(map(str, summary['sizes']))}: "
                 f"test error {100 * summary['test_error_fraction']:.2f} % after {summary['epochs']} "
                 f"epochs{of}", fontsize=9)
    return fig


def _receptive_fields(dw0: np.ndarray, side: int, n: int = 25):
    """What the rule learned: W_0(final) − W_0(initial) of the ``n`` hidden units whose incoming
    weights changed most, as side×side tiles of one image."""
    n = min(n, dw0.shape[1])
    units = np.argsort(-np.linalg.norm(dw0, axis=0))[:n]
    cols = int(np.ceil(np.sqrt(n)))
    mosaic = np.full((cols * (side + 1) - 1, cols * (side + 1) - 1), np.nan)
    for t, j in enumerate(units):
        r, c = divmod(t, cols)
        mosaic[r * (side + 1):r * (side + 1) + side, c * (side + 1):c * (side + 1) + side] = \
            dw0[:, j].reshape(side, side)
    fig, (ax,) = figure(1, 1, width=3.6, height=3.2)
    lim = float(np.max(np.abs(dw0[:, units])))
    im = ax.imshow(mosaic, cmap="RdBu_r", vmin=-lim, vmax=lim)
    ax.axis("off")
    fig.colorbar(im, ax=ax, shrink=0.8, label="learned change of W_0 (input pixel → h_1 unit)")
    ax.set_title(f"W_0 final − initial: the {n} h_1 units that changed most\n"
                 f"(rule-trained, {side}×{side} pixels)")
    return fig


#: the ``train`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="train",
    doc="Two-phase training with the rule (EP form of Eq 26) vs backprop, on digits or MNIST.",
    schema=SCHEMA, run=run, figures=figures, check=check, resumable=True, interim=interim,
)
