"""What a nudged pair of phases is made of: the teaching current, the estimator's reference phase,
and the records the phases leave (:meth:`~stdp_ebm.spiking.SpikingNetwork.episode`)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ..activation import Rho
from ..energy import Energy

__all__ = ["Episode", "PhaseRecord", "estimator_reference", "teaching_force"]


@dataclass
class PhaseRecord:
    """What one nudged phase left: the rule's accumulators per copy and the rate trajectories."""

    acc: list[dict[str, list[np.ndarray]]]  # per checkpoint: form -> per W_k (copies, n_k, n_k+1)
    rho: list[np.ndarray]  # per layer, shape (T, copies, n_k)


@dataclass
class Episode:
    """A free phase and the nudged pair that follows it (:meth:`SpikingNetwork.episode`)."""

    rates: list[np.ndarray]  # free-phase population rates ρ per layer, (copies, n_k)
    y: np.ndarray  # free-phase output state ŷ, (copies, n_out)
    plus: PhaseRecord  # the +β phase
    reference: PhaseRecord  # the −β (symmetric) or β = 0 (one-sided) phase
    divisor: float  # scale·β: ΔW = (acc(plus) − acc(reference)) / divisor


def estimator_reference(estimator: str) -> tuple[float, float]:
    """(β sign of the reference phase, divisor of the difference in units of β): ``symmetric``
    compares +β with −β (−1, 2), ``one_sided`` +β with β = 0 (0, 1)."""
    return (-1.0, 2.0) if estimator == "symmetric" else (0.0, 1.0)


def teaching_force(energy: Energy, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Teaching current per unit of β (in I_unit) from the free-phase output state ŷ: the calibrated
    rate model's nudge d − o(ŷ) (:meth:`stdp_ebm.energy.Energy.force`), held during the phase.

    With Hopfield's energy it is d − ρ_LIF(ŷ), the force of βC = β½‖ρ(y) − d‖² on the energy the
    populations descend, so the symmetrised rule estimates −∂C/∂W of the spiking network itself;
    with Eq 6's, d − ŷ.
    """
    return energy.force(rho, y, target)
