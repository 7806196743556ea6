"""The bounds every hostile-input case runs under and the case runner (tests/test_fuzz_hostile.py):
peak memory traced by ``tracemalloc`` and the growth of the resident set (``VmHWM``, reset per
case) each under 500 MB, wall time under 60 s; exit status 2 in one escaped line, nothing left
behind. ``MEASURED`` keeps the worst case of each class for the report at the end."""

from __future__ import annotations

import contextlib
import tempfile
import time
import tracemalloc
from pathlib import Path
from typing import Any, Callable

import tomli_w
from hypothesis import given, settings
from hypothesis import strategies as st

from conftest import run_cli
from test_fuzz import BASE, SETTINGS

MB = 1 << 20
PEAK_MB, WALL_S = 500, 60
MEASURED: dict[str, dict[str, float]] = {}  # class -> worst case seen (printed at the end)
FAST = {"betas": [0.1], "nudged_steps": [1, 5]}


# --- the bounds -------------------------------------------------------------------------------------
def _status(field: str) -> int | None:
    """``VmHWM`` (peak resident set) or ``VmRSS`` of this process in bytes (Linux), None where
    unknown."""
    try:
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


@contextlib.contextmanager
def bounded(kind: str):
    """Assert the peak memory and the wall time of the block (see the module docstring)."""
    with contextlib.suppress(OSError):
        Path("/proc/self/clear_refs").write_text("5")  # VmHWM := VmRSS
    start_rss = _status("VmRSS")
    tracemalloc.start()
    t0 = time.perf_counter()
    try:
        yield
    finally:
        wall = time.perf_counter() - t0
        traced = tracemalloc.get_traced_memory()[1]
        tracemalloc.stop()
        hwm = _status("VmHWM")
        grown = hwm - start_rss if hwm is not None and start_rss is not None else 0
    worst = MEASURED.setdefault(kind, {"cases": 0, "traced_MB": 0, "rss_MB": 0, "wall_s": 0})
    worst["cases"] += 1
    for name, value in (("traced_MB", traced / MB), ("rss_MB", grown / MB), ("wall_s", wall)):
        worst[name] = max(worst[name], round(value, 2))
    assert traced < PEAK_MB * MB, (kind, traced / MB)
    assert grown < PEAK_MB * MB, (kind, grown / MB)
    assert wall < WALL_S, (kind, wall)



def assert_one_line(code: int, err: str) -> None:
    assert code == 2, err
    assert err.startswith("stdp-ebm: error: ") and err.count("\n") == 1, err
    assert "Traceback" not in err and "\x1b" not in err and "\r" not in err, err


def _names(d: Path) -> set[str]:
    return {p.name for p in d.iterdir()}


def check(kind: str, argv: list[str], workdir: Path, ok_allowed: bool = False) -> None:
    """Run ``argv`` bounded; exit 2 in one line leaving no new entry in ``workdir`` (or, if
    ``ok_allowed``, exit 0 with a complete run directory ``workdir/out``)."""
    before = _names(workdir)
    with bounded(kind):
        code, err = run_cli(argv)
    MEASURED[kind][f"exit_{code}"] = MEASURED[kind].get(f"exit_{code}", 0) + 1
    if ok_allowed and code == 0:
        assert {"config.toml", "data.npz", "summary.json", "manifest.json"} <= _names(workdir / "out")
        return
    assert_one_line(code, err)
    assert _names(workdir) == before, (argv, err)


def base(**sections: dict) -> dict:
    cfg = {k: dict(v) if isinstance(v, dict) else v for k, v in BASE.items()}
    cfg["alignment"] = {**cfg["alignment"], **FAST}
    for name, values in sections.items():
        cfg[name] = {**cfg.get(name, {}), **values}
    return cfg


def write_config(tmp: Path, cfg: dict | str) -> Path:
    (tmp / "c.toml").write_text(cfg if isinstance(cfg, str) else tomli_w.dumps(cfg))
    return tmp / "c.toml"


def fuzz(strategy: st.SearchStrategy, n: int) -> Callable:
    """Run the decorated case function over ``n`` generated inputs, each in a new directory."""
    def decorate(case: Callable[[Path, Any], None]) -> Callable[[], None]:
        @settings(max_examples=n, **SETTINGS)
        @given(strategy)
        def run(value: Any) -> None:
            with tempfile.TemporaryDirectory() as tmp:
                case(Path(tmp), value)
        return run
    return decorate
