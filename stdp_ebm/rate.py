"""The rate model: energy (Eq 6), drive (Eq 8), leaky-integrator dynamics (Eq 1–2), phases (Eq 13).

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
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, ClassVar

import numpy as np
from scipy.linalg.blas import get_blas_funcs

try:  # the clip ufunc itself: np.clip's Python wrappers cost more than clipping a 20×10 or 20×500 batch
    # numpy's stubs leave the ufunc out of umath
    from numpy._core.umath import clip as _clip  # type: ignore[attr-defined]
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as _clip  # type: ignore[no-redef]  # the same ufunc

from .activation import HardSigmoid, Rho
from .config import Key
from .energy import EQ6, ENERGIES, Energy
from .errors import ConvergenceError, DivergenceError
from .network import Network
from .sections import Section, key

__all__ = ["RateModel", "Phase", "model_from_config", "active_inputs", "DynamicsParams",
           "DYNAMICS_SCHEMA"]

State = list[np.ndarray]
StepCallback = Callable[[State, State], None]

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


def model_from_config(net: Network, params: DynamicsParams, rho: Rho | None = None) -> "RateModel":
    """A :class:`RateModel` of ``net`` with the dynamics ``params``.

    Parameters
    ----------
    net : Network
        The weights, biases and examples.
    params : DynamicsParams
        The ``[dynamics]`` section.
    rho : Rho, optional
        The activation; the hard sigmoid on [β1, β2] when not given.

    Returns
    -------
    RateModel
        The model (it shares ``net``).
    """
    rho = rho if rho is not None else HardSigmoid(params.beta1, params.beta2)
    return RateModel(net, rho, epsilon=params.epsilon, projected=params.projected,
                     noise=params.noise, energy_form=ENERGIES[params.energy])


@dataclass
class Phase:
    """Result of a relaxation.

    Parameters
    ----------
    s : list of numpy.ndarray
        The final state, ``s[k]`` of shape ``(batch, n_k)``; ``s[0]`` is the clamped input.
    steps : int
        The number of steps taken.
    trajectory : list of numpy.ndarray, optional
        Per layer k, the states at every step, shape ``(steps + 1, batch, n_k)`` (the initial
        state first); None unless recorded.
    """

    s: State
    steps: int
    trajectory: list[np.ndarray] | None = None


@dataclass
class RateModel:
    """Layered continuous Hopfield/EBM network of Bengio et al. (2017), batched over examples.

    States are lists ``s`` of arrays ``s[k]`` of shape ``(batch, n_k)``, k = 0 … L+1, with
    ``s[0]`` the clamped input x (module docstring).

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

    Examples
    --------
    >>> import numpy as np
    >>> from stdp_ebm.network import Network
    >>> net = Network([np.array([[1.0]]), np.array([[0.5]])], [np.zeros(1), np.zeros(1),
    ...                                                        np.zeros(1)])
    >>> model = RateModel(net)
    >>> phase = model.free_phase(np.array([[0.6]]))  # fixed point: h = 0.6 + y/2, y = h/2
    >>> [round(float(v), 6) for v in (phase.s[1][0, 0], phase.s[2][0, 0])]
    [0.8, 0.4]
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

    # --- phases --------------------------------------------------------------------------------
    def initial_state(self, x: np.ndarray) -> State:
        """Input clamped to x, every free unit at the lower end of ρ's range.

        Parameters
        ----------
        x : numpy.ndarray
            The input, shape ``(batch, n_0)`` or ``(n_0,)``.

        Returns
        -------
        list of numpy.ndarray
            The state, ``s[k]`` of shape ``(batch, n_k)`` in :attr:`dtype`.
        """
        x = np.atleast_2d(np.asarray(x, self.dtype))
        lo = self.rho.bounds[0]
        return [x] + [np.full((len(x), n), lo, self.dtype) for n in self.net.sizes[1:]]

    def relax(self, s: State, beta: float = 0.0, target: np.ndarray | None = None, *,
              steps: int | None = None, tol: float = 1e-10, max_steps: int = 200_000,
              rng: np.random.Generator | None = None, record: bool = False,
              on_step: StepCallback | None = None, phase: str = "free") -> Phase:
        """Run the dynamics (Eq 1–2, nudged as in Eq 13 when β ≠ 0) from ``s``.

        Exactly ``steps`` steps, or (``steps=None``) until the fixed-point residual
        max|s_{t+1} − s_t|/ε falls below ``tol``.

        Parameters
        ----------
        s : list of numpy.ndarray
            The initial state, ``s[k]`` of shape ``(batch, n_k)``.
        beta : float
            The nudging strength β; 0 is the free phase.
        target : numpy.ndarray, optional
            The target d, shape ``(batch, n_{L+1})``; needed when β ≠ 0.
        steps : int, optional
            A fixed number of steps (needed with noise); None: run to the fixed point.
        tol : float
            The residual at which a phase to the fixed point stops.
        max_steps : int
            The most steps of a phase to the fixed point.
        rng : numpy.random.Generator, optional
            Draws the Langevin noise; needed when ``noise`` > 0.
        record : bool
            Keep the trajectory (:attr:`Phase.trajectory`).
        on_step : callable, optional
            ``on_step(s_prev, s_next)``, called after each step (the online rule hooks in here).
        phase : str
            How errors name the phase (``"free"``, ``"nudged"``).

        Returns
        -------
        Phase
            The final state, the number of steps and, with ``record``, the trajectory.

        Raises
        ------
        ConvergenceError
            No fixed point within ``max_steps``.
        DivergenceError
            A state became NaN or Inf.
        ValueError
            Noise without ``steps``, or β ≠ 0 without ``target``.
        """
        if steps is None and self.noise > 0.0:
            raise ValueError("with noise the relaxation needs a fixed number of steps")
        if beta != 0.0 and target is None:
            raise ValueError("a nudged phase (beta != 0) needs a target")
        with np.errstate(over="ignore", invalid="ignore"):
            drive0 = self.input_drive(s[0])
        traj = [[sk] for sk in s] if record else None
        limit = steps if steps is not None else max_steps
        residual = np.inf
        for t in range(limit):
            with np.errstate(over="ignore", invalid="ignore"):  # reported as DivergenceError below
                new = self.step(s, beta, target, rng, drive0)
            residual = max(float(np.max(np.abs(n - o))) for n, o in zip(new[1:], s[1:])) / self.epsilon
            if not np.isfinite(residual):
                done = f"{t + 1} step{'s' if t else ''}"
                raise DivergenceError(f"{phase} phase: non-finite state after {done} (check "
                                      "weights and dynamics.epsilon)")
            if on_step is not None:
                on_step(s, new)
            if traj is not None:
                for lst, sk in zip(traj, new):
                    lst.append(sk)
            s = new
            if steps is None and residual < tol:
                return Phase(s, t + 1, self._stack(traj))
        if steps is None:
            raise ConvergenceError(
                f"{phase} phase did not converge in {max_steps} steps (residual {residual:.3g} > "
                f"tol {tol:g}); raise dynamics.max_steps, lower dynamics.epsilon if the state "
                "oscillates, or use a network with smaller weights")
        return Phase(s, limit, self._stack(traj))

    @staticmethod
    def _stack(traj: list[list[np.ndarray]] | None) -> list[np.ndarray] | None:
        return None if traj is None else [np.stack(lst) for lst in traj]

    def settle(self, s: State, steps: int, input_drive: np.ndarray,
               beta: float | np.ndarray = 0.0, target: np.ndarray | None = None) -> State:
        """Exactly ``steps`` noiseless steps of Eq 1–2 (Eq 13's nudge if β ≠ 0) from ``s``.

        The inner loop of training, given the phase's input drive ρ(x)W_0. No residual check,
        trajectory or callback; ``s`` is left unchanged. ``beta`` is one β for the batch or one
        per example (shape (batch, 1)), so that several nudged phases relax as one batch.

        With the projected hard sigmoid the states stay in the box [β1, β2], where ρ(s) = s and the
        inclusive ρ'(s) = 1 (so both energies give the same step), and the step of layer k is exactly

            s_k ← clip((1 − ε) s_k + ε (b_k + s_{k−1} W_{k−1} + s_{k+1} W_kᵀ))   (− εβ (y − d) for y)

        (the states are projected onto the box first), computed by :func:`_box_steps`. Any other ρ
        or unprojected dynamics loop over :meth:`step`; noisy dynamics need an rng, i.e.
        :meth:`relax`. The arithmetic is in the weights' precision (:attr:`dtype`).

        Parameters
        ----------
        s : list of numpy.ndarray
            The initial state, ``s[k]`` of shape ``(batch, n_k)``.
        steps : int
            The number of steps.
        input_drive : numpy.ndarray
            ρ(x) W_0 of the phase, shape ``(batch, n_1)`` (:meth:`input_drive`).
        beta : float or numpy.ndarray
            The nudging strength β, one for the batch or shape ``(batch, 1)``.
        target : numpy.ndarray, optional
            The target d, shape ``(batch, n_{L+1})``; needed when β ≠ 0.

        Returns
        -------
        list of numpy.ndarray
            The state after ``steps`` steps.
        """
        if not (self.projected and isinstance(self.rho, HardSigmoid) and self.noise == 0.0):
            for _ in range(steps):
                s = self.step(s, beta, target, None, input_drive)
            return s
        eps = self.epsilon
        drive = list(self.net.b[1:])                     # × ε in _box_steps
        drive[0] = drive[0] + input_drive
        keep: list[float | np.ndarray] = [1.0 - eps] * len(drive)
        if np.any(beta != 0.0):
            if target is None:
                raise ValueError("a nudged phase (beta != 0) needs a target")
            keep[-1] = keep[-1] - eps * (beta if np.ndim(beta) == 0 else np.asarray(beta, float))
            drive[-1] = drive[-1] + beta * target
        return _box_steps(s, self.net.W[1:], drive, keep, eps, self.rho.bounds, steps, self.dtype)

    def free_phase(self, x: np.ndarray, **kwargs) -> Phase:
        """Relax with the input clamped and β = 0 (to a fixed point unless ``steps`` is given).

        Parameters
        ----------
        x : numpy.ndarray
            The input, shape ``(batch, n_0)`` or ``(n_0,)``; the phase starts from
            :meth:`initial_state`.
        **kwargs
            Keyword arguments of :meth:`relax` (``steps``, ``tol``, ``max_steps``, ``rng``,
            ``record``, ``on_step``).

        Returns
        -------
        Phase
            The free fixed point (or the state after ``steps``).
        """
        return self.relax(self.initial_state(x), 0.0, None, phase="free", **kwargs)

    def nudged_phase(self, s_free: State, target: np.ndarray, beta: float, **kwargs) -> Phase:
        """Relax from the free fixed point under F = E + β C (Eq 13).

        Parameters
        ----------
        s_free : list of numpy.ndarray
            The free phase's final state.
        target : numpy.ndarray
            The target d, shape ``(batch, n_{L+1})`` or ``(n_{L+1},)``.
        beta : float
            The nudging strength β.
        **kwargs
            Keyword arguments of :meth:`relax`.

        Returns
        -------
        Phase
            The nudged state.
        """
        return self.relax(s_free, beta, np.atleast_2d(target), phase="nudged", **kwargs)


