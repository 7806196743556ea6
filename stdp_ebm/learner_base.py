"""What the two-phase trainers share: the ``[train]`` section, a learner's interface and its update.

:class:`TrainParams` (the config section), :class:`Learner` (what :func:`stdp_ebm.learning.fit`
needs of a learner), :func:`apply_update` (the step W_k += lr_k·scale·(ΔW_k − λ W_k) that both
learners of :mod:`stdp_ebm.learners` take) and :func:`error_rate`. Everything here is importable
from :mod:`stdp_ebm.learning`, where users find it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar, Protocol, Sequence

import numpy as np

from .checkpoint import Stateful
from .network import Network
from .rule import LowRank
from .sections import Section, key

__all__ = ["TRAIN_SCHEMA", "TrainParams", "Learner", "error_rate", "apply_update"]


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
