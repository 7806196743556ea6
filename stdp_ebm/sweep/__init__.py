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

import datetime
import json
import os
import sys
import time
from concurrent.futures import as_completed
from pathlib import Path
from typing import Any

from .. import experiments, npzfile, progress
from ..errors import NonFiniteResult, RunDirError, UserError
from ..inputs import input_files, record
from ..resources import memory_limit
from ..rundir import manifest, save_npz, write_json
from .executors import check_scheduler, executor
from .figures import draw_sweep
from .plan import Point, expand, parse_spec, plan, variants
from .store import finished, log, open_sweep, point_dir, sessions, write_point
from .table import BOOKKEEPING, columns, row, write_csv
from .worker import Task, run_point

__all__ = ["parse_spec", "expand", "variants", "check_scheduler", "run_sweep", "replot_sweep",
           "finished", "sessions"]


def run_sweep(cfg: dict[str, Any], exp: experiments.Experiment, out: Path,
              ctx: experiments.RunContext) -> Path:
    """Run every unfinished point of the sweep in ``cfg`` and aggregate them into ``out``.

    Failed points are recorded and the sweep goes on; if any failed, a :class:`UserError` reports them
    once all are done.

    Parameters
    ----------
    cfg : dict
        The resolved config, its ``sweep`` entry parsed (:func:`parse_spec`).
    exp : Experiment
        The experiment swept.
    out : pathlib.Path
        The sweep's run directory (created, or an unfinished sweep of the same plan).
    ctx : RunContext
        ``ctx.workers`` processes (``ctx.options["scheduler"]``: a Dask cluster instead);
        ``ctx.options["resume"]``: ``out`` must hold the unfinished sweep;
        ``ctx.options["allow_nonfinite"]`` accepts non-finite headline numbers.

    Returns
    -------
    pathlib.Path
        ``out``, complete (``summary.json`` written).

    Raises
    ------
    UserError
        If a point failed, the executor failed, or ``out`` holds another sweep.
    NonFiniteResult
        If points have non-finite headline numbers (unless allowed).
    """
    points = expand(cfg, exp, str(out / "config.toml"))
    files = input_files([p.cfg for p in points], ctx.network_path)
    recorded = record(files)
    described = {**plan(cfg, exp, points), "inputs": recorded}
    scheduler = ctx.options.get("scheduler")
    t0 = time.perf_counter()
    with executor(ctx.workers, scheduler) as ex:
        open_sweep(out, cfg, described, bool(ctx.options.get("resume")))
        done = finished(out)
        session = len(sessions(out)) + 1
        todo = [p for p in points if p.index not in done]
        log(out, {"session": session, "started": _now(), "argv": sys.argv,
                   "executor": scheduler or f"process pool ({ctx.workers} workers)",
                   "finished_before": sorted(done), "pending": [p.index for p in todo]})
        # The --network file's bytes travel with each point of the process pool (pickled as a
        # point is dispatched), so no point reads the file again. A Dask client would serialise
        # them into every task; its workers get the path instead, read it once and refuse bytes
        # of another hash than the recorded one.
        network: str | Path | None = files.get("--network")
        assert network is None or isinstance(network, str)  # a NetworkFile (input_files)
        net_hash = recorded["--network"]["sha256"] if network is not None else None
        if network is not None and scheduler is not None:
            network = str(network)
        futures = {ex.submit(run_point, Task(exp.name, p.index, p.cfg, network,
                                             cfg["sweep"].get("timeout"), net_hash, os.getpid())): p
                   for p in todo}
        with progress.bar(len(points), f"{exp.name} sweep", "point", len(done)) as bar:
            for future in as_completed(futures):
                try:
                    outcome = future.result()
                except Exception as exc:  # noqa: BLE001 -- the executor itself failed
                    raise UserError(
                        f"sweep stopped: the executor failed ({type(exc).__name__}: {exc}); "
                        f"the {len(finished(out))} finished points are kept, resume with "
                        f"--resume {out}") from None
                write_point(out, futures[future], outcome, exp.name, session)
                bar.update()
    return _finish(out, cfg, exp, points, time.perf_counter() - t0, recorded,
                   bool(ctx.options.get("allow_nonfinite")))


def _now() -> str:
    return datetime.datetime.now(datetime.timezone.utc).isoformat(timespec="seconds")


def _finish(out: Path, cfg: dict[str, Any], exp: experiments.Experiment, points: list[Point],
            wall: float, recorded: dict[str, Any], allow_nonfinite: bool = False) -> Path:
    """Aggregate the points into table.csv/npz, figures, manifest.json and summary.json; then
    report failed points (:class:`UserError`), else points whose headline numbers are not finite
    (:class:`NonFiniteResult`, unless ``allow_nonfinite``)."""
    rows = [row(out, p) for p in points]
    table = columns(rows)
    write_csv(out / "table.csv", table)
    save_npz(out / "table.npz", table)
    draw_sweep(out, table, cfg, exp)
    failed = [r for r in rows if r["status"] != "ok"]
    metas = [json.loads((point_dir(out, p.index) / "manifest.json").read_text()) for p in points]
    workers = [m["worker"] for m in metas]
    nonfinite = [(p.index, m["nonfinite"]) for p, m in zip(points, metas) if m.get("nonfinite")]
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
                        f"{point_dir(out, first['index']).relative_to(out)}: {first['error']}); "
                        f"all results are in {out}/table.csv")
    if nonfinite and not allow_nonfinite:
        index, paths = nonfinite[0]
        raise NonFiniteResult(f"{out}: the sweep finished but {len(nonfinite)} of {len(points)} "
                              "points have headline numbers that are not finite (first: "
                              f"points/{index:04d} summary.json {paths[0]}); the results are kept "
                              "to inspect; --allow-nonfinite accepts them")
    return out


def replot_sweep(run_dir: Path, cfg: dict[str, Any], exp: experiments.Experiment) -> list[str]:
    """Redraw the figures of a finished sweep from its table.npz.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    cfg : dict
        Its resolved config (``config.toml``).
    exp : Experiment
        The experiment swept.

    Returns
    -------
    list of str
        The names of the figures drawn.

    Raises
    ------
    UserError
        If the sweep is not finished.
    """
    if not (run_dir / "table.npz").is_file():
        raise UserError(f"{run_dir}: the sweep is not finished (no table.npz); resume it with "
                        f"--resume {run_dir}")
    table = npzfile.load(run_dir / "table.npz", memory_limit(), RunDirError)
    return draw_sweep(run_dir, table, cfg, exp)
