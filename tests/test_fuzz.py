"""Fuzzing the boundary: generated bad configs, network files and CLI flags, fed to ``cli.main``.

Every input is bad by construction (from the schemas' documented kinds and ranges, for every
registered experiment, and from the network-file contract, not from the validator's code). Each must give exit status 2 with exactly
one line on stderr, no traceback, and leave no directory behind (neither the run directory nor a
temporary sibling). The experiment's ``run`` is replaced by one that fails the test, so an input
that slips through validation is caught instead of being run. Counts: 350 + 210 + 60 distinct
inputs (>= 500 together), derandomized so that CI is deterministic. Hostile, huge and damaged input
(bombs, deep nesting, OS errors, damaged run directories, a locked --out), each case with its memory
and time bounded, is fuzzed in test_fuzz_hostile.py (kept apart to keep each file short).
"""

from __future__ import annotations

import copy
import dataclasses
import io
import math
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from stdp_ebm import experiments
from stdp_ebm.config import TOP_LEVEL, Key
from stdp_ebm.network import random_network

from conftest import run_cli

SETTINGS = dict(deadline=None, database=None, derandomize=True,
                suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
NAMES = sorted(experiments.REGISTRY)
SCHEMAS = {name: experiments.get(name).schema for name in NAMES}
BASES: dict[str, dict[str, Any]] = {
    name: {"experiment": name, "seed": 3,
           **{s: {k: key.default for k, key in keys.items()} for s, keys in schema.items()}}
    for name, schema in SCHEMAS.items()}
BASES["alignment"]["network"].update(sizes=[6, 8, 4], batch=2)
BASE = BASES["alignment"]  # the valid config beside bad network files and flags
KEYS = {name: [(s, k, key) for s, keys in schema.items() for k, key in keys.items()]
        for name, schema in SCHEMAS.items()}
NAME = st.from_regex(r"[a-z][a-z_]{0,10}", fullmatch=True)
INT = st.integers(-(2**62), 2**62)
FLOAT = st.floats(-1e12, 1e12, allow_nan=False)
TEXT = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)), max_size=6)
WRONG_TYPE = st.one_of(TEXT, st.dictionaries(st.sampled_from("ab"), st.integers(0, 9), min_size=1))


@pytest.fixture(autouse=True)
def _never_run(no_run):
    """Every case here is bad input (the shared ``no_run`` fixture of conftest.py)."""


# --- bad values from a Key's documented kind and range ----------------------------------------------
def _below(key: Key) -> st.SearchStrategy:
    if key.kind in ("int", "ints"):
        return st.integers(-(2**62), math.ceil(key.low) - (0 if key.open_low else 1))
    return st.floats(max_value=key.low, exclude_max=not key.open_low, allow_nan=False,
                     allow_infinity=False, min_value=-1e300)


def _above(key: Key) -> st.SearchStrategy:  # key.upper: high, or the ceiling of every int key
    if key.kind in ("int", "ints"):
        low = math.floor(key.upper) + (0 if key.open_high else 1)
        return st.integers(low, max(2**62, 4 * low))
    return st.floats(min_value=key.upper, exclude_min=not key.open_high, allow_nan=False,
                     allow_infinity=False, max_value=1e300)


def bad_scalar(key: Key) -> st.SearchStrategy:
    if key.kind == "bool":
        return st.one_of(WRONG_TYPE, INT, FLOAT, st.lists(st.booleans(), max_size=2))
    if key.kind == "str":
        wrong = TEXT.filter(lambda t: t not in key.choices) if key.choices else st.nothing()
        return st.one_of(INT, FLOAT, st.booleans(), st.lists(TEXT, max_size=2), wrong)
    out = [WRONG_TYPE, st.booleans(), st.lists(FLOAT, min_size=1, max_size=2),
           st.sampled_from([math.nan, math.inf, -math.inf])]
    if key.kind in ("int", "ints"):
        out.append(st.integers(-1000, 1000).map(lambda i: i + 0.5))
    if key.low is not None:
        out.append(_below(key))
    if key.upper is not None:
        out.append(_above(key))
    return st.one_of(out)


def good_scalar(key: Key) -> st.SearchStrategy:
    lo = key.low if key.low is not None else -10.0
    hi = key.high if key.high is not None else lo + 10.0
    if key.kind == "ints":
        return st.integers(math.floor(lo) + 1, math.ceil(hi) - 1)  # strictly inside the range
    return st.floats(lo, hi, exclude_min=True, exclude_max=True)


