"""Fuzzing with hostile, huge and damaged input (the classes of issue 16), beside test_fuzz.py.

Each class is generated (hypothesis, derandomized), not listed by hand: huge sizes, .npz bombs,
gzip/IDX bombs in ``[data] dir``, deep nesting, special files, hostile strings, damaged run
directories, OS errors at any write, and a second run into a locked ``--out``. Every case runs
through ``cli.main`` and must end with exit status 2 and one escaped line on stderr (or, where the
input may be harmless, exit 0 with a complete run directory), no traceback, no half-written
directory; and every case is bounded: allocations traced by ``tracemalloc`` and the growth of the
resident set (``VmHWM``, reset per case) each under 500 MB, wall time under 60 s.
"""

from __future__ import annotations

import dataclasses
import errno
import gzip
import io
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import tomli_w
from hypothesis import strategies as st

from stdp_ebm import experiments, runner
from stdp_ebm.data import MNIST_BYTES, MNIST_SHA256

from conftest import run_cli
from fuzzing import (MB, MEASURED, PEAK_MB, WALL_S, assert_one_line, base, bounded, check, fuzz,
                     write_config)
from test_fuzz import valid_arrays

# --- huge sizes: refused by bounds or the memory estimate, before anything is allocated -----------
HUGE = st.one_of(
    st.tuples(st.just("network.sizes"), st.lists(st.integers(200_000, 10**7), min_size=2,
                                                   max_size=4)),
    st.tuples(st.just("network.sizes"), st.lists(st.integers(10**7 + 1, 2**63), min_size=2,
                                                   max_size=3)),
    st.tuples(st.just("network.batch"), st.integers(10**6, 2**70)),
    st.tuples(st.sampled_from(["dynamics.max_steps", "alignment.nudged_steps"]),
              st.integers(10**7 + 1, 2**80)),
    st.tuples(st.just("sweep.seeds"), st.integers(100_001, 2**80)),
    st.tuples(st.just("sweep.grid"), st.lists(st.integers(47, 120), min_size=3, max_size=4)),  # > 47³
)


def test_huge_sizes_are_refused_before_allocation(no_run):
    @fuzz(HUGE, 24)
    def case(tmp: Path, value: tuple[str, Any]) -> None:
        path, v = value
        cfg = base()
        if path == "sweep.grid":  # lengths whose product passes the point cap
            keys = ["dynamics.epsilon", "dynamics.tol", "network.init_scale", "network.bias_high"]
            cfg["sweep"] = {"grid": {k: [0.1 + i * 1e-4 for i in range(n)]
                                     for k, n in zip(keys, v)}}
        elif path == "sweep.seeds":
            cfg["sweep"] = {"seeds": v}
        else:
            section, key = path.split(".")
            cfg[section][key] = v
        check("huge sizes", ["run", str(write_config(tmp, cfg)), "--out", str(tmp / "out"),
                             "--quiet", "--workers", "2", "--max-memory", "512M"], tmp)

    case()


# --- .npz bombs and hostile members as --network ----------------------------------------------------
def _npy_header(shape: tuple[int, ...], descr: str = "<f8") -> bytes:
    buf = io.BytesIO()
    np.lib.format.write_array_header_1_0(buf, {"descr": descr, "fortran_order": False,
                                               "shape": shape})
    return buf.getvalue()


