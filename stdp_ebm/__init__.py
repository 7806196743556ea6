"""stdp-ebm: the STDP-compatible rule dW ∝ ρ(pre)·d(post)/dt in rate and Brian2 spiking models.

The public API, importable from here (each name is loaded on first use, so ``import stdp_ebm``
stays cheap and never imports Brian2)::

    import stdp_ebm as se
    net = se.random_network([20, 30, 10], se.Seeds(1).rng("network"))   # x, h_1, y
    model = se.RateModel(net, se.HardSigmoid())

* the network and its files: :class:`Network`, :func:`random_network`, :func:`load_network`,
  :func:`save_network`
* the rate model (Eq 1–13): :class:`RateModel`, :class:`HardSigmoid`, :class:`TabulatedRho`
* the rule (Eq 26): :class:`RuleAccumulator`, :func:`ep_delta_w`
* the references: :func:`implicit_neg_grad`, :func:`feedforward_backprop`,
  :func:`finite_difference_neg_grad`, and the metrics :func:`alignment`, :func:`layer_alignment`
* Brian2 model files: :func:`load_model`, :func:`shipped_models`
* STDP: the subpackage :mod:`stdp_ebm.stdp` — :mod:`~stdp_ebm.stdp.protocols` (spike-pair schedules and
  their Brian2 simulation), :mod:`~stdp_ebm.stdp.kernels` (kernel theory), :mod:`~stdp_ebm.stdp.window_fit`
  (window fits with BCa intervals) and :mod:`~stdp_ebm.stdp.data` (published measurements)
* typed parameters, one frozen dataclass per config section, checked when made:
  :class:`NetworkParams`, :class:`DynamicsParams`, :class:`TrainParams`, :class:`SpikingParams`,
  :class:`CalibrationParams` (:mod:`stdp_ebm.sections`)
* training (Eq 26 in its two-phase form) and its checkpoints: :func:`train_ep`, :func:`train_bp`,
  :func:`fit`, :class:`Checkpoint` (also how to read a run in progress)
* the spiking network: :class:`SpikingStudy` (a calibrated layered network, its Brian2 phases and
  the rule's ΔW against the implicit gradient in a few lines), :mod:`stdp_ebm.spiking`
  (``simulate``, ``SpikingNetwork``)
* experiments: :func:`run_config` (resolve and run a config into a run directory), :class:`Seeds`
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

#: public name -> the module that defines it
_WHERE = {
    "Network": "network", "random_network": "network", "load_network": "network",
    "save_network": "network",
    "RateModel": "rate", "HardSigmoid": "activation", "TabulatedRho": "activation",
    "RuleAccumulator": "rule", "ep_delta_w": "rule",
    "implicit_neg_grad": "references", "feedforward_backprop": "references",
    "finite_difference_neg_grad": "references",
    "alignment": "analysis", "layer_alignment": "analysis",
    "load_model": "models", "shipped_models": "models",
    "train_ep": "learning", "train_bp": "learning", "fit": "learning", "Checkpoint": "checkpoint",
    "Seeds": "seeds", "UserError": "errors",
    "NetworkParams": "network", "DynamicsParams": "dynamics", "TrainParams": "learner_base",
    "SpikingParams": "spiking.params", "CalibrationParams": "spiking.calibration",
    "run_config": "runner", "SpikingStudy": "study",
}
_MODULES = ("stdp", "spiking", "models", "runner")

__all__ = sorted(_WHERE) + list(_MODULES)


def __getattr__(name: str) -> Any:
    if name in _WHERE:
        return getattr(importlib.import_module(f".{_WHERE[name]}", __name__), name)
    if name in _MODULES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'stdp_ebm' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(__all__))
