"""Timings of experiments and of the test suite: CPU seconds and wall time, cold and warm.

Each measurement runs one command in a child process and reads the child's own resource usage
(``os.wait4``: user + system CPU seconds of the child and of every process it waited for, worker
processes and compilers included) beside its wall time.

- **cold**: a fresh, empty Cython cache (``CYTHON_CACHE_DIR`` and ``XDG_CACHE_HOME`` point into a
  new temporary directory, so Brian2 compiles every code object and matplotlib rebuilds its font
  cache, as on a first run; Brian2 takes its cache directory from Cython's, which reads
  ``CYTHON_CACHE_DIR``);
- **warm**: the same command again with the cache the cold run filled.

CPU seconds carry across machine load far better than wall time: on a busy machine the wall time
grows with the load while the CPU seconds of the work stay nearly the same (they grow a little from
cache and memory contention). The table names the CPU and the load average during each run.

    python benchmarks/timings.py stdp_window                 # cold, then warm
    python benchmarks/timings.py stdp_window --warm-only     # with your own (warm) cache
    python benchmarks/timings.py tests                       # the default test suite (pytest)
    python benchmarks/timings.py alignment --set alignment.betas=[0.1] --json timings.json

NAME is a shipped config (``stdp-ebm list``), a config file, or ``tests``. The markdown table on
stdout is what the README's and the docs' timing tables are pasted from.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


@dataclass
class Timing:
    """One measured command."""

    name: str
    cache: str  # "cold" or "warm"
    wall_s: float
    cpu_s: float  # user + system of the child and its waited-for descendants
    load: float  # 1-minute load average at the end of the run
    returncode: int


def cpu_model() -> str:
    """The CPU's model name (``/proc/cpuinfo``), or what the platform module knows."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def command(name: str, overrides: list[str], out: Path) -> list[str]:
    """The command line that ``name`` stands for."""
    if name == "tests":
        return [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"]
    sets = [a for o in overrides for a in ("--set", o)]
    return [sys.executable, "-m", "stdp_ebm.cli", "run", name, "--out", str(out), "--quiet", *sets]


def measure(name: str, cache: str, argv: list[str], env: dict[str, str], cwd: Path) -> Timing:
    """Run ``argv`` once; wall time and the child's CPU seconds."""
    t0 = time.perf_counter()
    child = subprocess.Popen(argv, cwd=cwd, env=env)
    _, status, usage = os.wait4(child.pid, 0)
    wall = time.perf_counter() - t0
    child.returncode = os.waitstatus_to_exitcode(status)
    return Timing(name, cache, wall, usage.ru_utime + usage.ru_stime, os.getloadavg()[0],
                  child.returncode)


def table(rows: list[Timing]) -> str:
    """The markdown table of the timings, with the machine it ran on."""
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    lines = [f"CPU: {cpu_model()}, {cores} cores; Python {platform.python_version()}; "
             f"measured {time.strftime('%Y-%m-%d')} with benchmarks/timings.py",
             "",
             "| run | Cython cache | CPU-s | wall | load (1 min) |",
             "|---|---|---|---|---|"]
    for r in rows:
        wall = f"{r.wall_s:.0f} s" if r.wall_s < 120 else f"{r.wall_s / 60:.1f} min"
        failed = "" if r.returncode == 0 else f" (exit {r.returncode})"
        lines.append(f"| `{r.name}`{failed} | {r.cache} | {r.cpu_s:.0f} | {wall} | {r.load:.1f} |")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="+", metavar="NAME",
                        help="shipped config, config file, or 'tests' (the default test suite)")
    parser.add_argument("--set", dest="overrides", action="append", default=[],
                        metavar="KEY=VALUE", help="config override for every run (repeatable)")
    which = parser.add_mutually_exclusive_group()
    which.add_argument("--warm-only", action="store_true",
                       help="only the warm run, with the Cython cache of your environment")
    which.add_argument("--cold-only", action="store_true", help="only the cold run")
    parser.add_argument("--json", help="also write the timings to this JSON file")
    args = parser.parse_args(argv)

    rows: list[Timing] = []
    with tempfile.TemporaryDirectory(prefix="stdp-ebm-timings-") as tmp:
        for i, name in enumerate(args.names):
            env = {**os.environ, "PYTHONPATH": os.pathsep.join(
                [str(REPO)] + [p for p in os.environ.get("PYTHONPATH", "").split(os.pathsep) if p])}
            passes = ["warm"] if args.warm_only else ["cold"] if args.cold_only else ["cold", "warm"]
            if not args.warm_only:
                cache = Path(tmp) / f"cache-{i}"
                cache.mkdir()
                env |= {"CYTHON_CACHE_DIR": str(cache / "cython"), "XDG_CACHE_HOME": str(cache)}
            for cache_state in passes:
                out = Path(tmp) / f"run-{i}-{cache_state}"
                row = measure(name, cache_state, command(name, args.overrides, out), env, REPO)
                rows.append(row)
                print(f"{name} ({cache_state}): {row.cpu_s:.0f} CPU-s, {row.wall_s:.0f} s wall, "
                      f"exit {row.returncode}", file=sys.stderr, flush=True)
                shutil.rmtree(out, ignore_errors=True)
    print(table(rows))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"cpu": cpu_model(), "python": platform.python_version(),
             "timings": [asdict(r) for r in rows]}, indent=1) + "\n")
    return 0 if all(r.returncode == 0 for r in rows) else 1


if __name__ == "__main__":
    sys.exit(main())