@st.composite
def npz_bomb(draw) -> tuple[bytes, list[str]]:
    """(file content, extra CLI flags)."""
    kind = draw(st.sampled_from(["declared_shape", "deflate", "names", "object", "version"]))
    arrays = {k: np.asarray(v) for k, v in valid_arrays().items()}
    buf = io.BytesIO()
    flags: list[str] = []
    with zipfile.ZipFile(buf, "w", compression=zipfile.ZIP_DEFLATED) as zf:
        victim = draw(st.sampled_from(sorted(arrays)))
        for name, arr in arrays.items():
            if name != victim:
                b = io.BytesIO()
                np.lib.format.write_array(b, arr)
                zf.writestr(f"{name}.npy", b.getvalue())
        if kind == "declared_shape":  # a header claiming up to 10^18 floats over a tiny body
            shape = tuple(draw(st.lists(st.integers(10**4, 10**6), min_size=1, max_size=3)))
            zf.writestr(f"{victim}.npy", _npy_header(shape) + bytes(64))
        elif kind == "deflate":  # a consistent member that inflates past --max-memory
            n = draw(st.integers(9, 40)) * MB // 8
            with zf.open(f"{victim}.npy", "w", force_zip64=True) as f:
                f.write(_npy_header((n,)))
                for _ in range(n * 8 // MB):
                    f.write(bytes(MB))
            flags = ["--max-memory", "8M"]
        elif kind == "names":
            name = draw(st.text(st.characters(codec="utf-8", exclude_categories=("Cs",)),
                                min_size=1, max_size=8).filter(lambda s: "/" not in s))
            zf.writestr(name + draw(st.sampled_from([".npy", "", ".pkl"])), b"\x93NUMPY junk")
        elif kind == "object":
            zf.writestr(f"{victim}.npy", _npy_header((3,), "|O") + bytes(24))
        else:
            zf.writestr(f"{victim}.npy", b"\x93NUMPY\x03\x00" + bytes(60))
    return buf.getvalue(), flags


def test_npz_bombs_are_refused_from_their_headers(no_run):
    @fuzz(npz_bomb(), 20)
    def case(tmp: Path, bomb: tuple[bytes, list[str]]) -> None:
        (tmp / "net.npz").write_bytes(bomb[0])
        check("npz bombs", ["run", str(write_config(tmp, base())), "--network", str(tmp / "net.npz"),
                            "--out", str(tmp / "out"), "--quiet", *bomb[1]], tmp)

    case()


# --- gzip / IDX bombs in [data] dir (the real run: MNIST is read before any training) --------------
@st.composite
def idx_bomb(draw, stem: str) -> bytes:
    limit = MNIST_BYTES[stem]
    kind = draw(st.sampled_from(["zeros", "isize", "idx_header", "raw_header", "truncated",
                                 "not_gzip"]))
    if kind == "zeros":  # inflates past the canonical size (up to 2x, or 4 MB for the labels)
        return gzip.compress(bytes(min(2 * limit, max(limit + 1, 4 * MB))), compresslevel=1)
    if kind == "isize":  # a valid small stream whose trailer declares ~4 GB
        return gzip.compress(b"\x00\x00\x08\x01" + bytes(8))[:-4] + b"\xff\xff\xff\xfe"
    dims = draw(st.lists(st.integers(2**20, 2**31 - 1), min_size=1, max_size=3))
    header = b"\x00\x00\x08" + bytes([len(dims)]) + np.array(dims, ">u4").tobytes()
    if kind == "idx_header":
        return gzip.compress(header + bytes(16))
    if kind == "raw_header":
        return header + bytes(16)
    if kind == "truncated":
        data = gzip.compress(header + bytes(1000))
        return data[:draw(st.integers(1, len(data) - 1))]
    return draw(st.binary(min_size=1, max_size=64))


def test_gzip_and_idx_bombs_in_data_dir_are_refused(monkeypatch):
    stems = list(MNIST_SHA256)

    @fuzz(st.tuples(*[idx_bomb(s) for s in stems]), 12)
    def case(tmp: Path, files: tuple[bytes, ...]) -> None:
        data = tmp / "mnist"
        data.mkdir()
        for stem, content in zip(stems, files):
            is_gzip = content[:2] == b"\x1f\x8b" or not content.startswith(b"\x00\x00\x08")
            (data / (stem + (".gz" if is_gzip else ""))).write_bytes(content)
        cfg = {"experiment": "train", "seed": 1, "network": {"sizes": [784, 8, 10]},
               "data": {"dataset": "mnist", "dir": str(data)}, "train": {"epochs": 1}}
        check("gzip/IDX bombs", ["run", str(write_config(tmp, cfg)), "--out", str(tmp / "out"),
                                 "--quiet"], tmp)

    case()


# --- deep nesting, special files, hostile strings ---------------------------------------------------
NESTING = st.tuples(st.sampled_from(["array", "inline_table", "sweep_grid"]),
                    st.integers(1_000, 200_000))


def test_deep_nesting_is_one_line(no_run):
    @fuzz(NESTING, 12)
    def case(tmp: Path, value: tuple[str, int]) -> None:
        kind, depth = value
        head = tomli_w.dumps(base())
        if kind == "array":
            text = "x = " + "[" * depth + "]" * depth + "\n" + head
        elif kind == "inline_table":
            text = "x = " + "{a = " * depth + "1" + "}" * depth + "\n" + head
        else:
            text = head + "[sweep.grid]\n" + ".".join(["a"] * min(depth, 20_000)) + " = [1]\n"
        check("deep nesting", ["run", str(write_config(tmp, text)), "--out", str(tmp / "out"),
                               "--quiet"], tmp)

    case()


SPECIAL = st.sampled_from(["/dev/zero", "/dev/urandom", "/dev/null", "fifo", "directory"])


def test_special_files_as_inputs_are_one_line(no_run):
    @fuzz(st.tuples(SPECIAL, st.sampled_from(["config", "network"])), 10)
    def case(tmp: Path, value: tuple[str, str]) -> None:
        special, role = value
        path = special
        if special == "fifo":
            os.mkfifo(tmp / "fifo")
            path = str(tmp / "fifo")
        elif special == "directory":
            (tmp / "d").mkdir()
            path = str(tmp / "d")
        config = path if role == "config" else str(write_config(tmp, base()))
        argv = ["run", config, "--out", str(tmp / "out"), "--quiet"]
        check("special files", argv + (["--network", path] if role == "network" else []), tmp)

    case()


HOSTILE = st.lists(st.sampled_from(["\n", "\r", "\x1b[2J", "\x1b]0;x\x07", "\u202e", "\x00",
                                    "\t", "a", "é", "\udcff", " "]),
                   min_size=1, max_size=6).map("".join)


def test_hostile_strings_are_escaped_in_one_line(no_run):
    @fuzz(st.tuples(HOSTILE, st.sampled_from(["key", "value", "section", "out", "network",
                                              "scheduler"])), 30)
    def case(tmp: Path, value: tuple[str, str]) -> None:
        text, where = value
        config = str(write_config(tmp, base()))
        argv = ["run", config, "--out", str(tmp / "out"), "--quiet"]
        if where == "key":
            argv += ["--set", f"network.{text}x=1"]
        elif where == "value":
            argv += ["--set", f"dynamics.epsilon={text}", "--set", f"description={text}"]
        elif where == "section":
            argv += ["--set", f"{text}x.y=1"]
        elif where == "out":
            argv[3] = str(tmp / "x" / text / "..")  # never a valid new run directory
        elif where == "network":
            argv += ["--network", str(tmp / f"{text}.npz".replace("\x00", ""))]
        else:
            argv += ["--scheduler", f"tcp://h:{text}"]
        if "\x00" in "".join(argv) and where in ("out", "network"):
            return  # no path can hold a NUL; argv from a shell cannot either
        check("hostile strings", argv, tmp)

    case()


# --- damaged run directories (plot) ------------------------------------------------------------------
@pytest.fixture(scope="module")
def finished(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("finished")
    (root / "c.toml").write_text(tomli_w.dumps(base()))
    assert run_cli(["run", str(root / "c.toml"), "--out", str(root / "run"), "--quiet"])[0] == 0
    return root / "run"


DAMAGE = st.tuples(st.sampled_from(["data.npz", "summary.json", "config.toml", "figures"]),
                   st.sampled_from(["truncate", "flip", "random", "delete", "json", "dir"]),
                   st.floats(0, 1), st.binary(min_size=1, max_size=40))


def closed_figures(run_dir: Path, figures: dict) -> list[str]:
    """The figures were built from the run's files (what can fail on damage); not saved, as
    PNG and SVG rendering under tracemalloc takes tens of seconds."""
    import matplotlib.pyplot as plt

    for fig in figures.values():
        plt.close(fig)
    return list(figures)


def test_damaged_run_directories_are_one_line_for_plot(finished, monkeypatch):
    monkeypatch.setattr(runner, "save_figures", closed_figures)

    @fuzz(DAMAGE, 30)
    def case(tmp: Path, value: tuple[str, str, float, bytes]) -> None:
        import shutil

        name, how, at, junk = value
        run = tmp / "run"
        shutil.copytree(finished, run)
        target = run / name
        if target.is_dir():
            shutil.rmtree(target)
            target.write_bytes(junk)
        elif how == "truncate":
            target.write_bytes(target.read_bytes()[:int(at * target.stat().st_size)])
        elif how == "flip":
            data = bytearray(target.read_bytes())
            data[min(int(at * len(data)), len(data) - 1)] ^= 0xFF
            target.write_bytes(bytes(data))
        elif how == "random":
            target.write_bytes(junk)
        elif how == "delete":
            target.unlink()
        elif how == "json":
            target.write_text(["[]", "null", '{"a": ', "1e999", '"x"', "{}"][int(at * 5.99)])
        else:
            target.unlink()
            target.mkdir()
        with bounded("damaged run directories"):
            code, err = run_cli(["plot", str(run)])
        if code != 0:  # a flip in a figure-only byte, or a JSON the figures do not need, may pass
            assert_one_line(code, err)

    case()


# --- OS errors at any write, and a locked --out -----------------------------------------------------
ERRNOS = st.sampled_from([errno.ENOSPC, errno.EACCES, errno.EROFS, errno.EDQUOT, errno.EIO,
                          errno.ENAMETOOLONG])


def save_figures_stub(run_dir: Path, figures: dict) -> list[str]:
    """One small figure file, written like the others (through the patched writes)."""
    (run_dir / "figures").mkdir()
    (run_dir / "figures" / "stub.svg").write_text("<svg/>")
    return ["stub"]


def test_os_errors_at_any_write_leave_nothing_half_written(monkeypatch):
    import pathlib

    real = {"write_text": pathlib.Path.write_text, "writestr": zipfile.ZipFile.writestr,
            "replace": os.replace}

    @fuzz(st.tuples(st.sampled_from(sorted(real)), st.integers(0, 6), ERRNOS), 10)
    def case(tmp: Path, value: tuple[str, int, int]) -> None:
        which, k, code = value
        calls = [0]

        def failing(*args, **kwargs):
            calls[0] += 1
            if calls[0] > k:
                raise OSError(code, os.strerror(code), str(args[0]))
            return real[which](*args, **kwargs)

        config = write_config(tmp, base())
        owner = {"replace": os, "write_text": pathlib.Path, "writestr": zipfile.ZipFile}[which]
        with monkeypatch.context() as m:
            # matplotlib under tracemalloc takes minutes: no figures, one stub file instead
            real_get = experiments.get
            m.setattr(experiments, "get", lambda name, source="config": dataclasses.replace(
                real_get(name, source), figures=lambda *a: {}))
            m.setattr(runner, "save_figures", save_figures_stub)
            m.setattr(owner, which, failing)
            check("OS errors", ["run", str(config), "--out", str(tmp / "out"), "--quiet"], tmp,
                  ok_allowed=True)

    case()


def test_a_locked_out_is_refused_whatever_its_name(no_run):
    from stdp_ebm.rundir import out_lock

    name = st.text(st.characters(codec="utf-8", exclude_categories=("Cs",),
                                 exclude_characters="/\x00"), min_size=1, max_size=12)

    @fuzz(name.filter(lambda n: n not in (".", "..")), 15)
    def case(tmp: Path, out_name: str) -> None:
        config = write_config(tmp, base())
        with out_lock(tmp / out_name):
            check("locked --out", ["run", str(config), "--out", str(tmp / out_name), "--quiet"],
                  tmp)

    case()


def test_zz_print_the_measured_bounds():
    """The worst case of each class (run with -s to see it; pytest runs this file in order)."""
    for kind, worst in sorted(MEASURED.items()):
        print(f"{kind:24s} {worst}")
    assert all(w["traced_MB"] < PEAK_MB and w["wall_s"] < WALL_S for w in MEASURED.values())
    if "OS errors" in MEASURED:  # the class fails some writes, and lets some runs finish
        assert MEASURED["OS errors"].get("exit_2", 0) >= 3