def bad_value(key: Key) -> st.SearchStrategy:
    if key.kind not in ("floats", "ints"):
        return bad_scalar(key)
    item = dataclasses.replace(key, kind=key.kind[:-1])
    with_bad_item = st.tuples(st.lists(good_scalar(key), max_size=2), bad_scalar(item),
                              st.lists(good_scalar(key), max_size=2)).map(lambda t: t[0] + [t[1]] + t[2])
    out = [WRONG_TYPE, INT, FLOAT, with_bad_item]
    if key.min_len > 0:
        out.append(st.lists(good_scalar(key), max_size=key.min_len - 1))  # too short
    return st.one_of(out)


# --- bad configs ------------------------------------------------------------------------------------
def _set(cfg: dict, section: str | None, key: str, value: Any) -> dict:
    (cfg if section is None else cfg[section])[key] = value
    return cfg


@st.composite
def bad_key_value(draw, exp: str) -> dict:
    section, name, key = draw(st.sampled_from(KEYS[exp]))
    return _set(copy.deepcopy(BASES[exp]), section, name, draw(bad_value(key)))


@st.composite
def unknown_name(draw, exp: str) -> dict:
    schema = SCHEMAS[exp]
    section = draw(st.sampled_from([None, *schema]))
    known = set(TOP_LEVEL) | set(schema) | {"sweep"} if section is None else set(schema[section])
    name = draw(NAME.filter(lambda n: n not in known))
    value = draw(st.one_of(INT, TEXT, st.dictionaries(NAME, INT, max_size=2)))
    return _set(copy.deepcopy(BASES[exp]), section, name, value)


@st.composite
def bad_top_level(draw, exp: str) -> dict:
    cfg = copy.deepcopy(BASES[exp])
    what = draw(st.sampled_from(["experiment", "no_experiment", "seed", "section"]))
    if what == "experiment":
        cfg["experiment"] = draw(st.one_of(TEXT.filter(lambda t: t not in experiments.REGISTRY),
                                           INT, st.booleans()))
    elif what == "no_experiment":
        del cfg["experiment"]
    elif what == "seed":
        cfg["seed"] = draw(bad_scalar(TOP_LEVEL["seed"]))
    else:
        cfg[draw(st.sampled_from(list(SCHEMAS[exp])))] = draw(st.one_of(INT, TEXT,
                                                                        st.lists(INT, max_size=2)))
    return cfg


@st.composite
def bad_cross_key(draw) -> dict:
    """The cross-key checks of the shared [dynamics] and [network] sections (alignment's)."""
    cfg = copy.deepcopy(BASE)
    low = draw(st.floats(-5, 5))
    high = low - draw(st.floats(0, 5))
    if draw(st.booleans()):
        cfg["dynamics"].update(beta1=low, beta2=high)  # needs beta1 < beta2: here beta1 >= beta2
    else:
        cfg["network"].update(bias_low=low + 1e-3 + abs(low) * 1e-3, bias_high=high)
    return cfg


@st.composite
def bad_sweep(draw, exp: str) -> dict:
    cfg = copy.deepcopy(BASES[exp])
    schema, keys = SCHEMAS[exp], KEYS[exp]
    section, name, key = draw(st.sampled_from(keys))
    path = f"{section}.{name}"
    table = draw(st.sampled_from(["grid", "zip"]))
    what = draw(st.sampled_from(["empty", "unknown_key", "unknown_path", "not_list", "empty_list",
                                 "bad_item", "zip_lengths", "seeds", "timeout", "not_table"]))
    good = draw(st.lists(st.just(key.default), min_size=1, max_size=3))
    sweep = {"seeds": 2}
    if what == "empty":
        sweep = draw(st.sampled_from([{}, {table: {}}]))
    elif what == "unknown_key":
        sweep[draw(NAME.filter(lambda n: n not in ("grid", "zip", "seeds", "timeout")))] = 1
    elif what == "unknown_path":
        sweep[table] = {draw(NAME.filter(lambda n: n not in schema)) + "." + name: good}
    elif what == "not_list":
        sweep[table] = {path: draw(st.one_of(INT, TEXT, st.booleans()))}
    elif what == "empty_list":
        sweep[table] = {path: []}
    elif what == "bad_item":
        sweep[table] = {path: good + [draw(bad_value(key))]}
    elif what == "zip_lengths":
        other = draw(st.sampled_from([k for k in keys if k[:2] != (section, name)]))
        sweep["zip"] = {path: good, f"{other[0]}.{other[1]}": good + [other[2].default]}
    elif what == "seeds":
        sweep["seeds"] = draw(st.one_of(st.integers(-5, 0), FLOAT.filter(lambda f: f != int(f)),
                                        TEXT, st.just([]), st.just([1, 1]),
                                        st.lists(st.integers(-9, -1), min_size=1, max_size=2)))
    elif what == "timeout":
        sweep["timeout"] = draw(st.one_of(st.floats(max_value=0.0, allow_nan=False), TEXT,
                                          st.sampled_from([math.nan, math.inf])))
    else:
        sweep = draw(st.one_of(INT, TEXT))
    cfg["sweep"] = sweep
    return cfg


