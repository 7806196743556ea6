"""A training run's learning curve and its per-epoch checkpoints: what lets a run span sittings.

:class:`Checkpoint` writes ``<tag>.npz`` after every epoch (weights, :class:`History`, RNG state and
the learner's own state) and restores the newest good one; :meth:`Checkpoint.read` gives the learning
curve and learner state of a run still in progress to anyone who only reads (``stdp-ebm plot``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterable, Protocol

import numpy as np

from . import npzfile
from .errors import RunDirError
from .network import Network
from .resources import memory_limit

__all__ = ["History", "Stateful", "Checkpoint", "read_checkpoints", "epochs_done"]

LOG = logging.getLogger(__name__)


#: the array holding the SHA-256 of all the others (:func:`digest`)
DIGEST = "digest"


def digest(arrays: dict[str, np.ndarray]) -> str:
    """SHA-256 of the names, dtypes, shapes and bytes of ``arrays`` (all but :data:`DIGEST`)."""
    h = hashlib.sha256()
    for name in sorted(n for n in arrays if n != DIGEST):
        a = np.ascontiguousarray(arrays[name])
        h.update(f"{name}\0{a.dtype.str}\0{a.shape}\0".encode())
        h.update(a.tobytes())
    return h.hexdigest()


def check_digest(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """:class:`RunDirError` if the checkpoint's arrays are not those it was saved with (edited,
    e.g. loaded, changed and saved again). A checkpoint without a digest (written by a version
    before it had one) is accepted."""
    if DIGEST in arrays and str(arrays[DIGEST]) != digest(arrays):
        raise RunDirError(f"{path}: its arrays are not those it was saved with (edited or damaged)")


@dataclass
class History:
    """Per-epoch learning curve of a training run.

    Parameters
    ----------
    train_error : list of float
        Training-set error after each epoch, a fraction in [0, 1].
    test_error : list of float
        Test-set error after each epoch, a fraction in [0, 1].
    train_cost : list of float
        Mean cost C on the training set after each epoch.
    wall_s : list of float
        Wall-clock time of each epoch (s).
    """

    train_error: list[float] = field(default_factory=list)
    test_error: list[float] = field(default_factory=list)
    train_cost: list[float] = field(default_factory=list)
    wall_s: list[float] = field(default_factory=list)

    @property
    def epochs(self) -> int:
        """The number of finished epochs (entries of ``test_error``)."""
        return len(self.test_error)

    def arrays(self) -> dict[str, np.ndarray]:
        """The curve as float arrays, for a checkpoint file.

        Returns
        -------
        dict of str to numpy.ndarray
            One array of shape ``(epochs,)`` per field, keyed by the field's name.
        """
        return {name: np.asarray(getattr(self, name), float) for name in self.__dataclass_fields__}

    @classmethod
    def from_checkpoint(cls, path: Path, arrays: dict[str, np.ndarray]) -> "History":
        """The learning curve stored in a checkpoint's ``arrays``, checked.

        Parameters
        ----------
        path : pathlib.Path
            The checkpoint file the arrays were read from (for the error message).
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays (``history_<field>``, each of shape ``(epochs,)``).

        Returns
        -------
        History
            The curve.

        Raises
        ------
        RunDirError
            If an array is missing, not one-dimensional, or the arrays differ in length.
        """
        names = [f"history_{n}" for n in cls.__dataclass_fields__]
        if any(n not in arrays or arrays[n].ndim != 1 for n in names) or \
                len({len(arrays[n]) for n in names}) != 1:
            raise RunDirError(f"{path}: the learning curve is missing or damaged")
        return cls(**{n: arrays[f"history_{n}"].tolist() for n in cls.__dataclass_fields__})


class Stateful(Protocol):
    """What a checkpoint holds of a learner: its network and any state of its own.

    A learner may name, as ``optional_state``, prefixes of keys that checkpoints of earlier versions
    lack.

    Attributes
    ----------
    net : Network
        The network being trained.
    """

    net: Network

    def extra_state(self) -> dict[str, np.ndarray]:
        """The learner's own state to save beside the weights.

        Returns
        -------
        dict of str to numpy.ndarray
            Arrays by name; an array whose first dimension is 0 in a fresh learner may grow.
        """

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Set the learner's own state from a checkpoint.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            All arrays of the checkpoint (those of :meth:`extra_state` among them).
        """


