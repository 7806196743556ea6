"""Parameter sweeps: a ``[sweep]`` table expanded into independent points that run through
``concurrent.futures`` (a local process pool, or a Dask cluster), resumable after a crash.

A config sweeps any ``section.key`` of its experiment's schema::

    [sweep]
    seeds = 3                   # replicates (seeds derived from the master seed), or a list of seeds
    timeout = 600               # seconds one point may run; past it the point is recorded as failed
    [sweep.grid]                # every combination of these lists
    dynamics.epsilon = [0.2, 0.5]
    [sweep.zip]                 # lists of equal length, taken together
    network.init_scale = [0.1, 0.3]
    network.bias_high = [0.4, 0.6]

Points are the zip rows × the grid combinations × the seeds, numbered in that order (seed fastest).
Without ``seeds`` every point runs with the master seed itself; with ``seeds = N`` replicate r runs
with ``Seeds(master).int("sweep/replicate-r")``, so all grid points of one replicate share their
random network (common random numbers) and differ only by the swept values.

Run directory of a sweep (the single-run layout, one level up)::

    config.toml     resolved config, [sweep] included (seeds as the explicit list)
    sweep.json      the plan: resolved config and every point's index, replicate, seed and values
    sweep.log       JSON lines: one per session (start, resume) and one per finished point
    points/NNNN/    one run directory per point (no figures; ``stdp-ebm plot`` draws them), or
                    ``error.json`` for a failed point; each written atomically by the main process
    table.csv, table.npz   one row per point: index, replicate, seed, status, error, wall_s, the
                    swept values and every scalar of the point's summary.json (dotted names)
    summary.json, manifest.json, figures/   written last; summary.json marks the sweep complete

A restarted sweep (same command with the same ``--out``, or ``--resume RUN_DIR``) skips every
point whose directory exists and runs only the others.
"""

from __future__ import annotations

import csv
import ctypes
import datetime
import importlib
import itertools
import json
import math
import multiprocessing
import os
import platform
import re
import shutil
import signal
import socket
import string
import sys
import threading
import time
import traceback
from concurrent.futures import Executor, ProcessPoolExecutor, as_completed
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Iterator

import numpy as np

from . import experiments, npzfile
from .config import ConfigError, Key, Schema, coerce, fail, suggest, validate
from .errors import InputError, RunDirError, UserError
from .inputs import check_same, input_files, record, sha256
from .resources import memory_limit
from .rundir import (atomic_directory, codegen_target, manifest, read_json, save_figure, save_npz,
                     write_config, write_json)
from .seeds import Seeds

SPEC: dict[str, str] = {
    "grid": "table of section.key = [values]: every combination is a point",
    "zip": "table of section.key = [values] of equal length, taken together",
    "seeds": "number of replicates (seeds derived from the master seed) or a list of seeds",
    "timeout": "seconds one point may run before it is stopped and recorded as failed",
}
MAX_POINTS = 100_000
SEEDS_N = Key("int", 1, SPEC["seeds"], low=1, high=MAX_POINTS)
SEEDS_LIST = Key("ints", [], SPEC["seeds"], low=0, high=2**63 - 1)
TIMEOUT = Key("float", 0.0, SPEC["timeout"], low=0.0, open_low=True, high=1e7)  # 116 days
BOOKKEEPING = ("index", "replicate", "seed", "status", "error", "wall_s")


class PointTimeout(UserError):
    """A sweep point ran past ``[sweep] timeout``."""


# --- the plan: [sweep] table -> points ------------------------------------------------------------
@dataclass(frozen=True)
class Point:
    index: int
    replicate: int
    seed: int
    values: dict[str, Any]  # "section.key" -> swept value
    cfg: dict[str, Any]     # the point's full, validated config (no [sweep])


