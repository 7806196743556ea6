"""Training with the Brian2 rule synapses vs the calibrated rate model, on scikit-learn's digits.

Task: scikit-learn's 8×8 digits (all ten classes or a few, optionally block-averaged, ``[task]
pool``) or MNIST, stratified train/test split (:func:`stdp_ebm.data.load_digits`).

Spiking learner: :class:`stdp_ebm.spiking.learner.SpikingLearner` (one compiled Brian2 network,
free phase, ±β nudged phases with common random numbers, ΔW from the rule synapses; the clamped
input as Poisson trains or as the constant current ρ(x)W_0, ``[learner] input``). Its test error
is counted over ``[learner] eval_free_ms`` (> 0: kept apart from training; 0: the training window).

Rate learner: the same initial network, split, mini-batches, β, learning rates and epochs, trained
by :func:`stdp_ebm.learning.train_ep` (symmetric ±β) with ρ = ρ_LIF, the measured f–I curve of the
spiking neuron (:mod:`stdp_ebm.spiking.calibration`).

Both learners are watched every ``[learner] align_every`` mini-batches: the cosine per layer of
the ΔW they apply with −∂C/∂W of the calibrated rate model at their weights before the update
(implicit differentiation of its free fixed point on that mini-batch).

data.npz: ``epoch``; ``{spk,rate}_{train_error,test_error,train_cost,wall_s}``;
``{spk,rate}_test_ci``: 95 % Wilson interval of the test error (epochs, 2);
``{spk,rate}_test_correct``: per test image, 1 if classified correctly (uint8, one row per epoch:
all epochs, or the last ones for a run resumed from checkpoints older than these records);
``test_mcnemar_p``: exact McNemar p-value of the two learners on the same test images, per epoch
(NaN where a mask is missing);
``{spk,rate}_align_batch`` (mini-batches done) and ``{spk,rate}_align_cos`` (records, layers);
``first_dW_{spk,rate}_W{k}``: ΔW of both learners on the first training mini-batch at the initial
weights, ``first_dW_implicit_W{k}`` the implicit gradient of the calibrated rate model there;
``{spk,rate}_W{k}`` the trained weights; ``calib_s``, ``calib_rate_hz``.
"""

from __future__ import annotations

import os
from contextlib import closing
from pathlib import Path

import numpy as np

from .. import progress
from ..analysis import METRICS, layer_alignment
from ..spiking.calibration import CALIBRATION_SCHEMA, CalibrationParams, calibrate
from ..checkpoint import Checkpoint, History, read_checkpoints
from ..cluster import connect
from ..config import Key, data_dir_key, data_directory, require
from ..errors import ConfigError
from ..data import DataError, Dataset, load_digits, load_mnist, one_hot
from ..network import NETWORK_SCHEMA, random_network
from ..rate import DYNAMICS_SCHEMA, DynamicsParams, RateModel, model_from_config
from ..references import implicit_neg_grad
from ..seeds import Seeds
from ..spiking import SPIKING_SCHEMA, SpikingParams, load_models
from ..spiking.compiled_learner import CompiledSpikingLearner
from ..spiking.dask_pool import DaskSpikingLearner
from ..spiking.learner import LEARNER_SCHEMA, DeltaLearner, LearnerParams, SpikingLearner
from ..spiking.params import require_rate_form
from ..spiking.pool import ParallelSpikingLearner
from ..learning import TRAIN_SCHEMA, EPLearner, Learner, TrainParams, evaluate, fit
from . import Experiment, Result, RunContext
from .train_spiking_plots import LEARNERS, figures, paired_test

#: the public name of this module: its experiment, run by name (stdp-ebm run, stdp_ebm.run_config)
__all__: list[str] = ["EXPERIMENT"]

TRAIN_KEYS = ("epochs", "batch_size", "lrs", "lr_decay", "free_steps", "nudged_steps")

SCHEMA = {
    "network": NETWORK_SCHEMA.subset("sizes", "init_scale", "bias_low", "bias_high",
                                     sizes=[64, 50, 10]),
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,
    "calibration": CALIBRATION_SCHEMA,
    "task": {
        "dataset": Key("str", "digits", "digits: scikit-learn's 8×8 digits; mnist: the four MNIST "
                       "IDX files in [data] dir (784 pixels, all ten classes, no pooling)",
                       choices=("digits", "mnist")),
        "classes": Key("ints", list(range(10)), "digit classes used", low=0, high=9),
        "pool": Key("int", 1, "block-average pool×pool pixels (8×8 → (8/pool)²)", low=1),
        "test_fraction": Key("float", 0.2, "stratified held-out fraction", low=0.0,
                             open_low=True, high=1.0, open_high=True),
        "n_train": Key("int", 0, "first n training examples (0: all, cut to a multiple of "
                                 "[train] batch_size)", low=0),
        "n_test": Key("int", 0, "first n test examples (0: all)", low=0),
        "validation": Key("int", 0, "if > 0: hold out the last n training examples and report "
                                    "them as the 'test' set, for choosing settings without the "
                                    "test set", low=0),
    },
    "data": {"dir": data_dir_key("data/mnist", "directory of the MNIST IDX files "
                                               "([task] dataset = mnist)")},
    "train": TRAIN_SCHEMA.subset(*TRAIN_KEYS),
    "learner": LEARNER_SCHEMA,
}


