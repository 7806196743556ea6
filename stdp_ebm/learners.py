"""The two learners of two-phase training: the rule (equilibrium-propagation form) and feed-forward backprop.

Per mini-batch (Scellier & Bengio 2017; Bengio et al. 2017, Eq 13 and 26):

1. free phase: input clamped, ``free_steps`` steps of Eq 1–2 at β = 0 → s⁰ (prediction ŷ = y⁰);
2. nudged phase: ``nudged_steps`` steps under F = E + βC from s⁰ → s^β;
3. update with the symmetrised rule integrated over the nudged phase, whose closed form is
   ΔW_k = (1/β)(ρ(s^β_k)ᵀρ(s^β_{k+1}) − ρ(s⁰_k)ᵀρ(s⁰_{k+1}))/batch (:func:`stdp_ebm.rule.ep_delta_w`)
   and, for the bias term −b·ρ(s) of Eq 6, Δb_k = (1/β) mean(ρ(s^β_k) − ρ(s⁰_k)); both → −∂C/∂θ as β → 0.
   W_k and b_{k+1} move by lr_k · decay^epoch times these.

Options: a random sign of β per batch (Scellier & Bengio 2017), the symmetric ±β estimate (two
nudged phases from s⁰, ΔW = ep_delta_w(s^{−β}, s^{+β}, 2β), which cancels the O(β) bias; Laborieux et
al. 2021) and persistent free-phase states (each training example's free phase starts from its
previous free state). Two permutation-invariant regularisers, off by default and shared by both
learners: input dropout (each training pixel is zeroed with probability p, afresh for every
presentation; predictions use the mean input (1 − p)·x, as the hard sigmoid's clipping rules out
rescaling the kept pixels by 1/(1 − p)) and L2 weight decay of the weights W_k. The train error of an
epoch is that of the free-phase predictions made while training (on the dropped-out inputs); the
test error is measured after the epoch from a free phase started at rest.

The backprop baseline trains the same architecture as a feed-forward chain of projected states
s_{k+1} = clip(ρ(s_k) W_k + b_{k+1}, β1, β2) (same ρ, C, batches, learning rates and data split).

Both learners checkpoint their state (weights, RNG state, persistent states) through
:func:`stdp_ebm.learning.fit`, which runs the epochs. Both are importable from
:mod:`stdp_ebm.learning`, where users find them.
"""

from __future__ import annotations

import numpy as np

from .activation import Rho
from .learner_base import TrainParams, apply_update
from .network import Network
from .rate import RateModel, State
from .rule import LowRank, ep_delta_w, ep_input_factors

__all__ = ["EPLearner", "BPLearner"]


