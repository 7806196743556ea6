"""Reference gradients of C = ½‖y − d‖² at the free fixed point, on code paths separate from the rule.

All functions return the *descent direction* −∂C/∂W_k (shape (n_k, n_{k+1}), averaged over the
batch), the quantity the rule's ΔW should match.

(a) :func:`implicit_neg_grad` — implicit differentiation of the fixed point G(s) = s − g(s)·a(s) = 0,
    a = b + Wρ(s) the net input and g the energy's gain (ρ' for Eq 6, 1 for Hopfield's energy,
    :mod:`stdp_ebm.energy`): with A = ∂G/∂s = diag(1 − g'a) − diag(g) W diag(ρ') over the free,
    unsaturated units (for Eq 6 the Hessian ∂²E/∂s²), λ = A⁻ᵀ ∂C/∂s, and
    ∂C/∂W_pq = λ_p g(s_p) ρ(s_q) + λ_q g(s_q) ρ(s_p). Built on the full (N×N) weight matrix.
(b) :func:`feedforward_backprop` — back-propagation of C through the chain of local Jacobians
    ∂R_{k+1}/∂s_k at the fixed-point activations (Eq 24), ignoring the feedback loops.
(c) :func:`finite_difference_neg_grad` — central differences of C(ŝ(W)) with a tight relaxation.

Saturation: with projected dynamics a unit pinned at a bound by a drive that points outward does not
move under small perturbations; :func:`free_mask` finds the units that do.
"""

from __future__ import annotations

import numpy as np

from .activation import Rho
from .energy import EQ6, Energy
from .network import Network

__all__ = ["implicit_neg_grad", "feedforward_backprop", "finite_difference_neg_grad", "free_mask"]


def _full_matrix(net: Network) -> tuple[np.ndarray, np.ndarray]:
    """The symmetric (N×N) coupling matrix of all layers and the layer offsets into it."""
    offsets = np.concatenate([[0], np.cumsum(net.sizes)])
    full = np.zeros((offsets[-1], offsets[-1]))
    for k, w in enumerate(net.W):
        full[offsets[k]:offsets[k + 1], offsets[k + 1]:offsets[k + 2]] = w
    return full + full.T, offsets


def _pre_activation(net: Network, rho: Rho, s: list[np.ndarray]) -> list[np.ndarray]:
    """a_k = b_k + Σ_neighbours W ρ(s) for every free layer, from the full symmetric matrix."""
    full, offsets = _full_matrix(net)
    r = np.concatenate([rho(sk) for sk in s], axis=1)
    a = r @ full + np.concatenate(net.b)
    return [a[:, offsets[k]:offsets[k + 1]] for k in range(len(net.sizes))]


def free_mask(net: Network, rho: Rho, s: list[np.ndarray], projected: bool,
              energy: Energy = EQ6) -> list[np.ndarray]:
    """Boolean mask per layer of units free to move (not pinned at a bound by an outward drive).

    The input layer is clamped, so its mask is all False.

    Parameters
    ----------
    net : Network
        The layered network (weights ``W``, biases ``b``, ``sizes``).
    rho : Rho
        The rate function ρ.
    s : list of numpy.ndarray
        The free fixed point, one array per layer (input first), shape ``(batch, n_k)``.
    projected : bool
        Whether the dynamics are projected onto ρ's bounds (units pinned at a bound do not move).
    energy : Energy
        The energy the dynamics descend (:data:`stdp_ebm.energy.ENERGIES`; Eq 6 by default).

    Returns
    -------
    list of numpy.ndarray
        One boolean array per layer, shape ``(batch, n_k)``; True where the unit is free.
    """
    a = _pre_activation(net, rho, s)
    masks = [np.zeros_like(s[0], dtype=bool)]
    lo, hi = rho.bounds
    for sk, ak in zip(s[1:], a[1:]):
        R = energy.gain(rho, sk) * ak
        pinned = ((sk <= lo) & (R < sk)) | ((sk >= hi) & (R > sk)) if projected \
            else np.zeros_like(sk, dtype=bool)
        masks.append(~pinned)
    return masks


def implicit_neg_grad(net: Network, rho: Rho, s: list[np.ndarray], target: np.ndarray,
                      projected: bool = True, energy: Energy = EQ6) -> list[np.ndarray]:
    """(a) −∂C/∂W from implicit differentiation of the free fixed point ``s`` (see module doc).

    Parameters
    ----------
    net : Network
        The layered network (weights ``W``, biases ``b``, ``sizes``).
    rho : Rho
        The rate function ρ.
    s : list of numpy.ndarray
        The free fixed point, one array per layer (input first), shape ``(batch, n_k)``.
    target : numpy.ndarray
        The target d, shape ``(batch, n_out)`` or ``(n_out,)`` for one target for all examples.
    projected : bool
        Whether the dynamics are projected onto ρ's bounds (units pinned at a bound do not move).
    energy : Energy
        The energy the dynamics descend (:data:`stdp_ebm.energy.ENERGIES`; Eq 6 by default).

    Returns
    -------
    list of numpy.ndarray
        −∂C/∂W_k, shape ``(n_k, n_{k+1})``, averaged over the batch.
    """
    full, offsets = _full_matrix(net)
    a = np.concatenate(_pre_activation(net, rho, s), axis=1)
    st = np.concatenate(s, axis=1)
    mask = np.concatenate(free_mask(net, rho, s, projected, energy), axis=1)
    target = np.atleast_2d(target)
    batch = len(st)
    grads = [np.zeros_like(w) for w in net.W]
    for n in range(batch):
        idx = np.flatnonzero(mask[n])
        sp, s1 = rho.prime(st[n]), rho(st[n])
        g, g1 = energy.gain(rho, st[n]), energy.gain_prime(rho, st[n])
        A = np.diag(1.0 - g1[idx] * a[n, idx]) - g[idx, None] * full[np.ix_(idx, idx)] * sp[None, idx]
        dC_ds = np.zeros(offsets[-1])
        dC_ds[offsets[-2]:] = energy.cost_grad(rho, st[n, offsets[-2]:],
                                               target[min(n, len(target) - 1)])
        lam = np.zeros(offsets[-1])
        lam[idx] = np.linalg.solve(A.T, dC_ds[idx])
        u = lam * g  # λ_p g(s_p)
        for k in range(len(net.W)):
            lo, mid, hi = offsets[k], offsets[k + 1], offsets[k + 2]
            grads[k] += np.outer(u[lo:mid], s1[mid:hi]) + np.outer(s1[lo:mid], u[mid:hi])
    return [-g / batch for g in grads]


