"""Training with the Brian2 rule synapses vs the calibrated rate model, on a small digits task.

Task: scikit-learn's 8×8 digits restricted to a few classes and downsampled by block averaging
(``[task] pool`` = 2 → 4×4 pixels), stratified train/test split (:func:`stdp_ebm.data.load_digits`).

Spiking learner (:class:`SpikingLearner`): ONE compiled Brian2 network (:class:`SpikingNetwork`,
one copy per example of the mini-batch × noise trials) is built once and reused for every
mini-batch, epoch and test chunk: the hooks ``set_input`` / ``set_parameters`` change the Poisson
input rates, transmission weights and bias currents in place. Per mini-batch: free phase → ŷ;
checkpoint (explicit state + RNG, not Brian2's store/restore); nudged phase with the teaching
current +β(d − ŷ), resume, nudged phase with −β (common random numbers). The rule synapses (Eq 26,
tied form ``sym``) accumulate ∫(ρ_i dρ_j/dt + ρ_j dρ_i/dt) dt online during each nudged phase and

    ΔW_k = ⟨acc(+β) − acc(−β)⟩_copies / 2β,    Δb_k = ⟨ρ_k^{+β}(T) − ρ_k^{−β}(T)⟩_copies / 2β

(the bias term of Eq 6 integrates dρ/dt to the end-of-phase filtered rates), applied after the
mini-batch as W_k += lr_k·ΔW_k (:func:`stdp_ebm.train.apply_update`). Prediction = argmax of the
free-phase output state ŷ.

Rate learner: the same initial network, split, mini-batches, β, learning rates and epochs, trained
by :func:`stdp_ebm.train.train_ep` (symmetric ±β) with ρ = ρ_LIF, the measured f–I curve of the
spiking neuron (:mod:`stdp_ebm.calibration`).

data.npz: ``epoch``; ``{spk,rate}_{train_error,test_error,train_cost,wall_s}``;
``first_dW_{spk,rate}_W{k}``: ΔW of both learners on the first training mini-batch at the initial
weights, ``first_dW_implicit_W{k}`` the implicit gradient of the calibrated rate model there;
``{spk,rate}_W{k}`` the trained weights; ``calib_s``, ``calib_rate_hz``.
"""

from __future__ import annotations

import dataclasses

import numpy as np

from ..analysis import METRICS, layer_alignment
from ..calibration import CALIBRATION_SCHEMA, calibrate
from ..config import Key, require
from ..data import DataError, Dataset, load_digits, one_hot
from ..energy import Energy
from ..network import NETWORK_SCHEMA, random_network
from ..plotting import figure, layer_colors
from ..rate import DYNAMICS_SCHEMA, RateModel, model_from_config
from ..references import implicit_neg_grad
from ..spiking import SPIKING_SCHEMA, SpikingNetwork, load_models, teaching_force
from ..train import TRAIN_SCHEMA, EPLearner, History, apply_update, evaluate, fit, train_ep
from . import Experiment, Result, RunContext

LEARNERS = {"spk": "Brian2 rule synapses", "rate": "rate model, ρ_LIF"}
TRAIN_KEYS = ("epochs", "batch_size", "lrs", "lr_decay", "free_steps", "nudged_steps")

SCHEMA = {
    "network": {
        "sizes": dataclasses.replace(NETWORK_SCHEMA["sizes"], default=[16, 8, 2]),
        **{k: NETWORK_SCHEMA[k] for k in ("init_scale", "bias_low", "bias_high")},
    },
    "dynamics": DYNAMICS_SCHEMA,
    "spiking": SPIKING_SCHEMA,
    "calibration": CALIBRATION_SCHEMA,
    "task": {
        "classes": Key("ints", [0, 1], "digit classes used", low=0, high=9),
        "pool": Key("int", 2, "block-average pool×pool pixels (8×8 → (8/pool)²)", low=1),
        "test_fraction": Key("float", 0.2, "stratified held-out fraction", low=0.0,
                             open_low=True, high=1.0, open_high=True),
        "n_train": Key("int", 200, "first n training examples", low=1),
        "n_test": Key("int", 0, "first n test examples (0: all)", low=0),
    },
    "train": {k: TRAIN_SCHEMA[k] for k in TRAIN_KEYS},
}


