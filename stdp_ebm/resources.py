"""Memory: the limit a run may use, and an estimate from the config checked before allocating.

The limit is the memory available to this process (``MemAvailable``, or less where a cgroup caps
it) unless ``--max-memory`` sets it. :func:`estimate` counts the dominant arrays of a rate-model
run (weights, states of the examples, the data set), Brian2's spiking network where the run builds
one (synapses, neurons, rule synapses: :func:`spiking_objects`) and the points a sweep runs at once.
It is calibrated on the alignment experiment (within a factor 2 of the traced peak, tested) and, for
the spiking network, on the peak memory of building and running one (75–81 bytes per synapse
measured); for other experiments it is an order of magnitude.
"""

from __future__ import annotations

import math
import os
import re
from pathlib import Path
from typing import Any, Iterable

from .errors import ResourceError, UserError

_LIMIT: list[int] = []  # the --max-memory of this process, when given
#: bytes held per weight and per unit state (float64): the parameters with their updates and
#: references (16 copies), the states of the phases (6 copies); measured for alignment runs by
#: tests/test_reliability.py::test_the_memory_estimate_matches_the_traced_peak
PER_WEIGHT, PER_STATE = 8 * 16, 8 * 6
#: the MNIST arrays (60k + 10k images as float64, one-hot targets, the raw bytes)
DATASET_BYTES = {"digits": 1797 * 74 * 8, "mnist": 70_000 * (784 + 10) * 8 + 55_000_000}
#: the factor of each size suffix of ``--max-memory`` (powers of 1024; "" is bytes)
UNITS = {"": 1, "k": 2**10, "m": 2**20, "g": 2**30, "t": 2**40}
#: bytes per Brian2 synapse and per neuron at the peak of building a spiking network: the index and
#: weight arrays, the spike queue and numpy's construction temporaries (measured 75–81 per
#: transmission synapse for both wirings; the margin covers monitors and rule variables)
PER_SYNAPSE, PER_NEURON = 96, 256
#: experiments that solve the linear system of the implicit gradient
#: (:func:`stdp_ebm.references.implicit_neg_grad`): it holds the full n × n coupling matrix of all
#: n units and the system matrix built from it, 5 float64 copies of n² at its peak (measured:
#: 154 MB traced for alignment with sizes [4, 2000, 3], 5.0 × n²·8 bytes)
HESSIAN_EXPERIMENTS = {"alignment", "unification", "rate_vs_spike", "depth", "train_spiking"}
PER_HESSIAN = 8 * 5  #: bytes per n² entry at that peak: 5 float64 copies


def parse_size(text: str) -> int:
    """A size as ``--max-memory`` takes it, in bytes.

    Parameters
    ----------
    text : str
        ``"4G"``, ``"512MiB"``, ``"1.5g"`` or a number of bytes; the units k, M, G, T are
        powers of 1024.

    Returns
    -------
    int
        Bytes (rounded down).

    Raises
    ------
    UserError
        Text that is no such size, or a size below 1 byte or from 8 EiB on.

    Examples
    --------
    >>> parse_size("4G"), parse_size("512MiB"), parse_size("1000")
    (4294967296, 536870912, 1000)
    """
    m = re.fullmatch(r"\s*([0-9]+(?:\.[0-9]+)?)\s*([kKmMgGtT]?)(?:i?[bB])?\s*", text)
    if not m:
        raise UserError(f"--max-memory {text!r}: expected a size such as 4G, 512M or 1000000")
    value = float(m.group(1)) * UNITS[m.group(2).lower()]
    if not 1 <= value < 2**63:
        raise UserError(f"--max-memory {text!r}: must be at least 1 byte and below 8 EiB")
    return int(value)


def set_memory_limit(nbytes: int | None) -> None:
    """Use ``nbytes`` as the limit of this process.

    Parameters
    ----------
    nbytes : int or None
        The limit in bytes; None: the available memory (:func:`available_memory`).
    """
    _LIMIT[:] = [] if nbytes is None else [nbytes]


