"""The experiment registry: each experiment is a schema, a ``run`` and a ``figures`` function.

``run(cfg, ctx) -> Result`` computes arrays (``data.npz``) and headline numbers (``summary.json``);
``figures(data, summary, cfg) -> {name: Figure}`` draws from those alone, so ``stdp-ebm plot RUN_DIR``
can redraw a finished run (and, for training, draw one in progress from its checkpoints). Modules
are imported lazily (rate-only experiments never import Brian2).
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

import numpy as np

from ..config import CrossCheck, Schema, require, validate
from ..errors import ConfigError, did_you_mean
from ..seeds import Seeds

#: experiment name -> module defining ``EXPERIMENT``
REGISTRY: dict[str, str] = {
    "alignment": "stdp_ebm.experiments.alignment",
    "early_inference": "stdp_ebm.experiments.early_inference",
    "unification": "stdp_ebm.experiments.unification",
    "train": "stdp_ebm.experiments.train",
    "stdp_window": "stdp_ebm.experiments.stdp_window",
    "rate_vs_spike": "stdp_ebm.experiments.rate_vs_spike",
    "noise_bridge": "stdp_ebm.experiments.noise_bridge",
    "stdp_frequency": "stdp_ebm.experiments.stdp_frequency",
    "stdp_random_trains": "stdp_ebm.experiments.stdp_random_trains",
    "train_spiking": "stdp_ebm.experiments.train_spiking",
    "depth": "stdp_ebm.experiments.depth",
    "rule_vs_backprop": "stdp_ebm.experiments.rule_vs_backprop",
}


@dataclass
class RunContext:
    """What a run gets besides its config: seeds, CLI options, a progress flag."""

    seeds: Seeds
    network_path: str | None = None
    progress: bool = False
    workers: int = 1
    options: dict[str, Any] = field(default_factory=dict)
    #: the directory the run is being written into (None for a sweep point or a direct call):
    #: resumable experiments keep their per-epoch checkpoints in ``work_dir / "checkpoints"``
    work_dir: Path | None = None


@dataclass
class Result:
    """``data``: arrays for data.npz; ``summary``: JSON-able headline numbers."""

    data: dict[str, np.ndarray]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """One experiment: its config ``schema``, ``run(cfg, ctx) -> Result``, ``figures(data, summary,
    cfg) -> {name: Figure}`` and the cross-key ``check(cfg, source)`` of its own keys."""

    name: str
    doc: str
    schema: Schema
    run: Callable[[dict, RunContext], Result]
    figures: Callable[[dict[str, np.ndarray], dict, dict], dict]
    check: CrossCheck | None = None
    #: checkpoints into ``RunContext.work_dir`` and continues from them (see ``stdp_ebm.rundir``)
    resumable: bool = False
    #: ``interim(cfg, work_dir) -> (data, summary)`` of a resumable run in progress, from its
    #: checkpoints, for ``figures`` (``stdp-ebm plot`` on a run that has not finished); None if
    #: there are no finished epochs yet
    interim: Callable[[dict, Path], tuple[dict, dict] | None] | None = None

    def validate(self, raw: dict[str, Any], source: str) -> dict[str, Any]:
        """``raw`` (a config without ``[sweep]``) checked against the schema (whose typed sections
        run their own cross-key checks) and the cross-key checks of this experiment; a
        :class:`ConfigError` names ``source``."""
        cfg = validate(raw, self.schema, source)
        if self.check is not None:
            self.check(cfg, source)
        return cfg


def get(name: str, source: str = "config") -> Experiment:
    """The experiment called ``name``; an unknown name is a :class:`ConfigError`."""
    if name not in REGISTRY:
        extra = did_you_mean(name, list(REGISTRY)) or f"; known: {', '.join(sorted(REGISTRY))}"
        raise ConfigError(f"{source}: experiment = {name!r} is not a known experiment{extra}")
    return importlib.import_module(REGISTRY[name]).EXPERIMENT


def require_noiseless(cfg: dict, source: str, reason: str) -> None:
    """``[dynamics] noise`` must be 0 for ``reason`` (an experiment's cross-key check).

    Parameters
    ----------
    cfg : dict
        The validated config.
    source : str
        How errors name the config.
    reason : str
        Why the experiment needs the deterministic rate model.
    """
    noise = cfg["dynamics"]["noise"]
    require(noise == 0.0, source, "[dynamics] noise", noise, f"must be 0: {reason}")
