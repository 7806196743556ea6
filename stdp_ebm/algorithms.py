"""Predictive coding (PC) and contrastive Hebbian learning (CHL) next to the EBM/EP of this project.

Millidge, Song, Salvatori, Lukasiewicz & Bogacz (2022), "Backpropagation at the infinitesimal
inference limit of energy-based models": PC and EP compute backprop exactly in the limit where the
perturbed equilibrium approaches the free one, and CHL approximates it only as far as its clamped
equilibrium is that limit. Every algorithm here is a free phase, a perturbed phase and a contrast,
run by the same relaxation loop (:meth:`stdp_ebm.rate.RateModel.relax`):

* **EP** (Eq 13 and the rule of Eq 26, :func:`stdp_ebm.rule.ep_delta_w`): nudge F = E + βC from the
  free fixed point s⁰ of the Hopfield energy E (Eq 6); ΔW = (1/β)(ρ^βρ^β − ρ⁰ρ⁰) → −∂C/∂W.
* **CHL** (Movellan 1991): the output *clamped* (the β → ∞ limit of Eq 13) at
  d_γ = y⁰ + γ (d − y⁰); γ = 1 is classic CHL (clamped to the target). The contrast is the same
  Hebbian difference, ΔW = (1/γ)(ρ^cρ^c − ρ⁰ρ⁰). It is biased even as γ → 0: the clamp moves the
  output by γ(d − y⁰), while EP's nudge moves it by β S⁻¹(d − y⁰) with S the Schur complement of
  the Hessian of E on the output (see :func:`fixed_point_gap`).
* **PC** (Whittington & Bogacz 2017; Millidge et al. 2022): the same weights as a predictive network,
  μ_{k+1} = ρ(s_k) W_k + b_{k+1}, energy F_PC = Σ_k ½‖s_k − μ_k‖² + λ C. The free phase is the
  feed-forward pass (all prediction errors zero); ΔW_k = −(1/λ) ∂F_PC/∂W_k = (1/λ) ρ(s_k)ᵀ e_{k+1}
  → −∂C/∂W_k of the feed-forward network. Its model and rule have their own module,
  :mod:`stdp_ebm.predictive_coding` (:class:`~stdp_ebm.predictive_coding.PCModel`); the names stay
  importable from here.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .predictive_coding import PCModel, feedforward, feedforward_neg_grad, pc_delta_w  # noqa: F401
from .rate import Phase, RateModel, State
from .references import implicit_neg_grad
from .rule import ep_delta_w

# PCModel, feedforward, feedforward_neg_grad and pc_delta_w live in :mod:`stdp_ebm.predictive_coding`
__all__ = ["ALGORITHMS", "Comparison", "ClampedOutputModel", "clamped_phase", "chl_target",
           "fixed_point_gap"]


@dataclass
class ClampedOutputModel(RateModel):
    """The EBM of Eq 6 with the output held where it starts (CHL's clamped phase, β → ∞ in Eq 13).

    Parameters
    ----------
    net : Network
        The layered network whose weights and biases are used.
    rho : Rho
        The rate function ρ.
    epsilon : float
        Inference step size ε (dimensionless, a fraction of the time constant).
    projected : bool
        Whether states are clipped to ρ's bounds after each step.
    noise : float
        Langevin noise amplitude per step.
    energy_form : Energy
        The energy the dynamics descend (:data:`stdp_ebm.energy.ENERGIES`).
    """

    def step(self, s: State, beta: float | np.ndarray = 0.0, target: np.ndarray | None = None,
             rng: np.random.Generator | None = None, input_drive: np.ndarray | None = None) -> State:
        """One step of the rate dynamics (:meth:`~stdp_ebm.rate.RateModel.step`), output unchanged.

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
            The new state; its last entry is ``s[-1]`` itself.
        """
        new = super().step(s, 0.0, None, rng, input_drive)
        return new[:-1] + [s[-1]]


def clamped_phase(model: RateModel, s_free: State, y_clamp: np.ndarray, **kwargs) -> Phase:
    """Relax the hidden layers of ``model`` from ``s_free`` with the output clamped to ``y_clamp``.

    Parameters
    ----------
    model : RateModel
        The EBM (its net, ρ, ε, projection and noise are used).
    s_free : list of numpy.ndarray
        The free fixed point, shape ``(batch, n_k)`` per layer.
    y_clamp : numpy.ndarray
        The clamped output, shape ``(batch, n_out)`` (e.g. :func:`chl_target`).
    **kwargs
        Passed to :meth:`stdp_ebm.rate.RateModel.relax` (``steps``, ``tol``, ``max_steps``, ...).

    Returns
    -------
    Phase
        The clamped phase's final state and step count.
    """
    clamped = ClampedOutputModel(model.net, model.rho, model.epsilon, model.projected, model.noise)
    return clamped.relax(s_free[:-1] + [np.atleast_2d(y_clamp)], phase="clamped", **kwargs)


def chl_target(y_free: np.ndarray, target: np.ndarray, gamma: float) -> np.ndarray:
    """The CHL clamp d_γ = y⁰ + γ (d − y⁰): γ = 1 clamps to the target, γ → 0 to the free output.

    Parameters
    ----------
    y_free : numpy.ndarray
        Free-phase output y⁰, shape ``(batch, n_out)``.
    target : numpy.ndarray
        Target d, shape ``(batch, n_out)`` or ``(n_out,)``.
    gamma : float
        Clamp fraction γ (dimensionless).

    Returns
    -------
    numpy.ndarray
        d_γ, shape ``(batch, n_out)``.

    Examples
    --------
    >>> import numpy as np
    >>> print(chl_target(np.array([[0.2, 0.8]]), np.array([1.0, 0.0]), 0.5))
    [[0.6 0.4]]
    """
    return y_free + gamma * (np.atleast_2d(target) - y_free)


def fixed_point_gap(s_free: State, s_chl: State, gamma: float, s_ep: State,
                    beta: float) -> list[float]:
    """How far CHL's normalised fixed-point shift is from EP's, per free layer.

    ‖(s^c − s⁰)/γ − (s^β − s⁰)/β‖ / ‖(s^β − s⁰)/β‖. Zero would make the two updates identical; the
    output layer's entry is the clamp-vs-nudge mismatch that explains CHL's bias.

    Parameters
    ----------
    s_free : list of numpy.ndarray
        The free fixed point s⁰, shape ``(batch, n_k)`` per layer.
    s_chl : list of numpy.ndarray
        CHL's clamped fixed point s^c.
    gamma : float
        CHL's clamp fraction γ.
    s_ep : list of numpy.ndarray
        EP's nudged fixed point s^β.
    beta : float
        EP's nudge strength β.

    Returns
    -------
    list of float
        One relative gap per free layer (dimensionless); NaN where EP's shift is zero.
    """
    out = []
    for s0, sc, sb in zip(s_free[1:], s_chl[1:], s_ep[1:]):
        ep = (sb - s0) / beta
        scale = np.linalg.norm(ep)
        out.append(float(np.linalg.norm((sc - s0) / gamma - ep) / scale) if scale > 0 else float("nan"))
    return out


#: The algorithms :class:`Comparison` runs: equilibrium propagation, contrastive Hebbian
#: learning, predictive coding.
ALGORITHMS = ("EP", "CHL", "PC")


@dataclass
class Comparison:
    """EP, CHL and PC on one network and batch: their free phases, perturbed phases and updates.

    The perturbation p is β for EP, γ for CHL and λ for PC. Build it with :meth:`build`.

    Parameters
    ----------
    ebm : RateModel
        The energy-based model (EP and CHL).
    pc : PCModel
        The predictive-coding model on the same weights.
    target : numpy.ndarray
        The target d, shape ``(batch, n_out)``.
    s_free : list of numpy.ndarray
        The EBM's free fixed point, shape ``(batch, n_k)`` per layer.
    s_ff : list of numpy.ndarray
        The feed-forward pass, PC's free equilibrium.
    """

    ebm: RateModel
    pc: PCModel
    target: np.ndarray
    s_free: State
    s_ff: State

    @classmethod
    def build(cls, ebm: RateModel, pc_epsilon: float, x: np.ndarray, target: np.ndarray,
              tol: float, max_steps: int) -> "Comparison":
        """Relax the EBM's free phase and run the feed-forward pass for one batch.

        Parameters
        ----------
        ebm : RateModel
            The energy-based model.
        pc_epsilon : float
            Inference step ε of the PC model.
        x : numpy.ndarray
            Input batch, shape ``(batch, n_0)``.
        target : numpy.ndarray
            Target, shape ``(batch, n_out)`` or ``(n_out,)``.
        tol : float
            Fixed-point tolerance of the free phase (max|Δs|/ε).
        max_steps : int
            Step limit of the free phase.

        Returns
        -------
        Comparison
            The three algorithms' common starting point.
        """
        pc = PCModel(ebm.net, ebm.rho, epsilon=pc_epsilon)
        s_free = ebm.free_phase(x, tol=tol, max_steps=max_steps).s
        return cls(ebm, pc, np.atleast_2d(target), s_free, pc.initial_state(x))

    def perturbed(self, alg: str, p: float, steps: int | None = None, tol: float = 1e-12,
                  max_steps: int = 200_000) -> Phase:
        """The perturbed phase of ``alg`` from its free-phase equilibrium.

        Parameters
        ----------
        alg : str
            One of :data:`ALGORITHMS`.
        p : float
            The perturbation: β (EP), γ (CHL) or λ (PC).
        steps : int or None
            None relaxes to the fixed point; an integer stops after that many inference steps.
        tol : float
            Fixed-point tolerance when ``steps`` is None.
        max_steps : int
            Step limit when ``steps`` is None.

        Returns
        -------
        Phase
            The perturbed state and the steps taken.

        Raises
        ------
        ValueError
            If ``alg`` is not one of :data:`ALGORITHMS`.
        """
        kw = {"steps": steps, "tol": tol, "max_steps": max_steps}
        if alg == "EP":
            return self.ebm.nudged_phase(self.s_free, self.target, p, **kw)
        if alg == "CHL":
            clamp = chl_target(self.s_free[-1], self.target, p)
            return clamped_phase(self.ebm, self.s_free, clamp, **kw)
        if alg == "PC":
            return self.pc.nudged_phase(self.s_ff, self.target, p, **kw)
        raise ValueError(f"algorithm must be one of {ALGORITHMS}, got {alg!r}")

    def update(self, alg: str, s: State, p: float) -> list[np.ndarray]:
        """ΔW_k of ``alg`` from its perturbed state ``s`` (see the module docstring).

        Parameters
        ----------
        alg : str
            One of :data:`ALGORITHMS`.
        s : list of numpy.ndarray
            The perturbed state from :meth:`perturbed`.
        p : float
            The perturbation it was run with.

        Returns
        -------
        list of numpy.ndarray
            ΔW_k, shape ``(n_k, n_{k+1})``.
        """
        if alg == "PC":
            return pc_delta_w(self.pc, s, p)
        return ep_delta_w(self.ebm.rho, self.s_free, s, p)

    def reference(self, alg: str) -> list[np.ndarray]:
        """−∂C/∂W of the energy's own limit: implicit gradient at s⁰ (EP, CHL), backprop (PC).

        Parameters
        ----------
        alg : str
            One of :data:`ALGORITHMS`.

        Returns
        -------
        list of numpy.ndarray
            −∂C/∂W_k, shape ``(n_k, n_{k+1})``.
        """
        if alg == "PC":
            return feedforward_neg_grad(self.pc.net, self.pc.rho, self.s_ff[0], self.target)
        return implicit_neg_grad(self.ebm.net, self.ebm.rho, self.s_free, self.target,
                                 self.ebm.projected, self.ebm.energy_form)
