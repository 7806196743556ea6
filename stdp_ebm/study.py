"""The layered spiking network from Python in a few lines: :class:`SpikingStudy`.

A study is a layered network with its examples (x, target), the f–I calibration of its LIF
populations and the calibrated rate model (ρ = ρ_LIF) at whose free fixed point the gradient is
taken. Its settings are the sections of the shipped ``rate_vs_spike`` config (``[network]``,
``[dynamics]``, ``[spiking]``, ``[calibration]``), overridden by keyword and validated by the same
schemas and cross-key checks as a config file, so a bad value is the same one-line
:class:`~stdp_ebm.errors.ConfigError`.

Examples
--------
A Brian2 simulation (tens of seconds, noisy numbers), so shown rather than doctested::

    from stdp_ebm import SpikingStudy
    study = SpikingStudy.build([20, 30, 10], batch=4, seed=1,
                               spiking={"neurons_per_unit": 20, "trials": 2})
    run = study.simulate(beta=0.2)                  # free, +β and −β phases in Brian2
    dW_tied, dW_eq26 = run.delta_w("sym"), run.delta_w("up")
    study.compare(dW_tied)["cos"]                   # per W_k, against −∂C/∂W
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Mapping

import numpy as np

from . import experiments
from .analysis import layer_alignment
from .spiking.calibration import FICurve
from .config import CONFIGS_DIR, read_toml
from .errors import ConfigError
from .network import Network
from .rate import Phase, RateModel
from .references import implicit_neg_grad
from .sections import Section
from .seeds import Seeds
from .spiking import SpikingParams, SpikingRun, simulate

__all__ = ["SpikingStudy"]

SECTIONS = ("network", "dynamics", "spiking", "calibration")


@dataclass
class SpikingStudy:
    """A calibrated layered spiking network and its rate model (build it with :meth:`build`).

    The constructor takes the fields below, as :meth:`build` makes them; each is an attribute.

    Parameters
    ----------
    net : Network
        Weights, biases and the examples ``x`` (batch, n_0) and ``target`` (batch, n_out).
    spiking : SpikingParams
        The ``[spiking]`` settings: populations, noise, nudge, phase lengths, Brian2 target.
    models : dict
        The Brian2 model files the network is made of.
    fi : FICurve
        The measured f–I curve of the populations.
    model : RateModel
        The calibrated rate model (ρ = ρ_LIF).
    free : Phase
        Its free phase (fixed point ``free.s``).
    seeds : Seeds
        The seeds, derived by name from the master seed.
    """

    net: Network
    spiking: SpikingParams
    models: dict
    fi: FICurve
    model: RateModel
    free: Phase
    seeds: Seeds

    @classmethod
    def build(cls, sizes: list[int], *, batch: int = 8, seed: int = 1234,
              **sections: Mapping[str, Any] | Section) -> "SpikingStudy":
        """Draw a network of layer ``sizes`` (input first) with ``batch`` random examples,
        calibrate its populations and relax the calibrated rate model.

        Parameters
        ----------
        sizes : list of int
            Units per layer, x first and y last.
        batch : int
            Number of (x, target) examples, drawn uniformly in [0, 1].
        seed : int
            Master seed; the network, calibration and Brian2 seeds derive from it.
        **sections : dict or Section
            Overrides of the ``network``, ``dynamics``, ``spiking`` and ``calibration`` sections
            of ``rate_vs_spike`` (``stdp-ebm keys rate_vs_spike`` lists them): a dict of some
            keys, or a whole typed section (e.g. ``spiking=SpikingParams(neurons_per_unit=10)``).

        Returns
        -------
        SpikingStudy
            The network, its calibration and the calibrated rate model at its free fixed point.

        Raises
        ------
        ConfigError
            An unknown section, or a key or value the sections refuse (one line).
        """
        from .experiments._common import calibrated_setup  # imports Brian2: at first use

        unknown = set(sections) - set(SECTIONS)
        if unknown:
            raise ConfigError(f"SpikingStudy.build: unknown section(s) "
                              f"{', '.join(sorted(unknown))}; one of {', '.join(SECTIONS)}")
        shipped = read_toml(CONFIGS_DIR / "rate_vs_spike.toml")
        raw: dict[str, Any] = {"experiment": "rate_vs_spike", "seed": seed}
        for name in SECTIONS:
            given = sections.get(name, {})
            raw[name] = {**shipped[name],
                         **(given.as_dict() if isinstance(given, Section) else given)}
        raw["network"] |= {"sizes": list(sizes), "batch": batch}
        cfg = experiments.get("rate_vs_spike").validate(raw, "SpikingStudy.build")
        ctx = experiments.RunContext(seeds=Seeds(seed))
        net, models, fi, model, free = calibrated_setup(cfg, ctx)
        return cls(net, SpikingParams.of(cfg), models, fi, model, free, ctx.seeds)

    def simulate(self, beta: float | None = None, seed: int | None = None) -> SpikingRun:
        """Free phase, then the nudged phases (±β, or +β and 0: ``spiking.estimator``) in Brian2,
        with common random numbers.

        Parameters
        ----------
        beta : float, optional
            Nudge strength (default ``spiking.beta``).
        seed : int, optional
            Brian2 seed (default: derived from the master seed).

        Returns
        -------
        SpikingRun
            ``delta_w("sym")`` is the tied (symmetrised) ΔW, ``delta_w("up")`` the one-way Eq 26
            form, each a list of arrays, one per W_k.
        """
        try:
            sp = self.spiking if beta is None else self.spiking.replace(beta=beta)
        except ConfigError as exc:
            raise ConfigError(f"SpikingStudy.simulate: {exc}") from None
        return simulate(self.net, self.model.rho, sp,
                        self.seeds.int("brian2") if seed is None else seed, self.models,
                        energy=self.model.energy_form)

    def gradient(self) -> list[np.ndarray]:
        """−∂C/∂W by implicit differentiation at the calibrated rate model's free fixed point.

        The reference the spiking ΔW is compared with
        (:func:`stdp_ebm.references.implicit_neg_grad`; C of Bengio et al. 2017 Eq 13, summed over
        the examples).

        Returns
        -------
        list of numpy.ndarray
            One array per W_k, shape ``(n_k, n_{k+1})``.
        """
        m = self.model
        return implicit_neg_grad(self.net, m.rho, self.free.s, self.net.examples()[1], m.projected,
                                 m.energy_form)

    def compare(self, delta_w: list[np.ndarray]) -> dict[str, Any]:
        """How well ``delta_w`` aligns with the implicit gradient (:meth:`gradient`).

        Parameters
        ----------
        delta_w : list of numpy.ndarray
            A weight change per W_k, shape ``(n_k, n_{k+1})``, e.g. ``run.delta_w("sym")`` of
            :meth:`simulate`.

        Returns
        -------
        dict
            The metrics of :func:`stdp_ebm.analysis.alignment` (``cos``, ``angle_deg``,
            ``norm_ratio``, ``nrmse``, ``sign_agree``), each a list with one value per W_k, and
            ``"overall"``: a dict of the same metrics over all weights together.
        """
        return layer_alignment(delta_w, self.gradient())