def check(cfg: dict, source: str) -> None:
    """Sizes fit the task; mini-batches fill the compiled network's copies exactly; ±β."""
    tk, sizes = cfg["task"], cfg["network"]["sizes"]
    require(8 % tk["pool"] == 0, source, "[task] pool", tk["pool"], "must divide 8")
    n_in = (8 // tk["pool"]) ** 2
    require(len(sizes) >= 2 and sizes[0] == n_in and sizes[-1] == len(tk["classes"]), source,
            "[network] sizes", sizes, f"must start with {n_in} pixels and end with "
            f"{len(tk['classes'])} outputs (one per class)")
    require(len(cfg["train"]["lrs"]) == len(sizes) - 1, source, "[train] lrs",
            cfg["train"]["lrs"], f"needs one learning rate per weight matrix ({len(sizes) - 1})")
    require(tk["n_train"] % cfg["train"]["batch_size"] == 0, source, "[task] n_train",
            tk["n_train"], "must be a multiple of [train] batch_size (the network's copies)")
    require(cfg["spiking"]["estimator"] == "symmetric", source, "[spiking] estimator",
            cfg["spiking"]["estimator"], "training uses the symmetric ±β estimate")


def load_task(sec: dict, rng: np.random.Generator) -> Dataset:
    """Digits of ``classes``, pool×pool block averages, cut to n_train / n_test."""
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
    if sec["n_train"] > len(xtr):
        raise DataError(f"[task] n_train = {sec['n_train']}: only {len(xtr)} training examples")
    nte = sec["n_test"] or len(xte)
    return Dataset(f"digits{sorted(classes)} {side}×{side}", xtr[:sec["n_train"]],
                   ytr[:sec["n_train"]], xte[:nte], yte[:nte])


class SpikingLearner:
    """The rule synapses of one compiled :class:`SpikingNetwork` as a :class:`~stdp_ebm.train.
    Learner` (see the module docstring); ``net`` is the learner's own parameters."""

    def __init__(self, sn: SpikingNetwork, rho, lrs: list[float], energy: Energy) -> None:
        self.sn, self.rho, self.lrs, self.net = sn, rho, lrs, sn.net_params.copy()
        self.energy = energy

    def _free(self, x: np.ndarray) -> np.ndarray:
        """Free phase of the current parameters on ``x`` (≤ batch rows, padded): ŷ per example."""
        sn, batch = self.sn, self.sn.batch
        padded = np.concatenate([x, np.repeat(x[-1:], batch - len(x), axis=0)])
        sn.set_input(self.rho(padded))
        sn.set_parameters(self.net.W, self.net.b)
        sn.rules.active = False  # the rule only runs in the nudged phases
        y = sn.free_phase()[1]
        return y.reshape(-1, batch, y.shape[1]).mean(axis=0)[:len(x)]

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """ΔW_k, Δb_{k+1} of the rule synapses on one mini-batch (not applied), and ŷ."""
        sn, sp = self.sn, self.sn.sp
        y = self._free(x)
        trials = sn.copies // sn.batch
        force = teaching_force(self.energy, self.rho, np.tile(y, (trials, 1)),
                               np.tile(d, (trials, 1)))
        plus, minus, two_beta = sn.nudged_pair(force, [sp["nudged_ms"]])  # symmetric (checked)
        dW = [(p - m).mean(axis=0) / two_beta
              for p, m in zip(plus.acc[-1]["sym"], minus.acc[-1]["sym"])]
        db = [(p[-1] - m[-1]).mean(axis=0) / two_beta for p, m in zip(plus.rho[1:], minus.rho[1:])]
        return dW, db, y

    def update(self, idx: np.ndarray, x: np.ndarray, d: np.ndarray, lr_scale: float,
               rng: np.random.Generator) -> np.ndarray:
        dW, db, y = self.delta(x, d)
        apply_update(self.net, self.lrs, lr_scale, dW, db)
        return y

    def predict(self, x: np.ndarray) -> np.ndarray:
        return self._free(x)

    def extra_state(self) -> dict[str, np.ndarray]:
        return {}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        return None


def build(cfg: dict, ctx: RunContext, data: Dataset) -> tuple:
    """Initial network, calibrated rate model (ρ_LIF) and the spiking learner on one network."""
    n, sp, t = cfg["network"], cfg["spiking"], cfg["train"]
    net = random_network(n["sizes"], ctx.seeds.rng("network"), n["init_scale"], n["bias_low"],
                         n["bias_high"])
    models = load_models()
    fi = calibrate(cfg, models, ctx.seeds.int("calibration"))
    rho = fi.tabulate()
    batch = data.x_train[:t["batch_size"]]
    shell = net.copy()
    shell.x, shell.target = batch, data.y_train[:t["batch_size"]]
    sn = SpikingNetwork(shell, rho, {**sp, "learn": False}, models, ctx.seeds.int("brian2"))
    model = model_from_config(net, cfg, rho=rho)
    return net, fi, model, SpikingLearner(sn, rho, t["lrs"], model.energy_form)


def rate_train_cfg(cfg: dict) -> dict:
    """[train] for :func:`train_ep`: the spiking run's β and estimator, evaluated per batch."""
    sp = cfg["spiking"]
    return {**cfg["train"], "beta": sp["beta"], "symmetric": sp["estimator"] == "symmetric",
            "random_sign": False, "persistent": False, "eval_batch": cfg["train"]["batch_size"]}


def run(cfg: dict, ctx: RunContext) -> Result:
    t = rate_train_cfg(cfg)
    data = load_task(cfg["task"], ctx.seeds.rng("data"))
    net, fi, model, spk = build(cfg, ctx, data)
    x0, d0 = data.x_train[:t["batch_size"]], data.y_train[:t["batch_size"]]
    first = {"spk": spk.delta(x0, d0)[0],
             "rate": EPLearner(model, t, len(x0)).delta(x0, d0, ctx.seeds.rng("first"))[0],
             "implicit": first_batch_gradient(model, x0, d0, cfg["dynamics"])}
    histories = {"spk": fit(spk, data, t, ctx.seeds.rng("order")),
                 "rate": train_ep(model, data, t, ctx.seeds.rng("order"))}
    out: dict[str, np.ndarray] = {"epoch": np.arange(1, t["epochs"] + 1),
                                  "calib_s": fi.s, "calib_rate_hz": fi.rate_hz}
    for m, h in histories.items():
        out.update({f"{m}_{k}": v for k, v in h.arrays().items()})
    for k in range(len(net.W)):
        out.update({f"first_dW_{m}_W{k}": first[m][k] for m in first})
        out[f"spk_W{k}"], out[f"rate_W{k}"] = spk.net.W[k], model.net.W[k]
    spk_in_rate = EPLearner(model_from_config(spk.net, cfg, rho=model.rho), t, 0)
    cross = evaluate(spk_in_rate.predict, data.x_test, data.y_test, len(data.x_test))
    return Result(out, _summary(data, net.sizes, histories, first, cross))


def first_batch_gradient(model: RateModel, x: np.ndarray, d: np.ndarray, dyn: dict
                         ) -> list[np.ndarray]:
    """−∂C/∂W of the calibrated rate model on one mini-batch (implicit differentiation of its free
    fixed point): the reference both learners' ΔW estimate."""
    net = model.net.copy()
    net.x, net.target = x, d
    free = model.free_phase(x, tol=dyn["tol"], max_steps=dyn["max_steps"])
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
            **{m: {"test_error": h.test_error[-1], "best_test_error": min(h.test_error),
                   "train_error": h.train_error[-1], "wall_s": float(np.sum(h.wall_s))}
               for m, h in histories.items()}}


