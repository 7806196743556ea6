"""The experiment registry: each experiment is a schema, a ``run`` and a ``figures`` function.

``run(cfg, ctx) -> Result`` computes arrays (``data.npz``) and headline numbers (``summary.json``);
``figures(data, summary, cfg) -> {name: Figure}`` draws from those alone, so ``stdp-ebm plot RUN_DIR``
can redraw a finished run (and, for training, draw one in progress from its checkpoints). Modules
are imported lazily (rate-only experiments never import Brian2).

Each experiment module's one public name is its ``EXPERIMENT``, run by name (``stdp-ebm run``,
:func:`stdp_ebm.run_config`); the functions in those modules are the experiment's internals. A study
of one's own builds on the library (:mod:`stdp_ebm.network`, :mod:`stdp_ebm.rate`,
:class:`stdp_ebm.SpikingStudy`, :mod:`stdp_ebm.stdp`, the typed sections of :mod:`stdp_ebm.sections`).
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
    """What a run gets besides its config.

    Parameters
    ----------
    seeds : Seeds
        Every random stream of the run, derived by name from the master seed.
    network_path : str, optional
        A network file given with ``--network``.
    progress : bool
        Whether to draw progress bars.
    workers : int
        Processes a sweep may use (``--workers``).
    options : dict
        Further command-line options by name.
    work_dir : Path, optional
        The directory the run is being written into.
    """

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
    """What an experiment's ``run`` returns.

    Parameters
    ----------
    data : dict[str, numpy.ndarray]
        The arrays written to ``data.npz``.
    summary : dict[str, Any]
        The JSON-able headline numbers written to ``summary.json``.
    """

    data: dict[str, np.ndarray]
    summary: dict[str, Any]


@dataclass(frozen=True)
class Experiment:
    """One experiment.

    Parameters
    ----------
    name : str
        The name configs give in ``experiment = NAME``.
    doc : str
        One line on what it measures.
    schema : Schema
        Its config sections and keys.
    run : Callable
        ``run(cfg, ctx) -> Result``.
    figures : Callable
        ``figures(data, summary, cfg) -> {name: Figure}``, drawn from the results alone.
    check : Callable, optional
        ``check(cfg, source)``: the cross-key checks of the experiment's own keys.
    resumable : bool
        Whether it checkpoints into ``RunContext.work_dir`` and continues from there.
    interim : Callable, optional
        ``interim(cfg, work_dir) -> (data, summary)`` of a run in progress, or None.
    """

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
        """Check a parsed config against the schema (whose typed sections run their own
        cross-key checks) and this experiment's cross-key checks.

        Parameters
        ----------
        raw : dict[str, Any]
            The parsed config, without ``[sweep]``.
        source : str
            How errors name the config.

        Returns
        -------
        dict[str, Any]
            The validated config with every default filled in; a problem is a
            :class:`~stdp_ebm.errors.ConfigError` naming ``source`` and the key.
        """
        cfg = validate(raw, self.schema, source)
        if self.check is not None:
            self.check(cfg, source)
        return cfg


def get(name: str, source: str = "config") -> Experiment:
    """The experiment called ``name``.

    Parameters
    ----------
    name : str
        A key of :data:`REGISTRY`.
    source : str
        How an error names the config.

    Returns
    -------
    Experiment
        Its module's ``EXPERIMENT``; an unknown name is a :class:`ConfigError`.
    """
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