def _flatten(table: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{"dynamics": {"epsilon": v}}`` and ``{"dynamics.epsilon": v}`` both give the latter."""
    out: dict[str, Any] = {}
    for name, value in table.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{name}."))
        else:
            out[f"{prefix}{name}"] = value
    return out


def _axes(raw: Any, table: str, schema: Schema, source: str) -> dict[str, list]:
    where = f"[sweep.{table}]"
    if not isinstance(raw, dict):
        raise fail(source, f"[sweep] {table}", raw, f"must be a table {where} of section.key = [values]")
    if not raw:
        raise ConfigError(f"{source}: {where} is empty; give section.key = [values], or remove it")
    paths = [f"{s}.{k}" for s, keys in schema.items() for k in keys]
    axes = _flatten(raw)
    for path, values in axes.items():
        if path not in paths:
            raise ConfigError(f"{source}: {where} {path}: not a key of this experiment"
                              f"{suggest(path, paths)}")
        if not isinstance(values, list) or not values:
            raise fail(source, f"{where} {path}", values, "must be a non-empty list of values")
    return axes


def _seeds(raw: Any, master: int, source: str) -> list[int]:
    if raw is None:
        return [master]
    key = SEEDS_LIST if isinstance(raw, list) else SEEDS_N
    value, problem = coerce(raw, key)
    if problem:
        raise fail(source, "[sweep] seeds", raw, f"must be an integer >= 1 (replicates, at most "
                                                 f"{MAX_POINTS}) or a non-empty list of integers "
                                                 ">= 0 (below 2**63)")
    if key is SEEDS_N:
        return [Seeds(master).int(f"sweep/replicate-{r}") for r in range(value)]
    if len(set(value)) != len(value):
        raise fail(source, "[sweep] seeds", raw, "must be distinct")
    return value


def parse_spec(raw: Any, schema: Schema, master: int, source: str) -> dict[str, Any]:
    """Validate a ``[sweep]`` table; return it normalised (dotted paths, the explicit seed list).

    Raises :class:`ConfigError` naming ``source`` and the offending entry.
    """
    if not isinstance(raw, dict):
        raise fail(source, "sweep", raw, "must be a table [sweep]")
    for name in raw:
        if name not in SPEC:
            raise ConfigError(f"{source}: unknown key [sweep] {name}{suggest(name, list(SPEC))}")
    if not any(k in raw for k in ("grid", "zip", "seeds")):
        raise ConfigError(f"{source}: [sweep] is empty; give [sweep.grid], [sweep.zip] or seeds")
    spec: dict[str, Any] = {t: _axes(raw[t], t, schema, source) for t in ("grid", "zip") if t in raw}
    both = sorted(set(spec.get("grid", {})) & set(spec.get("zip", {})))
    if both:
        raise ConfigError(f"{source}: {both[0]} is in both [sweep.grid] and [sweep.zip]; keep one")
    lengths = {p: len(v) for p, v in spec.get("zip", {}).items()}
    if len(set(lengths.values())) > 1:
        shown = ", ".join(f"{p} has {n}" for p, n in lengths.items())
        raise ConfigError(f"{source}: [sweep.zip] lists must have equal lengths ({shown})")
    seeds = raw.get("seeds")
    n_seeds = len(seeds) if isinstance(seeds, list) else seeds if type(seeds) is int else 1
    n_points = max(lengths.values(), default=1) * math.prod(map(len, spec.get("grid", {}).values()))
    if n_points * n_seeds > MAX_POINTS:  # counted before any list of points or seeds is built
        raise ConfigError(f"{source}: [sweep] makes {n_points * n_seeds} points; at most "
                          f"{MAX_POINTS} are allowed")
    spec["seeds"] = _seeds(seeds, master, source)
    if "timeout" in raw:
        spec["timeout"], problem = coerce(raw["timeout"], TIMEOUT)
        if problem:
            raise fail(source, "[sweep] timeout", raw["timeout"], problem)
    return spec


def _rows(axes: dict[str, list], zipped: bool) -> list[dict[str, Any]]:
    combos = zip(*axes.values()) if zipped else itertools.product(*axes.values())
    return [dict(zip(axes, combo)) for combo in combos] or [{}]


def expand(cfg: dict[str, Any], exp: experiments.Experiment, source: str) -> list[Point]:
    """The points of the sweep in ``cfg["sweep"]``, each config validated and cross-checked."""
    from .runner import check

    spec = cfg["sweep"]
    base = {k: v for k, v in cfg.items() if k != "sweep"}
    rows = [{**z, **g} for z in _rows(spec.get("zip", {}), True)
            for g in _rows(spec.get("grid", {}), False)]
    points = []
    for values, (replicate, seed) in itertools.product(rows, enumerate(spec["seeds"])):
        raw = json.loads(json.dumps(base))  # a deep copy of plain data
        for path, value in values.items():
            section, key = path.split(".", 1)
            raw[section][key] = value
        raw["seed"] = seed
        try:
            point_cfg = check(validate(raw, exp.schema, source), exp, source)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in [sweep], point {len(points)}: {_show(values)})") from None
        swept = {p: point_cfg[p.split(".")[0]][p.split(".", 1)[1]] for p in values}
        points.append(Point(len(points), replicate, seed, swept, point_cfg))
    return points


def variants(cfg: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The config of each zip × grid row of the sweep in ``cfg`` (its points without their
    seeds), neither copied deeply nor validated again: cheap, for estimates."""
    spec = cfg["sweep"]
    for z in _rows(spec.get("zip", {}), True):
        for g in _rows(spec.get("grid", {}), False):
            out = {k: dict(v) if isinstance(v, dict) else v for k, v in cfg.items() if k != "sweep"}
            for path, value in {**z, **g}.items():
                section, key = path.split(".", 1)
                out[section][key] = value
            yield out


def _show(values: dict[str, Any]) -> str:
    return ", ".join(f"{p} = {v!r}" for p, v in values.items()) or "seed only"


def _plan(cfg: dict[str, Any], exp: experiments.Experiment, points: list[Point]) -> dict[str, Any]:
    """JSON-able description of the sweep; a resumed sweep must have the same plan."""
    plan = {"experiment": exp.name, "config": cfg,
            "points": [{"index": p.index, "replicate": p.replicate, "seed": p.seed,
                        "values": p.values} for p in points]}
    return json.loads(json.dumps(plan))


# --- one point, in a worker -----------------------------------------------------------------------
@dataclass(frozen=True)
class Task:
    experiment: str
    index: int
    cfg: dict[str, Any]
    network_path: str | None
    timeout: float | None
    network_sha256: str | None = None  # the --network file's hash when the sweep started


@dataclass
class Outcome:
    index: int
    wall_s: float
    worker: dict[str, Any]
    seeds: dict[str, int]
    result: experiments.Result | None = None
    error: dict[str, str] | None = None


_CACHE: list[tuple[Any, Path]] = []  # (lock file held for the life of the process, cache dir)


def worker_cache_dir() -> Path:
    """This worker process's own Cython cache for Brian2, claimed once per process.

    ``$XDG_CACHE_HOME/stdp-ebm/cython/<machine>-<python tag>/worker-<slot>``: a slot is claimed
    with an exclusive ``flock`` held until the process exits, so no two live workers share a
    cache (no lock contention), later sweeps reuse the compiled code of earlier ones, and the
    machine/Python tag keeps binaries of different architectures apart in a shared home.
    """
    if _CACHE:
        return _CACHE[0][1]
    import fcntl

    home = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = home / "stdp-ebm" / "cython" / f"{platform.machine()}-{sys.implementation.cache_tag}"
    root.mkdir(parents=True, exist_ok=True)
    slot = 0
    while True:
        lock = open(root / f"worker-{slot}.lock", "w")
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
            break
        except BlockingIOError:
            lock.close()
            slot += 1
    path = root / f"worker-{slot}"
    path.mkdir(exist_ok=True)
    os.environ["CYTHON_CACHE_DIR"] = str(path)  # read by Cython when Brian2 first compiles
    if "brian2" in sys.modules:
        sys.modules["brian2"].prefs.codegen.runtime.cython.cache_dir = str(path / "brian_extensions")
    _CACHE.append((lock, path))
    return path


@contextmanager
def _deadline(seconds: float | None) -> Iterator[None]:
    """Raise :class:`PointTimeout` in this thread after ``seconds`` (None: no limit).

    In a process-pool worker (main thread) by SIGALRM; in a Dask worker thread by an asynchronous
    exception. Either is delivered between Python bytecodes, so a long call into compiled code
    finishes first.
    """
    if seconds is None:
        yield
        return
    message = f"ran past the sweep timeout of {seconds:g} s"
    if threading.current_thread() is threading.main_thread():
        def on_alarm(signum: int, frame: Any) -> None:
            raise PointTimeout(message)
        previous = signal.signal(signal.SIGALRM, on_alarm)
        signal.setitimer(signal.ITIMER_REAL, seconds)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)
        return
    active = threading.Lock()
    thread = ctypes.c_ulong(threading.get_ident())

    def interrupt() -> None:
        with active:
            ctypes.pythonapi.PyThreadState_SetAsyncExc(thread, ctypes.py_object(PointTimeout))
    timer = threading.Timer(seconds, interrupt)
    timer.start()
    try:
        yield
    except PointTimeout:
        raise PointTimeout(message) from None
    finally:
        with active:
            timer.cancel()


