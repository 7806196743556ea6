"""The two energy functions a layered network can descend, and the cost each one is nudged with.

``eq6`` — Bengio et al. (2017), Eq 6: E = Σ s²/2 − Σ ρ(s_k)ᵀ W_k ρ(s_{k+1}) − Σ b·ρ(s). Its gradient
flow ds/dt = −∂E/∂s = ρ'(s)·a(s) − s with the net input a = b + Σ_neighbours W ρ (Eq 8), and the cost
C = ½‖y − d‖² on the output *state* (Eq 13), so the nudge adds −β(y − d).

``hopfield`` — Hopfield's (1984) continuous energy E_H = Σ ∫^{ρ(s)} ρ⁻¹(r) dr − Σ ρ(s_k)ᵀ W_k ρ(s_{k+1})
− Σ b·ρ(s). Its dynamics ds/dt = a(s) − s follow its gradient in the rates, ds/dt = −∂E_H/∂ρ: the
net input drives the state without the ρ' factor. This is what a current-based population does
(the LIF populations of ``stdp_ebm.spiking`` settle at s = b + Wρ_LIF(s)). The cost is put on the
output *rates*, C = ½‖ρ(y) − d‖², so that the nudge is the same gradient in the rates:
−β ∂C/∂ρ(y) = −β(ρ(y) − d). ds/dt then scales ∂E_H/∂s = ρ'(s)(s − a) by 1/ρ', so E_H still falls along
the dynamics (dE_H/dt = −Σ ρ'(s)(s − a)² ≤ 0) and the symmetrised rule (Eq 26) still estimates −∂C/∂W
(the equilibrium-propagation theorem holds for any energy with ∂E/∂W_ij = −ρ_i ρ_j).

For the projected hard sigmoid (Eq 7, inclusive ρ' = 1) the states stay in [β1, β2], where ρ(s) = s
and ρ' = 1: the two energies give the same dynamics, fixed points, nudge and gradients. They differ
for a curved ρ such as the calibrated ρ_LIF, and there ``hopfield`` is the rate model of the spiking
network.

Both are described to the rate model and to the references by a *gain* g(s) (the factor in front of
the net input, ρ'(s) or 1) and a *readout* o(y) (what C compares with d, y or ρ(y)).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activation import Rho

__all__ = ["Energy", "ENERGIES"]


@dataclass(frozen=True)
class Energy:
    """One of :data:`ENERGIES` (see the module docstring).

    Parameters
    ----------
    name : str
        ``"eq6"`` (Bengio et al. 2017 Eq 6, cost on the output state) or ``"hopfield"`` (Hopfield's
        continuous energy, cost on the output rate).
    """

    name: str

    def gain(self, rho: Rho, s: np.ndarray) -> np.ndarray:
        """g(s): the drive of a unit is R = g(s)·a(s) (Eq 8 for ``eq6``).

        Parameters
        ----------
        rho : Rho
            The rate function ρ (:class:`~stdp_ebm.activation.HardSigmoid` or
            :class:`~stdp_ebm.activation.TabulatedRho`).
        s : numpy.ndarray
            States of one layer, shape ``(batch, n)``, dimensionless.

        Returns
        -------
        numpy.ndarray
            ρ'(s) for ``eq6``, ones for ``hopfield``; shape of ``s``.
        """
        return rho.prime(s) if self.name == "eq6" else np.ones_like(s, dtype=float)

    def gain_prime(self, rho: Rho, s: np.ndarray) -> np.ndarray:
        """dg/ds, the derivative of :meth:`gain`.

        Parameters
        ----------
        rho : Rho
            The rate function ρ (:class:`~stdp_ebm.activation.HardSigmoid` or
            :class:`~stdp_ebm.activation.TabulatedRho`).
        s : numpy.ndarray
            States of one layer, shape ``(batch, n)``, dimensionless.

        Returns
        -------
        numpy.ndarray
            ρ''(s) for ``eq6``, zeros for ``hopfield``; shape of ``s``.
        """
        return rho.second(s) if self.name == "eq6" else np.zeros_like(s, dtype=float)

    def readout(self, rho: Rho, y: np.ndarray) -> np.ndarray:
        """o(y), the output quantity the cost C = ½‖o(y) − d‖² compares with the target d.

        Parameters
        ----------
        rho : Rho
            The rate function ρ.
        y : numpy.ndarray
            Output-layer states, shape ``(batch, n_out)``.

        Returns
        -------
        numpy.ndarray
            ``y`` itself for ``eq6`` (Eq 13), ρ(y) for ``hopfield``; shape ``(batch, n_out)``.
        """
        return y if self.name == "eq6" else rho(y)

    def readout_prime(self, rho: Rho, y: np.ndarray) -> np.ndarray:
        """do/dy, the derivative of :meth:`readout`.

        Parameters
        ----------
        rho : Rho
            The rate function ρ.
        y : numpy.ndarray
            Output-layer states, shape ``(batch, n_out)``.

        Returns
        -------
        numpy.ndarray
            Ones for ``eq6``, ρ'(y) for ``hopfield``; shape ``(batch, n_out)``.
        """
        return np.ones_like(y, dtype=float) if self.name == "eq6" else rho.prime(y)

    def cost(self, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """C = ½‖o(y) − d‖² per example (Eq 13 for ``eq6``).

        Parameters
        ----------
        rho : Rho
            The rate function ρ.
        y : numpy.ndarray
            Output-layer states, shape ``(batch, n_out)``.
        target : numpy.ndarray
            Target d, shape ``(batch, n_out)`` (rates in [0, 1], e.g. one-hot).

        Returns
        -------
        numpy.ndarray
            The cost of each example, shape ``(batch,)``.
        """
        return 0.5 * np.sum((self.readout(rho, y) - target) ** 2, axis=1)

    def force(self, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """The nudge per unit of β added to dy/dt: −(o(y) − d).

        The negative gradient of C in the coordinates the dynamics descend (the state for ``eq6``,
        Eq 13; the rate for ``hopfield``).

        Parameters
        ----------
        rho : Rho
            The rate function ρ.
        y : numpy.ndarray
            Output-layer states, shape ``(batch, n_out)``.
        target : numpy.ndarray
            Target d, shape ``(batch, n_out)`` (rates in [0, 1], e.g. one-hot).

        Returns
        -------
        numpy.ndarray
            d − o(y), shape ``(batch, n_out)``.
        """
        return target - self.readout(rho, y)

    def cost_grad(self, rho: Rho, y: np.ndarray, target: np.ndarray) -> np.ndarray:
        """∂C/∂y = o'(y)(o(y) − d), the error the references propagate.

        Parameters
        ----------
        rho : Rho
            The rate function ρ.
        y : numpy.ndarray
            Output-layer states, shape ``(batch, n_out)``.
        target : numpy.ndarray
            Target d, shape ``(batch, n_out)`` (rates in [0, 1], e.g. one-hot).

        Returns
        -------
        numpy.ndarray
            ∂C/∂y, shape ``(batch, n_out)``.
        """
        return self.readout_prime(rho, y) * (self.readout(rho, y) - target)

    def self_term(self, rho: Rho, s: np.ndarray) -> np.ndarray:
        """The single-unit term of E summed over units, per example.

        Σ s²/2 for ``eq6`` (Eq 6), or Σ ∫^{ρ(s)} ρ⁻¹ = Σ (s ρ(s) − P(s)) up to a constant for
        ``hopfield``, P an antiderivative of ρ.

        Parameters
        ----------
        rho : Rho
            The rate function ρ (:class:`~stdp_ebm.activation.HardSigmoid` or
            :class:`~stdp_ebm.activation.TabulatedRho`).
        s : numpy.ndarray
            States of one layer, shape ``(batch, n)``, dimensionless.

        Returns
        -------
        numpy.ndarray
            The term for each example, shape ``(batch,)``.
        """
        if self.name == "eq6":
            return 0.5 * np.sum(s**2, axis=1)
        return np.sum(s * rho(s) - rho.integral(s), axis=1)


EQ6, HOPFIELD = Energy("eq6"), Energy("hopfield")
#: The two energies by name: ``"eq6"`` (Eq 6) and ``"hopfield"`` (Hopfield 1984).
ENERGIES: dict[str, Energy] = {e.name: e for e in (EQ6, HOPFIELD)}
