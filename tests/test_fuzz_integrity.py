"""Fuzzing the integrity classes (beside test_fuzz_hostile.py): generated, bounded, through
``cli.main`` where a whole run is cheap, and through the function that decides where it is not.

Classes: networks whose implicit-gradient system would not fit (any experiment that forms it),
random-network ranges whose draw overflows, MNIST files larger than MNIST can be (sparse, any of the
four files, raw or gzip), a partial training run whose ``config.toml`` or ``inputs.json`` was
edited (any byte), and a ``sweep.log`` replaced by arbitrary bytes (the resume must go on).
Each case: exit status 2 in one escaped line (or, where stated, exit 0), no traceback, nothing new
left behind, peak memory and wall time within the bounds of ``tests/fuzzing.py``.
"""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import pytest
from hypothesis import strategies as st

from stdp_ebm import resumable
from stdp_ebm.data import MNIST_BYTES, mnist_file_limit
from stdp_ebm.errors import RunDirError

from conftest import run_cli
from fuzzing import MEASURED, PEAK_MB, WALL_S, base, bounded, check, fuzz, write_config

# --- the implicit-gradient system: n² of all units, counted before it is allocated ----------------
HESSIAN = st.tuples(
    st.sampled_from(["alignment", "unification"]),
    st.lists(st.integers(1, 40), min_size=1, max_size=2),  # input and output widths
    st.lists(st.integers(60_000, 400_000), min_size=1, max_size=2),  # hidden widths
)


def test_networks_whose_implicit_gradient_system_does_not_fit_are_refused(no_run):
    @fuzz(HESSIAN, 8)
    def case(tmp: Path, value: tuple[str, list[int], list[int]]) -> None:
        experiment, ends, hidden = value
        sizes = [ends[0], *hidden, ends[-1]]
        # 5·8·n² bytes: 60 000 units already need 134 GiB, above the limit given here
        check("implicit-gradient system",
              ["run", experiment, "--out", str(tmp / "out"), "--quiet", "--max-memory", "64G",
               "--set", f"network.sizes={sizes}"], tmp)

    case()


# --- random-network ranges whose draw overflows ---------------------------------------------------
BIG = st.floats(1e306, 1.7e308)
# the Glorot range ±a of base()'s widest layer pair (8 → 4): a = init_scale·√(6/12); numpy's
# uniform overflows where the width 2a (or bias_high − bias_low) is infinite
RANGES = st.one_of(
    st.tuples(st.just("bias"), st.tuples(BIG.map(lambda v: -v), BIG)),
    st.tuples(st.just("init_scale"), st.tuples(BIG, st.just(0.0))),
).filter(lambda v: (2 * v[1][0] * math.sqrt(6 / 12) if v[0] == "init_scale"
                    else v[1][1] - v[1][0]) == float("inf"))


def test_random_network_ranges_that_overflow_are_refused(no_run):
    @fuzz(RANGES, 10)
    def case(tmp: Path, value: tuple[str, tuple[float, float]]) -> None:
        kind, (a, b) = value
        over = {"bias_low": a, "bias_high": b} if kind == "bias" else {"init_scale": a}
        check("overflowing ranges", ["run", str(write_config(tmp, base(network=over))),
                                     "--out", str(tmp / "out"), "--quiet"], tmp)

    case()


# --- MNIST files larger than MNIST can be: refused by their size, never hashed --------------------
SPARSE = st.tuples(st.sampled_from(sorted(MNIST_BYTES)), st.sampled_from(["", ".gz"]),
                   st.integers(1, 2**42))  # up to 4 TiB (ext4 allows 16)


def test_mnist_files_larger_than_mnist_are_refused_by_their_size():
    @fuzz(SPARSE, 12)
    def case(tmp: Path, value: tuple[str, str, int]) -> None:
        stem, suffix, extra = value
        data = tmp / "mnist"
        data.mkdir()
        for s in MNIST_BYTES:
            (data / f"{s}{suffix}").write_bytes(b"")
        path = data / f"{stem}{suffix}"
        with open(path, "wb") as f:
            f.truncate(mnist_file_limit(path) + extra)  # sparse: nothing is written
        cfg = {"experiment": "train", "seed": 1, "network": {"sizes": [784, 8, 10]},
               "data": {"dataset": "mnist", "dir": str(data), "n_train": 100,
                        "n_test": 100}, "train": {"epochs": 1}}
        check("sparse MNIST files", ["run", str(write_config(tmp, cfg)), "--out",
                                     str(tmp / "out"), "--quiet"], tmp)

    case()


# --- an edited partial run: any changed byte of config.toml or inputs.json is refused -------------
EDIT = st.tuples(st.sampled_from(["config.toml", "inputs.json"]), st.integers(0, 10**6),
                 st.integers(1, 255))


def test_any_edit_of_a_partial_runs_record_is_refused(tmp_path):
    from stdp_ebm import runner

    cfg, _ = runner.resolve("train_digits")

    @fuzz(EDIT, 20)
    def case(tmp: Path, value: tuple[str, int, int]) -> None:
        name, at, flip = value
        partial = tmp / ".run.partial"
        partial.mkdir()
        resumable.begin(partial, cfg, {}, resume=False)
        resumable.check_started(partial)  # as written: accepted
        raw = bytearray((partial / name).read_bytes())
        raw[at % len(raw)] ^= flip
        (partial / name).write_bytes(bytes(raw))
        with bounded("edited partial run"):
            with pytest.raises(RunDirError, match=f"{name}: edited since"):
                resumable.check_started(partial)

    case()


# --- sweep.log replaced by arbitrary bytes: the resume goes on ------------------------------------
SWEEP = base()
SWEEP["sweep"] = {"seeds": 2}


def test_a_sweep_resumes_over_any_garbled_log(tmp_path):
    (tmp_path / "s.toml").write_text(__import__("tomli_w").dumps(SWEEP))
    first = tmp_path / "first"
    args = ["run", str(tmp_path / "s.toml"), "--workers", "1", "--quiet"]
    assert run_cli(args + ["--out", str(first)])[0] == 0
    for name in ("summary.json", "manifest.json", "table.csv", "table.npz", "figures",
                 "points/0001"):  # as if killed after one of two points
        shutil.rmtree(first / name) if (first / name).is_dir() else (first / name).unlink()

    @fuzz(st.binary(min_size=1, max_size=4096), 3)
    def case(tmp: Path, garbage: bytes) -> None:
        out = tmp / "out"
        shutil.copytree(first, out)
        (out / "sweep.log").write_bytes(garbage)
        code, err = run_cli(args + ["--out", str(out)])  # not under tracemalloc: figures
        assert code == 0 and err == "", err
        assert (out / "summary.json").is_file()  # it finished: the log is not the record

    case()


def test_zz_print_the_measured_bounds():
    """The worst case of each class (run with -s to see it)."""
    for kind, worst in sorted(MEASURED.items()):
        print(f"{kind:28s} {worst}")
    assert all(w["traced_MB"] < PEAK_MB and w["wall_s"] < WALL_S for w in MEASURED.values())
