"""What the three STDP experiments share: the [spiking]/[data] schema, the rules to run, their
theory kernels, and one call that simulates a schedule with one rule.

A rule is any synapse model file that names its ``weight_change`` variable
(:func:`stdp_ebm.stdp.protocols.plastic_synapse`). The theory overlay and the τ sweep need a pair kernel,
which a model file offers with its ``window`` key (:data:`stdp_ebm.stdp.kernels.WINDOWS`); rules without one
(the triplet rule, which is not a sum over spike pairs) are run and plotted, and summary.json says
what was skipped. All of this is decided by :func:`rules` before any simulation starts.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..stdp import kernels
from ..config import DATA_DIR, Key, data_dir_key
from ..errors import ModelFileError
from ..models import Model, load_model
from ..stdp.protocols import PairingResult, Schedule, plastic_synapse, run_schedule, switch_params
from . import RunContext

#: the public name of this module: none: the functions here are internals of the experiments that use them
__all__: list[str] = []

SPIKING = {
    "neuron": Key("str", "lif_neuron", "neuron model file (a shipped name, see stdp_ebm.models.shipped_models, or a path)"),
    "synapse": Key("str", "rule_synapse", "the rule under test: a synapse model file that names "
                   "its weight_change variable (a shipped name, see stdp_ebm.models.shipped_models, or a path)"),
    "compare": Key("str", "rule_synapse, pair_stdp, triplet_stdp", "rules run beside it with the "
                   "same protocol (the rule under test is skipped there), comma-separated model "
                   "names or paths ('' for none); results are filed under each rule's name: a "
                   "shipped file's stem, another file's stem@content-hash"),
    "noise": Key("bool", True, "membrane noise on (sigma = noise_mV) or off"),
    "noise_mV": Key("float", 2.0, "s.d. of the membrane-potential noise when noise is on",
                    low=0.0),
    "learn": Key("bool", False, "online learning (the EPSP weight follows ΔW); false: frozen"),
    "tied": Key("bool", False, "with learn: the tied/symmetrised form drives the weight"),
    "dt_ms": Key("float", 0.1, "simulation time step", low=0.0, open_low=True, high=1.0),
    "pulse_ms": Key("float", 2.0, "duration of the current pulse that evokes a post spike",
                    low=0.0, open_low=True),
}

DATA = {
    "dir": data_dir_key("../shared/data/stdp_experiments", "directory holding the digitised "
                        "points (CC BY-NC-ND 4.0, not shipped; see docs/stdp.md); absent: the run "
                        "goes on, a warning and the figures say so"),
}


@dataclass(frozen=True)
class Rule:
    """A rule to run: the name its results are filed under, its model, and its theory kernel
    (None: the model offers none).

    ``name`` is the model's :attr:`~stdp_ebm.models.Model.label`: a shipped rule's file stem, any
    other file's stem with a hash of its content (``pair_stdp@1a2b3c4d``), so a user's
    ``pair_stdp.toml`` kept from a copy is filed apart from the shipped ``pair_stdp``.
    """

    name: str
    model: Model
    kernel: kernels.SpikeSum | None

    @property
    def window(self) -> kernels.Window | None:
        return kernels.WINDOWS[self.model.window] if self.model.window else None

    def kernel_with(self, **params: Any) -> kernels.SpikeSum:
        """The theory kernel with parameter overrides (the file's names, Brian2 quantities)."""
        assert self.window is not None
        return self.window.build(self.model.window_namespace(**params))

    def tau_params(self) -> tuple[str, str]:
        """The file's names of the parameters that set the window's τ+ and τ−."""
        assert self.window is not None
        return (self.model.window_param(self.window.tau_plus_param),
                self.model.window_param(self.window.tau_minus_param))


def rules(cfg: dict) -> list[Rule]:
    """The rule under test first, then the comparison rules; every file (the neuron's too) loaded
    and checked (and ``learn``/``tied`` matched to its parameters) now, before anything is
    simulated. Rules are told apart by :attr:`Rule.name` (not the file stem): the same file named
    twice runs once, two different files never share a name."""
    s = cfg["spiking"]
    names = [s["synapse"]] + [n.strip() for n in s["compare"].split(",") if n.strip()]
    neuron = load_model(s["neuron"])
    if neuron.kind != "neuron":
        raise ModelFileError(f"{neuron.path}: [spiking] neuron must be a neuron model, not a "
                             f"{neuron.kind} model")
    out: dict[str, Rule] = {}
    for name in names:
        model = plastic_synapse(name)
        switch_params(model, learn=s["learn"], tied=s["tied"])
        if model.label not in out:
            kernel = kernels.WINDOWS[model.window].build(model.window_namespace()) \
                if model.window else None
            out[model.label] = Rule(model.label, model, kernel)
    return list(out.values())


def notes(rule_list: list[Rule]) -> dict[str, str]:
    """What is skipped for which rule (for summary.json)."""
    return {r.name: "no theory kernel in the model file (no 'window' key): theory overlay and "
            "τ sweep skipped" for r in rule_list if r.kernel is None}


def run_spiking(schedule: Schedule, cfg: dict, ctx: RunContext, rule: Rule,
                **overrides: Any) -> PairingResult:
    """Simulate ``schedule`` with ``rule`` and the [spiking] settings; brian2 seeded from the
    master seed (the same seed for every rule: the same noise, so rules differ only by the rule)."""
    s = cfg["spiking"]
    kwargs = {"noise_mV": s["noise_mV"] if s["noise"] else 0.0, "learn": s["learn"],
              "tied": s["tied"], "dt_ms": s["dt_ms"], "pulse_ms": s["pulse_ms"],
              "neuron": s["neuron"], "synapse": rule.model, **overrides}
    return run_schedule(schedule, ctx.seeds.int("brian2"), **kwargs)


def data_dir(cfg: dict) -> Path | None:
    """The [data] directory, or None when not given."""
    return Path(cfg["data"]["dir"]) if cfg["data"]["dir"] else None


LOG = logging.getLogger("stdp_ebm.data")


def warn_absent(points: str, files: str, cfg: dict) -> None:
    """One warning line on the console: the measured ``points`` are absent (``files`` not in the
    data directory), the run goes on without them, and which key brings them in."""
    where = Path(cfg["data"]["dir"])
    LOG.warning("stdp-ebm: warning: %s absent: no %s in %s = '%s' (%s); the run goes on without "
                "them. To compare with them: stdp-ebm data DIR (downloads the digitised files), "
                "then add --set %s=DIR", points, files, DATA_DIR, where, where.absolute(), DATA_DIR)


def protocol_text(cfg: dict, n_pairs: int) -> str:
    """The noise setting, for figure titles."""
    s = cfg["spiking"]
    noise = f"membrane noise {s['noise_mV']:g} mV" if s["noise"] else "no membrane noise"
    return f"{n_pairs} pre/post pairs in one Brian2 run per rule, {noise}, dt = {s['dt_ms']:g} ms"
