"""The rate model's dynamics: energy (Eq 6), drive (Eq 8), one step of Eq 1–2 and ``[dynamics]``.

A state is a list of arrays ``s[k]`` of shape (batch, n_k), k = 0 … L+1; ``s[0]`` is the clamped
input x. One update step of every free layer at once (Eq 1–2, η the Langevin noise):

    s ← s + ε (R(s + η) − s) − ε β ∂C/∂s,        C = ½ ‖y − d‖²   (F = E + β C, Eq 13)

With η = 0 and β = 0 this is gradient descent on E (Eq 4) since ∂E/∂s = s − R(s). The projected
variant clips states to [β1, β2] after each step (the default, as in the EP code). The output y is
the state of the last layer.

Langevin noise (Eq 1–2), the discrete-time choice: at every step a fresh η ~ N(0, σ² I) is drawn
for every free unit (the clamped input gets none) and added to the state the drive *sees*, not to
the state: s ← s + ε(R(s + η) − s). σ = ``noise`` is per step and not scaled with ε. Inside the box,
where the drive is affine, the state receives ε·(∂R/∂s)·η = ε W η per step (variance ε²σ² W Wᵀ) and
relaxes at a rate ∝ ε, so its stationary covariance Σ solves Σ = AΣAᵀ + ε²σ² W Wᵀ (A the step's
linear map, A = I − ε(I − W) in the box); to first order in ε, Σ ≈ εσ² S with
(I − W)S + S(I − W)ᵀ = W Wᵀ. The equivalent continuous-time noise has intensity εσ² (time in units
of τ), and ε → 0 at fixed σ is the noise-free limit. Outside the box
the hard sigmoid is flat, so a unit whose noisy state leaves [β1, β2] passes no perturbation on;
with ``eq6`` the gate ρ'(s + η) also switches the unit's own drive off (docs/langevin.md).

That is the default energy, ``eq6``. With ``energy = "hopfield"`` (:mod:`stdp_ebm.energy`) the drive
is the net input without the ρ' factor and the nudge is −εβ(ρ(y) − d): the rate model of a
current-based spiking population. The two coincide for the projected hard sigmoid.

:class:`RateDynamics` holds these; :class:`stdp_ebm.rate.RateModel` adds the phases (relaxations
to a fixed point, Eq 13), :class:`DynamicsParams` is the config section. Importable from
:mod:`stdp_ebm.rate`, where users find them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import ClassVar

import numpy as np

from .activation import HardSigmoid, Rho
from .config import Key
from .energy import EQ6, ENERGIES, Energy
from .network import Network
from .sections import Section, key

__all__ = ["RateDynamics", "DynamicsParams", "DYNAMICS_SCHEMA", "active_inputs"]

State = list[np.ndarray]


@dataclass(frozen=True)
class DynamicsParams(Section):
    """The ``[dynamics]`` section: the rate model's relaxation (Eq 1–2) and energy.

    Parameters
    ----------
    epsilon : float
        Step ε of Eq 1–2 in units of the time constant, in (0, 1].
    beta1, beta2 : float
        Bounds β1 < β2 of the hard sigmoid and of the state box (Eq 7).
    projected : bool
        Clip the states to [β1, β2] after each step.
    energy : str
        ``eq6`` (Eq 6) or ``hopfield`` (Hopfield 1984; the spiking populations' rate model).
    noise : float
        Standard deviation σ of the Langevin noise η per step (Eq 1–2); 0 is deterministic.
    tol : float
        The free phase stops when ``max |s_{t+1} − s_t|/ε < tol``.
    max_steps : int
        The free phase fails after this many steps.
    """

    SECTION: ClassVar[str] = "dynamics"
    epsilon: float = key("float", 0.5, "step ε of Eq 1–2 in units of the time constant", low=0.0,
                         open_low=True, high=1.0)
    beta1: float = key("float", 0.0, "lower bound β1 of the hard sigmoid / state box (Eq 7)")
    beta2: float = key("float", 1.0, "upper bound β2 of the hard sigmoid / state box (Eq 7)")
    projected: bool = key("bool", True, "clip states to [β1, β2] after each step")
    energy: str = key("str", "eq6", "eq6: Eq 6, drive ρ'(s)(b + Wρ), C = ½‖y − d‖²; hopfield: "
                      "Hopfield (1984), drive b + Wρ, C = ½‖ρ(y) − d‖² (the spiking populations' "
                      "rate model; the same as eq6 for the projected hard sigmoid)",
                      choices=tuple(ENERGIES))
    noise: float = key("float", 0.0, "standard deviation σ of the Langevin noise η per step (Eq "
                       "1–2: s ← s + ε(R(s + η) − s)); 0 is the deterministic model", low=0.0)
    tol: float = key("float", 1e-10, "free phase stops when max |s_{t+1} − s_t|/ε < tol", low=0.0,
                     open_low=True)
    max_steps: int = key("int", 200_000, "free phase fails after this many steps", low=1)

    def check(self) -> None:
        """β1 < β2."""
        if not self.beta1 < self.beta2:
            raise self.problem("beta1", f"must be < beta2 = {self.beta2:g}")


#: the config schema of ``[dynamics]``, derived from :class:`DynamicsParams`
DYNAMICS_SCHEMA = DynamicsParams.schema()
SPARSE_INPUTS = 0.75   # fraction of active input units below which ρ(x)W_0 skips the others' rows
DTYPE_KEY = Key("str", "float64", "floating-point precision of weights, states and data (training: "
                "float32 halves memory traffic and matrix-product time)", choices=("float64", "float32"))


def active_inputs(r: np.ndarray) -> np.ndarray | None:
    """The input units with ρ(x) ≠ 0 in some example of a batch, when they are few.

    Only their rows of W_0 enter ρ(x)W_0 and only their rows of ΔW_0 are non-zero (pre rate 0,
    Bengio et al. 2017 Eq 26); a mini-batch of 20 MNIST images has about 430 of 784. Above the
    threshold :data:`SPARSE_INPUTS` gathering the rows costs more than the zero terms.

    Parameters
    ----------
    r : numpy.ndarray
        ρ(x), shape ``(batch, n_0)``; any other number of dimensions gives None.

    Returns
    -------
    numpy.ndarray or None
        The sorted indices of the active input units, or None when they are more than
        :data:`SPARSE_INPUTS` of all.

    Examples
    --------
    >>> import numpy as np
    >>> active_inputs(np.array([[0.0, 0.5, 0.0, 0.0], [0.0, 0.0, 0.0, 1.0]]))
    array([1, 3])
    >>> active_inputs(np.ones((2, 4))) is None
    True
    """
    if r.ndim != 2:
        return None
    rows = np.flatnonzero(r.any(axis=0))
    return rows if len(rows) <= SPARSE_INPUTS * r.shape[1] else None


@dataclass
class RateDynamics:
    """The energy (Eq 6), drive (Eq 8) and one step (Eq 1–2, Eq 13's nudge) of the rate model.

    The part of :class:`stdp_ebm.rate.RateModel` that acts on one state; the model adds the
    phases. States are lists ``s`` of arrays ``s[k]`` of shape ``(batch, n_k)``, k = 0 … L+1,
    with ``s[0]`` the clamped input x (module docstring).

    Parameters
    ----------
    net : Network
        Weights and biases (shared, not copied).
    rho : Rho
        The activation ρ (Eq 7); the hard sigmoid on [0, 1] by default.
    epsilon : float
        Step ε of Eq 1–2, in units of the time constant, in (0, 1].
    projected : bool
        Clip the free states to ρ's range [β1, β2] after each step.
    noise : float
        Standard deviation σ of the Langevin noise η per step (Eq 1–2), dimensionless; 0 is
        deterministic.
    energy_form : Energy
        ``EQ6`` (Eq 6) or the Hopfield form (:mod:`stdp_ebm.energy`).
    """

    net: Network
    rho: Rho = field(default_factory=HardSigmoid)
    epsilon: float = 0.5
    projected: bool = True
    noise: float = 0.0
    energy_form: Energy = EQ6

    @property
    def dtype(self) -> np.dtype:
        """The precision of the states: that of the weights (float64 for integer weights).

        Returns
        -------
        numpy.dtype
            float32 or float64 (or wider).
        """
        return np.result_type(self.net.W[0].dtype, np.float32)

    # --- the maths -----------------------------------------------------------------------------
    def energy(self, s: State) -> np.ndarray:
        """The energy of Eq 6: E = Σ s²/2 − Σ_k ρ(s_k)ᵀ W_k ρ(s_{k+1}) − Σ b·ρ(s).

        With ``hopfield`` the first term is Σ ∫^{ρ(s)} ρ⁻¹ (:meth:`Energy.self_term`).

        Parameters
        ----------
        s : list of numpy.ndarray
            A state, ``s[k]`` of shape ``(batch, n_k)``.

        Returns
        -------
        numpy.ndarray
            E per example, shape ``(batch,)``, dimensionless.
        """
        r = [self.rho(sk) for sk in s]
        e = sum(self.energy_form.self_term(self.rho, sk) for sk in s)
        e -= sum(np.einsum("bi,ij,bj->b", r[k], w, r[k + 1]) for k, w in enumerate(self.net.W))
        e -= sum(rk @ bk for rk, bk in zip(r, self.net.b))
        return e

    def cost(self, s: State, target: np.ndarray) -> np.ndarray:
        """The cost of Eq 13: C = ½ ‖y − d‖² (½ ‖ρ(y) − d‖² with ``hopfield``).

        Parameters
        ----------
        s : list of numpy.ndarray
            A state; y = ``s[-1]``, shape ``(batch, n_{L+1})``.
        target : numpy.ndarray
            The target d, shape ``(batch, n_{L+1})`` or ``(n_{L+1},)``.

        Returns
        -------
        numpy.ndarray
            C per example, shape ``(batch,)``.
        """
        return self.energy_form.cost(self.rho, s[-1], target)

    def input_drive(self, x: np.ndarray) -> np.ndarray:
        """The bottom-up drive of the first hidden layer, ρ(x) W_0.

        Constant while x is clamped, so computed once per phase. Only the rows of W_0 of the
        :func:`active_inputs` take part when they are few (the other terms are zero).

        Parameters
        ----------
        x : numpy.ndarray
            The input, shape ``(batch, n_0)``.

        Returns
        -------
        numpy.ndarray
            ρ(x) W_0, shape ``(batch, n_1)``.
        """
        r, w = self.rho(x), self.net.W[0]
        rows = active_inputs(r)
        return r @ w if rows is None else r[:, rows] @ w[rows]

    def drive(self, s: State, input_drive: np.ndarray | None = None) -> list[np.ndarray]:
        """The drive of Eq 8: R_k = ρ'(s_k) (b_k + ρ(s_{k−1}) W_{k−1} + ρ(s_{k+1}) W_kᵀ).

        For k = 1 … L+1; without the factor ρ'(s_k) with ``hopfield`` (:meth:`Energy.gain`).

        Parameters
        ----------
        s : list of numpy.ndarray
            A state, ``s[k]`` of shape ``(batch, n_k)``.
        input_drive : numpy.ndarray, optional
            ρ(x) W_0 (:meth:`input_drive`) when already computed; else computed from ``s[0]``.

        Returns
        -------
        list of numpy.ndarray
            R aligned with ``s``: entry 0 (the clamped input) is ``s[0]`` itself, entry k has
            shape ``(batch, n_k)``.
        """
        W, b = self.net.W, self.net.b
        r = [None] + [self.rho(sk) for sk in s[1:]]
        bottom_up = self.input_drive(s[0]) if input_drive is None else input_drive
        out = [s[0]]
        for k in range(1, len(s)):
            a = b[k] + bottom_up
            if k + 1 < len(s):
                a = a + r[k + 1] @ W[k].T
                bottom_up = r[k] @ W[k]
            out.append(self.energy_form.gain(self.rho, s[k]) * a)
        return out

    def step(self, s: State, beta: float | np.ndarray = 0.0, target: np.ndarray | None = None,
             rng: np.random.Generator | None = None, input_drive: np.ndarray | None = None) -> State:
        """One step of Eq 1–2 plus the nudge εβ·(d − y) on the output (Eq 13).

        The nudge is εβ·(d − ρ(y)) with ``hopfield`` (:meth:`Energy.force`); the result is
        projected if ``self.projected``. With ``noise`` = σ > 0 the drive is R(s + η),
        η ~ N(0, σ²) per free unit drawn from ``rng`` (module doc); the nudge uses the noiseless
        y.

        Parameters
        ----------
        s : list of numpy.ndarray
            The state, ``s[k]`` of shape ``(batch, n_k)``; not changed.
        beta : float or numpy.ndarray
            The nudging strength β ≥ 0, one for the batch or one per example (shape
            ``(batch, 1)``); 0 is the free dynamics.
        target : numpy.ndarray, optional
            The target d, shape ``(batch, n_{L+1})``; needed when β ≠ 0.
        rng : numpy.random.Generator, optional
            Draws η; needed when ``noise`` > 0.
        input_drive : numpy.ndarray, optional
            ρ(x) W_0 of the phase (:meth:`input_drive`).

        Returns
        -------
        list of numpy.ndarray
            The next state (new arrays; ``s[0]`` shared).

        Raises
        ------
        ValueError
            A noisy step without ``rng`` or a nudged step without ``target``.
        """
        noisy = s
        if self.noise > 0.0:
            if rng is None:
                raise ValueError("a noisy step needs an rng")
            noisy = [s[0]] + [sk + self.noise * rng.standard_normal(sk.shape) for sk in s[1:]]
        R = self.drive(noisy, input_drive)
        new = [s[0]] + [sk + self.epsilon * (Rk - sk) for sk, Rk in zip(s[1:], R[1:])]
        if np.any(beta != 0.0):
            if target is None:
                raise ValueError("a nudged step (beta != 0) needs a target")
            new[-1] = new[-1] + self.epsilon * beta * self.energy_form.force(self.rho, s[-1], target)
        if self.projected:
            lo, hi = self.rho.bounds
            new = [new[0]] + [np.clip(sk, lo, hi) for sk in new[1:]]
        return new
