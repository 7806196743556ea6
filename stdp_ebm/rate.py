"""The rate model: its phases, relaxations of Eq 1–2 to a fixed point (free; nudged, Eq 13).

:class:`RateModel` adds to the energy (Eq 6), drive (Eq 8) and step (Eq 1–2) of
:class:`stdp_ebm.dynamics.RateDynamics` (whose module describes the step and its Langevin noise)
the phases: the initial state, the relaxation loop (:meth:`RateModel.relax`, to a fixed point or
for a fixed number of steps, free at β = 0 or nudged under F = E + βC, Eq 13) and the fast
fixed-step relaxation of training (:meth:`RateModel.settle`). :func:`model_from_config` builds
one from the ``[dynamics]`` section (:class:`~stdp_ebm.dynamics.DynamicsParams`, importable from
here with :func:`~stdp_ebm.dynamics.active_inputs` and ``DYNAMICS_SCHEMA``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np
from scipy.linalg.blas import get_blas_funcs

try:  # the clip ufunc itself: np.clip's Python wrappers cost more than clipping a 20×10 or 20×500 batch
    # numpy's stubs leave the ufunc out of umath
    from numpy._core.umath import clip as _clip  # type: ignore[attr-defined]
except ImportError:  # numpy < 2
    from numpy.core.umath import clip as _clip  # type: ignore[no-redef]  # the same ufunc

from .activation import HardSigmoid, Rho
from .dynamics import (DTYPE_KEY, DYNAMICS_SCHEMA, DynamicsParams, RateDynamics,  # noqa: F401
                       State, active_inputs)
from .energy import ENERGIES
from .errors import ConvergenceError, DivergenceError
from .network import Network

__all__ = ["RateModel", "Phase", "model_from_config", "active_inputs", "DynamicsParams",
           "DYNAMICS_SCHEMA"]

StepCallback = Callable[[State, State], None]


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
class RateModel(RateDynamics):
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
