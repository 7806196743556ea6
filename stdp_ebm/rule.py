"""The learning rule in rate form (Eq 26): dW_ij/dt ∝ ρ(s_j) · ṡ_i, pre rate × post state derivative.

W_k couples layers k and k+1, so each synapse has two directions:

* ``up``   — pre = layer k, post = layer k+1: ΔW_k = (1/β) ∫ ρ(s_k)ᵀ ṡ_{k+1} dt  (Eq 26 one way)
* ``down`` — pre = layer k+1, post = layer k: ΔW_k = (1/β) ∫ ṡ_kᵀ ρ(s_{k+1}) dt
* ``sym``  — tied weights sum both directions with dρ/dt for the post side:
  ∫ ρ(s_j) dρ(s_i)/dt + ρ(s_i) dρ(s_j)/dt dt = Δ[ρ(s_i) ρ(s_j)], the EP update
  (1/β)(ρ_i^β ρ_j^β − ρ_i^0 ρ_j^0), which tends to −∂C/∂W as β → 0.

Discrete time: the post change over a step, s_{t+1} − s_t, multiplies the trapezoidal pre rate
½(ρ_t + ρ_{t+1}). With this choice the symmetrised sum telescopes *exactly* to the EP difference, so
the online integral and the closed form agree to rounding. Increments are averaged over the batch.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy.linalg.blas import get_blas_funcs

from .activation import Rho
from .rate import State, active_inputs

__all__ = ["FORMS", "LowRank", "RuleAccumulator", "ep_delta_w", "ep_input_factors"]

#: The three directions of Eq 26 (see the module docstring): one-way ``up`` and ``down``, tied ``sym``.
FORMS = ("up", "down", "sym")


class RuleAccumulator:
    """Integrates Eq 26 online; call it with (s_prev, s_next) after every step of a phase.

    Pass it as ``on_step`` to :meth:`stdp_ebm.rate.RateModel.relax`; read :meth:`delta_w` after.
    Calling it adds, for each W_k and each form in :data:`FORMS`, the step's post change times the
    trapezoidal pre rate, averaged over the batch.

    Parameters
    ----------
    rho : Rho
        The rate function ρ of the model.
    sizes : list of int
        Layer sizes [n_0, ..., n_L], input first; W_k has shape ``(n_k, n_{k+1})``.

    Examples
    --------
    The integrated ``sym`` form equals the closed form :func:`ep_delta_w` (the sum telescopes):

    >>> import numpy as np
    >>> from stdp_ebm.activation import HardSigmoid
    >>> rho, rng = HardSigmoid(), np.random.default_rng(0)
    >>> free = [rng.uniform(0, 1, (2, n)) for n in (3, 4)]
    >>> nudged = [free[0], free[1] + 0.01]
    >>> acc = RuleAccumulator(rho, [3, 4])
    >>> acc(free, nudged)
    >>> bool(np.allclose(acc.delta_w(0.1)[0], ep_delta_w(rho, free, nudged, 0.1)[0]))
    True
    """

    def __init__(self, rho: Rho, sizes: list[int]) -> None:
        self.rho = rho
        pairs = list(zip(sizes[:-1], sizes[1:]))
        self.acc = {form: [np.zeros(p) for p in pairs] for form in FORMS}

    def __call__(self, s_prev: State, s_next: State) -> None:
        r0 = [self.rho(s) for s in s_prev]
        r1 = [self.rho(s) for s in s_next]
        batch = len(s_prev[0])
        for k in range(len(s_prev) - 1):
            pre_lo = 0.5 * (r0[k] + r1[k])
            pre_hi = 0.5 * (r0[k + 1] + r1[k + 1])
            self.acc["up"][k] += pre_lo.T @ (s_next[k + 1] - s_prev[k + 1]) / batch
            self.acc["down"][k] += (s_next[k] - s_prev[k]).T @ pre_hi / batch
            self.acc["sym"][k] += (pre_lo.T @ (r1[k + 1] - r0[k + 1])
                                   + (r1[k] - r0[k]).T @ pre_hi) / batch

    def delta_w(self, beta: float, form: str = "sym") -> list[np.ndarray]:
        """(1/β) × the accumulated integral of Eq 26, one array per W_k.

        Parameters
        ----------
        beta : float
            The nudge strength β of the phase that was integrated.
        form : str
            One of :data:`FORMS`: ``"up"``, ``"down"`` or ``"sym"`` (the EP update).

        Returns
        -------
        list of numpy.ndarray
            ΔW_k, shape ``(n_k, n_{k+1})`` for each k.

        Raises
        ------
        ValueError
            If ``form`` is not one of :data:`FORMS`.
        """
        if form not in FORMS:
            raise ValueError(f"form must be one of {FORMS}, got {form!r}")
        return [a / beta for a in self.acc[form]]


def ep_delta_w(rho: Rho, s_free: State, s_nudged: State, beta: float) -> list[np.ndarray]:
    """Closed form of the symmetrised rule: (1/β)(ρ^β_kᵀ ρ^β_{k+1} − ρ^0_kᵀ ρ^0_{k+1}) / batch.

    Identical to the integrated ``sym`` form of Eq 26 (the trapezoidal sum telescopes); used for
    training, where only the end points are needed.

    When both states share the clamped input (the same array ``s[0]``, as after any relaxation from
    one free state), ΔW_0 = ρ(x)ᵀ(ρ^β_1 − ρ^0_1)/(β·batch): one input-sized product instead of two
    (:func:`ep_input_factors`).

    Parameters
    ----------
    rho : Rho
        The rate function ρ (:mod:`stdp_ebm.activation`).
    s_free : list of numpy.ndarray
        The free fixed point s^0, one array per layer, shape ``(batch, n_k)``.
    s_nudged : list of numpy.ndarray
        The nudged state s^β after a phase with nudge strength β, same shapes.
    beta : float
        The nudge strength β > 0 (dimensionless).

    Returns
    -------
    list of numpy.ndarray
        ΔW_k, shape ``(n_k, n_{k+1})``, averaged over the batch; it tends to −∂C/∂W_k as β → 0.

    Examples
    --------
    >>> import numpy as np
    >>> from stdp_ebm.activation import HardSigmoid
    >>> x = np.array([[1.0, 0.0]])
    >>> free, nudged = [x, np.array([[0.5]])], [x, np.array([[0.6]])]
    >>> print(ep_delta_w(HardSigmoid(), free, nudged, beta=0.1)[0].ravel())
    [1. 0.]
    """
    scale = 1.0 / (beta * len(s_free[0]))
    if s_free[0] is s_nudged[0]:
        pre, post = ep_input_factors(rho, s_free, s_nudged, beta)
        first, lower = pre.T @ post, 1
    else:
        first, lower = None, 0
    r0 = [rho(s) for s in s_free[lower:]]
    r1 = [rho(s) for s in s_nudged[lower:]]
    out = [(r1[k].T @ r1[k + 1] - r0[k].T @ r0[k + 1]) * scale for k in range(len(r0) - 1)]
    return out if first is None else [first] + out


def ep_input_factors(rho: Rho, s_free: State, s_nudged: State,
                     beta: float) -> tuple[np.ndarray, np.ndarray]:
    """ΔW_0 of :func:`ep_delta_w` as its factors, ΔW_0 = preᵀ post.

    For two states that share the clamped input x: pre = ρ(x) and post = (ρ^β_1 − ρ^0_1)/(β·batch).
    The product has rank ≤ batch and zero rows for the inputs with ρ(x) = 0 in every example.

    Parameters
    ----------
    rho : Rho
        The rate function ρ (:mod:`stdp_ebm.activation`).
    s_free : list of numpy.ndarray
        The free fixed point s^0, one array per layer, shape ``(batch, n_k)``.
    s_nudged : list of numpy.ndarray
        The nudged state s^β after a phase with nudge strength β, same shapes.
    beta : float
        The nudge strength β > 0 (dimensionless).

    Returns
    -------
    pre : numpy.ndarray
        ρ(x), shape ``(batch, n_0)``.
    post : numpy.ndarray
        (ρ^β_1 − ρ^0_1)/(β·batch), shape ``(batch, n_1)``.

    Raises
    ------
    ValueError
        If the two states do not share the same input array ``s[0]``.
    """
    if s_free[0] is not s_nudged[0]:
        raise ValueError("ep_input_factors: the two states must share the clamped input s[0]")
    pre = rho(s_free[0])
    return pre, (rho(s_nudged[1]) - rho(s_free[1])) * (1.0 / (beta * len(pre)))


@dataclass(frozen=True)
class LowRank:
    """A weight change held as its factors, ΔW = preᵀ post (rank ≤ batch).

    E.g. the rule's ΔW_0 (:func:`ep_input_factors`): applied without forming ΔW, on the rows of W where
    ``pre`` has a non-zero (:func:`stdp_ebm.rate.active_inputs`, the inputs that were on).

    Parameters
    ----------
    pre : numpy.ndarray
        Pre-synaptic factor, shape ``(batch, n_pre)``.
    post : numpy.ndarray
        Post-synaptic factor, shape ``(batch, n_post)``.
    """

    pre: np.ndarray
    post: np.ndarray

    def add_to(self, w: np.ndarray, alpha: float) -> None:
        """w += α preᵀ post in place: one BLAS gemm, C ← α AᵀB + C, on the rows that change.

        Parameters
        ----------
        w : numpy.ndarray
            The weights to update in place, shape ``(n_pre, n_post)``.
        alpha : float
            The factor α (e.g. the learning rate).
        """
        rows = active_inputs(self.pre)
        block = w if rows is None else w[rows]
        pre = self.pre if rows is None else self.pre[:, rows]
        gemm = get_blas_funcs("gemm", (block,))
        out = gemm(alpha, self.post.T, pre.T, beta=1.0, c=block.T, trans_b=1, overwrite_c=1)
        if rows is not None:
            w[rows] = out.T
        elif not np.may_share_memory(out, w):            # gemm worked on a copy of w
            w[...] = out.T
