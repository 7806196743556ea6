"""Shared fixtures: small networks and the standard configs of experiments/."""

from __future__ import annotations

import contextlib
import dataclasses
import io
from pathlib import Path

import numpy as np
import pytest

from stdp_ebm import cli, experiments
from stdp_ebm.config import CONFIGS_DIR
from stdp_ebm.network import network_from_config, random_network, save_network

REPO = Path(__file__).resolve().parent.parent
EXPERIMENTS = CONFIGS_DIR  # the shipped configs (the repository's experiments/ links here)


#: a seconds-long alignment run on a 6-8-4 net with two examples (runs, resumes and sweeps)
ALIGN_TINY = """
experiment = "alignment"
seed = 11
[network]
sizes = [6, 8, 4]
batch = 2
[alignment]
betas = [0.1, 0.01]
nudged_steps = [1, 5]
"""


def two_networks(tmp_path: Path, sizes=(6, 8, 4)) -> tuple[Path, Path]:
    """Two different random network files of layer ``sizes``."""
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"net{seed}.npz")
        save_network(random_network(list(sizes), np.random.default_rng(seed)), paths[-1])
    return paths[0], paths[1]


def small_config(sizes=(4, 6, 5, 3), batch=3, init_scale=0.6):
    """The [network] section of a small random network with ``batch`` examples."""
    from stdp_ebm.network import NetworkParams

    return NetworkParams(sizes=sizes, init_scale=init_scale, bias_low=0.2, bias_high=0.6,
                         batch=batch)


def _brian2_globals() -> tuple | None:
    """The process-wide Brian2 settings a test must not leave changed (None: Brian2 not loaded)."""
    import os
    import sys

    if "brian2" not in sys.modules:
        return None
    b2 = sys.modules["brian2"]
    return (b2.prefs.codegen.target, b2.prefs.codegen.runtime.cython.cache_dir,
            type(b2.get_device()).__name__, os.environ.get("CYTHON_CACHE_DIR"))


@pytest.fixture(autouse=True)
def _brian2_left_as_found():
    """Every test leaves Brian2's target, Cython cache and device as it found them: a leaked
    ``numpy`` target or cache directory would silently slow (recompile) every later test."""
    before = _brian2_globals()
    yield
    after = _brian2_globals()
    if before is not None and after != before:
        pytest.fail(f"Brian2's global settings changed (target, Cython cache, device, "
                    f"CYTHON_CACHE_DIR): {before} -> {after}")


@pytest.fixture
def codegen_target():
    """Sets Brian2's code generation target for one test (``codegen_target("numpy")``) and puts
    the caller's back afterwards (Brian2's preferences cannot be monkeypatched: they refuse the
    deletion monkeypatch may use to undo)."""
    import brian2 as b2

    before = b2.prefs.codegen.target

    def choose(target: str) -> None:
        b2.prefs.codegen.target = target

    yield choose
    b2.prefs.codegen.target = before


@pytest.fixture(scope="session")
def models():
    """The Brian2 neuron and synapse models (stdp_ebm/models/)."""
    from stdp_ebm.spiking import load_models

    return load_models()


def numpy_sp(**kw):
    """[spiking] with the defaults and ``kw``, on Brian2's numpy target (no compilation: tiny
    populations in seconds)."""
    from stdp_ebm.spiking import SpikingParams

    return SpikingParams(**{"codegen": "numpy", **kw})


@pytest.fixture
def small_net():
    """A 4-6-5-3 network with 3 random (x, target) examples."""
    return network_from_config(small_config(), np.random.default_rng(7))


@pytest.fixture
def no_run(monkeypatch):
    """An input that passes validation must not run: the test fails instead."""
    real_get = experiments.get

    def run(cfg, ctx):
        raise AssertionError("a generated bad input passed validation")

    monkeypatch.setattr(experiments, "get",
                        lambda name, source="config": dataclasses.replace(real_get(name, source),
                                                                          run=run))


def run_cli(argv: list[str]) -> tuple[int, str]:
    """``stdp-ebm argv`` in this process: (exit status, what it wrote on stderr); an argparse
    usage error's SystemExit becomes its status."""
    err = io.StringIO()
    with contextlib.redirect_stderr(err), contextlib.redirect_stdout(io.StringIO()):
        try:
            code = cli.main(argv)
        except SystemExit as exc:
            code = exc.code
    return code, err.getvalue()


#: the digits training config and overrides that make it a run of seconds (2 epochs)
DIGITS = REPO / "experiments" / "train_digits.toml"
QUICK = ["data.n_train=200", "data.n_test=100", "train.epochs=2", "network.sizes=[64,30,10]"]


def interrupt_digits_training(tmp_path: Path, monkeypatch) -> tuple[list[str], Path]:
    """A digits training run into ``tmp_path/run`` stopped by Ctrl-C in its backprop baseline,
    after the rule's 2 epochs were checkpointed: (its CLI arguments, its partial directory)."""
    from stdp_ebm.experiments import train as train_exp

    args = ["run", str(DIGITS), "--out", str(tmp_path / "run"), "--quiet"]
    args += [a for o in QUICK for a in ("--set", o)]

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    with monkeypatch.context() as m:
        m.setattr(train_exp, "train_bp", interrupted)
        assert run_cli(args)[0] == 130
    return args, tmp_path / ".run.partial"