def toml_text(cfg: dict) -> str:
    return tomli_w.dumps(cfg)


@st.composite
def syntax_error(draw) -> str:
    lines = toml_text(BASE).splitlines()
    at = draw(st.integers(0, len(lines)))
    junk = draw(st.sampled_from(["= broken [", "[network", "key = ", 'x = "open', "[[]]",
                                 "sizes = [1, 2", "a.b.c = {"]))
    return "\n".join(lines[:at] + [junk] + lines[at:]) + "\n"


def bad_config(exp: str) -> st.SearchStrategy:
    return st.one_of(bad_key_value(exp), unknown_name(exp), bad_top_level(exp),
                     bad_sweep(exp)).map(toml_text)


CONFIGS = st.one_of(st.sampled_from(NAMES).flatmap(bad_config), bad_cross_key().map(toml_text),
                    syntax_error(), st.binary(max_size=64), TEXT)


# --- bad network files ------------------------------------------------------------------------------
def valid_arrays() -> dict[str, np.ndarray]:
    net = random_network([6, 8, 4], np.random.default_rng(0))
    arrays = {f"W_{k}": w for k, w in enumerate(net.W)} | {f"b_{k}": b for k, b in enumerate(net.b)}
    return arrays | {"x": np.full((2, 6), 0.5), "target": np.full((2, 4), 0.2)}


@st.composite
def bad_network(draw) -> bytes | dict[str, np.ndarray]:
    arrays = valid_arrays()
    name = draw(st.sampled_from(sorted(arrays)))
    what = draw(st.sampled_from(["drop", "extra", "shape", "transpose", "nonfinite", "dtype",
                                 "scalar", "batch", "not_npz", "truncated"]))
    if what == "drop":
        del arrays[draw(st.sampled_from([n for n in arrays if n[0] in "Wb"]))]
    elif what == "extra":
        extra = draw(st.one_of(st.sampled_from(["B_1", "W_1_T", "W_fb_0", "bias", "data"]),
                               NAME).filter(lambda n: n not in arrays))
        arrays[extra] = np.zeros(draw(st.integers(1, 4)))
    elif what == "shape":
        shape = draw(st.lists(st.integers(1, 9), min_size=1, max_size=3).map(tuple)
                     .filter(lambda s: s != arrays[name].shape and not (name in ("x", "target")
                             and len(s) == 1 and s[0] == arrays[name].shape[-1])
                             and not (name in ("x", "target") and len(s) == 2
                                      and s[1] == arrays[name].shape[-1])))
        arrays[name] = np.zeros(shape)
    elif what == "transpose":
        arrays[name] = arrays[name].T if arrays[name].ndim == 2 else arrays[name][:, None]
    elif what == "nonfinite":
        flat = arrays[name].astype(float).ravel()
        flat[draw(st.integers(0, flat.size - 1))] = draw(st.sampled_from([np.nan, np.inf, -np.inf]))
        arrays[name] = flat.reshape(arrays[name].shape)
    elif what == "dtype":
        arrays[name] = draw(st.sampled_from([lambda a: a.astype(complex), lambda a: a.astype(str),
                                             lambda a: a > 0, lambda a: a.astype(object)]))(arrays[name])
    elif what == "scalar":
        arrays[name] = np.float64(draw(FLOAT))
    elif what == "batch":
        arrays["x"] = np.full((draw(st.integers(2, 5)), 6), 0.5)
        arrays["target"] = np.full((len(arrays["x"]) + draw(st.integers(1, 3)), 4), 0.5)
    elif what == "not_npz":
        return draw(st.binary(max_size=200))
    else:
        buf = io.BytesIO()
        np.savez(buf, **arrays)
        data = buf.getvalue()
        return data[:draw(st.integers(0, len(data) - 1))]
    return arrays


def write_network(path: Path, net: bytes | dict[str, np.ndarray]) -> None:
    if isinstance(net, bytes):
        path.write_bytes(net)
    else:
        with open(path, "wb") as f:
            np.savez(f, **net)