def feedforward_backprop(net: Network, rho: Rho, s: list[np.ndarray], target: np.ndarray,
                         projected: bool = True, energy: Energy = EQ6,
                         gate: list[np.ndarray] | None = None
                         ) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """(b) Back-propagation through the local Jacobians at the fixed point (Eq 24).

    ∂R_{k+1}/∂s_k = ρ'(s_k) W_k g(s_{k+1}), g the energy's gain (ρ' for Eq 6); the feedback loops are
    ignored.

    Parameters
    ----------
    net : Network
        The layered network (weights ``W``, biases ``b``, ``sizes``).
    rho : Rho
        The rate function ρ.
    s : list of numpy.ndarray
        The free fixed point, one array per layer (input first), shape ``(batch, n_k)``.
    target : numpy.ndarray
        The target d, shape ``(batch, n_out)`` or ``(n_out,)`` for one target for all examples.
    projected : bool
        Whether the dynamics are projected onto ρ's bounds (units pinned at a bound do not move).
    energy : Energy
        The energy the dynamics descend (:data:`stdp_ebm.energy.ENERGIES`; Eq 6 by default).
    gate : list of numpy.ndarray or None
        Per layer, shape of ``s``: multiplies the error a layer passes down, for ∂C/∂h_k only: the
        probability that a unit's noisy rate transmits a perturbation
        (:func:`stdp_ebm.langevin.gate_probability`); None is a gate of 1.

    Returns
    -------
    neg_grad : list of numpy.ndarray
        −∂C/∂W_k per weight matrix, shape ``(n_k, n_{k+1})``.
    dC_dh : list of numpy.ndarray
        Per layer, the back-propagated error ∂C/∂h_k (masked by :func:`free_mask`; the input layer
        gets zeros), shape ``(batch, n_k)``.
    """
    masks = free_mask(net, rho, s, projected, energy)
    target = np.atleast_2d(target)
    batch = len(s[0])
    e = [np.zeros_like(sk) for sk in s]
    e[-1] = masks[-1] * energy.cost_grad(rho, s[-1], target)
    grads: list[np.ndarray] = [np.zeros_like(w) for w in net.W]
    for k in range(len(net.W) - 1, -1, -1):
        delta = energy.gain(rho, s[k + 1]) * e[k + 1]
        grads[k] = -(rho(s[k]).T @ delta) / batch
        if k > 0:
            passed = delta if gate is None else delta * gate[k + 1]
            e[k] = masks[k] * rho.prime(s[k]) * (passed @ net.W[k].T)
    return grads, e


def finite_difference_neg_grad(net: Network, relax, target: np.ndarray, h: float = 1e-6,
                               readout=None) -> list[np.ndarray]:
    """(c) −∂C/∂W by central differences of C(ŝ(W)).

    C = ½‖o(y) − d‖² with ``readout`` o, averaged over the batch. Costs two relaxations per weight:
    meant for small test networks.

    Parameters
    ----------
    net : Network
        The network; copied for each perturbation, never changed.
    relax : callable
        ``relax(net) -> state``: re-solves the free phase of a network (tightly) and returns its fixed
        point, a list of ``(batch, n_k)`` arrays.
    target : numpy.ndarray
        The target d, shape ``(batch, n_out)`` or ``(n_out,)``.
    h : float
        The step added to and subtracted from each weight.
    readout : callable or None
        o(y); None is the identity (Eq 13), ρ for Hopfield's energy.

    Returns
    -------
    list of numpy.ndarray
        −∂C/∂W_k, shape ``(n_k, n_{k+1})``.
    """
    target = np.atleast_2d(target)
    readout = readout or (lambda y: y)

    def cost(n: Network) -> float:
        y = readout(relax(n)[-1])
        return float(np.mean(0.5 * np.sum((y - target) ** 2, axis=1)))

    grads = []
    for k, w in enumerate(net.W):
        g = np.zeros_like(w)
        for idx in np.ndindex(w.shape):
            plus, minus = net.copy(), net.copy()
            plus.W[k][idx] += h
            minus.W[k][idx] -= h
            g[idx] = (cost(plus) - cost(minus)) / (2 * h)
        grads.append(-g)
    return grads
