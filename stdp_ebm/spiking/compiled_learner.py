"""The spiking learner trained by the compiled episode (``[learner] engine = "standalone"``).

:class:`CompiledSpikingLearner` is :class:`~stdp_ebm.spiking.learner.SpikingLearner` whose
mini-batches run as one run each of an :class:`~stdp_ebm.spiking.episode_program.EpisodeProgram`
(free phase, +β and reference phases and the rule's ΔW in one ``cpp_standalone`` program, compiled
once): the same estimator (Eq 26, ΔW_k = ⟨acc(+β) − acc(ref)⟩/(scale·β)), no Python between the
phases. Evaluation (:meth:`~stdp_ebm.spiking.learner.SpikingLearner.predict`) stays on the Cython
network the learner also compiles, which does not take part in training.

Random numbers: mini-batch k runs with seed ``SeedSequence([seed, k])`` (the program's own
generators, not numpy's), from the network state the previous mini-batch ended in. Both, and the
evaluation network's state, go in the epoch's checkpoint (:meth:`extra_state`), so a resumed run
gives the bits of an uninterrupted one. Results equal the Cython learner's in distribution, not to
the bit (:mod:`stdp_ebm.spiking.episode_program`).

Brian2's standalone device is process-wide, one program per process: the learner is built in a
worker process of its own (:class:`~stdp_ebm.spiking.pool.ParallelSpikingLearner`, or a Dask
worker's), never in the caller's; the program's C++ files live in a temporary directory removed by
:meth:`close`.
"""

from __future__ import annotations

import shutil
import tempfile

import numpy as np

from ..activation import Rho
from ..energy import Energy
from ..network import Network
from .episode_program import EpisodeProgram
from .learner import SpikingLearner
from .learner_state import STATE
from .params import SpikingParams

__all__ = ["CompiledSpikingLearner", "PROGRAM"]

#: the prefix of the compiled episode's state in a checkpoint (inside the learner's ``brian2_``)
PROGRAM = STATE + "program_"


class CompiledSpikingLearner(SpikingLearner):
    """:class:`SpikingLearner` trained by a compiled :class:`EpisodeProgram` (module docstring).

    Parameters
    ----------
    net, rho, sp, models, seed, batch, lrs, energy, input_mode, rule_dt_ms, eval_free_ms
        As for :class:`~stdp_ebm.spiking.learner.SpikingLearner`; the rule must be rate-form
        (``population_rule``). ``seed`` seeds the evaluation network and, with the mini-batch's
        index, each run of the program.

    Raises
    ------
    ConfigError
        With a spike-form rule.
    DeviceError
        If a standalone program was already built in this process.
    """

    def __init__(self, net: Network, rho: Rho, sp: SpikingParams, models: dict, seed: int,
                 batch: int, lrs: list[float], energy: Energy, input_mode: str = "poisson",
                 rule_dt_ms: float = 0.0, eval_free_ms: float | None = None) -> None:
        self.directory = tempfile.mkdtemp(prefix="stdp-ebm-episode-")
        try:
            self.program = EpisodeProgram(net, rho, sp, models, batch, energy, self.directory,
                                          input_mode, rule_dt_ms)
            super().__init__(net, rho, sp, models, seed, batch, lrs, energy, input_mode,
                             rule_dt_ms, eval_free_ms)
        except BaseException:
            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self.seed, self.step = int(seed), 0
        self.program_state: dict[str, np.ndarray] | None = None  # None: the initial state

    def delta(self, x: np.ndarray, d: np.ndarray) -> tuple[list, list, np.ndarray]:
        """ΔW_k, Δb_{k+1} of the rule on one mini-batch (not applied) and ŷ: one program run.

        Parameters
        ----------
        x : numpy.ndarray
            Inputs, shape (batch, n_0) (fewer rows are padded with the last).
        d : numpy.ndarray
            One-hot targets, shape (batch, n_out).

        Returns
        -------
        dW : list of numpy.ndarray
            ΔW_k, shape (n_k, n_{k+1}) (Eq 26, the estimator's difference / scale·β).
        db : list of numpy.ndarray
            Δb_k of layers 1 … L, shape (n_k,).
        y : numpy.ndarray
            Free-phase ŷ averaged over the noise trials, shape (rows, n_out).
        """
        self._end_evaluation()
        seed = int(np.random.SeedSequence([self.seed, self.step]).generate_state(1)[0])
        result = self.program.delta(self.net.W, self.net.b, x, d, seed, self.program_state)
        self.step += 1
        self.program_state = result.state
        return result.dW, result.db, result.y

    def _program_arrays(self) -> dict[str, np.ndarray]:
        out = {PROGRAM + "step": np.array(self.step, np.int64)}
        out.update({PROGRAM + k: v for k, v in (self.program_state or {}).items()})
        return out

    def _load_program(self, arrays: dict[str, np.ndarray]) -> None:
        self.step = int(arrays.get(PROGRAM + "step", 0))
        state = {k[len(PROGRAM):]: np.asarray(v) for k, v in arrays.items()
                 if k.startswith(PROGRAM) and k != PROGRAM + "step"}
        self.program_state = state or None

    def extra_state(self) -> dict[str, np.ndarray]:
        """The evaluation network's state (:meth:`SpikingLearner.extra_state`), the program's
        network state and the mini-batch counter that seeds its next run.

        Returns
        -------
        dict of str to numpy.ndarray
            Named arrays for the epoch's checkpoint (prefix ``brian2_``; the program's
            ``brian2_program_``).
        """
        return {**super().extra_state(), **self._program_arrays()}

    def load_extra_state(self, arrays: dict[str, np.ndarray]) -> None:
        """Back to the state of :meth:`extra_state`'s ``arrays``.

        Parameters
        ----------
        arrays : dict of str to numpy.ndarray
            The checkpoint's arrays (from :meth:`extra_state`).
        """
        super().load_extra_state(arrays)
        self._load_program(arrays)

    def full_state(self) -> dict[str, dict[str, np.ndarray] | None]:
        """:meth:`SpikingLearner.full_state` with the program's state and counter (``"program"``).

        Returns
        -------
        dict
            ``{"now": arrays, "training": arrays or None, "program": arrays}``.
        """
        return {**super().full_state(), "program": self._program_arrays()}

    def load_full_state(self, state: dict[str, dict[str, np.ndarray] | None]) -> None:
        """Back to :meth:`full_state`'s ``state``.

        Parameters
        ----------
        state : dict
            A :meth:`full_state` of a learner built with the same arguments.
        """
        super().load_full_state(state)
        program = state["program"]
        assert program is not None
        self._load_program(program)

    def close(self) -> None:
        """Remove the program's directory."""
        shutil.rmtree(self.directory, ignore_errors=True)