class Checkpoint:
    """``<directory>/<tag>.npz``: weights, history, RNG state and learner state after an epoch.

    Written to a temporary file and renamed; the one it replaces is kept as ``<tag>.prev.npz``.
    A checkpoint that is damaged (truncated, an array missing or of the wrong shape, a garbled
    RNG state) is never used: :meth:`restore` falls back to the previous one, or stops.

    Parameters
    ----------
    directory : str or pathlib.Path
        The directory of the checkpoint files (created on the first save).
    tag : str
        The learner's name, the file's stem (e.g. ``"ep"``).
    """

    def __init__(self, directory: str | Path, tag: str) -> None:
        self.path = Path(directory) / f"{tag}.npz"
        self.previous = Path(directory) / f"{tag}.prev.npz"

    def save(self, learner: Stateful, history: History, rng: np.random.Generator) -> None:
        """Write the checkpoint after an epoch (atomically; the last one becomes ``<tag>.prev.npz``).

        A SHA-256 digest of all arrays is stored with them, so an edited file is refused on restore.

        Parameters
        ----------
        learner : Stateful
            The learner: its network's weights and biases, and its own state (:class:`Stateful`).
        history : History
            The learning curve so far.
        rng : numpy.random.Generator
            The training run's generator (mini-batch order, noise).
        """
        net = learner.net
        arrays: dict[str, Any] = {f"W_{k}": w for k, w in enumerate(net.W)}
        arrays.update({f"b_{k}": b for k, b in enumerate(net.b)})
        arrays.update({f"history_{k}": v for k, v in history.arrays().items()})
        arrays.update(learner.extra_state())
        arrays["rng_state"] = np.array(json.dumps(rng.bit_generator.state))
        arrays[DIGEST] = np.array(digest(arrays))
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp.npz")
        np.savez(tmp, **arrays)
        if self.path.is_file():
            os.replace(self.path, self.previous)
        os.replace(tmp, self.path)

    def restore(self, learner: Stateful, history: History, rng: np.random.Generator) -> bool:
        """Load the newest good checkpoint into ``learner``, ``history`` and ``rng``.

        Parameters
        ----------
        learner : Stateful
            The learner: its network's weights and biases, and its own state (:class:`Stateful`).
        history : History
            The learning curve so far.
        rng : numpy.random.Generator
            The training run's generator (mini-batch order, noise).

        Returns
        -------
        bool
            True if a checkpoint was loaded, False if there is none.

        Raises
        ------
        RunDirError
            If all checkpoints are damaged (nothing is deleted).
        """
        damaged = []
        for path in (self.path, self.previous):
            if not path.is_file():
                continue
            try:
                arrays = npzfile.load(path, memory_limit(), RunDirError)
                state = self._parse(path, arrays, learner, rng)
            except RunDirError as exc:
                damaged.append(str(exc))
                continue
            if damaged:  # kept for inspection, out of the way of the next save
                os.replace(self.path, self.path.with_suffix(".damaged.npz"))
                LOG.warning("%s; continuing from the previous epoch's %s", damaged[0], path.name)
            for param, value in zip(learner.net.W + learner.net.b, state["params"]):
                param[...] = value
            for name in history.__dataclass_fields__:
                setattr(history, name, getattr(state["history"], name))
            learner.load_extra_state(arrays)
            rng.bit_generator.state = state["rng"]
            return True
        if damaged:
            raise RunDirError(f"checkpoint {damaged[0]}; no earlier good checkpoint, nothing "
                              f"was deleted (remove {self.path.parent} to restart training)")
        return False

    def read(self) -> tuple[History, dict[str, np.ndarray]] | None:
        """The learning curve and all arrays of the newest good checkpoint, read without a learner.

        For a run in progress, drawn by ``stdp-ebm plot``. Safe while the run writes: :meth:`save`
        replaces files by renaming.

        Returns
        -------
        tuple of (History, dict of str to numpy.ndarray) or None
            The curve and the arrays; None if there is no good checkpoint.
        """
        for path in (self.path, self.previous):
            try:
                arrays = npzfile.load(path, memory_limit(), RunDirError)
                check_digest(path, arrays)
                return History.from_checkpoint(path, arrays), arrays
            except (RunDirError, FileNotFoundError):
                continue
        return None

    @staticmethod
    def _parse(path: Path, arrays: dict[str, np.ndarray], learner: Stateful,
               rng: np.random.Generator) -> dict:
        """Everything :meth:`restore` sets, checked before anything is set."""
        check_digest(path, arrays)
        net = learner.net
        params = []
        for name, param in [(f"W_{k}", w) for k, w in enumerate(net.W)] + \
                           [(f"b_{k}", b) for k, b in enumerate(net.b)]:
            if name not in arrays or arrays[name].shape != param.shape:
                raise RunDirError(f"{path}: {name} does not match the network (damaged, or a "
                                  "checkpoint of another configuration?)")
            params.append(arrays[name])
        stored = History.from_checkpoint(path, arrays)
        optional = tuple(p for p in getattr(learner, "optional_state", ())  # an earlier version's
                         if not any(k.startswith(p) for k in arrays))  # file lacks all of them
        for name, value in learner.extra_state().items():
            if name not in arrays and name.startswith(optional):
                continue
            # an array that starts empty is a record that grows (e.g. an alignment log): only its
            # trailing shape is fixed; every other array must match the fresh learner's exactly
            grows = value.ndim > 0 and value.shape[0] == 0
            got = arrays.get(name)
            if got is None or got.ndim != value.ndim or \
                    got.shape[int(grows):] != value.shape[int(grows):]:
                raise RunDirError(f"{path}: {name} is missing or of another shape")
        try:
            state = json.loads(str(arrays["rng_state"]))
            type(rng.bit_generator)().state = state  # fails here, not half-way through restore
        except (KeyError, ValueError, TypeError) as exc:
            raise RunDirError(f"{path}: damaged random-generator state ({exc})") from None
        return {"params": params, "rng": state, "history": stored}