def check(cfg: dict, source: str) -> None:
    """Sizes fit the task; one learning rate per weight matrix; ±β."""
    tk, sizes = cfg["task"], cfg["network"]["sizes"]
    require(8 % tk["pool"] == 0, source, "[task] pool", tk["pool"], "must divide 8")
    n_in = (8 // tk["pool"]) ** 2
    if tk["dataset"] == "mnist":
        require(tk["pool"] == 1 and len(tk["classes"]) == 10, source, "[task] dataset",
                "mnist", "uses all ten classes and no pooling (pool = 1)")
        n_in = 784
    require(len(sizes) >= 2 and sizes[0] == n_in and sizes[-1] == len(tk["classes"]), source,
            "[network] sizes", sizes, f"must start with {n_in} pixels and end with "
            f"{len(tk['classes'])} outputs (one per class)")
    require(len(cfg["train"]["lrs"]) == len(sizes) - 1, source, "[train] lrs",
            cfg["train"]["lrs"], f"needs one learning rate per weight matrix ({len(sizes) - 1})")
    require(tk["n_train"] % cfg["train"]["batch_size"] == 0, source, "[task] n_train",
            tk["n_train"], "must be a multiple of [train] batch_size (the network's copies)")
    workers = cfg["learner"]["workers"]
    require(cfg["train"]["batch_size"] % workers == 0, source, "[learner] workers", workers,
            "must divide [train] batch_size (each worker takes an equal share of a mini-batch)")
    window, dt = cfg["learner"]["eval_free_ms"], cfg["spiking"]["dt_ms"]
    require(window == 0 or window >= dt, source, "[learner] eval_free_ms", window,
            f"must be 0 ([spiking] free_ms) or a window of at least one time step "
            f"([spiking] dt_ms = {dt:g} ms)")
    require(cfg["spiking"]["estimator"] == "symmetric", source, "[spiking] estimator",
            cfg["spiking"]["estimator"], "training uses the symmetric ±β estimate")


def load_task(sec: dict, rng: np.random.Generator, batch_size: int = 1,
              data_dir: str | Path | None = None) -> Dataset:
    """Digits of ``classes``, pool×pool block averages (or MNIST from ``data_dir``, the config's
    ``[data] dir``), cut to n_train (all: the largest multiple of ``batch_size``) / n_test."""
    if sec["dataset"] == "mnist":
        data = load_mnist(data_directory("" if data_dir is None else data_dir,
                                         "MNIST needs its four IDX files"))
        if sec["validation"]:
            data = data.validation(sec["validation"], "[task] validation")
        ntr = (sec["n_train"] or len(data.x_train)) // batch_size * batch_size
        return data.subset(ntr, sec["n_test"] or len(data.x_test))
    full = load_digits(rng, sec["test_fraction"])
    classes, p = list(sec["classes"]), sec["pool"]
    parts = []
    for x, y in ((full.x_train, full.y_train), (full.x_test, full.y_test)):
        keep = np.isin(np.argmax(y, axis=1), classes)
        side = 8 // p
        pooled = x[keep].reshape(-1, side, p, side, p).mean(axis=(2, 4)).reshape(-1, side * side)
        labels = np.searchsorted(np.array(sorted(classes)), np.argmax(y[keep], axis=1))
        parts.append((pooled, one_hot(labels, len(classes))))
    (xtr, ytr), (xte, yte) = parts
    name = f"digits{'' if len(classes) == 10 else f' {sorted(classes)}'} {side}×{side}"
    data = Dataset(name, xtr, ytr, xte, yte)
    if sec["validation"]:
        data = data.validation(sec["validation"], "[task] validation")
    if sec["n_train"] > len(data.x_train):
        raise DataError(f"[task] n_train = {sec['n_train']}: only {len(data.x_train)} training "
                        "examples")
    ntr = sec["n_train"] or len(data.x_train) // batch_size * batch_size
    nte = sec["n_test"] or len(data.x_test)
    return Dataset(data.name, data.x_train[:ntr], data.y_train[:ntr], data.x_test[:nte],
                   data.y_test[:nte])


def build(cfg: dict, ctx: RunContext, data: Dataset) -> tuple:
    """Initial network, calibrated rate model (ρ_LIF) and the spiking learner (one compiled
    network, or one per worker: local processes, or with ``ctx.options["scheduler"]`` learners
    on that Dask cluster)."""
    n, sp, t, lr = cfg["network"], SpikingParams.of(cfg), cfg["train"], LearnerParams.of(cfg)
    scheduler = ctx.options.get("scheduler") if lr.workers > 1 else None
    if lr.engine == "standalone":
        if scheduler is not None:
            raise ConfigError("[learner] engine = standalone runs on local worker processes "
                              "(one compiled program per process); on a Dask cluster use "
                              "engine = cython")
    cores = os.cpu_count() or 1
    if scheduler is None and lr.workers > cores:  # at run time: a stored config plots anywhere
        raise ConfigError(f"[learner] workers = {lr.workers}: at most the {cores} cores of this "
                          "machine (each worker is a process with its own network); more run on "
                          "a Dask cluster (--scheduler)")
    client = connect(scheduler) if scheduler is not None else None  # before the calibration
    net = random_network(n["sizes"], ctx.seeds.rng("network"), n["init_scale"], n["bias_low"],
                         n["bias_high"])
    models = load_models(sp.synapse)
    if lr.engine == "standalone":
        require_rate_form(models)  # before the calibration and any build
    fi = calibrate(sp, CalibrationParams.of(cfg), models, ctx.seeds.int("calibration"))
    rho = fi.tabulate()
    model = model_from_config(net.copy(), DynamicsParams.of(cfg), rho=rho)
    args = (net, rho, sp, models)
    kwargs = dict(batch=t["batch_size"], lrs=t["lrs"], energy=model.energy_form,
                  input_mode=lr.input, rule_dt_ms=lr.rule_dt_ms,
                  eval_free_ms=lr.eval_free_ms or None)
    if lr.engine == "standalone":  # one compiled program per worker process
        seeds = [ctx.seeds.int(f"brian2_program_{p}") for p in range(lr.workers)]
        return net, fi, model, ParallelSpikingLearner(*args, seeds, **kwargs,
                                                      learner=CompiledSpikingLearner)
    if lr.workers == 1:
        return net, fi, model, SpikingLearner(*args, ctx.seeds.int("brian2"), **kwargs)
    seeds = [ctx.seeds.int(f"brian2_worker_{p}") for p in range(lr.workers)]
    if client is not None:
        return net, fi, model, DaskSpikingLearner(*args, seeds, **kwargs, client=client,
                                                  owns_client=True)
    return net, fi, model, ParallelSpikingLearner(*args, seeds, **kwargs)


def rate_train_cfg(cfg: dict) -> TrainParams:
    """[train] for :class:`EPLearner`: the spiking run's β and estimator, evaluated per batch."""
    sp = SpikingParams.of(cfg)
    return TrainParams.of(cfg).replace(beta=sp.beta, symmetric=sp.estimator == "symmetric",
                                       random_sign=False, persistent=False,
                                       eval_batch=cfg["train"]["batch_size"])


class Watched:
    """A learner whose applied ΔW = (W_after − W_before)/(lr_k·scale) is compared, every
    ``every`` mini-batches, with −∂C/∂W of the calibrated rate model at W_before (cos per layer);
    its predictions on the test set (``labels``, in order) are kept as per-image correct masks,
    one per evaluation, for a paired comparison of two learners."""

    def __init__(self, learner: Learner, cfg: dict, rho, every: int,
                 labels: np.ndarray | None = None) -> None:
        self.learner, self.cfg, self.rho, self.every = learner, cfg, rho, every
        self.net, self.done = learner.net, 0
        self.optional_state = getattr(learner, "optional_state", ())  # for Checkpoint
        self.batches: list[int] = []
        self.cos: list[list[float]] = []
        self.labels = labels
        self.correct: list[np.ndarray] = []
        self._pending: list[np.ndarray] = []

    def update(self, idx, x, d, lr_scale, rng):
        watch = self.every and self.done % self.every == 0
        if watch:
            before = [w.copy() for w in self.net.W]
            dyn = DynamicsParams.of(self.cfg)
            ref = first_batch_gradient(model_from_config(self.net.copy(), dyn, self.rho), x, d, dyn)
        y = self.learner.update(idx, x, d, lr_scale, rng)
        self.done += 1
        if watch:
            lrs = self.cfg["train"]["lrs"]
            dW = [(w - w0) / (lr * lr_scale) for w, w0, lr in zip(self.net.W, before, lrs)]
            self.batches.append(self.done)
            self.cos.append(layer_alignment(dW, ref)["cos"])
        return y

    def predict(self, x):
        y = self.learner.predict(x)
        if self.labels is not None:  # fit() evaluates the test set in order, chunk by chunk
            self._pending.append(np.argmax(y, axis=1))
            if sum(map(len, self._pending)) == len(self.labels):
                self.correct.append(np.concatenate(self._pending) == self.labels)
                self._pending = []
        return y

    def extra_state(self) -> dict[str, np.ndarray]:
        out = {**self.learner.extra_state(), "align_batch": np.array(self.batches, float),
               "align_cos": self.cos_array(), "align_done": np.array(self.done)}
        if self.correct:  # absent while empty: checkpoints from before the masks still resume
            out["test_correct"] = np.array(self.correct, np.uint8)
        return out

    def cos_array(self) -> np.ndarray:
        """The cosines recorded so far, shape (records, layers)."""
        return np.array(self.cos, float).reshape(len(self.cos), len(self.net.W))

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        self.learner.load_extra_state(arrays)
        self.batches = [int(b) for b in arrays["align_batch"]]
        self.cos = arrays["align_cos"].tolist()
        self.done = int(arrays["align_done"])
        self.correct = [c.astype(bool) for c in arrays.get("test_correct", [])]


def train_both(cfg: dict, ctx: RunContext, data: Dataset, model: RateModel,
               spk: DeltaLearner) -> dict[str, tuple[History, Watched]]:
    """Both learners on the same mini-batch order, checkpointed per epoch (resumable), a progress
    bar per epoch with the running training error."""
    t, every = rate_train_cfg(cfg), cfg["learner"]["align_every"]
    labels = np.argmax(data.y_test, axis=1)
    learners = {"rate": Watched(EPLearner(model, t, len(data.x_train)), cfg, model.rho, every,
                                labels),
                "spk": Watched(spk, cfg, model.rho, every, labels)}
    out = {}
    for name, learner in learners.items():
        ck = None if ctx.work_dir is None else Checkpoint(Path(ctx.work_dir) / "checkpoints", name)
        with progress.EpochBars(LEARNERS[name]) as bars:
            h = fit(learner, data, t, ctx.seeds.rng("order"), ck,
                    progress.epoch_lines(LEARNERS[name], t.epochs), bars)
        out[name] = (h, learner)
    return out


def test_ci(errors: list[float], n: int) -> np.ndarray:
    """95 % Wilson score interval of each test error rate on ``n`` examples, shape (epochs, 2)."""
    from scipy.stats import binomtest

    out = []
    for e in errors:
        ci = binomtest(int(round(e * n)), n).proportion_ci(0.95, method="wilson")
        out.append((ci.low, ci.high))
    return np.array(out)


def run(cfg: dict, ctx: RunContext) -> Result:
    """Calibrate, train both learners, measure; Brian2's per-run reports off throughout (the
    calibration's included), the epochs' bars and lines on instead."""
    with progress.brian2_quiet():
        return _run(cfg, ctx)


def _run(cfg: dict, ctx: RunContext) -> Result:
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], ctx.seeds.rng("data"), t.batch_size, cfg["data"]["dir"])
    net, fi, model, spk = build(cfg, ctx, data)
    x0, d0 = data.x_train[:t.batch_size], data.y_train[:t.batch_size]
    with closing(spk):
        first = {"spk": spk.delta(x0, d0)[0],
                 "rate": EPLearner(model, t, len(x0)).delta(x0, d0, ctx.seeds.rng("first"))[0],
                 "implicit": first_batch_gradient(model, x0, d0, DynamicsParams.of(cfg))}
        trained = train_both(cfg, ctx, data, model, spk)
    histories = {m: h for m, (h, _) in trained.items()}
    out: dict[str, np.ndarray] = {"epoch": np.arange(1, t.epochs + 1),
                                  "calib_s": fi.s, "calib_rate_hz": fi.rate_hz}
    for m, (h, watched) in trained.items():
        out.update({f"{m}_{k}": v for k, v in h.arrays().items()})
        out[f"{m}_test_ci"] = test_ci(h.test_error, len(data.x_test))
        out[f"{m}_align_batch"] = np.array(watched.batches, float)
        out[f"{m}_align_cos"] = watched.cos_array()
        out[f"{m}_test_correct"] = np.array(watched.correct, np.uint8).reshape(-1, len(data.x_test))
    for k in range(len(net.W)):
        out.update({f"first_dW_{m}_W{k}": first[m][k] for m in first})
        out[f"spk_W{k}"], out[f"rate_W{k}"] = spk.net.W[k], model.net.W[k]
    spk_in_rate = EPLearner(model_from_config(spk.net, DynamicsParams.of(cfg), rho=model.rho), t, 0)
    cross = evaluate(spk_in_rate.predict, data.x_test, data.y_test, len(data.x_test))
    summary = _summary(data, net.sizes, histories, first, cross)
    summary["batch_size"] = t.batch_size
    for m in histories:
        summary[m]["test_error_ci95"] = out[f"{m}_test_ci"][-1].tolist()
    out["test_mcnemar_p"], summary["paired_test"] = paired_test(out)
    return Result(out, summary)