def _box_steps(s: State, weights: list[np.ndarray], drive: list, keep: list, eps: float,
               bounds: tuple[float, float], steps: int, dt: np.dtype) -> State:
    """``steps`` steps s_k ← clip(keep_k s_k + ε (c_k + s_{k−1} W_{k−1} + s_{k+1} W_kᵀ)) of the
    free layers k ≥ 1 of ``s``, every layer from the old states (as :meth:`RateModel.step`), with
    c_k = ``drive[k − 1]`` and ``weights`` = W_1 … (s_0 enters through c_1). The step of
    :meth:`RateModel.settle`, arranged for speed (in a 784-500-10 net the passes over the hidden
    layer weigh a quarter of its two small products, docs/deep.md):

    - each state (old, new) is one flat array, the layers' (batch, n_k) blocks end to end, so that
      the constant, the leak and the clip take one call each for all layers (a call costs ~1 µs);
    - BLAS gemm, C ← εAB + C, adds the products to the block that already holds εc_k (numpy's
      matmul writes its output: adding it would be one more pass over the layer); it works on
      the blocks' transposes, since a C-ordered (batch, n_k) block is the Fortran-ordered
      (n_k, batch) array BLAS expects, and so copies nothing;
    - the leak is left out of the layers before the first with keep_k ≠ 0 (at ε = 1 all but a
      nudged output layer).
    """
    lo, hi = (dt.type(v) for v in bounds)
    shapes = [sk.shape for sk in s[1:]]
    ends = [0]
    for rows, cols in shapes:
        ends.append(ends[-1] + rows * cols)

    def blocks(b: np.ndarray) -> list[np.ndarray]:  # the layers' (batch, n_k) blocks of a state
        return [b[i:e].reshape(sh) for i, e, sh in zip(ends, ends[1:], shapes)]

    def flat(parts: list) -> np.ndarray:            # a state of one array per layer, broadcast
        b = np.empty(ends[-1], dt)
        for block, part in zip(blocks(b), parts):
            block[...] = part
        return b

    leaks = [np.ndim(k) > 0 or k != 0.0 for k in keep]
    cut = ends[leaks.index(True)] if any(leaks) else ends[-1]
    const = flat(drive)
    if eps != 1.0:
        const *= eps
    head, tail = const[:cut], const[cut:]
    keep_tail = flat(keep)[cut:]

    def views(b: np.ndarray) -> tuple:               # all, no leak, leak, each layer transposed
        return b, b[:cut], b[cut:], [block.T for block in blocks(b)]

    both = [views(flat([_clip(sk, lo, hi) for sk in s[1:]])), views(np.empty_like(const))]
    wt = [np.ascontiguousarray(w, dt).T for w in weights]   # W_kᵀ, Fortran-ordered
    gemm = get_blas_funcs("gemm", (const,))
    n = len(shapes)
    for t in range(steps):
        (_, _, old_tail, old), (new, new_head, new_tail, out) = both[t % 2], both[1 - t % 2]
        if len(head):
            np.copyto(new_head, head)
        if len(tail):
            np.multiply(old_tail, keep_tail, out=new_tail)
            new_tail += tail
        # gemm(α, A, B, β, C, trans_a, trans_b, overwrite_c): C ← α op(A) op(B) + βC, on layer
        # k = j + 1 transposed: += (ε s_{k+1} W_kᵀ)ᵀ = ε W_k s_{k+1}ᵀ and (ε s_{k−1} W_{k−1})ᵀ
        for j in range(n):
            if j + 1 < n:
                gemm(eps, wt[j], old[j + 1], 1.0, out[j], 1, 0, 1)
            if j > 0:
                gemm(eps, wt[j - 1], old[j - 1], 1.0, out[j], 0, 0, 1)
        _clip(new, lo, hi, out=new)
    return [s[0]] + [block.T for block in both[steps % 2][3]]