# --- figures -------------------------------------------------------------------------------------
def figures(data: dict, summary: dict, cfg: dict) -> dict:
    return {"learning_curves": _fig_curves(data, summary),
            "first_batch_dW": _fig_dw(data, summary)}


def _fig_curves(data: dict, summary: dict):
    fig, (ax,) = figure(1, 1, width=3.8, height=2.9)
    colors = dict(zip(LEARNERS, layer_colors(2)))
    for m, label in LEARNERS.items():
        ax.plot(data["epoch"], 100 * data[f"{m}_test_error"], "-o", ms=3, color=colors[m],
                label=f"{label}, test")
        ax.plot(data["epoch"], 100 * data[f"{m}_train_error"], "--", color=colors[m],
                label=f"{label}, train (during epoch)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("error (%)")
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", ncol=2, fontsize=7)
    acc = summary["test_accuracy_pct"]
    ax.set_title(f"{summary['dataset']} {'-'.join(map(str, summary['sizes']))}: test accuracy "
                 f"{acc['spk']:.1f} % (spiking) vs {acc['rate']:.1f} % (rate)", fontsize=8)
    return fig


def _fig_dw(data: dict, summary: dict):
    """Both learners' ΔW on the first mini-batch against the implicit gradient (filled: Brian2,
    open: rate model), colours by layer."""
    layers = sorted(k.rsplit("W", 1)[1] for k in data if k.startswith("first_dW_spk_W"))
    colors = layer_colors(len(layers))
    fig, (ax,) = figure(1, 1, width=3.2, height=3.0)
    for k, c in zip(layers, colors):
        for m, fill in (("spk", c), ("rate", "none")):
            ax.plot(data[f"first_dW_implicit_W{k}"].ravel(), data[f"first_dW_{m}_W{k}"].ravel(),
                    "o", ms=3, alpha=0.7, color=c, mfc=fill,
                    label=f"W_{k}, {LEARNERS[m]}")
    lim = max(float(np.max(np.abs(data[f"first_dW_{m}_W{k}"]))) for m in (*LEARNERS, "implicit")
              for k in layers)
    ax.plot([-lim, lim], [-lim, lim], ":", color="0.5", label="identity")
    ax.set_xlabel("−∂C/∂W, implicit gradient of the calibrated rate model")
    ax.set_ylabel("ΔW per unit learning rate")
    al = summary["first_batch_dW_vs_implicit"]
    ax.set_title(f"first mini-batch, initial weights: cos {al['spk']['cos'][-1]:.3f} (Brian2), "
                 f"{al['rate']['cos'][-1]:.3f} (rate)", fontsize=8)
    ax.legend(loc="upper left", fontsize=6)
    return fig


EXPERIMENT = Experiment(
    name="train_spiking",
    doc="Small digits task trained by the Brian2 rule synapses vs the calibrated rate model.",
    schema=SCHEMA, run=run, figures=figures, check=check,
)