def interim(cfg: dict, work_dir: Path) -> tuple[dict, dict] | None:
    """The learning curves and alignment records of a run in progress, from the checkpoints of
    its finished epochs (None before the first): what :func:`figures` draws of it."""
    got = read_checkpoints(Path(work_dir) / "checkpoints", LEARNERS)
    if not got:
        return None
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], Seeds(cfg["seed"]).rng("data"), t.batch_size,
                     cfg["data"]["dir"])
    out: dict[str, np.ndarray] = {"epoch": np.arange(1, t.epochs + 1)}
    for m, (h, arrays) in got.items():
        out.update({f"{m}_{k}": v for k, v in h.arrays().items()})
        out[f"{m}_test_ci"] = test_ci(h.test_error, len(data.x_test))
        out[f"{m}_align_batch"], out[f"{m}_align_cos"] = arrays["align_batch"], arrays["align_cos"]
        out[f"{m}_test_correct"] = arrays.get("test_correct", np.zeros((0, len(data.x_test))))
    out["test_mcnemar_p"], paired = paired_test(out)
    summary = {"dataset": data.name, "sizes": cfg["network"]["sizes"], "n_train": len(data.x_train),
               "n_test": len(data.x_test), "batch_size": t.batch_size, "epochs": t.epochs,
               "epochs_done": {m: h.epochs for m, (h, _) in got.items()},
               "test_accuracy_pct": {m: 100 * (1 - h.test_error[-1]) for m, (h, _) in got.items()},
               "paired_test": paired}
    return out, summary