def run_point(task: Task) -> Outcome:
    """Run one point (in a worker); any exception is caught and returned as the point's error."""
    from threadpoolctl import threadpool_limits

    cache = worker_cache_dir()
    if task.network_sha256 is not None and sha256(task.network_path) != task.network_sha256:
        raise InputError(f"--network {task.network_path} changed during the sweep (sha256 "
                         f"{task.network_sha256[:12]}… at its start); the finished points are "
                         "kept, restore the file and resume")
    exp = experiments.get(task.experiment)
    ctx = experiments.RunContext(seeds=Seeds(task.cfg["seed"]), network_path=task.network_path)
    t0 = time.perf_counter()
    result, error = None, None
    try:
        # One BLAS thread per worker: no oversubscription, and the same floating-point summation
        # order whatever the number of workers (results identical with 1, 2 or Dask workers).
        with threadpool_limits(limits=1), _deadline(task.timeout):
            result = exp.run(task.cfg, ctx)
    except Exception as exc:  # noqa: BLE001 -- a failed point is recorded and the sweep goes on
        error = {"type": type(exc).__name__, "message": str(exc) or type(exc).__name__}
        if not isinstance(exc, UserError):
            error["traceback"] = traceback.format_exc()
    worker = {"host": socket.gethostname(), "pid": os.getpid(), "cache_dir": str(cache),
              "brian2_codegen_target": codegen_target()}
    return Outcome(task.index, time.perf_counter() - t0, worker, dict(ctx.seeds.used), result, error)


