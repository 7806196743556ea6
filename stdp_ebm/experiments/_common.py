"""Pieces shared by several experiments: the calibrated spiking set-up and the alignment tables."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..analysis import METRICS, cross_alignment, metrics_table
from ..spiking.calibration import CalibrationParams, calibrate
from ..errors import DivergenceError
from ..network import Network, NetworkParams, network_from_config
from ..rate import DynamicsParams, RateModel, State, model_from_config
from ..references import feedforward_backprop, implicit_neg_grad
from ..progress import iterate
from ..rule import FORMS
from ..spiking import SpikingParams, SpikingRun, load_models, simulate
from . import RunContext

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []


def calibrated_setup(cfg: dict, ctx: RunContext) -> tuple:
    """Network, model files, f–I curve, calibrated rate model (ρ = ρ_LIF) and its free phase."""
    net = network_from_config(NetworkParams.of(cfg), ctx.seeds.rng("network"), ctx.network_path)
    sp, d = SpikingParams.of(cfg), DynamicsParams.of(cfg)
    models = load_models(sp.synapse)
    fi = calibrate(sp, CalibrationParams.of(cfg), models, ctx.seeds.int("calibration"))
    model = model_from_config(net, d, rho=fi.tabulate())
    free = model.free_phase(net.examples()[0], tol=d.tol, max_steps=d.max_steps)
    return net, models, fi, model, free


def gradient_references(net: Network, model: RateModel, s_free: State
                        ) -> dict[str, list[np.ndarray]]:
    """−∂C/∂W by implicit differentiation and by feed-forward backprop (Eq 24) at the free fixed
    point ``s_free`` of ``model`` (:mod:`stdp_ebm.references`), the references of ``alignment``.

    One line (exit 2) before any sweep when both are zero in every layer: with every unit saturated
    (e.g. weights of 1e300) there is nothing to align with, and every metric would be NaN."""
    e, target = model.energy_form, net.examples()[1]
    refs = {"implicit": implicit_neg_grad(net, model.rho, s_free, target, model.projected, e),
            "backprop": feedforward_backprop(net, model.rho, s_free, target, model.projected,
                                             e)[0]}
    if not any(np.any(g != 0) for ref in refs.values() for g in ref):
        raise DivergenceError("−∂C/∂W is zero in every layer (every unit saturated, e.g. by huge "
                              "weights): there is no gradient to compare the rule with")
    return refs


def alignment_data(refs: dict[str, list[np.ndarray]], betas: list[float],
                   dw_by_beta: list[dict[str, list[np.ndarray]]], nudged_steps: list[int],
                   dw_by_length: list[dict[str, list[np.ndarray]]]) -> tuple[dict, list, list]:
    """The ``alignment`` experiment's data.npz arrays and its per-β and per-length rows, from the
    rule's ΔW per form at each β and each phase length (rate or spiking model alike)."""
    n_w = len(next(iter(refs.values())))
    data: dict[str, np.ndarray] = {"betas": np.array(betas), "metrics": np.array(METRICS),
                                   "nudged_steps": np.array(nudged_steps),
                                   "layers": np.array([f"W_{k}" for k in range(n_w)] + ["all"])}
    for r, g in refs.items():
        data.update({f"ref_{r}_W{k}": gk for k, gk in enumerate(g)})
    for f in dw_by_beta[0]:
        data.update({f"dW_{f}_W{k}": np.stack([dw[f][k] for dw in dw_by_beta])
                     for k in range(n_w)})
    by_beta: list[dict[str, Any]] = [{"beta": b, **cross_alignment(dw, refs)}
                                     for b, dw in zip(betas, dw_by_beta)]
    by_length = [cross_alignment(dw, refs) for dw in dw_by_length]
    for prefix, rows in (("align", by_beta), ("length", by_length)):
        for key in (k for k in rows[0] if k != "beta"):
            data[f"{prefix}_{key}"] = np.stack([metrics_table(row[key]) for row in rows])
    return data, by_beta, by_length


def spiking_sweep(net: Network, model: RateModel, sp: SpikingParams, seed: int, models: dict,
                  betas: list[float], length_beta: float, lengths_ms: list[float],
                  label: str = "spiking runs"
                  ) -> tuple[dict[float, SpikingRun], list[dict], list[dict]]:
    """One :func:`stdp_ebm.spiking.simulate` run per β of ``betas`` and ``length_beta`` (same
    ``seed``: the same noise and input spikes), the rule's integrals also read at ``lengths_ms``
    into the nudged phase (capped at ``sp.nudged_ms``) of the ``length_beta`` run. Returns the
    runs by β and the rule's ΔW per form (Eq 26: ``sym``, ``up``, ``down``) at each β and each
    length, the inputs of :func:`alignment_data`."""
    runs = {b: simulate(net, model.rho, sp.replace(beta=b), seed, models,
                        checkpoints_ms=lengths_ms if b == length_beta else None,
                        energy=model.energy_form)
            for b in iterate(sorted(set(betas) | {length_beta}, reverse=True), label)}
    by_beta = [{f: runs[b].delta_w(f) for f in FORMS} for b in betas]
    by_length = [{f: runs[length_beta].delta_w(f, checkpoint=min(t, sp.nudged_ms))
                  for f in FORMS} for t in lengths_ms]
    return runs, by_beta, by_length
