"""Hostile Brian2 model files: each is one line, exit status 2, within 60 s and 500 MB
(tests/fuzzing.py's bounds), before anything is simulated.

Classes: parameter values whose evaluation would not end or overflows (``"9**999999999"``,
``"10**400"``), a ``neuron`` key naming the file itself or another synapse (a chain or a cycle),
TOML nested 100,000 deep, a 2 GiB (sparse) file, and ``[initial]`` expressions that are not
expressions or name nothing. Cases are generated (hypothesis) where a class has many members; the
exact inputs of the report run through the CLI (``stdp-ebm run stdp_window --set
spiking.synapse=FILE``), the rest through :func:`stdp_ebm.models.load_model`.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest
import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from fuzzing import bounded, check
from test_fuzz import SETTINGS

pytest.importorskip("brian2")

from stdp_ebm.errors import ModelFileError  # noqa: E402
from stdp_ebm.models import MAX_MODEL_BYTES, MODELS_DIR, load_model, parse_quantity  # noqa: E402

PAIR = (MODELS_DIR / "pair_stdp.toml").read_text()


def edited(old: str, new: str) -> str:
    assert old in PAIR
    return PAIR.replace(old, new)


def cli_case(kind: str, tmp: Path, text: str | None = None, path: Path | None = None,
             key: str = "synapse") -> None:
    """The model file as the rule under test (or the neuron) of stdp_window: one line, exit 2,
    nothing left."""
    if path is None:
        path = tmp / "rule.toml"
        path.write_text(text or "")
    work = tmp / "work"
    work.mkdir()
    check(kind, ["run", "stdp_window", "--out", str(work / "out"), "--quiet",
                 "--set", f"spiking.{key}={path}"], work)


def refused(kind: str, path: Path, match: str) -> None:
    with bounded(kind), pytest.raises(ModelFileError, match=match) as info:
        load_model(path)
    assert "\n" not in str(info.value)


# --- parameter values: bounded parsing -------------------------------------------------------------
@pytest.mark.parametrize("value", ["9**999999999", "10**400"])
def test_report_quantities_are_one_line_in_the_cli(tmp_path, value):
    cli_case("model quantities", tmp_path, edited('Apre = "0.01"', f'Apre = "{value}"'))


UNBOUNDED = st.one_of(
    st.builds(lambda b, n: f"{b}**{n}", st.integers(2, 10**9), st.integers(33, 10**12)),
    st.builds(lambda b, n: f"({b}*ms)**{n}", st.integers(2, 99), st.integers(33, 10**6)),
    st.builds(lambda k: "*".join(["1e300"] * k), st.integers(2, 60)),
    st.builds(lambda k: "1e-300" + "/1e300" * k, st.integers(1, 60)),
    st.builds(lambda d: "1" * d, st.integers(310, 5000)),
    st.builds(lambda k: "(" * k + "1" + ")" * k, st.integers(100, 100_000)),
    st.builds(lambda k: "-" * k + "1", st.integers(201, 100_000)),
    st.sampled_from(["1/0", "1*ms/0", "0**-1", "1e999", "2**0.5", "ms**ms", "10**400"]),
)


@settings(max_examples=60, **SETTINGS)
@given(UNBOUNDED)
def test_unbounded_quantities_are_refused_in_bounded_work(text):
    with bounded("model quantities"), pytest.raises(ModelFileError) as info:
        parse_quantity(text, "[parameters] x")
    assert "\n" not in str(info.value)


def test_bounded_quantities_still_parse():
    from brian2 import ms, nA

    assert parse_quantity("0.5*nA/ms**2") == 0.5 * nA / ms ** 2
    assert parse_quantity("2**10") == 1024.0
    assert parse_quantity("ms**-1") == 1 / ms
    assert parse_quantity("1e300*1e-300") == 1.0


@pytest.mark.parametrize("code", ["delta_w += apost*9**999999999",
                                  "delta_w += apost*1" + "0" * 60])
def test_unbounded_numbers_in_code_strings_are_refused_before_brian2(tmp_path, code):
    path = tmp_path / "rule.toml"
    path.write_text(edited("delta_w += apost", code))
    refused("model code", path, "a power larger than|digits")


# --- the neuron a synapse names: no self-reference, no chain, no cycle --------------------------
def test_a_synapse_naming_itself_is_one_line_in_the_cli(tmp_path):
    cli_case("model references", tmp_path,
             edited('neuron = "lif_neuron"', 'neuron = "rule"'))


@pytest.mark.parametrize("length", [2, 3, 50])
def test_chains_and_cycles_of_synapse_files_are_refused(tmp_path, length):
    """syn0 → syn1 → … → syn{length-1} → syn0: each names the next as its neuron."""
    for k in range(length):
        (tmp_path / f"syn{k}.toml").write_text(
            edited('neuron = "lif_neuron"', f'neuron = "syn{(k + 1) % length}"'))
    refused("model references", tmp_path / "syn0.toml", "is a synapse model")


def test_a_shipped_synapse_named_as_neuron_is_refused(tmp_path):
    (tmp_path / "rule.toml").write_text(edited('neuron = "lif_neuron"', 'neuron = "pair_stdp"'))
    refused("model references", tmp_path / "rule.toml", "must name a neuron model")


# --- huge and deep files: read within bounds ------------------------------------------------------
@pytest.mark.parametrize("text", [
    "x = " + "[" * 100_000 + "]" * 100_000,           # 200 kB: parses into a RecursionError
    "x = " + "{a = " * 100_000 + "1" + "}" * 100_000,  # 600 kB: over the size cap
    ".".join(["a"] * 100_000) + " = 1",                # dotted key: quadratic in tomllib
    PAIR + "\n" + "# padding\n" * (MAX_MODEL_BYTES // 10),
], ids=["arrays-100000-deep", "tables-100000-deep", "dotted-100000", "over-the-cap"])
def test_deep_and_large_files_are_one_line_in_the_cli(tmp_path, text):
    cli_case("model files", tmp_path, text)


@pytest.mark.parametrize("key", ["synapse", "neuron"])
def test_a_2_gib_sparse_model_file_is_refused_without_reading_it(tmp_path, key):
    path = tmp_path / "huge.toml"
    path.write_text(PAIR)
    os.truncate(path, 2 << 30)  # sparse: no disk space used, 2 GiB to read
    cli_case("model files", tmp_path, path=path, key=key)
    refused("model files", path, f"larger than {MAX_MODEL_BYTES} bytes")


def test_a_hostile_neuron_file_is_refused_before_any_simulation(tmp_path):
    neuron = (MODELS_DIR / "lif_neuron.toml").read_text()
    assert 'tau_m = "20*ms"' in neuron
    cli_case("model quantities", tmp_path, neuron.replace('tau_m = "20*ms"',
                                                          'tau_m = "9**999999999*ms"'),
             key="neuron")


# --- [initial]: checked at load ---------------------------------------------------------------------
def test_an_initial_syntax_error_is_one_line_in_the_cli(tmp_path):
    cli_case("model initial", tmp_path, edited('w0 = "1"', 'w0 = "1 +"'))


INITIAL = st.one_of(
    st.sampled_from(["1 +", "(", "*ms", "w0 = 2", "lambda: 1", "1 if", "9**999999999",
                     "unknown_name", "1*mV", "E_L", "rand(", "'text'", "[1, 2]", "{}", ""]),
    st.text(alphabet="()+-*/=<>,;:.[]{} 0123456789abcxyz_", min_size=1, max_size=40),
)


@settings(max_examples=12, **SETTINGS)
@given(INITIAL)
def test_generated_initial_values_load_or_are_refused_in_one_line(tmp_path_factory, expr):
    """Any [initial] value either loads (a valid dimensionless expression) or is refused at load
    in one line; it never reaches Brian2's run."""
    path = tmp_path_factory.mktemp("initial") / "rule.toml"
    path.write_text(edited('w0 = "1"', tomli_w.dumps({"w0": expr}).strip()))
    with bounded("model initial"):
        try:
            model = load_model(path)
        except ModelFileError as exc:
            assert "\n" not in str(exc)
            return
    assert model.initial["w0"] == expr


def test_initial_errors_name_the_problem(tmp_path):
    for expr, match in (("1 +", "is not an expression"), ("unknown_name", "unknown_name"),
                        ("1*mV", "unit|dimension|Dimension")):
        path = tmp_path / "rule.toml"
        path.write_text(edited('w0 = "1"', f'w0 = "{expr}"'))
        refused("model initial", path, match)


def test_zz_print_the_measured_bounds():
    """The worst case of each model-file class (run with -s; pytest runs this file in order)."""
    from fuzzing import MEASURED, PEAK_MB, WALL_S

    ours = {k: v for k, v in MEASURED.items() if k.startswith("model")}
    for kind, worst in sorted(ours.items()):
        print(f"{kind:24s} {worst}")
    assert all(w["traced_MB"] < PEAK_MB and w["wall_s"] < WALL_S for w in ours.values())
