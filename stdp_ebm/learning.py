"""Two-phase training with the rule (equilibrium-propagation form) and a feed-forward backprop baseline.

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

Both learners checkpoint after every epoch (weights, history, RNG state, persistent states) and
resume from the checkpoint, so an interrupted run continues exactly where it stopped.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, ClassVar, Protocol, Sequence

import numpy as np

from .activation import Rho
from .checkpoint import Checkpoint, History, Stateful
from .data import Dataset
from .errors import DivergenceError, UserError
from .network import Network
from .rate import RateModel, State
from .rule import LowRank, ep_delta_w, ep_input_factors
from .sections import Section, key

__all__ = ["TRAIN_SCHEMA", "TrainParams", "Learner", "EPLearner", "BPLearner", "fit", "train_ep",
           "train_bp",
           "evaluate", "error_rate", "apply_update"]

@dataclass(frozen=True)
class TrainParams(Section):
    """The ``[train]`` section: epochs, mini-batches, the nudge and the learning rates of
    two-phase training (Eq 13 and 26) and of the backprop baseline.

    Parameters
    ----------
    epochs, batch_size, beta, random_sign, symmetric, persistent, lrs, lr_decay, free_steps, nudged_steps, eval_batch, input_dropout, weight_decay
        The keys of ``[train]`` (``stdp-ebm keys train_digits`` lists each one's meaning and
        range); ``lrs`` has one learning rate per weight matrix, input side first.
    """

    SECTION: ClassVar[str] = "train"
    epochs: int = key("int", 20, "passes over the training set", low=1)
    batch_size: int = key("int", 20, "examples per mini-batch (relaxed together)", low=1)
    beta: float = key("float", 0.5, "nudge strength β of the nudged phase (Eq 13)", low=0.0,
        open_low=True)
    random_sign: bool = key("bool", True, "draw the sign of β at random for each mini-batch")
    symmetric: bool = key("bool", False, "symmetric ±β estimate: two nudged phases, ΔW from their "
        "difference over 2β (overrides random_sign)")
    persistent: bool = key("bool", False, "start each example's free phase from its last free state")
    lrs: tuple[float, ...] = key("floats", [0.1, 0.05], "learning rate of W_k (and b_{k+1}), one per weight "
        "matrix, input side first", low=0.0)
    lr_decay: float = key("float", 1.0, "learning rates are multiplied by this after every epoch",
        low=0.0, open_low=True, high=1.0)
    free_steps: int = key("int", 20, "steps of the free phase (also used to evaluate)", low=1)
    nudged_steps: int = key("int", 4, "steps of the nudged phase", low=1)
    eval_batch: int = key("int", 1000, "examples relaxed together when measuring errors", low=1)
    input_dropout: float = key("float", 0.0, "fraction p of training input pixels set to 0, drawn afresh "
        "for every presentation; predictions see (1 − p)·x, the "
        "mean input (permutation invariant)", low=0.0, high=1.0,
        open_high=True)
    weight_decay: float = key("float", 0.0, "L2 decay λ: each update also moves W_k by −lr_k·decay^"
        "epoch·λ·W_k (biases are not decayed)", low=0.0)



#: the config schema of ``[train]``, derived from :class:`TrainParams`
TRAIN_SCHEMA = TrainParams.schema()


def error_rate(y: np.ndarray, target: np.ndarray) -> float:
    """Fraction of examples whose largest output is not the target class.

    Parameters
    ----------
    y : numpy.ndarray
        Outputs, shape ``(batch, n_classes)``.
    target : numpy.ndarray
        Targets (one-hot, or any array whose largest entry is the class), same shape.

    Returns
    -------
    float
        The error rate in [0, 1].

    Examples
    --------
    >>> import numpy as np
    >>> error_rate(np.array([[0.9, 0.1], [0.2, 0.7]]), np.array([[1, 0], [1, 0]]))
    0.5
    """
    return float(np.mean(np.argmax(y, axis=1) != np.argmax(target, axis=1)))


class Learner(Stateful, Protocol):
    """What :func:`fit` needs: a mini-batch update, a prediction and checkpointable state."""

    def update(self, idx: np.ndarray, x: np.ndarray, d: np.ndarray, lr_scale: float,
               rng: np.random.Generator) -> np.ndarray:
        """Learn from one mini-batch: change the network in place.

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
            The predictions made while learning, shape ``(batch, n_{L+1})`` (the epoch's train
            error is measured on them).
        """
        ...

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The network's output for inputs ``x``.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape ``(batch, n_0)``.

        Returns
        -------
        numpy.ndarray
            Outputs y, shape ``(batch, n_{L+1})``.
        """
        ...


