"""The Brian2 rule synapses as a mini-batch learner (:class:`SpikingLearner`) and its cost knobs.

One compiled Brian2 network (:class:`~stdp_ebm.spiking.SpikingNetwork`, one copy per example of the
mini-batch × noise trials) is built once and reused for every mini-batch, epoch and test chunk: the
hooks ``set_input`` / ``set_parameters`` change the inputs, transmission weights and bias currents
in place. Per mini-batch: free phase → ŷ; checkpoint (state + RNG); nudged phase with the teaching
current +β(d − o(ŷ)), resume, nudged phase with −β (common random numbers). The rule synapses (Eq
26, tied form ``sym``) integrate ∫(ρ_i dρ_j/dt + ρ_j dρ_i/dt) dt online during each nudged phase:

    ΔW_k = ⟨acc(+β) − acc(−β)⟩_copies / 2β,    Δb_k = ⟨ρ_k^{+β}(T) − ρ_k^{−β}(T)⟩_copies / 2β

(the bias term of Eq 6 integrates dρ/dt to the end-of-phase filtered rates), applied after the
mini-batch by :func:`stdp_ebm.learning.apply_update`. Prediction = argmax of the free-phase ŷ.

How the clamped input x enters (``input``):

* ``"poisson"``: Poisson trains at ρ_LIF(x)·r_max through the W_0 transmission synapses, with a rule
  synapse per weight of W_0 like every other layer;
* ``"current"``: the constant current ρ_LIF(x)W_0·I_unit into h_1's neurons, the mean of what the
  Poisson trains carry and what the rate model computes once per batch. No input spikes, no input
  synapses: the network is compiled with a one-unit silent input layer. W_0's presynaptic rate is
  then constant, so Eq 26 integrates in closed form, ∫(ρ_x dρ_h + ρ_h dρ_x) = ρ_x Δρ_h, and
  ΔW_0 = ⟨ρ(x)ᵀ(ρ_1^{+β}(T) − ρ_1^{−β}(T))⟩/2β from the same filtered rates of h_1 the rule synapses
  read; W_1 … W_L are learnt by the rule synapses.

``rule_dt_ms`` > 0 runs the rule synapses' step every ``rule_dt_ms`` instead of every simulation step
(:func:`stdp_ebm.spiking.rule_synapses`); per step the rule costs one update per weight and copy.

Resume: the network's state carries over from one mini-batch to the next (each free phase settles
from where the last phase ended), and so do Brian2's random numbers. :meth:`SpikingLearner.
extra_state` puts both in the epoch's checkpoint — the clock, the neuron, current and rate-filter
variables (:meth:`~stdp_ebm.spiking.SpikingNetwork.checkpoint`) and numpy's generator with the
contents of Brian2's random buffers (:func:`~stdp_ebm.spiking.randomstate.random_state`) — and
:meth:`~SpikingLearner.load_extra_state` writes them back, clock included, so a resumed run draws
the numbers the uninterrupted run drew and its results are the same to the bit. The synapses hold
nothing to keep: transmission weights are set from W before every phase, the rule's integrals are
zeroed when a nudged phase starts. (Reseeding Brian2 from the master seed at each epoch would make
the random numbers reproducible without saving them, but the network's state and clock would still
have to be saved, and it would change the numbers of every run made so far; the contents are saved
as for the common random numbers of the ±β phases.)

Evaluation (:meth:`SpikingLearner.predict`): a free phase that settles as in training and counts
over ``eval_free_ms``. Given a window, the evaluation leaves training as it found it: the first
prediction after a training step saves the network's state and random numbers
(:meth:`~stdp_ebm.spiking.SpikingNetwork.checkpoint`), and the next training step, or checkpoint,
first returns to them, clock included; training then draws the same random numbers, from the same
network state, whatever the window and however often the learner is evaluated. Without one (None,
the default), predictions count over the training window on the training stream, which training
continues from, as the learner did before the window existed: runs made then are reproduced to the
bit.
"""

from __future__ import annotations

import numpy as np