def available_memory() -> int:
    """Bytes this process can still allocate: MemAvailable, capped by a cgroup v2 limit.

    Returns
    -------
    int
        Bytes (the free physical pages where ``/proc`` is absent; 16 GiB where nothing can be
        read).
    """
    found = []
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                found.append(int(line.split()[1]) * 1024)
    except (OSError, ValueError, IndexError):
        pass
    try:
        cg = Path("/sys/fs/cgroup")
        cap = (cg / "memory.max").read_text().strip()
        if cap != "max":
            found.append(int(cap) - int((cg / "memory.current").read_text()))
    except (OSError, ValueError):
        pass
    if not found and hasattr(os, "sysconf"):
        try:
            found.append(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_AVPHYS_PAGES"))
        except (ValueError, OSError):
            pass
    return max(min(found), 0) if found else 2**34


def memory_limit() -> int:
    """The limit: ``--max-memory`` if given, else :func:`available_memory`.

    Returns
    -------
    int
        Bytes.
    """
    return _LIMIT[0] if _LIMIT else available_memory()


def _section(cfg: dict[str, Any], name: str) -> dict[str, Any]:
    """``cfg[name]`` when it is a table, else an empty one."""
    sec = cfg.get(name)
    return sec if isinstance(sec, dict) else {}


def estimate(cfg: dict[str, Any], sizes: list[int] | None = None,
             examples: int | None = None) -> int:
    """Bytes the dominant arrays of one run of ``cfg`` need (see the module docstring).

    Parameters
    ----------
    cfg : dict
        A validated config (:func:`stdp_ebm.config.validate`): the sections ``network``, ``data``,
        ``train``, ``spiking`` … are read where present.
    sizes : list of int, optional
        Units per layer of the ``--network`` file, when one is given (else ``[network] sizes``).
    examples : int, optional
        The number of examples of the ``--network`` file (else ``[network] batch``).

    Returns
    -------
    int
        Bytes: weights, states, data set and spiking network, or the implicit-gradient system
        where that is larger.
    """
    net = _section(cfg, "network")
    sizes = sizes or net.get("sizes") or []
    weights = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    data = _section(cfg, "data")
    n = examples or net.get("batch", 1)
    bytes_ = PER_WEIGHT * weights + PER_STATE * n * sum(sizes)
    synapses, neurons = spiking_objects(cfg, sizes, n)
    bytes_ += PER_SYNAPSE * synapses + PER_NEURON * neurons
    if data.get("dataset") in DATASET_BYTES:
        bytes_ += DATASET_BYTES[data["dataset"]]
        train = cfg.get("train", {})
        chunk = max(train.get("batch_size", 1), train.get("eval_batch", 1))
        n_train = data.get("n_train") or 70_000
        bytes_ += PER_STATE * (chunk + (n_train if train.get("persistent") else 0)) * sum(sizes)
    if cfg.get("experiment") in HESSIAN_EXPERIMENTS:  # a transient peak of its own
        bytes_ = max(bytes_, PER_HESSIAN * hessian_units(cfg, sizes) ** 2)
    return int(bytes_)


def hessian_units(cfg: dict[str, Any], sizes: list[int]) -> int:
    """Units of the largest network whose implicit-gradient system the run solves.

    The network's (or the ``--network`` file's), and for ``depth`` its widest random net (input,
    hidden layers of ``width``, 10 outputs).

    Parameters
    ----------
    cfg : dict
        A validated config (:func:`stdp_ebm.config.validate`): the sections ``network``, ``data``,
        ``train``, ``spiking`` … are read where present.
    sizes : list of int
        Units per layer of the run's network.

    Returns
    -------
    int
        The number of units n (the system holds n × n matrices).
    """
    n = sum(sizes)
    depth = cfg.get("depth")
    if isinstance(depth, dict) and "width" in depth:
        data = _section(cfg, "data")
        inputs = 784 if data.get("dataset") == "mnist" else 64
        n = max(n, inputs + depth["width"] * max(depth.get("hidden") or [1]) + 10)
    return n


def spiking_objects(cfg: dict[str, Any], sizes: list[int], batch: int) -> tuple[int, int]:
    """(synapses, neurons) of the largest Brian2 network the run of ``cfg`` builds, counted from
    the config alone (the arithmetic of :class:`stdp_ebm.spiking.layout.Layout`, tested equal to
    its arrays): transmission (n·fan per weight and direction, fan = n for the neuron wiring, 1
    for the population wiring), rate-counting synapses (one per neuron) and the rule synapses
    (one per weight, 2n² for a spike rule: :func:`_rule_synapses`), in batch × trials copies
    (batch: the network's, or the training mini-batch of the spiking learner).

    Parameters
    ----------
    cfg : dict
        A validated config (:func:`stdp_ebm.config.validate`): the sections ``network``, ``data``,
        ``train``, ``spiking`` … are read where present.
    sizes : list of int
        Units per layer of the run's network.
    batch : int
        The number of examples of the network.

    Returns
    -------
    synapses, neurons : int
        Counts of Brian2 synapses (all kinds) and neurons; (0, 0) where no spiking network is
        built.
    """
    sp = cfg.get("spiking")
    alignment = _section(cfg, "alignment")
    if not isinstance(sp, dict) or "neurons_per_unit" not in sp or len(sizes) < 2 \
            or alignment.get("model", "spiking") != "spiking":
        return 0, 0
    sweep = _section(cfg, "rate_vs_spike")
    train = _section(cfg, "train")
    n = max([sp["neurons_per_unit"], *sweep.get("populations", [])])
    batch = max(batch, train.get("batch_size", 1))  # the spiking learner: one copy per example
    copies = batch * max([sp.get("trials", 1), *sweep.get("trials", [])])
    fan = n if sp.get("transmission") == "neuron" else 1
    pairs = [a * b for a, b in zip(sizes[:-1], sizes[1:])]
    transmission = copies * n * fan * (pairs[0] + 2 * sum(pairs[1:]))
    neurons = copies * n * sum(sizes)
    return transmission + neurons + copies * sum(pairs) * _rule_synapses(sp, n), neurons


def _rule_synapses(sp: dict[str, Any], n: int) -> int:
    """Rule synapses per weight and copy: 1 for a rate-form rule, 2n² for a spike rule (every
    neuron pair of the two units, both ways; :func:`stdp_ebm.spiking.params.rule_form`)."""
    from .models import load_model
    from .models.check import variables

    name = sp.get("synapse", "population_rule")
    from brian2.equations.equations import EquationError

    try:
        model = load_model(name, check=False)  # parsed only; checked when the run loads it
        rate_form = {"delta_w_up", "delta_w_down"} <= variables(model)
    except (UserError, EquationError, SyntaxError, ValueError):
        return 1  # a bad file is refused, in one line, when the run loads it
    return 1 if rate_form or not model.weight_change else 2 * n * n


def check_memory(cfgs: Iterable[dict[str, Any]], parallel: int, sizes: list[int] | None = None,
                 examples: int | None = None) -> None:
    """Refuse before anything runs if ``parallel`` runs of the largest of ``cfgs`` (the points
    of a sweep that run at once) would need more than the limit.

    Parameters
    ----------
    cfgs : iterable of dict
        The validated configs of the runs (one, or a sweep's points).
    parallel : int
        How many run at once.
    sizes, examples : int or list of int, optional
        As in :func:`estimate`.

    Raises
    ------
    ResourceError
        If the estimate times ``parallel`` exceeds :func:`memory_limit`.
    """
    one = max(estimate(c, sizes, examples) for c in cfgs)
    need, limit = one * parallel, memory_limit()
    if need > limit:
        at_once = f" × {parallel} running at once" if parallel > 1 else ""
        raise ResourceError(f"this run needs at least {_size(one, up=True)}{at_once}, more than "
                            f"the memory limit of {_size(limit, up=False)}; make it smaller, use "
                            "fewer --workers, or raise the limit with --max-memory")


def _size(nbytes: float, up: bool) -> str:
    """``nbytes`` in GiB, MiB, KiB or bytes to 3 significant digits, rounded up (a need) or down (a
    limit): a need above a limit never prints as the same number."""
    unit, scale = next((u, k) for u, k in (("GiB", 2**30), ("MiB", 2**20), ("KiB", 2**10),
                                           ("bytes", 1)) if nbytes >= k or k == 1)
    value = nbytes / scale
    step = 10.0 ** (math.floor(math.log10(value)) - 2) if value > 0 else 1.0
    value = (math.ceil if up else math.floor)(round(value / step, 9)) * step
    return f"{value:g} {unit}"