class EPLearner:
    """The rule in a :class:`RateModel`: free phase, nudged phase(s), closed-form update.

    The update of Bengio et al. 2017 Eq 26 integrated over the nudged phase (Eq 13), in the
    closed form of the module docstring.

    Parameters
    ----------
    model : RateModel
        The model trained; its network is changed in place.
    cfg : TrainParams
        The ``[train]`` section.
    n_train : int
        The number of training examples (the persistent states hold one state per example).
    """

    def __init__(self, model: RateModel, cfg: TrainParams, n_train: int) -> None:
        self.model, self.cfg, self.net = model, cfg, model.net
        self.states: list[np.ndarray] | None = None
        if cfg.persistent:
            lo = model.rho.bounds[0]
            self.states = [np.full((n_train, n), lo) for n in model.net.sizes[1:]]

    def _free(self, x: np.ndarray, drive: np.ndarray, start: State | None = None) -> State:
        s = start if start is not None else self.model.initial_state(x)
        return self.model.settle(s, self.cfg.free_steps, drive)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The output after ``free_steps`` steps of the free phase started at rest.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape ``(batch, n_0)``.

        Returns
        -------
        numpy.ndarray
            y⁰, shape ``(batch, n_{L+1})``.
        """
        return self._free(x, self.model.input_drive(x))[-1]

    def _phases(self, x: np.ndarray, d: np.ndarray, rng: np.random.Generator,
                start: State | None) -> tuple[State, State, State, float]:
        """The free state s⁰ and the estimate's end points with their β: (s^{−β}, s^{+β}, 2β) for
        the symmetric estimate (both nudged phases relaxed as one batch), else (s⁰, s^{±β}, ±β)."""
        c = self.cfg
        drive = self.model.input_drive(x)            # ρ(x)W_0: shared by every phase of this batch
        s0 = self._free(x, drive, start)
        beta, steps = c.beta, c.nudged_steps
        if c.symmetric:
            n = len(s0[0])
            both = self.model.settle([np.concatenate([sk, sk]) for sk in s0], steps,
                                     np.concatenate([drive, drive]),
                                     np.repeat([-beta, beta], n)[:, None], np.concatenate([d, d]))
            return (s0, [s0[0]] + [sk[:n] for sk in both[1:]],
                    [s0[0]] + [sk[n:] for sk in both[1:]], 2 * beta)
        if c.random_sign and rng.random() < 0.5:
            beta = -beta
        return s0, s0, self.model.settle(s0, steps, drive, beta, d), beta

    def _bias_delta(self, ref: State, nudged: State, beta: float) -> list[np.ndarray]:
        rho = self.model.rho
        return [np.mean(rho(a) - rho(b), axis=0) / beta for a, b in zip(nudged[1:], ref[1:])]

    def delta(self, x: np.ndarray, d: np.ndarray, rng: np.random.Generator,
              start: State | None = None) -> tuple[list[np.ndarray], list[np.ndarray], State]:
        """ΔW_k and Δb_{k+1} of the rule for one mini-batch (not applied) and its free state s⁰.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape ``(batch, n_0)``.
        d : numpy.ndarray
            Targets, shape ``(batch, n_{L+1})``.
        rng : numpy.random.Generator
            Draws the sign of β (with ``random_sign``).
        start : list of numpy.ndarray, optional
            The free phase's initial state; at rest (:meth:`RateModel.initial_state`) if None.

        Returns
        -------
        dW : list of numpy.ndarray
            ΔW_k, shape ``(n_k, n_{k+1})``, per unit learning rate.
        db : list of numpy.ndarray
            Δb_{k+1}, shape ``(n_{k+1},)``.
        s0 : list of numpy.ndarray
            The free state s⁰.
        """
        s0, ref, nudged, beta = self._phases(x, d, rng, start)
        return ep_delta_w(self.model.rho, ref, nudged, beta), self._bias_delta(ref, nudged, beta), s0

    def update(self, idx: np.ndarray, x: np.ndarray, d: np.ndarray, lr_scale: float,
               rng: np.random.Generator) -> np.ndarray:
        """:meth:`delta`, applied; ΔW_0 as its factors (:class:`LowRank`), never formed.

        With ``persistent`` the free phase starts from, and stores, each example's last free
        state.

        Parameters
        ----------
        idx : numpy.ndarray
            Indices of the mini-batch's examples in the training set, shape ``(batch,)``.
        x : numpy.ndarray
            Their inputs, shape ``(batch, n_0)``, in [0, 1] (after input dropout).
        d : numpy.ndarray
            Their one-hot targets, shape ``(batch, n_{L+1})``.
        lr_scale : float
            Factor of every learning rate, decay^epoch.
        rng : numpy.random.Generator
            The training stream (e.g. the sign of β).

        Returns
        -------
        numpy.ndarray
            The free-phase output y⁰, shape ``(batch, n_{L+1})``.
        """
        start = None if self.states is None else [x] + [s[idx] for s in self.states]
        s0, ref, nudged, beta = self._phases(x, d, rng, start)
        rho = self.model.rho
        # ΔW_1 … ΔW_L: the same closed form on the states without the input (h_1 is no shared array)
        dW = [LowRank(*ep_input_factors(rho, ref, nudged, beta))] + \
            ep_delta_w(rho, ref[1:], nudged[1:], beta)
        if self.states is not None:
            for store, sk in zip(self.states, s0[1:]):
                store[idx] = sk
        apply_update(self.net, self.cfg.lrs, lr_scale, dW, self._bias_delta(ref, nudged, beta),
                     self.cfg.weight_decay)
        return s0[-1]

    def extra_state(self) -> dict[str, np.ndarray]:
        """The learner's own state for a checkpoint.

        Returns
        -------
        dict of str to numpy.ndarray
            ``persist_k``: the persistent free states of layer k + 1, shape
            ``(n_train, n_{k+1})``; empty without ``persistent``.
        """
        return {} if self.states is None else {f"persist_{k}": s for k, s in enumerate(self.states)}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the state of :meth:`extra_state` from a checkpoint.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays; ``persist_k`` is read with ``persistent``.
        """
        if self.states is not None:
            self.states = [arrays[f"persist_{k}"].copy() for k in range(len(self.states))]


