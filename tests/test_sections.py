"""Typed parameters (stdp_ebm.sections): one frozen dataclass per config section, checked when made,
whichever path makes it; the library's science modules take them, never raw dicts."""

from __future__ import annotations

import ast
import dataclasses
import os
from pathlib import Path

import pytest
from hypothesis import given, settings, strategies as st

import stdp_ebm
from stdp_ebm import experiments
from stdp_ebm.errors import ConfigError
from stdp_ebm.learning import TrainParams
from stdp_ebm.network import NetworkParams
from stdp_ebm.rate import DynamicsParams
from stdp_ebm.sections import Section
from stdp_ebm.spiking.calibration import CalibrationParams
from stdp_ebm.spiking.learner import LearnerParams
from stdp_ebm.spiking.params import SpikingParams

from conftest import EXPERIMENTS

SECTIONS = [NetworkParams, DynamicsParams, TrainParams, SpikingParams, CalibrationParams,
            LearnerParams]
PACKAGE = Path(stdp_ebm.__file__).parent
#: modules that handle whole configs as data (validate, hash, write, expand sweeps, bound memory
#: before a run, turn a config's table into its typed section): the boundary, where raw config
#: dicts belong
BOUNDARY = ("experiments", "sweep", "config.py", "runner.py", "cli.py", "rundir.py", "resumable.py",
            "inputs.py", "resources.py", "sections.py")


@pytest.mark.parametrize("cls", SECTIONS, ids=lambda c: c.__name__)
def test_each_section_is_frozen_and_its_schema_is_its_fields(cls):
    made = cls()
    schema = cls.schema()
    assert schema.params is cls
    assert list(schema) == [f.name for f in dataclasses.fields(cls)]
    for name, key in schema.items():
        value = getattr(made, name)
        assert (list(value) if isinstance(value, tuple) else value) == key.default, name
    with pytest.raises(dataclasses.FrozenInstanceError):
        made.__setattr__(next(iter(schema)), None)


def test_a_key_no_schema_declares_cannot_be_added():
    with pytest.raises(ConfigError, match=r"unknown key \[spiking\] neurons_per_unt; did you mean "
                                          "'neurons_per_unit'"):
        SpikingParams.from_mapping({"neurons_per_unt": 10})
    with pytest.raises(TypeError):
        SpikingParams(rule_dt_ms=1.0)  # type: ignore[call-arg]


@pytest.mark.parametrize("make, message", [
    (lambda: NetworkParams(bias_low=0.7, bias_high=0.1),
     r"^\[network\] bias_low = 0\.7: must be <= bias_high = 0\.1$"),
    (lambda: DynamicsParams(beta1=1.0, beta2=0.0), r"^\[dynamics\] beta1 = 1\.0: must be < beta2"),
    (lambda: CalibrationParams(s_min=2.0, s_max=1.0), r"^\[calibration\] s_min = 2\.0: must be <"),
    (lambda: SpikingParams().replace(neurons_per_unit=0), r"^\[spiking\] neurons_per_unit = 0: "),
    (lambda: TrainParams(lrs=[]), r"^\[train\] lrs = \[\]: must be a list of numbers"),
])
def test_checks_run_whichever_way_a_section_is_made(make, message):
    with pytest.raises(ConfigError, match=message):
        make()


@pytest.mark.parametrize("config", ["train_digits", "train_spiking_quick", "alignment"])
def test_every_experiment_refuses_an_inverted_bias_range_in_one_line(config):
    """train_digits and train_spiking_quick read a subset of [network]: the class checks it too."""
    from stdp_ebm.runner import resolve

    with pytest.raises(ConfigError, match=r"\[network\] bias_low = 0\.9: must be <= bias_high"):
        resolve(EXPERIMENTS / f"{config}.toml", ["network.bias_low=0.9", "network.bias_high=0.1"])


KINDS = {"int": st.integers(-10**9, 10**9), "float": st.floats(allow_nan=True),
         "bool": st.booleans(), "str": st.text(max_size=5)}


@settings(max_examples=200, deadline=None)
@given(cls=st.sampled_from(SECTIONS), data=st.data())
def test_any_value_is_a_valid_section_or_one_config_error_naming_the_key(cls, data):
    key_name = data.draw(st.sampled_from([f.name for f in dataclasses.fields(cls)]))
    value = data.draw(st.one_of(*KINDS.values(), st.lists(st.floats(), max_size=3)))
    try:
        made = cls.from_mapping({key_name: value})
    except ConfigError as exc:
        text = str(exc)
        assert "\n" not in text and text.startswith(f"[{cls.SECTION}] ")
    else:
        assert isinstance(made, Section)


def test_the_worker_count_is_checked_when_the_run_starts_not_when_the_config_is_read(monkeypatch):
    """A stored config with more workers than this machine has cores validates (so ``plot`` and
    ``--resume`` work on any machine); building the learner refuses it in one line."""
    from stdp_ebm.experiments.train_spiking import build
    from stdp_ebm.runner import resolve

    monkeypatch.setattr(os, "cpu_count", lambda: 1)
    cfg, _ = resolve(EXPERIMENTS / "train_spiking_quick.toml", ["learner.workers=2"])
    assert cfg["learner"]["workers"] == 2
    with pytest.raises(ConfigError, match=r"^\[learner\] workers = 2: at most the 1 cores"):
        build(cfg, experiments.RunContext(seeds=stdp_ebm.Seeds(1)), None)


def _dict_parameters(path: Path) -> list[str]:
    """``name: dict``/``Mapping`` parameters of the functions in ``path`` named like a config."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            for arg in node.args.args + node.args.kwonlyargs:
                note = ast.unparse(arg.annotation) if arg.annotation else ""
                if arg.arg in ("cfg", "sp", "sec", "calib", "config") and \
                        note.split("[")[0] in ("dict", "Mapping"):
                    found.append(f"{path.relative_to(PACKAGE)}:{node.lineno} {node.name}({arg.arg})")
    return found


def test_the_science_modules_take_typed_sections_not_config_dicts():
    offenders = [hit for path in sorted(PACKAGE.rglob("*.py"))
                 if not str(path.relative_to(PACKAGE)).startswith(BOUNDARY)
                 for hit in _dict_parameters(path)]
    assert not offenders, offenders