# --- bad CLI flags ----------------------------------------------------------------------------------
OPTIONS = ("set", "out", "network", "workers", "scheduler", "resume", "quiet", "help",
           "allow-nonfinite")


def _positive(text: str) -> bool:
    try:
        return int(text) >= 1
    except ValueError:
        return False


def _toml_value(value: Any) -> str:
    return tomli_w.dumps({"v": value}).partition("=")[2].strip()


@st.composite
def bad_flags(draw) -> list[str]:
    what = draw(st.sampled_from(["workers", "set", "set_unknown", "set_syntax", "scheduler",
                                 "network", "resume", "option", "plot"]))
    if what == "workers":
        return ["--workers", draw(st.one_of(st.integers(-5, 0).map(str),
                                            TEXT.filter(lambda t: not _positive(t))))]
    if what == "set":
        section, name, key = draw(st.sampled_from(KEYS["alignment"]))
        value = draw(bad_value(key).filter(lambda v: not isinstance(v, dict)))
        return ["--set", f"{section}.{name}={_toml_value(value)}"]
    if what == "set_unknown":
        return ["--set", f"{draw(st.sampled_from(list(SCHEMAS['alignment'])))}.{draw(NAME)}x=1"]
    if what == "set_syntax":
        return ["--set", draw(st.sampled_from(["novalue", "=3", "network.=1", ".sizes=1",
                                               "network..sizes=1", "seed.x=1"]))]
    if what == "scheduler":
        return ["--scheduler", draw(TEXT.filter(lambda t: "://" not in t))]
    if what == "network":
        return ["--network", "does/not/exist-" + draw(NAME) + ".npz"]
    if what == "resume":
        return ["--resume", "."]
    if what == "option":  # neither an option nor an abbreviation of one (argparse accepts those)
        return ["--" + draw(NAME.filter(lambda n: not any(o.startswith(n) for o in OPTIONS)))]
    return ["plot-this"]


# --- the checks -------------------------------------------------------------------------------------
def check_rejected(argv: list[str], workdir: Path, before: set[str]) -> None:
    code, text = run_cli(argv)
    assert code == 2, (argv, text)
    assert text.startswith("stdp-ebm: error: ") and text.count("\n") == 1, text
    assert "Traceback" not in text
    assert {p.name for p in workdir.iterdir()} == before  # no run dir, no temporary sibling


def test_bad_configs_are_rejected_cleanly():
    seen: set[bytes] = set()

    @settings(max_examples=400, **SETTINGS)
    @given(CONFIGS)
    def check(content: str | bytes) -> None:
        data = content.encode("utf-8") if isinstance(content, str) else content
        seen.add(data)
        with tempfile.TemporaryDirectory() as tmp:
            (Path(tmp) / "c.toml").write_bytes(data)
            check_rejected(["run", str(Path(tmp) / "c.toml"), "--out", str(Path(tmp) / "out"),
                            "--quiet"], Path(tmp), {"c.toml"})

    check()
    print(f"{len(seen)} distinct bad configs: exit 2, one line, no traceback, no directory")
    assert len(seen) >= 350


def test_bad_network_files_are_rejected_cleanly():
    seen: set[bytes] = set()

    @settings(max_examples=300, **SETTINGS)
    @given(bad_network())
    def check(net: bytes | dict[str, np.ndarray]) -> None:
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "c.toml").write_text(toml_text(BASE))
            write_network(tmp / "net.npz", net)
            seen.add((tmp / "net.npz").read_bytes())
            check_rejected(["run", str(tmp / "c.toml"), "--network", str(tmp / "net.npz"),
                            "--out", str(tmp / "out"), "--quiet"], tmp, {"c.toml", "net.npz"})

    check()
    print(f"{len(seen)} distinct bad network files: exit 2, one line, no traceback, no directory")
    assert len(seen) >= 210


def test_bad_flags_are_rejected_cleanly():
    seen: set[tuple[str, ...]] = set()

    @settings(max_examples=100, **SETTINGS)
    @given(bad_flags())
    def check(flags: list[str]) -> None:
        seen.add(tuple(flags))
        with tempfile.TemporaryDirectory() as tmp:
            tmp = Path(tmp)
            (tmp / "c.toml").write_text(toml_text(BASE))
            flags = [str(tmp) if f == "." else f for f in flags]  # --resume TMP
            argv = flags if flags == ["plot-this"] else \
                ["run", str(tmp / "c.toml"), "--out", str(tmp / "out"), *flags]
            check_rejected(argv, tmp, {"c.toml"})

    check()
    print(f"{len(seen)} distinct bad flag sets: exit 2, one line, no traceback, no directory")
    assert len(seen) >= 60