def read_checkpoints(directory: str | Path, tags: Iterable[str]
                     ) -> dict[str, tuple[History, dict[str, np.ndarray]]]:
    """:meth:`Checkpoint.read` of each tag in ``directory`` that has a good checkpoint.

    The learners of a run in progress that have finished an epoch.

    Parameters
    ----------
    directory : str or pathlib.Path
        The checkpoint directory.
    tags : iterable of str
        The learners' tags to look for.

    Returns
    -------
    dict
        Tag -> (History, arrays), for the tags with a good checkpoint only.
    """
    got = {tag: Checkpoint(directory, tag).read() for tag in tags}
    return {tag: g for tag, g in got.items() if g is not None}


def epochs_done(directory: str | Path) -> dict[str, tuple[Path, int]]:
    """The readable checkpoint holding the most epochs, for every tag in ``directory``.

    Parameters
    ----------
    directory : str or pathlib.Path
        The checkpoint directory; a missing one gives an empty dict.

    Returns
    -------
    dict of str to tuple of (pathlib.Path, int)
        Tag -> (file, finished epochs), the file ``<tag>.npz`` or ``<tag>.prev.npz``.
    """
    out: dict[str, tuple[Path, int]] = {}
    directory = Path(directory)
    if not directory.is_dir():
        return out
    for path in sorted(directory.glob("*.npz")):
        tag = path.name.removesuffix(".npz")
        if tag.endswith((".damaged", ".tmp")):
            continue
        tag = tag.removesuffix(".prev")
        try:
            done = History.from_checkpoint(path, npzfile.load(path, memory_limit(),
                                                              RunDirError)).epochs
        except RunDirError:
            continue
        if tag not in out or done > out[tag][1]:
            out[tag] = (path, done)
    return out