def first_batch_gradient(model: RateModel, x: np.ndarray, d: np.ndarray, dyn: DynamicsParams
                         ) -> list[np.ndarray]:
    """−∂C/∂W of the calibrated rate model on one mini-batch (implicit differentiation of its free
    fixed point): the reference both learners' ΔW estimate."""
    net = model.net.copy()
    net.x, net.target = x, d
    free = model.free_phase(x, tol=dyn.tol, max_steps=dyn.max_steps)
    return implicit_neg_grad(net, model.rho, free.s, d, model.projected, model.energy_form)


def _metrics(al: dict) -> dict:
    return {m: [float(v) for v in al[m]] + [float(al["overall"][m])] for m in METRICS}


def _summary(data: Dataset, sizes: list[int], histories: dict[str, History], first: dict,
             cross: float) -> dict:
    acc = {m: 100 * (1 - h.test_error[-1]) for m, h in histories.items()}
    return {"dataset": data.name, "sizes": sizes, "n_train": len(data.x_train),
            "n_test": len(data.x_test), "epochs": histories["spk"].epochs,
            "test_accuracy_pct": acc, "gap_pct_points": acc["rate"] - acc["spk"],
            "spk_weights_in_rate_model_test_accuracy_pct": 100 * (1 - cross),
            "first_batch_dW_spk_vs_rate": _metrics(layer_alignment(first["spk"], first["rate"])),
            "first_batch_dW_vs_implicit": {m: _metrics(layer_alignment(first[m], first["implicit"]))
                                           for m in LEARNERS},
            **{m: {"test_error_fraction": h.test_error[-1],
                   "best_test_error_fraction": min(h.test_error),
                   "worst_test_error_after_epoch_2_fraction": max(h.test_error[2:], default=None),
                   "train_error_fraction": h.train_error[-1], "wall_s": float(np.sum(h.wall_s)),
                   "epoch_s": float(np.mean(h.wall_s))}
               for m, h in histories.items()}}


#: the ``train_spiking`` experiment: its schema, run, figures and checks
EXPERIMENT = Experiment(
    name="train_spiking",
    doc="Digits trained by the Brian2 rule synapses vs the calibrated rate model.",
    schema=SCHEMA, run=run, figures=figures, check=check, resumable=True, interim=interim,
)
