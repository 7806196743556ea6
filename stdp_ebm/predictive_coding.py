"""Predictive coding (PC) on the weights of the EBM, and the feed-forward pass it reduces to.

Whittington & Bogacz (2017); Millidge, Song, Salvatori, Lukasiewicz & Bogacz (2022). The same
weights read as a predictive network, μ_{k+1} = ρ(s_k) W_k + b_{k+1}, with the energy
F_PC = Σ_k ½‖s_k − μ_k‖² + λ C (:class:`PCModel`). The free phase is the feed-forward pass
(:func:`feedforward`, all prediction errors zero); ΔW_k = −(1/λ) ∂F_PC/∂W_k = (1/λ) ρ(s_k)ᵀ e_{k+1}
(:func:`pc_delta_w`) → −∂C/∂W_k of the feed-forward network (:func:`feedforward_neg_grad`) as
λ → 0. :mod:`stdp_ebm.algorithms` compares it with EP and CHL.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .activation import Rho
from .network import Network
from .rate import RateModel, State

__all__ = ["PCModel", "feedforward", "feedforward_neg_grad", "pc_delta_w"]


def feedforward(net: Network, rho: Rho, x: np.ndarray) -> State:
    """The feed-forward limit of the PC energy: h_0 = x, h_{k+1} = ρ(h_k) W_k + b_{k+1}, y = h_{L+1}.

    Parameters
    ----------
    net : Network
        The layered network.
    rho : Rho
        The rate function ρ.
    x : numpy.ndarray
        Input batch, shape ``(batch, n_0)`` (or ``(n_0,)`` for one example).

    Returns
    -------
    list of numpy.ndarray
        h_0 … h_{L+1}, shape ``(batch, n_k)``.
    """
    h = [np.atleast_2d(np.asarray(x, float))]
    for w, b in zip(net.W, net.b[1:]):
        h.append(rho(h[-1]) @ w + b)
    return h


def feedforward_neg_grad(net: Network, rho: Rho, x: np.ndarray,
                         target: np.ndarray) -> list[np.ndarray]:
    """−∂C/∂W_k of the feed-forward network :func:`feedforward` with C = ½‖y − d‖², by backprop.

    δ_{L+1} = y − d, δ_k = ρ'(h_k) ⊙ (δ_{k+1} W_kᵀ), ∂C/∂W_k = ρ(h_k)ᵀ δ_{k+1}; batch-averaged.

    Parameters
    ----------
    net : Network
        The layered network.
    rho : Rho
        The rate function ρ.
    x : numpy.ndarray
        Input batch, shape ``(batch, n_0)`` (or ``(n_0,)`` for one example).
    target : numpy.ndarray
        The target d, shape ``(batch, n_out)`` or ``(n_out,)``.

    Returns
    -------
    list of numpy.ndarray
        −∂C/∂W_k, shape ``(n_k, n_{k+1})``.
    """
    h = feedforward(net, rho, x)
    delta = h[-1] - np.atleast_2d(target)
    grads: list[np.ndarray] = [np.zeros_like(w) for w in net.W]
    for k in range(len(net.W) - 1, -1, -1):
        grads[k] = -(rho(h[k]).T @ delta) / len(delta)
        delta = rho.prime(h[k]) * (delta @ net.W[k].T)
    return grads


@dataclass
class PCModel(RateModel):
    """Predictive-coding network on the weights of ``net`` (Whittington & Bogacz 2017).

    Energy F = Σ_{k≥1} ½‖e_k‖² + λ C, prediction errors e_k = s_k − μ_k, μ_k = ρ(s_{k−1}) W_{k−1} + b_k.
    Inference is gradient descent on F with step ε (``relax``, ``nudged_phase`` with β = λ are those of
    :class:`~stdp_ebm.rate.RateModel`): ∂F/∂s_k = e_k − ρ'(s_k) ⊙ (e_{k+1} W_kᵀ), plus λ(y − d) on
    the output. Values are not bounded and there is no Langevin noise.

    Parameters
    ----------
    net : Network
        The layered network whose weights and biases are used.
    rho : Rho
        The rate function ρ.
    epsilon : float
        Inference step size ε (dimensionless, a fraction of the time constant).
    projected : bool
        Must be False (PC values are unbounded).
    noise : float
        Must be 0 (no Langevin noise).
    energy_form : Energy
        The energy the dynamics descend (:data:`stdp_ebm.energy.ENERGIES`).

    Raises
    ------
    ValueError
        If ``projected`` is True or ``noise`` is not 0.
    """

    projected: bool = False

    def __post_init__(self) -> None:
        if self.projected or self.noise != 0.0:
            raise ValueError("the PC model has unbounded values and no noise")

    def errors(self, s: State, input_drive: np.ndarray | None = None) -> list[np.ndarray | None]:
        """Prediction errors e_k = s_k − μ_k for k = 1 … L+1.

        Parameters
        ----------
        s : list of numpy.ndarray
            The state, one array per layer, shape ``(batch, n_k)``.
        input_drive : numpy.ndarray or None
            ρ(x) W_0, shape ``(batch, n_1)``, if already computed.

        Returns
        -------
        list of numpy.ndarray or None
            Aligned with ``s``: entry 0 is None (x is clamped), entry k is e_k, shape ``(batch, n_k)``.
        """
        return [None, *self._free_errors(s, input_drive)]

    def _free_errors(self, s: State, input_drive: np.ndarray | None = None) -> list[np.ndarray]:
        """e_1 … e_{L+1} of :meth:`errors` (entry j is e_{j+1})."""
        bottom_up = self.input_drive(s[0]) if input_drive is None else input_drive
        e: list[np.ndarray] = []
        for k in range(1, len(s)):
            e.append(s[k] - self.net.b[k] - bottom_up)
            if k < len(self.net.W):
                bottom_up = self.rho(s[k]) @ self.net.W[k]
        return e

    def energy(self, s: State) -> np.ndarray:
        """F_PC without the output term: Σ_k ½‖e_k‖², one value per example.

        Parameters
        ----------
        s : list of numpy.ndarray
            The state, one array per layer, shape ``(batch, n_k)``.

        Returns
        -------
        numpy.ndarray
            Shape ``(batch,)``.
        """
        e = self._free_errors(s)
        total = 0.5 * np.sum(e[0] ** 2, axis=1)
        for ek in e[1:]:
            total = total + 0.5 * np.sum(ek ** 2, axis=1)
        return total

    def step(self, s: State, beta: float | np.ndarray = 0.0, target: np.ndarray | None = None,
             rng: np.random.Generator | None = None, input_drive: np.ndarray | None = None) -> State:
        """s_k ← s_k − ε ∂(F_PC + λC)/∂s_k for every free layer, λ = ``beta``, one-sided at kinks.

        ∂F_PC/∂s_k = e_k − ρ'(s_k) ⊙ (e_{k+1} W_kᵀ) for a hidden layer, e_y + λ(y − d) for the output.

        Parameters
        ----------
        s : list of numpy.ndarray
            The state, one array per layer (input first), shape ``(batch, n_k)``.
        beta : float or numpy.ndarray
            Perturbation strength on the output (λ for PC, ignored by the clamped model); per example
            when an array of shape ``(batch, 1)``.
        target : numpy.ndarray or None
            The target d, shape ``(batch, n_out)``; needed when ``beta`` is non-zero.
        rng : numpy.random.Generator or None
            Source of the Langevin noise (unused: these models have none).
        input_drive : numpy.ndarray or None
            ρ(x) W_0, shape ``(batch, n_1)``, if already computed for this phase.

        Returns
        -------
        list of numpy.ndarray
            The new state, same shapes as ``s`` (``s[0]`` is the same array).

        Raises
        ------
        ValueError
            If ``beta`` is non-zero and ``target`` is None.
        """
        f = self._free_errors(s, input_drive)  # f[k − 1] = e_k
        new = [s[0]]
        for k in range(1, len(s) - 1):
            inside = f[k - 1] - self.rho.prime(s[k]) * (f[k] @ self.net.W[k].T)
            new.append(self._kinked_step(s[k], inside, f[k - 1]))
        if beta != 0.0 and target is None:
            raise ValueError("a nudged step (beta != 0) needs a target")
        new.append(s[-1] - self.epsilon * (f[-1] + (beta * (s[-1] - target) if beta != 0.0 else 0.0)))
        return new

    def _kinked_step(self, h: np.ndarray, g_inside: np.ndarray, g_outside: np.ndarray) -> np.ndarray:
        """A gradient step on a hidden layer, F_PC being non-differentiable at the bounds of ρ.

        ``g_inside``/``g_outside`` are ∂F_PC/∂h with ρ' from inside / outside [β1, β2]. The minimum
        often sits exactly on a bound (a unit pushed below 0 by the top-down error while its
        prediction holds it above), where plain gradient descent would chatter for ever. So a step
        stops at the first bound it reaches, and a unit on a bound leaves it only along a one-sided
        derivative that points downhill (else 0 is in the subdifferential and it stays).
        """
        lo, hi = self.rho.bounds
        g = np.where((h > lo) & (h < hi), g_inside, g_outside)
        g = np.where(h == lo, np.where(g_inside < 0, g_inside, np.maximum(g_outside, 0.0)), g)
        g = np.where(h == hi, np.where(g_outside < 0, g_outside, np.maximum(g_inside, 0.0)), g)
        up_to = np.where(h < lo, lo, np.where(h < hi, hi, np.inf))
        down_to = np.where(h > hi, hi, np.where(h > lo, lo, -np.inf))
        return np.clip(h - self.epsilon * g, down_to, up_to)

    def initial_state(self, x: np.ndarray) -> State:
        """The feed-forward pass, the free-phase equilibrium of F_PC (every e_k = 0).

        Parameters
        ----------
        x : numpy.ndarray
            Input batch, shape ``(batch, n_0)``.

        Returns
        -------
        list of numpy.ndarray
            :func:`feedforward` of ``x``.
        """
        return feedforward(self.net, self.rho, x)


def pc_delta_w(model: PCModel, s: State, lam: float) -> list[np.ndarray]:
    """PC weight update −(1/λ) ∂F_PC/∂W_k = (1/λ) ρ(s_k)ᵀ e_{k+1}, batch-averaged.

    Parameters
    ----------
    model : PCModel
        The predictive-coding model.
    s : list of numpy.ndarray
        Its perturbed equilibrium, shape ``(batch, n_k)`` per layer.
    lam : float
        The output weight λ of the perturbed phase.

    Returns
    -------
    list of numpy.ndarray
        ΔW_k, shape ``(n_k, n_{k+1})``; tends to −∂C/∂W_k of the feed-forward network as λ → 0.
    """
    f = model._free_errors(s)  # f[k] = e_{k+1}
    r = [model.rho(sk) for sk in s[:-1]]
    return [r[k].T @ f[k] / (lam * len(s[0])) for k in range(len(r))]
