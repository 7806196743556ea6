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
    """What one nudged phase left: the rule's accumulators per copy and the rate trajectories.

    Parameters
    ----------
    acc : list of dict
        Per checkpoint time, form (``"up"``, ``"down"``, ``"sym"``) → per W_k the accumulated
        rule, shape ``(copies, n_k, n_{k+1})``.
    rho : list of numpy.ndarray
        Per layer, the rate trajectory ρ, shape ``(T, copies, n_k)``.
    """

    acc: list[dict[str, list[np.ndarray]]]  # per checkpoint: form -> per W_k (copies, n_k, n_k+1)
    rho: list[np.ndarray]  # per layer, shape (T, copies, n_k)


@dataclass
class Episode:
    """A free phase and the nudged pair that follows it (:meth:`SpikingNetwork.episode`).

    Parameters
    ----------
    rates : list of numpy.ndarray
        Free-phase population rates ρ per layer (dimensionless), shape ``(copies, n_k)``.
    y : numpy.ndarray
        Free-phase output state ŷ (current / I_unit), shape ``(copies, n_out)``.
    plus : PhaseRecord
        The +β phase.
    reference : PhaseRecord
        The −β (``symmetric``) or β = 0 (``one_sided``) phase.
    divisor : float
        scale·β: ΔW = (acc(plus) − acc(reference)) / divisor.
    """

    rates: list[np.ndarray]  # free-phase population rates ρ per layer, (copies, n_k)
    y: np.ndarray  # free-phase output state ŷ, (copies, n_out)
    plus: PhaseRecord  # the +β phase
    reference: PhaseRecord  # the −β (symmetric) or β = 0 (one-sided) phase
    divisor: float  # scale·β: ΔW = (acc(plus) − acc(reference)) / divisor


def estimator_reference(estimator: str) -> tuple[float, float]:
    """The reference phase of an estimator: its β sign and the divisor of the difference.

    Parameters
    ----------
    estimator : str
        ``symmetric`` compares +β with −β, ``one_sided`` +β with β = 0.

    Returns
    -------
    sign : float
        β of the reference phase in units of β: −1 or 0.
    scale : float
        The divisor of acc(+β) − acc(reference) in units of β: 2 or 1.

    Examples
    --------
    >>> estimator_reference("symmetric"), estimator_reference("one_sided")
    ((-1.0, 2.0), (0.0, 1.0))
    """
    return (-1.0, 2.0) if estimator == "symmetric" else (0.0, 1.0)


def teaching_force(energy: Energy, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
    """Teaching current per unit of β (in I_unit) from the free-phase output state ŷ: the calibrated
    rate model's nudge d − o(ŷ) (:meth:`stdp_ebm.energy.Energy.force`), held during the phase.

    With Hopfield's energy it is d − ρ_LIF(ŷ), the force of βC = β½‖ρ(y) − d‖² on the energy the
    populations descend, so the symmetrised rule estimates −∂C/∂W of the spiking network itself;
    with Eq 6's, d − ŷ.

    Parameters
    ----------
    energy : Energy
        The calibrated rate model's energy (Eq 6 or Hopfield's).
    rho : Rho
        The calibrated activation ρ_LIF.
    y : numpy.ndarray
        The free-phase output state ŷ (current / I_unit), shape ``(copies, n_out)``.
    target : numpy.ndarray
        The target d, shape ``(copies, n_out)``.

    Returns
    -------
    numpy.ndarray
        The teaching current per unit of β, in units of I_unit, shape ``(copies, n_out)``.
    """
    return energy.force(rho, y, target)
