"""The spiking learner's settings and the state it carries: the ``[learner]`` section
(:class:`LearnerParams`), the network its Brian2 model is compiled for (:func:`shell_network`, with
short chunks padded to the compiled batch by :func:`pad_batch`), and the network state and random
numbers of a checkpoint as flat named arrays (:func:`network_state_arrays`,
:func:`network_state_from_arrays`, :func:`has_network_state`).

The learners themselves, and how the input x enters (``input``), are in
:mod:`stdp_ebm.spiking.learner`.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import ClassVar

import numpy as np

from ..network import Network
from ..sections import Section, key
from .randomstate import random_state_arrays, random_state_from_arrays

__all__ = ["INPUTS", "ENGINES", "STATE", "LEARNER_SCHEMA", "LearnerParams", "shell_network",
           "pad_batch", "has_network_state", "network_state_arrays", "network_state_from_arrays"]

#: how the clamped input x enters the spiking network: ``[learner] input``'s choices
INPUTS = ("poisson", "current")
#: how a mini-batch runs: ``[learner] engine``'s choices
ENGINES = ("cython", "standalone")


@dataclass(frozen=True)
class LearnerParams(Section):
    """The ``[learner]`` section of ``train_spiking``: how the spiking learner is fed, steps its
    rule synapses, is tested and is split over processes.

    Parameters
    ----------
    input : str
        ``poisson`` (Poisson trains at ρ_LIF(x)·r_max through W_0) or ``current`` (the constant
        current ρ_LIF(x)W_0 into h_1).
    rule_dt_ms : float
        Step of the rule synapses (ms; 0: every simulation step).
    align_every : int
        Cosine of the learners' ΔW with the implicit gradient every this many mini-batches
        (0: never).
    eval_free_ms : float
        Counting window of the free phase that tests the learner (ms; 0: ``[spiking] free_ms`` on
        the training stream).
    workers : int
        Processes each mini-batch is split over (:mod:`stdp_ebm.spiking.pool`).
    engine : str
        ``cython`` (the phases as Brian2 runs driven from Python) or ``standalone`` (each
        mini-batch one run of a compiled C++ program, :mod:`stdp_ebm.spiking.compiled_learner`).
    """

    SECTION: ClassVar[str] = "learner"
    input: str = key("str", "poisson", "how the clamped input enters the spiking network: "
                     "poisson: trains at ρ_LIF(x)·r_max through W_0; current: the constant current "
                     "ρ_LIF(x)W_0 into h_1 (stdp_ebm/spiking/learner.py)", choices=INPUTS)
    rule_dt_ms: float = key("float", 0.0, "step of the rule synapses (ms; 0: every simulation "
                            "step); the tied ΔW telescopes, so it only moves the last sample",
                            low=0.0)
    align_every: int = key("int", 10, "cosine of both learners' ΔW with the implicit gradient "
                           "every this many mini-batches (0: never)", low=0)
    eval_free_ms: float = key("float", 0.0, "counting window of the free phase that tests the "
                              "spiking learner after each epoch (ms), after the training "
                              "settle_ms; test CPU time grows with settle_ms + this window. > 0: "
                              "the test runs apart from training, which draws the same random "
                              "numbers whatever the window; 0: [spiking] free_ms on the training "
                              "stream, as runs made before this key", low=0.0)
    workers: int = key("int", 1, "processes the spiking learner splits each mini-batch over "
                       "(stdp_ebm/spiking/pool.py; must divide [train] batch_size)", low=1)
    engine: str = key("str", "cython", "how a mini-batch runs: cython: the phases as Brian2 runs "
                      "driven from Python; standalone: one run of a C++ program compiled once, "
                      "in worker processes (rate-form rules; stdp_ebm/spiking/compiled_learner.py)",
                      choices=ENGINES)


#: the ``[learner]`` section's schema (keys, defaults, bounds), from :class:`LearnerParams`
LEARNER_SCHEMA = LearnerParams.schema()
# the spiking learner's logger: has_network_state's warning is the learner's
LOG = logging.getLogger("stdp_ebm.spiking.learner")
#: the prefix of the network state's arrays in a checkpoint
STATE = "brian2_"


def shell_network(net: Network, batch: int, input_mode: str) -> Network:
    """The network the Brian2 model is compiled for: ``net`` itself (Poisson input) or, with the
    input as a current, ``net`` with a silent one-unit input layer and W_0 = 0 in its place.

    Parameters
    ----------
    net : Network
        The learner's network: weights W_k (n_k, n_{k+1}) and biases b_k (n_k,).
    batch : int
        Examples per mini-batch the model is compiled for.
    input_mode : str
        ``"poisson"`` or ``"current"`` (:data:`INPUTS`).

    Returns
    -------
    Network
        A new network with copied parameters, ``batch`` zero inputs (batch, n_0) (n_0 = 1 with
        the current input) and zero targets (batch, n_out).
    """
    if input_mode == "poisson":
        shell = Network([w.copy() for w in net.W], [b.copy() for b in net.b])
        shell.x = np.zeros((batch, net.sizes[0]))
    else:
        shell = Network([np.zeros((1, net.sizes[1]))] + [w.copy() for w in net.W[1:]],
                        [np.zeros(1)] + [b.copy() for b in net.b[1:]])
        shell.x = np.zeros((batch, 1))
    shell.target = np.zeros((batch, net.sizes[-1]))
    return shell


def pad_batch(x: np.ndarray, batch: int) -> np.ndarray:
    """``x`` (≤ ``batch`` rows) padded to ``batch`` rows with copies of its last row: a short
    chunk run on a network compiled for ``batch`` examples.

    Parameters
    ----------
    x : numpy.ndarray
        Rows to pad, shape (rows, ...) with 1 ≤ rows ≤ ``batch``.
    batch : int
        Rows wanted.

    Returns
    -------
    numpy.ndarray
        Shape (batch, ...): ``x`` then ``batch − rows`` copies of its last row.
    """
    return np.concatenate([x, np.repeat(x[-1:], batch - len(x), axis=0)])


def has_network_state(arrays: dict[str, np.ndarray], prefix: str) -> bool:
    """Whether a checkpoint's ``arrays`` hold a network state under ``prefix``; if not (written by
    an earlier version), a warning that the resumed run draws other random numbers.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        A checkpoint's arrays.
    prefix : str
        The prefix of the state's names (:data:`STATE`, or a worker's ``brian2_w<p>_``).

    Returns
    -------
    bool
        Whether ``prefix + "t"`` (the network's time) is among ``arrays``.
    """
    if prefix + "t" in arrays:
        return True
    LOG.warning("the spiking learner's checkpoint holds no Brian2 state (an earlier version wrote "
                "it): the resumed epochs draw other random numbers than an uninterrupted run")
    return False


def network_state_arrays(state: dict) -> dict[str, np.ndarray]:
    """:meth:`SpikingNetwork.checkpoint` ``state`` as flat arrays named ``brian2_…``.

    Parameters
    ----------
    state : dict
        A :meth:`SpikingNetwork.checkpoint`.

    Returns
    -------
    dict of str to numpy.ndarray
        ``brian2_t`` (time, s), ``brian2_random_…`` (the random state) and ``brian2_group<g>_<var>``
        (variable ``var`` of stateful group g, no units).
    """
    out = {STATE + "t": np.array(state["t"], np.float64)}
    out.update({f"{STATE}random_{k}": v for k, v in random_state_arrays(state["random"]).items()})
    for g, values in enumerate(state["groups"]):
        out.update({f"{STATE}group{g}_{k}": v for k, v in values.items()})
    return out


def network_state_from_arrays(arrays: dict[str, np.ndarray], like: dict) -> dict:
    """The inverse of :func:`network_state_arrays`; ``like`` (a checkpoint of the same network)
    names the variables of each group.

    Parameters
    ----------
    arrays : dict of str to numpy.ndarray
        Arrays of :func:`network_state_arrays` (other keys are ignored).
    like : dict
        A :meth:`SpikingNetwork.checkpoint` of the same network.

    Returns
    -------
    dict
        The checkpoint, for :meth:`SpikingNetwork.resume`.
    """
    prefix = STATE + "random_"
    return {"t": float(arrays[STATE + "t"]),
            "random": random_state_from_arrays({k[len(prefix):]: v for k, v in arrays.items()
                                                if k.startswith(prefix)}),
            "groups": [{k: arrays[f"{STATE}group{g}_{k}"] for k in values}
                       for g, values in enumerate(like["groups"])]}