def apply_update(net: Network, lrs: Sequence[float], scale: float, dW: list[np.ndarray | LowRank],
                 db: list[np.ndarray], weight_decay: float = 0.0) -> None:
    """W_k += lr_k·scale·(ΔW_k − λ W_k) and b_{k+1} += lr_k·scale·Δb_{k+1}, in place.

    Parameters
    ----------
    net : Network
        Changed in place.
    lrs : Sequence[float]
        Learning rate lr_k of W_k and b_{k+1}, one per weight matrix, input side first.
    scale : float
        Factor of every learning rate (decay^epoch).
    dW : list of numpy.ndarray or LowRank
        ΔW_k, shape ``(n_k, n_{k+1})`` or as factors (:class:`~stdp_ebm.rule.LowRank`).
    db : list of numpy.ndarray
        Δb_{k+1}, shape ``(n_{k+1},)``.
    weight_decay : float
        The L2 decay λ of the weights (not of the biases).
    """
    for k, lr in enumerate(lrs):
        if weight_decay:
            net.W[k] *= 1.0 - lr * scale * weight_decay
        dw = dW[k]
        if isinstance(dw, LowRank):
            dw.add_to(net.W[k], lr * scale)
        else:
            net.W[k] += (lr * scale) * dw
        net.b[k + 1] += (lr * scale) * db[k]


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


def evaluate(predict: Callable[[np.ndarray], np.ndarray], x: np.ndarray, target: np.ndarray,
             chunk: int) -> float:
    """Error rate of ``predict`` on (x, target), ``chunk`` examples at a time.

    Parameters
    ----------
    predict : callable
        Maps inputs ``(batch, n_0)`` to outputs ``(batch, n_{L+1})``.
    x : numpy.ndarray
        Inputs, shape ``(n, n_0)``.
    target : numpy.ndarray
        One-hot targets, shape ``(n, n_{L+1})``.
    chunk : int
        Examples per call of ``predict``.

    Returns
    -------
    float
        The error rate in [0, 1] (:func:`error_rate`).
    """
    y = np.concatenate([predict(x[i:i + chunk]) for i in range(0, len(x), chunk)])
    return error_rate(y, target)