# --- executors ------------------------------------------------------------------------------------
SCHEDULER = re.compile(r"^(tcp|tls|ucx|inproc)://\S+$")


def check_scheduler(address: str) -> None:
    """Reject a malformed ``--scheduler`` address (scheme, host, numeric port) before anything
    runs."""
    m = SCHEDULER.match(address)
    port = address.rpartition(":")[2] if m and not address.startswith("inproc") else "1"
    if not m or not port.isdigit() or not 0 < int(port) < 65536:
        raise UserError(f"--scheduler {address!r}: expected a Dask scheduler address such as "
                        "tcp://HOST:8786 (port 1-65535)")


@contextmanager
def executor(workers: int, scheduler: str | None) -> Iterator[Executor]:
    """A ``concurrent.futures`` executor: a spawn-context process pool of ``workers`` processes,
    or, with ``scheduler``, the executor of a Dask ``Client`` connected to it."""
    if scheduler is None:
        pool = ProcessPoolExecutor(workers, mp_context=multiprocessing.get_context("spawn"))
        try:
            yield pool
        except BaseException:
            pool.shutdown(wait=False, cancel_futures=True)
            raise
        pool.shutdown(wait=True)
        return
    check_scheduler(scheduler)
    try:
        from dask.distributed import Client
    except ImportError:
        raise UserError("--scheduler needs Dask: pip install -e '.[distributed]'") from None
    try:
        client = Client(scheduler, timeout=10)
    except (OSError, TimeoutError) as exc:
        raise UserError(f"--scheduler {scheduler}: cannot connect ({exc})") from None
    try:
        yield client.get_executor(pure=False)
    finally:
        client.close()