class BPLearner:
    """Baseline: the same layers as a feed-forward chain of projected states, SGD on C.

    s_{k+1} = clip(z_{k+1}, β1, β2) with z_{k+1} = ρ(s_k) W_k + b_{k+1} (the projection of the rate
    model's dynamics), backpropagated exactly through the hidden layers (ρ'(s) times the
    projection's derivative [β1 ≤ z ≤ β2]). The output error y − d is not masked by the projection:
    an output that starts beyond a bound would otherwise never learn (with the mask on every layer,
    plain BP stalls at 40–60 % error on the digits), whereas EP's nudge moves it (Eq 13).

    Parameters
    ----------
    net : Network
        The network trained, in place.
    rho : Rho
        The activation ρ; its bounds are the projection's [β1, β2].
    cfg : TrainParams
        The ``[train]`` section.
    """

    def __init__(self, net: Network, rho: Rho, cfg: TrainParams) -> None:
        self.net, self.rho, self.cfg = net, rho, cfg

    def _forward(self, x: np.ndarray) -> tuple[list[np.ndarray], list[np.ndarray]]:
        """Projected states s_0 … s_{L+1} and pre-activations z_1 … z_{L+1}."""
        lo, hi = self.rho.bounds
        s, z = [x], []
        for k, w in enumerate(self.net.W):
            z.append(self.rho(s[-1]) @ w + self.net.b[k + 1])
            s.append(np.clip(z[-1], lo, hi))
        return s, z

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The feed-forward output s_{L+1}.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape ``(batch, n_0)``.

        Returns
        -------
        numpy.ndarray
            Outputs, shape ``(batch, n_{L+1})``.
        """
        return self._forward(x)[0][-1]

    def update(self, idx: np.ndarray, x: np.ndarray, d: np.ndarray, lr_scale: float,
               rng: np.random.Generator) -> np.ndarray:
        """One SGD step on C = ½‖y − d‖² (mean over the batch), backpropagated exactly.

        Parameters
        ----------
        idx : numpy.ndarray
            Indices of the mini-batch's examples in the training set, shape ``(batch,)``.
        x : numpy.ndarray
            Their inputs, shape ``(batch, n_0)``, in [0, 1] (after input dropout).
        d : numpy.ndarray
            Their one-hot targets, shape ``(batch, n_{L+1})``.
        lr_scale : float
            Factor of every learning rate, decay^epoch.
        rng : numpy.random.Generator
            The training stream (e.g. the sign of β).

        Returns
        -------
        numpy.ndarray
            The forward output before the step, shape ``(batch, n_{L+1})``.
        """
        (lo, hi), (s, z) = self.rho.bounds, self._forward(x)
        n = len(self.net.W)
        dW: list[np.ndarray | LowRank] = []                  # filled top-down, W_{n−1} first
        db: list[np.ndarray] = []
        delta = (s[-1] - d) * self.rho.prime(s[-1])             # ∂C/∂z of the output
        for k in range(n - 1, -1, -1):
            dW.insert(0, -(self.rho(s[k]).T @ delta) / len(x))
            db.insert(0, -delta.mean(axis=0))
            if k > 0:
                inside = (z[k - 1] >= lo) & (z[k - 1] <= hi)
                delta = (delta @ self.net.W[k].T) * self.rho.prime(s[k]) * inside
        apply_update(self.net, self.cfg.lrs, lr_scale, dW, db,
                     self.cfg.weight_decay)
        return s[-1]

    def extra_state(self) -> dict[str, np.ndarray]:
        """The learner's own state for a checkpoint.

        Returns
        -------
        dict of str to numpy.ndarray
            Empty: the baseline keeps no state besides its network.
        """
        return {}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Restore the state of :meth:`extra_state` from a checkpoint.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            Ignored.
        """
        return None
