"""Two-phase training with the rule (equilibrium-propagation form) and a feed-forward backprop baseline.

The training loop: :func:`fit` runs the epochs of a :class:`Learner` over mini-batches, with the
test error measured after each epoch (:func:`evaluate`) and a checkpoint after every epoch
(weights, history, RNG state, persistent states) from which it resumes, so an interrupted run
continues exactly where it stopped; :func:`train_ep` and :func:`train_bp` build the learner and
run it. The two learners, :class:`EPLearner` (per mini-batch a free phase, a nudged phase under
F = E + βC and the update of Eq 26 in closed form; Bengio et al. 2017, Eq 13 and 26) and
:class:`BPLearner` (the same layers as a feed-forward chain), are defined in
:mod:`stdp_ebm.learners`, which describes the algorithm and its options; the ``[train]`` section
:class:`TrainParams`, :class:`Learner` and :func:`apply_update` in :mod:`stdp_ebm.learner_base`.
All of them are importable from here.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from .activation import Rho
from .checkpoint import Checkpoint, History
from .data import Dataset
from .errors import DivergenceError, UserError
from .learner_base import TRAIN_SCHEMA, Learner, TrainParams, apply_update, error_rate
from .learners import BPLearner, EPLearner
from .network import Network
from .rate import RateModel

__all__ = ["TRAIN_SCHEMA", "TrainParams", "Learner", "EPLearner", "BPLearner", "fit", "train_ep",
           "train_bp",
           "evaluate", "error_rate", "apply_update"]


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
