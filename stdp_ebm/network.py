"""The layered network: parameters, the ``.npz`` file contract, validation and random generation.

Layers are ordered bottom-up, layer 0 is the clamped input x, layer L+1 the output y. ``W_k`` has
shape (n_k, n_{k+1}) and couples layers k and k+1 *symmetrically* (used bottom-up as ρ(s_k) W_k and
top-down as ρ(s_{k+1}) W_k^T), as the energy of Eq 6 requires. ``b_k`` has shape (n_k,). Optional
arrays: ``x`` (input, shape (n_0,) or (batch, n_0)) and ``target`` (shape (n_{L+1},) or
(batch, n_{L+1})). Files are read with ``allow_pickle=False``; any other array is rejected.

A ``--network`` file is read once (:class:`~stdp_ebm.network_file.NetworkFile`, importable from
here too): its bytes are hashed for the run's record
and parsed from memory, and a sweep's points get those bytes, so the file may change on disk during
a run without mixing two networks into one result.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import numpy as np

from . import npzfile
from .errors import NetworkFileError
from .network_file import NetworkFile
from .resources import memory_limit
from .sections import Section, key

__all__ = ["Network", "random_network", "load_network", "save_network",
           "network_from_config", "NetworkParams", "NETWORK_SCHEMA"]

@dataclass(frozen=True)
class NetworkParams(Section):
    """The ``[network]`` section: how a random network and its examples are drawn.

    Parameters
    ----------
    sizes : tuple[int, ...]
        Units per layer, input first, output last (at least two layers).
    init_scale : float
        Gain of the Glorot-uniform weight init (≥ 0).
    bias_low, bias_high : float
        Biases are drawn uniformly from [bias_low, bias_high] (bias_low ≤ bias_high).
    batch : int
        Number of random (x, target) examples when the network file has none.
    """

    SECTION: ClassVar[str] = "network"
    sizes: tuple[int, ...] = key("ints", [20, 30, 20, 10], "units per layer, input first, output "
                                 "last", low=1, min_len=2)
    init_scale: float = key("float", 0.3, "gain of the Glorot-uniform weight init", low=0.0)
    bias_low: float = key("float", 0.2, "biases are drawn uniformly from [bias_low, bias_high]")
    bias_high: float = key("float", 0.6, "upper end of the bias range")
    batch: int = key("int", 8, "number of random (x, target) examples when the file has none",
                     low=1)

    def check(self) -> None:
        """bias_low ≤ bias_high, and finite ranges for the draws of :func:`random_network`."""
        if self.bias_low > self.bias_high:
            raise self.problem("bias_low", f"must be <= bias_high = {self.bias_high:g}")
        # uniform on [low, high) needs a finite width high − low, and the Glorot range ±a a
        # finite 2a (numpy refuses an infinite range with OverflowError)
        if not math.isfinite(self.bias_high - self.bias_low):
            raise self.problem("bias_high", f"minus bias_low = {self.bias_low:g} overflows; give "
                               "a finite range")
        widest = max((6.0 / (a + b) for a, b in zip(self.sizes[:-1], self.sizes[1:])),
                     default=0.0)
        if not math.isfinite(2.0 * self.init_scale * math.sqrt(widest)):
            raise self.problem("init_scale", "makes the weight range overflow; give a finite scale")


#: the config schema of ``[network]``, derived from :class:`NetworkParams`
NETWORK_SCHEMA = NetworkParams.schema()


@dataclass
class Network:
    """A layered network: weights, biases and optional examples (validated on construction).

    Parameters
    ----------
    W : list of numpy.ndarray
        ``W[k]`` of shape ``(n_k, n_{k+1})`` couples layers k and k+1 symmetrically (Bengio et
        al. 2017 Eq 6); L+1 matrices for L hidden layers.
    b : list of numpy.ndarray
        ``b[k]`` of shape ``(n_k,)``, the bias of layer k; layer 0 is the input x, the last the
        output y.
    x : numpy.ndarray, optional
        Input examples, shape ``(n_0,)`` or ``(batch, n_0)``, dimensionless rates in [0, 1].
    target : numpy.ndarray, optional
        Targets of the output, shape ``(n_{L+1},)`` or ``(batch, n_{L+1})``.

    Raises
    ------
    NetworkFileError
        Shapes that do not fit together, non-numeric or non-finite values.

    Examples
    --------
    >>> import numpy as np
    >>> net = random_network([3, 4, 2], np.random.default_rng(0))
    >>> net.sizes, net.n_hidden, [w.shape for w in net.W]
    ([3, 4, 2], 1, [(3, 4), (4, 2)])
    """

    W: list[np.ndarray]
    b: list[np.ndarray]
    x: np.ndarray | None = None
    target: np.ndarray | None = None

    def __post_init__(self) -> None:
        validate_arrays(self.W, self.b, self.x, self.target, source="network")

    @property
    def sizes(self) -> list[int]:
        """Units per layer, input first.

        Returns
        -------
        list of int
            ``[n_0, ..., n_{L+1}]``.
        """
        return [len(b) for b in self.b]

    @property
    def n_hidden(self) -> int:
        """The number of hidden layers L.

        Returns
        -------
        int
            The number of layers minus two (input and output).
        """
        return len(self.b) - 2

    def examples(self) -> tuple[np.ndarray, np.ndarray]:
        """The examples; both are set on every network from :func:`network_from_config`.

        Returns
        -------
        x, target : numpy.ndarray
            As stored: shapes ``(batch, n_0)`` and ``(batch, n_{L+1})`` on a network from
            :func:`network_from_config`.

        Raises
        ------
        ValueError
            If ``x`` or ``target`` is not set.
        """
        if self.x is None or self.target is None:
            raise ValueError("this network has no x/target examples; build it with "
                             "network_from_config, which draws them when the file has none")
        return self.x, self.target

    def astype(self, dtype: np.dtype | str | type) -> "Network":
        """A copy with weights, biases, x and target in floating-point ``dtype``.

        Parameters
        ----------
        dtype : numpy.dtype, str or type
            E.g. ``numpy.float32``.

        Returns
        -------
        Network
            New arrays; this network is unchanged.
        """
        cast = [None if a is None else np.asarray(a, dtype) for a in (self.x, self.target)]
        return Network([w.astype(dtype) for w in self.W], [b.astype(dtype) for b in self.b], *cast)

    def copy(self) -> "Network":
        """A deep copy.

        Returns
        -------
        Network
            The same values in new arrays.
        """
        return Network([w.copy() for w in self.W], [b.copy() for b in self.b],
                       None if self.x is None else self.x.copy(),
                       None if self.target is None else self.target.copy())


def _as_batch(a: np.ndarray | None) -> np.ndarray | None:
    return None if a is None else np.atleast_2d(np.asarray(a, float))


def validate_arrays(W: list[np.ndarray], b: list[np.ndarray], x: np.ndarray | None,
                    target: np.ndarray | None, source: str, values: bool = True) -> None:
    """Check shapes, dtypes and (with ``values``) finiteness; raise :class:`NetworkFileError`
    naming ``source``."""
    if len(b) < 2:
        raise NetworkFileError(f"{source}: needs at least b_0 and b_1 (an input and an output layer)")
    if len(W) != len(b) - 1:
        raise NetworkFileError(f"{source}: {len(b)} bias vectors need {len(b) - 1} weight matrices "
                               f"W_0..W_{len(b) - 2}, found {len(W)}")
    for k, bk in enumerate(b):
        if np.ndim(bk) != 1 or len(bk) == 0:
            raise NetworkFileError(f"{source}: b_{k} must be a non-empty vector, has shape {np.shape(bk)}")
    for k, wk in enumerate(W):
        want = (len(b[k]), len(b[k + 1]))
        if np.shape(wk) != want:
            raise NetworkFileError(f"{source}: W_{k} has shape {np.shape(wk)}, expected {want} "
                                   f"(n_{k}, n_{k + 1}) from b_{k} and b_{k + 1}")
    named = [(f"W_{k}", w) for k, w in enumerate(W)] + [(f"b_{k}", v) for k, v in enumerate(b)]
    named += [(n, a) for n, a in (("x", x), ("target", target)) if a is not None]
    for name, raw in named:
        arr = np.asarray(raw)
        if not np.issubdtype(arr.dtype, np.number) or np.issubdtype(arr.dtype, np.complexfloating):
            raise NetworkFileError(f"{source}: {name} must be a real numeric array, has dtype {arr.dtype}")
        if values and not np.all(np.isfinite(arr)):
            raise NetworkFileError(f"{source}: {name} contains NaN or Inf")
    for name, opt, n in (("x", x, len(b[0])), ("target", target, len(b[-1]))):
        if opt is not None and np.size(opt) == 0:
            raise NetworkFileError(f"{source}: {name} has shape {np.shape(opt)}: no examples")
        if opt is not None and (np.ndim(opt) not in (1, 2) or np.shape(opt)[-1] != n):
            raise NetworkFileError(f"{source}: {name} has shape {np.shape(opt)}, expected ({n},) "
                                   f"or (batch, {n})")
    if x is not None and target is not None:
        n_x, n_target = len(np.atleast_2d(x)), len(np.atleast_2d(target))
        if n_x != n_target and 1 not in (n_x, n_target):
            raise NetworkFileError(f"{source}: x has {n_x} examples but target has {n_target}")



_KEY = re.compile(r"^(W|b)_(0|[1-9]\d*)$")  # canonical numbers: W_01 would alias W_1


def load_network(path: str | Path) -> Network:
    """Load and validate a network file (see the module docstring for the contract).

    Member names, dtypes and declared shapes are checked before any array is read
    (:mod:`stdp_ebm.npzfile`), against the memory limit of :mod:`stdp_ebm.resources`.

    Parameters
    ----------
    path : str, pathlib.Path or NetworkFile
        The ``.npz`` file; a :class:`NetworkFile` is parsed from the bytes it holds, without
        opening the file again.

    Returns
    -------
    Network
        Arrays as float64.

    Raises
    ------
    NetworkFileError
        A missing file or one that breaks the contract, naming the file and the array.
    """
    content = path.content if isinstance(path, NetworkFile) else None
    path = Path(path)
    if content is None and not path.exists():
        raise NetworkFileError(f"{path}: no such network file")
    arrays = npzfile.load(path, memory_limit(), NetworkFileError,
                          lambda declared: _check_layout(path, declared), content)
    W, b, x, t = _split(path, arrays)
    # Validate the arrays as stored (dtype included) before casting: a cast would drop imaginary
    # parts or fail on text.
    validate_arrays(W, b, x, t, source=str(path))
    return Network([np.asarray(w, float) for w in W], [np.asarray(v, float) for v in b],
                   None if x is None else np.asarray(x, float),
                   None if t is None else np.asarray(t, float))


def _split(path: Path, arrays: dict[str, np.ndarray]) -> tuple[list, list, np.ndarray | None,
                                                               np.ndarray | None]:
    """``W_k``, ``b_k`` (numbered without gaps), ``x`` and ``target`` of a network file."""
    W: dict[int, np.ndarray] = {}
    b: dict[int, np.ndarray] = {}
    for name, arr in arrays.items():
        m = _KEY.match(name)
        if m:
            (W if m.group(1) == "W" else b)[int(m.group(2))] = arr
    for what, d in (("W", W), ("b", b)):
        if sorted(d) != list(range(len(d))):
            raise NetworkFileError(f"{path}: {what}_k must be numbered 0..{len(d) - 1} without gaps, "
                                   f"found {sorted(d)}")
    if not b:
        raise NetworkFileError(f"{path}: no bias vectors b_k found")
    return [W[k] for k in range(len(W))], [b[k] for k in range(len(b))], arrays.get("x"), \
        arrays.get("target")


def _check_layout(path: Path, declared: npzfile.Headers) -> None:
    """The contract (names, dtypes, shapes) from the .npy headers alone, before any is read."""
    for name in declared:
        if not _KEY.match(name) and name not in ("x", "target"):
            raise NetworkFileError(
                f"{path}: unexpected array {name!r}; allowed: W_0..W_L, b_0..b_(L+1), x, target "
                "(the coupling W_k is symmetric: no separate feedback matrices)")
    # zero-strided stand-ins: the declared shape and dtype, no memory
    stand_ins = {n: np.broadcast_to(np.zeros((), dtype), shape)
                 for n, (shape, dtype) in declared.items()}
    validate_arrays(*_split(path, stand_ins), source=str(path), values=False)


def save_network(net: Network, path: str | Path) -> None:
    """Write ``net`` to ``path`` in the network-file format.

    Parameters
    ----------
    net : Network
        Written as ``W_k``, ``b_k`` and, where set, ``x`` and ``target``.
    path : str or pathlib.Path
        The ``.npz`` file (``numpy.savez`` appends ``.npz`` to a name without it).
    """
    arrays: dict[str, Any] = {f"W_{k}": w for k, w in enumerate(net.W)}
    arrays.update({f"b_{k}": v for k, v in enumerate(net.b)})
    if net.x is not None:
        arrays["x"] = net.x
    if net.target is not None:
        arrays["target"] = net.target
    np.savez(path, **arrays)


def random_network(sizes: list[int], rng: np.random.Generator, init_scale: float = 1.0,
                   bias_low: float = 0.0, bias_high: float = 0.5) -> Network:
    """A random network: Glorot-uniform weights times ``init_scale``, uniform biases.

    Parameters
    ----------
    sizes : list of int
        Units per layer, input first, output last.
    rng : numpy.random.Generator
        Draws the weights, then the biases.
    init_scale : float
        Gain of the weight range: ``W_k`` is uniform in ±init_scale·sqrt(6 / (n_k + n_{k+1})).
    bias_low, bias_high : float
        Biases are uniform in [bias_low, bias_high).

    Returns
    -------
    Network
        Without ``x`` and ``target``.
    """
    W = []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        a = init_scale * np.sqrt(6.0 / (n_in + n_out))
        W.append(rng.uniform(-a, a, size=(n_in, n_out)))
    b = [rng.uniform(bias_low, bias_high, size=n) for n in sizes]
    return Network(W, b)


def network_from_config(params: NetworkParams, rng: np.random.Generator,
                        path: str | None = None) -> Network:
    """The network of a run: ``path`` when given, else a random one drawn as ``params`` says.

    Parameters
    ----------
    params : NetworkParams
        The ``[network]`` section.
    rng : numpy.random.Generator
        Draws the weights, biases and missing examples.
    path : str, optional
        A network file (``--network``).

    Returns
    -------
    Network
        With ``x`` and ``target`` of shape (batch, n): missing ones are drawn uniformly in [0, 1]
        (``params.batch`` examples).
    """
    sec = params
    if path:
        net = load_network(path)
    else:
        net = random_network(list(sec.sizes), rng, sec.init_scale, sec.bias_low, sec.bias_high)
    if net.x is None:
        net.x = rng.uniform(0.0, 1.0, size=(sec.batch, net.sizes[0]))
    if net.target is None:
        net.target = rng.uniform(0.0, 1.0, size=(len(np.atleast_2d(net.x)), net.sizes[-1]))
    x, target = np.atleast_2d(np.asarray(net.x, float)), np.atleast_2d(np.asarray(net.target, float))
    if len(x) != len(target):
        n = max(len(x), len(target))
        x = np.broadcast_to(x, (n, x.shape[1])).copy()
        target = np.broadcast_to(target, (n, target.shape[1])).copy()
    net.x, net.target = x, target
    return net
