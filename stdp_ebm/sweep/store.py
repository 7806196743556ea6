"""The sweep's run directory on disk: one atomically written directory per point, the session log,
and the checks that let a killed sweep resume (same plan, stale temporaries removed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..config import difference
from ..errors import RunDirError, UserError
from ..inputs import check_same
from ..rundir import (atomic_directory, manifest, nonfinite_headline, write_config, write_json,
                      write_result)
from .plan import Point
from .worker import Outcome

#: a sweep of at most 100 000 points logs a few MB; a log above this was not written by it
MAX_LOG_BYTES = 256 << 20

__all__ = ["point_dir", "finished", "log", "sessions", "open_sweep", "write_point"]


def point_dir(run_dir: Path, index: int) -> Path:
    """The directory of point ``index``: ``points/NNNN``.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    index : int
        The point's index.

    Returns
    -------
    pathlib.Path
        ``run_dir/points/<index, 4 digits>``.
    """
    return run_dir / "points" / f"{index:04d}"


def finished(run_dir: Path) -> set[int]:
    """Indices of the points whose directory exists (each was renamed into place complete).

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.

    Returns
    -------
    set of int
        The finished points.
    """
    points = run_dir / "points"
    if not points.is_dir():
        return set()
    return {int(d.name) for d in points.iterdir() if d.is_dir() and d.name.isdigit()}


def log(run_dir: Path, entry: dict[str, Any]) -> None:
    """Append one JSON line to ``sweep.log`` and flush it to disk.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    entry : dict
        A session entry (``session`` key) or a point entry (``point`` key).
    """
    with open(run_dir / "sweep.log", "a", encoding="utf-8") as f:
        f.write(json.dumps(entry, sort_keys=True) + "\n")
        f.flush()
        os.fsync(f.fileno())


def sessions(run_dir: Path) -> list[dict[str, Any]]:
    """The session entries of ``sweep.log`` (one per start or resume), oldest first.

    Lines torn by a kill or damaged are skipped: the point directories are the record of what
    finished.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.

    Returns
    -------
    list of dict
        The session entries.

    Raises
    ------
    RunDirError
        If the log is larger than a sweep's log can grow to.
    """
    path = run_dir / "sweep.log"
    if not path.is_file():
        return []
    if path.stat().st_size > MAX_LOG_BYTES:
        raise RunDirError(f"{path}: {path.stat().st_size} bytes, more than a sweep's log can "
                          f"grow to ({MAX_LOG_BYTES}); a damaged or replaced file: remove it "
                          "(the point directories are the record of what finished) and resume")
    entries = []
    for line in path.read_bytes().splitlines():
        try:
            entries.append(json.loads(line.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError, RecursionError):
            # a line torn by a kill, or damaged: the log is a journal of sessions, the point
            # directories are the truth of what finished, so a bad line is skipped, not fatal
            continue
    return [e for e in entries if isinstance(e, dict) and "session" in e and "point" not in e]


def open_sweep(out: Path, cfg: dict[str, Any], plan: dict[str, Any], resume: bool) -> None:
    """Create the sweep directory, or check that ``out`` holds an unfinished sweep of this plan.

    Parameters
    ----------
    out : pathlib.Path
        The sweep's run directory.
    cfg : dict
        The resolved config (written as ``config.toml``).
    plan : dict
        The plan (:func:`stdp_ebm.sweep.plan.plan`) with its ``inputs`` record.
    resume : bool
        Whether ``out`` must already hold the sweep (``--resume``).

    Raises
    ------
    UserError
        If ``out`` is complete, holds another sweep, or (``resume``) is not a sweep.
    RunDirError
        If its log is not a regular file or is too large.
    InputError
        If the sweep's input files changed.
    """
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
        raise UserError(f"{out}: holds a sweep of another config ({difference(stored, plan)}); "
                        "resume with the same config and --set options")
    for stale in (out / "points").glob(".*.tmp-*"):  # points being written when the sweep died
        shutil.rmtree(stale, ignore_errors=True)
    log = out / "sweep.log"
    if (log.exists() or log.is_symlink()) and not log.is_file():
        raise RunDirError(f"{log}: not a regular file; remove it (the point directories are the "
                          "record of what finished) and resume")
    sessions(out)  # a log too large to be this sweep's is refused before anything runs
    if log.is_file() and log.stat().st_size:
        with open(log, "rb") as f:
            f.seek(-1, os.SEEK_END)
            torn = f.read(1) != b"\n"
        if torn:
            with open(log, "a", encoding="utf-8") as f:  # end the line torn by the kill
                f.write("\n")


def write_point(run_dir: Path, point: Point, outcome: Outcome, experiment: str,
                 session: int) -> None:
    """Write a point's run directory (its result, or its ``error.json``) atomically and log it.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    point : Point
        The point.
    outcome : Outcome
        What its worker returned.
    experiment : str
        The experiment's name.
    session : int
        The number of the current session.
    """
    seeds = {"master": point.seed, "derived": outcome.seeds}
    extra = {"experiment": experiment, "point": point.index, "replicate": point.replicate,
             "values": point.values, "session": session, "worker": outcome.worker,
             "status": "ok" if outcome.error is None else "error"}
    result = None
    if outcome.error is None:
        assert outcome.result is not None  # a point without an error has its result
        result = outcome.result
        extra["nonfinite"] = nonfinite_headline(experiment, result.summary)
    with atomic_directory(point_dir(run_dir, point.index)) as tmp:
        if result is not None:
            write_result(tmp, point.cfg, result.data, result.summary, seeds, outcome.wall_s, extra)
        else:
            write_config(tmp / "config.toml", point.cfg)
            write_json(tmp / "error.json", outcome.error)
            write_json(tmp / "manifest.json", manifest(seeds, outcome.wall_s, extra=extra))
    log(run_dir, {"point": point.index, "session": session, "status": extra["status"]})
