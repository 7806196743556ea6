"""Index arithmetic of the spiking network: pure numpy, testable without Brian2.

``copies`` = batch × trials copies of a layered network with ``sizes`` (input first), ``n`` LIF
neurons per rate unit. Groups (one compiled object each, whatever the network's size):

* ``input``: Poisson neurons of layer 0, neuron ``(copy·n_0 + unit)·n + m``;
* ``neurons``: LIF neurons of layers 1 … L in contiguous blocks, inside layer k's block neuron
  ``(copy·n_k + unit)·n + m``;
* ``currents`` (population transmission only): one synaptic current per (copy, unit) of layers
  1 … L, element ``(copy·n_k + unit)`` inside layer k's block;
* ``pops``: one population-rate filter per (copy, unit) of every layer, likewise.

Transmission wiring (``[spiking] transmission``): ``neuron`` connects every neuron of unit j to
every neuron of unit i (n² synapses per weight and copy), ``population`` every neuron of unit j to
the current of unit i (n per weight and copy). Both ways between free layers, only upward from x.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np


def _offsets(blocks: list[int]) -> np.ndarray:
    return np.concatenate([[0], np.cumsum(blocks)[:-1]]).astype(int)


@dataclass(frozen=True)
class Layout:
    """Where every neuron, current, rate filter and synapse of the network sits (module docstring).

    Parameters
    ----------
    sizes : tuple of int
        Units per layer, input first.
    copies : int
        Independent copies of the network (batch × trials).
    n : int
        LIF (or Poisson, for the input) neurons per rate unit.
    transmission : str
        ``"population"`` (one synaptic current per unit) or ``"neuron"`` (neuron-to-neuron
        synapses).

    Examples
    --------
    >>> lay = Layout(sizes=(2, 3, 1), copies=2, n=4)
    >>> lay.n_inputs, lay.n_neurons, lay.n_units    # 2·4·2, 2·4·(3 + 1), 2·(2 + 3 + 1)
    (16, 32, 12)
    >>> lay.neuron_offset(2), int(lay.neuron(1, 5, 3))  # layer 2 after 2·3·4 neurons; 5·4 + 3
    (24, 23)
    """

    sizes: tuple[int, ...]
    copies: int
    n: int
    transmission: str = "population"

    @property
    def fan(self) -> int:
        """Targets per (source neuron, target unit): n (neuron wiring) or 1 (population).

        Returns
        -------
        int
        """
        return self.n if self.transmission == "neuron" else 1

    @property
    def n_neurons(self) -> int:
        """LIF neurons (layers 1 … L+1, all copies): the ``neurons`` group.

        Returns
        -------
        int
        """
        return self.copies * self.n * sum(self.sizes[1:])

    @property
    def n_inputs(self) -> int:
        """Poisson neurons of the input layer (all copies): the ``input`` group.

        Returns
        -------
        int
        """
        return self.copies * self.n * self.sizes[0]

    @property
    def n_units(self) -> int:
        """(copy, unit) pairs of all layers: the population-rate filters (``pops``).

        Returns
        -------
        int
        """
        return self.copies * sum(self.sizes)

    def unit_offset(self, k: int) -> int:
        """First (copy, unit) element of layer k among all layers' (``pops``).

        Parameters
        ----------
        k : int
            A layer, 0 … L+1.

        Returns
        -------
        int
        """
        return int(_offsets([self.copies * s for s in self.sizes])[k])

    def neuron_offset(self, k: int) -> int:
        """First neuron of layer k in its group (0 for the input layer).

        Parameters
        ----------
        k : int
            A layer, 0 … L+1.

        Returns
        -------
        int
        """
        return 0 if k == 0 else int(_offsets([self.copies * s * self.n
                                              for s in self.sizes[1:]])[k - 1])

    def current_offset(self, k: int) -> int:
        """First current of layer k ≥ 1 in the ``currents`` group.

        Parameters
        ----------
        k : int
            A free layer, 1 … L+1.

        Returns
        -------
        int
        """
        return int(_offsets([self.copies * s for s in self.sizes[1:]])[k - 1])

    def neuron(self, k: int, cu, m) -> np.ndarray:
        """Index of neuron m of (copy·n_k + unit) ``cu`` of layer k (in its group).

        Parameters
        ----------
        k : int
            A layer, 0 … L+1.
        cu : int or array_like
            copy·n_k + unit.
        m : int or array_like
            The neuron within the unit, 0 … n − 1 (broadcast with ``cu``).

        Returns
        -------
        numpy.ndarray
            Indices in the ``input`` (k = 0) or ``neurons`` group.
        """
        return self.neuron_offset(k) + np.asarray(cu) * self.n + np.asarray(m)

    def units(self, k: int) -> tuple[np.ndarray, np.ndarray]:
        """(copy, unit) of every neuron of layer k, in index order.

        Parameters
        ----------
        k : int
            A layer, 0 … L+1.

        Returns
        -------
        copy, unit : numpy.ndarray
            Shape ``(copies·n_k·n,)`` each.
        """
        cu = np.repeat(np.arange(self.copies * self.sizes[k]), self.n)
        return cu // self.sizes[k], cu % self.sizes[k]

    def current_of_neuron(self) -> np.ndarray:
        """Current (``currents`` element) each LIF neuron reads, in the neurons' index order.

        Returns
        -------
        numpy.ndarray
            Shape ``(n_neurons,)``.
        """
        return np.arange(self.n_neurons) // self.n

    def pop_of_neuron(self, group: str) -> np.ndarray:
        """Population-rate filter of every neuron of the ``input`` or the ``neurons`` group.

        Parameters
        ----------
        group : str
            ``"input"``, or anything else for the ``neurons`` group.

        Returns
        -------
        numpy.ndarray
            Index into ``pops`` per neuron, in the group's index order.
        """
        layers = [0] if group == "input" else range(1, len(self.sizes))
        return np.concatenate([self.unit_offset(k) + np.arange(self.copies * self.sizes[k] * self.n)
                               // self.n for k in layers])

    def pairs(self, k: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """All unit pairs (copy, i in layer k, j in layer k+1), flattened in (copy, i, j) order:
        the order of the rule synapses of W_k.

        Parameters
        ----------
        k : int
            The weight matrix W_k, 0 … L.

        Returns
        -------
        copy, i, j : numpy.ndarray
            Shape ``(copies·n_k·n_{k+1},)`` each.
        """
        c, i, j = np.meshgrid(np.arange(self.copies), np.arange(self.sizes[k]),
                              np.arange(self.sizes[k + 1]), indexing="ij")
        return c.ravel(), i.ravel(), j.ravel()

    def rule_pairs(self) -> tuple[np.ndarray, np.ndarray]:
        """(pre, post) population-rate filters of the rule synapses of all W_k, in order.

        Returns
        -------
        pre, post : numpy.ndarray
            Indices into ``pops``, one per rule synapse (W_0's first, each in :meth:`pairs`
            order).
        """
        pre, post = [], []
        for k in range(len(self.sizes) - 1):
            c, i, j = self.pairs(k)
            pre.append(self.unit_offset(k) + c * self.sizes[k] + i)
            post.append(self.unit_offset(k + 1) + c * self.sizes[k + 1] + j)
        return np.concatenate(pre), np.concatenate(post)

    def _target(self, k: int, cu: np.ndarray, m: np.ndarray) -> np.ndarray:
        """Target of a transmission synapse onto unit ``cu`` of layer k: neuron m of it (neuron
        wiring) or its current (population wiring, m = 0)."""
        if self.transmission == "neuron":
            return self.neuron(k, cu, m)
        return self.current_offset(k) + np.asarray(cu)

    def _block(self, src: tuple[int, np.ndarray], dst: tuple[int, np.ndarray]) -> tuple:
        """Synapses from every neuron of the source units to every target of the target units."""
        reps = self.n * self.fan
        m_pre = np.tile(np.repeat(np.arange(self.n), self.fan), len(src[1]))
        m_post = np.tile(np.arange(self.fan), self.n * len(src[1]))
        return (self.neuron(src[0], np.repeat(src[1], reps), m_pre),
                self._target(dst[0], np.repeat(dst[1], reps), m_post))

    def transmission_synapses(self, weight_sizes: list[int]) -> dict[str, tuple]:
        """``{"input": …, "neurons": …}``: (pre, post, weight index, rule index) per synapse of the
        source group's transmission; weight index into the concatenation of all W_k (ravelled),
        rule index into the rule synapses (:meth:`rule_pairs` order).

        Parameters
        ----------
        weight_sizes : list of int
            The number of entries of each W_k, n_k·n_{k+1}.

        Returns
        -------
        dict of str to tuple of numpy.ndarray
            ``"input"`` (from the Poisson inputs, upward only) and ``"neurons"`` (between free
            layers, both ways): (pre, post, weight index, rule index), one entry per synapse;
            post indexes neurons (neuron wiring) or currents (population wiring).
        """
        w_offset = _offsets(list(weight_sizes) + [0])
        reps = self.n * self.fan
        parts: dict[str, list] = {"input": [], "neurons": []}
        for k in range(len(self.sizes) - 1):
            c, i, j = self.pairs(k)
            widx = np.repeat(w_offset[k] + i * self.sizes[k + 1] + j, reps)
            ridx = np.repeat(self.copies * w_offset[k] + np.arange(len(c)), reps)
            lo, hi = (k, c * self.sizes[k] + i), (k + 1, c * self.sizes[k + 1] + j)
            parts["input" if k == 0 else "neurons"].append((*self._block(lo, hi), widx, ridx))
            if k > 0:
                parts["neurons"].append((*self._block(hi, lo), widx, ridx))
        return {name: tuple(np.concatenate(a) for a in zip(*p)) for name, p in parts.items() if p}

    def out_degree(self) -> tuple[np.ndarray, np.ndarray]:
        """Transmission synapses per neuron of the input and of the LIF group (synaptic events
        = spikes × out-degree).

        Returns
        -------
        input, neurons : numpy.ndarray
            Out-degree per neuron, shapes ``(n_inputs,)`` and ``(n_neurons,)``.
        """
        last = len(self.sizes) - 1
        degree = [np.full(self.copies * self.sizes[k] * self.n, self.fan * (
            (self.sizes[k - 1] if k >= 2 else 0) + (self.sizes[k + 1] if k < last else 0)))
            for k in range(1, last + 1)]
        return np.full(self.n_inputs, self.fan * self.sizes[1]), np.concatenate(degree)

    def layer_blocks(self, counts: Sequence[np.ndarray]) -> list[np.ndarray]:
        """Per-neuron values of the input and the LIF group → per layer, (copies, n_k, n).

        Parameters
        ----------
        counts : sequence of numpy.ndarray
            Two arrays: a value per neuron of the ``input`` group, shape ``(n_inputs,)``, and of
            the ``neurons`` group, shape ``(n_neurons,)`` (e.g. spike counts).

        Returns
        -------
        list of numpy.ndarray
            Per layer 0 … L+1, shape ``(copies, n_k, n)``.
        """
        src, hid = counts
        blocks = [src] + [hid[self.neuron_offset(k):self.neuron_offset(k) +
                              self.copies * s * self.n] for k, s in enumerate(self.sizes) if k > 0]
        return [b.reshape(self.copies, -1, self.n) for b in blocks]