# --- the sweep ------------------------------------------------------------------------------------
def _point_dir(run_dir: Path, index: int) -> Path:
    return run_dir / "points" / f"{index:04d}"


def finished(run_dir: Path) -> set[int]:
    """Indices of the points whose directory exists (each was renamed into place complete)."""
    points = run_dir / "points"
    if not points.is_dir():
        return set()
    return {int(d.name) for d in points.iterdir() if d.is_dir() and d.name.isdigit()}


def _log(run_dir: Path, entry: dict[str, Any]) -> None:
    with open(run_dir / "sweep.log", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def sessions(run_dir: Path) -> list[dict[str, Any]]:
    """The session entries of ``sweep.log`` (one per start or resume), oldest first."""
    path = run_dir / "sweep.log"
    if not path.is_file():
        return []
    entries = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            entries.append(json.loads(line))
        except json.JSONDecodeError:  # a line torn by a kill; the point directories are the truth
            continue
    return [e for e in entries if "session" in e and "point" not in e]


def _difference(a: Any, b: Any, path: str = "") -> str:
    """The first place where two JSON values differ, as "path: A there, B now"."""
    if isinstance(a, dict) and isinstance(b, dict):
        for key in list(a) + [k for k in b if k not in a]:
            if a.get(key) != b.get(key):
                return _difference(a.get(key), b.get(key), f"{path}.{key}" if path else key)
    return f"{path or 'plan'}: {a!r} there, {b!r} now"


def _open(out: Path, cfg: dict[str, Any], plan: dict[str, Any], resume: bool) -> None:
    """Create the sweep directory, or check that ``out`` holds an unfinished sweep of this plan."""
    if not (out / "sweep.json").is_file():
        if resume:
            raise UserError(f"--resume {out}: not a sweep run directory (no sweep.json)")
        with atomic_directory(out) as tmp:
            write_config(tmp / "config.toml", cfg)
            write_json(tmp / "sweep.json", plan)
            (tmp / "points").mkdir()
        return
    if (out / "summary.json").is_file():
        raise UserError(f"{out}: this sweep is already complete; choose another --out")
    try:
        stored = json.loads((out / "sweep.json").read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise UserError(f"{out}/sweep.json: unreadable ({exc}); cannot resume this sweep") from None
    if not isinstance(stored, dict):
        raise UserError(f"{out}/sweep.json: not a sweep plan; cannot resume this sweep")
    check_same(stored.pop("inputs", None), plan.get("inputs", {}), f"--out {out}: the sweep")
    plan = {k: v for k, v in plan.items() if k != "inputs"}  # inputs compare by content only
    if stored != plan:
        raise UserError(f"{out}: holds a sweep of another config ({_difference(stored, plan)}); "
                        "resume with the same config and --set options")
    for stale in (out / "points").glob(".*.tmp-*"):  # points being written when the sweep died
        shutil.rmtree(stale, ignore_errors=True)
    log = out / "sweep.log"
    if log.is_file() and log.stat().st_size and not log.read_bytes().endswith(b"\n"):
        with open(log, "a", encoding="utf-8") as f:  # end the line torn by the kill
            f.write("\n")


def _write_point(run_dir: Path, point: Point, outcome: Outcome, experiment: str,
                 session: int) -> None:
    from .runner import write_result

    seeds = {"master": point.seed, "derived": outcome.seeds}
    extra = {"experiment": experiment, "point": point.index, "replicate": point.replicate,
             "values": point.values, "session": session, "worker": outcome.worker,
             "status": "ok" if outcome.error is None else "error"}
    with atomic_directory(_point_dir(run_dir, point.index)) as tmp:
        if outcome.error is None:
            write_result(tmp, point.cfg, outcome.result, seeds, outcome.wall_s, extra)
        else:
            write_config(tmp / "config.toml", point.cfg)
            write_json(tmp / "error.json", outcome.error)
            write_json(tmp / "manifest.json", manifest(seeds, outcome.wall_s, extra=extra))
    _log(run_dir, {"point": point.index, "session": session, "status": extra["status"]})


def _progress(total: int, initial: int, enabled: bool, desc: str):
    from tqdm import tqdm
    return tqdm(total=total, initial=initial, disable=not enabled, desc=desc, unit="point",
                dynamic_ncols=True)


def run_sweep(cfg: dict[str, Any], exp: experiments.Experiment, out: Path,
              ctx: experiments.RunContext) -> Path:
    """Run every unfinished point of the sweep in ``cfg`` and aggregate them into ``out``.

    ``ctx.workers`` processes (``ctx.options["scheduler"]``: a Dask cluster instead);
    ``ctx.options["resume"]``: ``out`` must hold the unfinished sweep. Failed points are recorded
    and the sweep goes on; if any failed, a :class:`UserError` reports them once all are done.
    """
    points = expand(cfg, exp, str(out / "config.toml"))
    recorded = record(input_files([p.cfg for p in points], ctx.network_path))
    plan = {**_plan(cfg, exp, points), "inputs": recorded}
    scheduler = ctx.options.get("scheduler")
    t0 = time.perf_counter()
    with executor(ctx.workers, scheduler) as ex:
        _open(out, cfg, plan, bool(ctx.options.get("resume")))
        done = finished(out)
        session = len(sessions(out)) + 1
        todo = [p for p in points if p.index not in done]
        _log(out, {"session": session, "started": _now(), "argv": sys.argv,
                   "executor": scheduler or f"process pool ({ctx.workers} workers)",
                   "finished_before": sorted(done), "pending": [p.index for p in todo]})
        net_hash = recorded["--network"]["sha256"] if ctx.network_path else None
        futures = {ex.submit(run_point, Task(exp.name, p.index, p.cfg, ctx.network_path,
                                             cfg["sweep"].get("timeout"), net_hash)): p
                   for p in todo}
        with _progress(len(points), len(done), ctx.progress, f"{exp.name} sweep") as bar:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 -- the executor itself failed
                    raise UserError(
                        f"sweep stopped: the executor failed ({type(exc).__name__}: {exc}); "
                        f"the {len(finished(out))} finished points are kept, resume with "
                        f"--resume {out}") from None
                _write_point(out, futures[future], outcome, exp.name, session)
                bar.update()
    return _finish(out, cfg, exp, points, time.perf_counter() - t0, recorded)


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


# --- aggregation ----------------------------------------------------------------------------------
def _scalars(summary: Any, prefix: str = "") -> dict[str, Any]:
    """The scalar leaves of a summary reached through dicts only, with dotted names."""
    out: dict[str, Any] = {}
    if isinstance(summary, dict):
        for key, value in summary.items():
            out.update(_scalars(value, f"{prefix}{key}."))
    elif isinstance(summary, (int, float, str, bool)) or summary is None:
        out[prefix[:-1]] = summary
    return out


def _row(run_dir: Path, point: Point) -> dict[str, Any]:
    pdir = _point_dir(run_dir, point.index)
    try:
        meta = read_json(pdir / "manifest.json")
        row: dict[str, Any] = {"index": point.index, "replicate": point.replicate,
                               "seed": point.seed, "status": meta["status"], "error": "",
                               "wall_s": meta["wall_time_s"]}
        row.update({p: json.dumps(v) if isinstance(v, list) else v
                    for p, v in point.values.items()})
        if meta["status"] == "ok":
            row.update(_scalars(read_json(pdir / "summary.json")))
        else:
            row["error"] = read_json(pdir / "error.json")["message"]
    except (RunDirError, KeyError) as exc:
        raise RunDirError(f"{pdir} is damaged ({exc}); remove it and resume (--resume "
                          f"{run_dir}) to run that point again") from None
    return row


def _columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Rows → one array per column: integers as int64, other numbers as float64 (NaN where
    missing), anything else as text."""
    names = list(dict.fromkeys(name for row in rows for name in row))
    table = {}
    for name in names:
        values = [row.get(name) for row in rows]
        given = [v for v in values if v is not None]
        if len(given) == len(values) and all(type(v) is int for v in given):
            table[name] = np.array(given, dtype=np.int64)
        elif all(isinstance(v, (int, float)) for v in given):
            table[name] = np.array([np.nan if v is None else float(v) for v in values])
        else:
            table[name] = np.array(["" if v is None else str(v) for v in values])
    return table


def _write_csv(path: Path, table: dict[str, np.ndarray]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(table))
        for i in range(len(next(iter(table.values())))):
            writer.writerow([_cell(col[i]) for col in table.values()])


def _cell(value: Any) -> str:
    if isinstance(value, np.floating):
        return "" if np.isnan(value) else repr(float(value))
    return str(value)


def _finish(out: Path, cfg: dict[str, Any], exp: experiments.Experiment, points: list[Point],
            wall: float, recorded: dict[str, Any]) -> Path:
    """Aggregate the points into table.csv/npz, figures, manifest.json and summary.json."""
    rows = [_row(out, p) for p in points]
    table = _columns(rows)
    _write_csv(out / "table.csv", table)
    save_npz(out / "table.npz", table)
    draw_sweep(out, table, cfg, exp)
    failed = [r for r in rows if r["status"] != "ok"]
    workers = [json.loads((_point_dir(out, p.index) / "manifest.json").read_text())["worker"]
               for p in points]
    seeds = {"master": cfg["seed"], "points": {str(p.index): p.seed for p in points}}
    extra = {"experiment": exp.name, "sessions": sessions(out), "n_points": len(points),
             "inputs": recorded,
             "workers": sorted({f"{w['host']}:{w['pid']}" for w in workers}),
             "worker_brian2_codegen_targets": sorted({w["brian2_codegen_target"] for w in workers
                                                      if w["brian2_codegen_target"]})}
    write_json(out / "manifest.json", manifest(seeds, wall, extra=extra))
    write_json(out / "summary.json", {
        "n_points": len(points), "n_ok": len(points) - len(failed), "n_failed": len(failed),
        "failed": [{"index": r["index"], "error": r["error"]} for r in failed],
        "columns": [c for c in table if c not in BOOKKEEPING]})
    if failed:
        first = failed[0]
        raise UserError(f"{len(failed)} of {len(points)} sweep points failed (first: "
                        f"{_point_dir(out, first['index']).relative_to(out)}: {first['error']}); "
                        f"all results are in {out}/table.csv")
    return out


# --- figures --------------------------------------------------------------------------------------
def _numeric(table: dict[str, np.ndarray], name: str) -> bool:
    return table[name].dtype.kind in "fi" and bool(np.isfinite(table[name]).any())


def _varies(column: np.ndarray) -> bool:
    finite = column[np.isfinite(column)]
    return len(finite) > 0 and bool(np.ptp(finite) > 0)


def summary_figure(table: dict[str, np.ndarray], spec: dict[str, Any]) -> Any:
    """One panel per varying numeric summary figure (and the wall time per point) against the first
    numeric swept key (grid before zip), one line per combination of the other swept keys (the keys
    zipped with x move with it), mean ± s.d. over the seeds."""
    from .plotting import figure, layer_colors, panel_label

    grid, zipped = list(spec.get("grid", {})), list(spec.get("zip", {}))
    xkey = next((p for p in grid + zipped if _numeric(table, p)), "replicate")
    others = [p for p in grid + zipped if p != xkey and not (xkey in zipped and p in zipped)]
    metrics = sorted(c for c in table if c not in BOOKKEEPING and c not in grid + zipped
                     and _numeric(table, c) and _varies(table[c])) + ["wall_s"]
    groups = sorted({tuple(str(table[p][i]) for p in others) for i in range(len(table["index"]))})
    ok = table["status"] == "ok"
    fig, axes = figure(min(3, len(metrics)), -(-len(metrics) // 3), width=3.0, height=2.4)
    for i, (ax, metric) in enumerate(zip(axes, metrics)):
        for group, color in zip(groups, layer_colors(len(groups))):
            rows = ok.copy()
            for p, g in zip(others, group):
                rows &= table[p].astype(str) == g
            xs = np.unique(table[xkey][rows])
            ys = [table[metric][rows & (table[xkey] == x)] for x in xs]
            ax.errorbar(xs, [np.mean(y) for y in ys], yerr=[np.std(y) for y in ys], marker="o",
                        color=color, capsize=2,
                        label=", ".join(f"{p} = {g}" for p, g in zip(others, group)) or None)
        xs = table[xkey][ok]
        if len(xs) and np.all(xs > 0) and xs.max() / xs.min() >= 20:
            ax.set_xscale("log")
        ax.set_xlabel(xkey)
        ax.set_ylabel("wall time per point (s)" if metric == "wall_s" else metric)
        panel_label(ax, string.ascii_lowercase[i % 26])
    for ax in axes[len(metrics):]:
        ax.set_visible(False)
    if others:
        fig.legend(*axes[0].get_legend_handles_labels(), loc="outside lower center",
                   ncol=min(len(groups), 2))
    fig.suptitle(f"sweep: {int(ok.sum())} of {len(ok)} points ok; mean ± s.d. over "
                 f"{len(spec['seeds'])} seed(s)", fontsize=9)
    return fig


def draw_sweep(run_dir: Path, table: dict[str, np.ndarray], cfg: dict[str, Any],
               exp: experiments.Experiment) -> list[str]:
    """Draw ``figures/sweep_summary`` and the experiment's own ``sweep_figures(table, cfg)``
    (a module-level function of the experiment, when it defines one)."""
    import matplotlib.pyplot as plt

    figs = {"sweep_summary": summary_figure(table, cfg["sweep"])}
    own = getattr(importlib.import_module(experiments.REGISTRY[exp.name]), "sweep_figures", None)
    if own is not None:
        figs.update(own(table, cfg))
    fig_dir = run_dir / "figures"
    fig_dir.mkdir(exist_ok=True)
    for name, fig in figs.items():
        save_figure(fig, fig_dir, name)
        plt.close(fig)
    return list(figs)


def replot_sweep(run_dir: Path) -> list[str]:
    """Redraw the figures of a finished sweep from its config.toml and table.npz."""
    from .runner import resolve

    if not (run_dir / "table.npz").is_file():
        raise UserError(f"{run_dir}: the sweep is not finished (no table.npz); resume it with "
                        f"--resume {run_dir}")
    cfg, exp = resolve(run_dir / "config.toml")
    table = npzfile.load(run_dir / "table.npz", memory_limit(), RunDirError)
    return draw_sweep(run_dir, table, cfg, exp)