def fit(learner: Learner, data: Dataset, cfg: TrainParams, rng: np.random.Generator,
        checkpoint: Checkpoint | None = None,
        on_epoch: Callable[[History], None] | None = None,
        on_batch: Callable[[int, int, int, float], None] | None = None) -> History:
    """Train ``learner`` for ``cfg.epochs`` epochs of shuffled mini-batches.

    Resumes from ``checkpoint`` if it holds one.

    Parameters
    ----------
    learner : Learner
        What learns (:class:`EPLearner`, :class:`BPLearner` or another).
    data : Dataset
        The train/test split.
    cfg : TrainParams
        The ``[train]`` section (epochs, batch size, learning-rate decay, input dropout).
    rng : numpy.random.Generator
        Shuffles the examples, draws the dropout masks and is passed to ``learner.update``.
    checkpoint : Checkpoint, optional
        Restored from before training, written after each epoch.
    on_epoch : callable, optional
        ``on_epoch(history)``, called after each epoch (checkpoint written).
    on_batch : callable, optional
        ``on_batch(epoch, batch, batches, running_error)``, called after each mini-batch
        (1-based epoch and batch; the error so far in the epoch is what the history records as
        the epoch's train error when the epoch ends), e.g. :class:`~stdp_ebm.progress.EpochBars`.

    Returns
    -------
    History
        The learning curve: train error, train cost, test error and wall-clock seconds per epoch.

    Raises
    ------
    DivergenceError
        Non-finite outputs.
    """
    history = History()
    if checkpoint is not None:
        checkpoint.restore(learner, history, rng)
    n, bs = len(data.x_train), cfg.batch_size
    p_drop = cfg.input_dropout
    predict = learner.predict if not p_drop else lambda x: learner.predict((1.0 - p_drop) * x)
    for epoch in range(history.epochs, cfg.epochs):
        t0 = time.perf_counter()
        order = rng.permutation(n)
        scale = cfg.lr_decay ** epoch
        wrong, cost, batches = 0.0, 0.0, -(-n // bs)
        for i in range(0, n, bs):
            idx = order[i:i + bs]
            x, d = data.x_train[idx], data.y_train[idx]
            if p_drop:
                x = x * (rng.random(x.shape) >= p_drop)
            y = learner.update(idx, x, d, scale, rng)
            if not np.all(np.isfinite(y)):
                raise DivergenceError(f"training diverged in epoch {epoch + 1} (non-finite "
                                      "outputs); lower train.lrs or dynamics.epsilon")
            wrong += error_rate(y, d) * len(idx)
            cost += float(np.sum((y - d) ** 2)) / 2
            if on_batch is not None:
                on_batch(epoch + 1, i // bs + 1, batches, wrong / (i + len(idx)))
        history.train_error.append(wrong / n)
        history.train_cost.append(cost / n)
        history.test_error.append(evaluate(predict, data.x_test, data.y_test,
                                           cfg.eval_batch))
        history.wall_s.append(time.perf_counter() - t0)
        if checkpoint is not None:
            checkpoint.save(learner, history, rng)
        if on_epoch is not None:
            on_epoch(history)
    return history


def train_ep(model: RateModel, data: Dataset, cfg: TrainParams, rng: np.random.Generator,
             checkpoint: Checkpoint | None = None,
             on_epoch: Callable[[History], None] | None = None,
             on_batch: Callable[[int, int, int, float], None] | None = None) -> History:
    """Train ``model.net`` in place with the rule (see module docstring; Eq 13 and 26).

    Parameters
    ----------
    model : RateModel
        The rate model whose network is trained.
    data : Dataset
        The train/test split.
    cfg : TrainParams
        The ``[train]`` section; one learning rate per weight matrix.
    rng : numpy.random.Generator
        The training stream.
    checkpoint, on_epoch, on_batch
        As in :func:`fit`.

    Returns
    -------
    History
        The learning curve (:func:`fit`).

    Raises
    ------
    UserError
        If ``cfg.lrs`` does not have one entry per weight matrix.
    """
    _check_lrs(cfg, model.net)
    return fit(EPLearner(model, cfg, len(data.x_train)), data, cfg, rng, checkpoint, on_epoch,
               on_batch)


def train_bp(net: Network, rho: Rho, data: Dataset, cfg: TrainParams, rng: np.random.Generator,
             checkpoint: Checkpoint | None = None,
             on_epoch: Callable[[History], None] | None = None,
             on_batch: Callable[[int, int, int, float], None] | None = None) -> History:
    """Train ``net`` in place as a feed-forward chain by backprop (the baseline).

    The learner is :class:`BPLearner`.

    Parameters
    ----------
    net : Network
        The network trained.
    rho : Rho
        The activation ρ.
    data : Dataset
        The train/test split.
    cfg : TrainParams
        The ``[train]`` section; one learning rate per weight matrix.
    rng : numpy.random.Generator
        The training stream.
    checkpoint, on_epoch, on_batch
        As in :func:`fit`.

    Returns
    -------
    History
        The learning curve (:func:`fit`).

    Raises
    ------
    UserError
        If ``cfg.lrs`` does not have one entry per weight matrix.
    """
    _check_lrs(cfg, net)
    return fit(BPLearner(net, rho, cfg), data, cfg, rng, checkpoint, on_epoch, on_batch)


def _check_lrs(cfg: TrainParams, net: Network) -> None:
    if len(cfg.lrs) != len(net.W):
        raise UserError(f"[train] lrs has {len(cfg.lrs)} entries but the network has "
                        f"{len(net.W)} weight matrices (one learning rate per W_k)")