from ..activation import Rho
from ..energy import Energy
from ..network import Network
from . import SpikingNetwork, teaching_force
from .params import SpikingParams
from ..learning import apply_update
from .learner_state import (INPUTS, LEARNER_SCHEMA, STATE, LearnerParams, has_network_state,
                            network_state_arrays, network_state_from_arrays, pad_batch,
                            shell_network)

__all__ = ["INPUTS", "STATE", "LEARNER_SCHEMA", "LearnerParams", "DeltaLearner", "SpikingLearner",
           "shell_network", "pad_batch", "has_network_state", "network_state_arrays", "network_state_from_arrays"]


class DeltaLearner:
    """What the spiking learners share: an update applies lr·ΔW of :meth:`delta` to ``net``; the
    state to checkpoint beyond ``net`` is the simulation's (:meth:`extra_state`; a checkpoint
    written before it was kept lacks the keys of prefix :attr:`optional_state`); :meth:`close`
    releases what the learner holds."""

    optional_state = (STATE,)

    net: Network
    lrs: list[float]

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """The learner's ΔW_k, Δb_{k+1} on one mini-batch (not applied) and ŷ.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs of the mini-batch, shape (batch, n_0).
        d : numpy.ndarray
            One-hot targets, shape (batch, n_out).

        Returns
        -------
        dW : list of numpy.ndarray
            ΔW_k, shape (n_k, n_{k+1}), k = 0 … L−1 (Eq 26, the estimator's difference / scale·β).
        db : list of numpy.ndarray
            Δb_k of layers 1 … L, shape (n_k,).
        y : numpy.ndarray
            Free-phase output state ŷ, shape (batch, n_out).
        """
        raise NotImplementedError

    def predict(self, x: np.ndarray) -> np.ndarray:
        """The free phase's output state ŷ of ``x``.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (rows, n_0), rows ≤ batch.

        Returns
        -------
        numpy.ndarray
            ŷ, shape (rows, n_out); the prediction is its argmax.
        """
        raise NotImplementedError

    def update(self, idx: np.ndarray, x: np.ndarray, d: np.ndarray, lr_scale: float,
               rng: np.random.Generator) -> np.ndarray:
        """One training step: :meth:`delta`, then W_k += lr_k·lr_scale·ΔW_k and
        b_{k+1} += lr_k·lr_scale·Δb_{k+1} (:func:`~stdp_ebm.learning.apply_update`).

        Parameters
        ----------
        idx : numpy.ndarray
            Indices of the mini-batch's examples in the training set (unused here: the
            :class:`~stdp_ebm.learning.Learner` interface).
        x : numpy.ndarray
            Inputs, shape (batch, n_0).
        d : numpy.ndarray
            One-hot targets, shape (batch, n_out).
        lr_scale : float
            Factor on every layer's learning rate (the schedule's).
        rng : numpy.random.Generator
            The run's generator (unused: the spiking network draws from its own stream).

        Returns
        -------
        numpy.ndarray
            The free phase's ŷ, shape (batch, n_out).
        """
        dW, db, y = self.delta(x, d)
        apply_update(self.net, self.lrs, lr_scale, dW, db)
        return y

    def extra_state(self) -> dict[str, np.ndarray]:
        """State to checkpoint beyond ``net``: none here.

        Returns
        -------
        dict of str to numpy.ndarray
            Named arrays for the epoch's checkpoint (empty).
        """
        return {}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Load what :meth:`extra_state` gave: nothing here.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays.
        """
        return None

    def close(self) -> None:
        """Nothing to release here (the parallel learner stops its workers)."""


class SpikingLearner(DeltaLearner):
    """The rule synapses of one compiled :class:`SpikingNetwork` as a :class:`~stdp_ebm.learning.
    Learner` (see the module docstring); ``net`` is the learner's own parameters.

    Parameters
    ----------
    net : Network
        Initial weights W_k (n_k, n_{k+1}) and biases b_k (n_k,); the learner keeps a copy.
    rho : Rho
        The activation ρ (ρ_LIF of the spiking populations); ρ(x)·r_max is the input rate (Hz).
    sp : SpikingParams
        The ``[spiking]`` parameters (time step, phase lengths in ms, r_max in Hz, I_unit in nA,
        β, estimator, trials, …); ``learn`` is switched off (updates are applied per mini-batch).
    models : dict
        The Brian2 model files by role (:mod:`stdp_ebm.models`).
    seed : int
        Seed of the network's Brian2 random stream.
    batch : int
        Examples per mini-batch (the network holds batch × trials copies).
    lrs : list of float
        Learning rate lr_k of W_k and b_{k+1}, one per weight matrix, input side first.
    energy : Energy
        The energy function (Eq 6 or Hopfield's), which sets the teaching force d − o(ŷ).
    input_mode : str
        ``"poisson"`` or ``"current"`` (:data:`~stdp_ebm.spiking.learner_state.INPUTS`; see the
        module docstring).
    rule_dt_ms : float
        Step of the rule synapses (ms; 0: every simulation step).
    eval_free_ms : float or None
        Counting window of :meth:`predict` (ms, > 0), evaluated apart from training; None:
        ``sp.free_ms`` on the training stream.

    Raises
    ------
    ValueError
        If ``eval_free_ms`` is not a finite number > 0.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, seed: int, batch: int,
                 lrs: list[float], energy: Energy, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0, eval_free_ms: float | None = None) -> None:
        self.net, self.rho, self.lrs, self.energy = net.copy(), rho, lrs, energy
        self.input_mode = input_mode
        self.isolated = eval_free_ms is not None  # evaluations leave no trace in training
        self.eval_free_ms = float(sp.free_ms if eval_free_ms is None else eval_free_ms)
        if not (np.isfinite(self.eval_free_ms) and self.eval_free_ms > 0):
            raise ValueError(f"eval_free_ms = {eval_free_ms}: the counting window of an "
                             "evaluation must be a finite number of ms > 0")
        self._before_eval: dict | None = None  # the training state an evaluation started from
        self.sn = SpikingNetwork(shell_network(net, batch, input_mode), rho,
                                 sp.replace(learn=False), models, seed, rule_dt_ms=rule_dt_ms)
        if input_mode == "current":
            self.sn.set_input(np.zeros((batch, 1)))  # the stand-in input layer stays silent

    @property
    def batch(self) -> int:
        """Examples per mini-batch the network is compiled for."""
        return self.sn.batch

    def extra_state(self) -> dict[str, np.ndarray]:
        """The network's state and random numbers for training, as arrays (that before any
        evaluation since the last training step; see the module docstring).

        Returns
        -------
        dict of str to numpy.ndarray
            :func:`~stdp_ebm.spiking.learner_state.network_state_arrays` of the training state,
            names prefixed :data:`~stdp_ebm.spiking.learner_state.STATE`.
        """
        self._end_evaluation()
        return network_state_arrays(self.sn.checkpoint())

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Back to the state of :meth:`extra_state`'s ``arrays``, clock included. A checkpoint
        written before the state was kept has none: the run goes on with this network's state and
        random numbers (other noise than an uninterrupted run), and says so.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays (from :meth:`extra_state`).
        """
        self._end_evaluation()
        if not has_network_state(arrays, STATE):
            return
        self.sn.resume(network_state_from_arrays(arrays, self.sn.checkpoint()), same_time=True)

    def _load(self, x: np.ndarray) -> np.ndarray:
        """Clamp ``x`` (≤ batch rows, padded with its last row) and the current parameters;
        returns ρ(x) of the padded batch."""
        sn = self.sn
        rho_x = self.rho(pad_batch(x, sn.batch))
        if self.input_mode == "poisson":
            sn.set_input(rho_x)
            sn.set_parameters(self.net.W, self.net.b)
            return rho_x
        drive = np.tile(rho_x @ self.net.W[0], (sn.copies // sn.batch, 1))
        sn.set_parameters([np.zeros((1, self.net.sizes[1]))] + self.net.W[1:],
                          [np.zeros(1)] + self.net.b[1:], drive)
        return rho_x

    def _trial_mean(self, y: np.ndarray) -> np.ndarray:
        """ŷ (copies, n_out) averaged over the noise trials → (batch, n_out)."""
        return y.reshape(-1, self.sn.batch, y.shape[1]).mean(axis=0)

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """ΔW_k, Δb_{k+1} of the rule on one full mini-batch (not applied), and ŷ: the free
        phase and the ±β phases in one Brian2 run (:meth:`SpikingNetwork.episode`).

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (batch, n_0) (fewer rows are padded with the last).
        d : numpy.ndarray
            One-hot targets, shape (batch, n_out).

        Returns
        -------
        dW : list of numpy.ndarray
            ΔW_k = ⟨acc(+β) − acc(ref)⟩_copies / (scale·β), shape (n_k, n_{k+1}) (Eq 26, tied
            form); with the current input ΔW_0 = ⟨ρ(x)ᵀ(ρ_1^{+β}(T) − ρ_1^{ref}(T))⟩/(scale·β).
        db : list of numpy.ndarray
            Δb_k of layers 1 … L, shape (n_k,): the end-of-phase rate difference / (scale·β)
            (the bias term of Eq 6).
        y : numpy.ndarray
            Free-phase ŷ averaged over the noise trials, shape (batch, n_out).
        """
        sn = self.sn
        self._end_evaluation()
        rho_x = self._load(x)
        trials = sn.copies // sn.batch

        def force(y: np.ndarray) -> np.ndarray:
            return teaching_force(self.energy, self.rho, np.tile(self._trial_mean(y), (trials, 1)),
                                  np.tile(d, (trials, 1)))

        ep = sn.episode(force, [sn.sp.nudged_ms])  # symmetric
        plus, minus, two_beta = ep.plus, ep.reference, ep.divisor
        dW = [(p - m).mean(axis=0) / two_beta
              for p, m in zip(plus.acc[-1]["sym"], minus.acc[-1]["sym"])]
        end = [(p[-1] - m[-1]) / two_beta for p, m in zip(plus.rho[1:], minus.rho[1:])]
        if self.input_mode == "current":  # Eq 26 with a constant presynaptic rate ρ(x)
            dW[0] = np.tile(rho_x, (trials, 1)).T @ end[0] / sn.copies
        db = [e.mean(axis=0) for e in end]
        return dW, db, self._trial_mean(ep.y)

    def predict(self, x: np.ndarray) -> np.ndarray:
        """ŷ (≤ batch rows of ``x``) of a free phase that counts over ``eval_free_ms``; with a
        window given, the training state is saved first (once per evaluation) and restored by the
        next training step (see the module docstring).

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (rows, n_0), rows ≤ batch.

        Returns
        -------
        numpy.ndarray
            ŷ averaged over the noise trials, shape (rows, n_out); the prediction is its argmax.
        """
        if self.isolated and self._before_eval is None:
            self._before_eval = self.sn.checkpoint()
        self._load(x)
        return self._trial_mean(self.sn.free_phase(self.eval_free_ms)[1])[:len(x)]

    def full_state(self) -> dict[str, dict[str, np.ndarray] | None]:
        """All that the next :meth:`delta` or :meth:`predict` depends on besides its arguments and
        ``net``: the network's state and random numbers now (``"now"``) and, within an
        evaluation, the training state the next training step returns to (``"training"``, else
        None); as arrays (:func:`~stdp_ebm.spiking.learner_state.network_state_arrays`), for
        another process to load.

        Returns
        -------
        dict
            ``{"now": arrays, "training": arrays or None}``.
        """
        before = self._before_eval
        return {"now": network_state_arrays(self.sn.checkpoint()),
                "training": None if before is None else network_state_arrays(before)}

    def load_full_state(self, state: dict[str, dict[str, np.ndarray] | None]) -> None:
        """Back to :meth:`full_state`'s ``state``, clock included: a learner built with the same
        arguments then answers the next request with the bits the saved one would have.

        Parameters
        ----------
        state : dict
            A :meth:`full_state` of a learner built with the same arguments.
        """
        like = self.sn.checkpoint()
        now, training = state["now"], state["training"]
        assert now is not None
        self.sn.resume(network_state_from_arrays(now, like), same_time=True)
        self._before_eval = (None if training is None else
                             network_state_from_arrays(training, like))

    def _end_evaluation(self) -> None:
        """Back to the training state saved by the first :meth:`predict` since the last training
        step, clock and random numbers included; nothing if there was none."""
        if self._before_eval is not None:
            state, self._before_eval = self._before_eval, None
            self.sn.resume(state, same_time=True)
