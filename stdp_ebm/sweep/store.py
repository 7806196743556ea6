"""The sweep's run directory on disk: one atomically written directory per point, the session log,
and the checks that let a killed sweep resume (same plan, stale temporaries removed)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path
from typing import Any

from ..config import difference
from ..errors import UserError
from ..inputs import check_same
from ..rundir import atomic_directory, manifest, write_config, write_json, write_result
from .plan import Point
from .worker import Outcome

__all__ = ["point_dir", "finished", "log", "sessions", "open_sweep", "write_point"]


def point_dir(run_dir: Path, index: int) -> Path:
    return run_dir / "points" / f"{index:04d}"


def finished(run_dir: Path) -> set[int]:
    """Indices of the points whose directory exists (each was renamed into place complete)."""
    points = run_dir / "points"
    if not points.is_dir():
        return set()
    return {int(d.name) for d in points.iterdir() if d.is_dir() and d.name.isdigit()}


def log(run_dir: Path, entry: dict[str, Any]) -> None:
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


def open_sweep(out: Path, cfg: dict[str, Any], plan: dict[str, Any], resume: bool) -> None:
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
        raise UserError(f"{out}: holds a sweep of another config ({difference(stored, plan)}); "
                        "resume with the same config and --set options")
    for stale in (out / "points").glob(".*.tmp-*"):  # points being written when the sweep died
        shutil.rmtree(stale, ignore_errors=True)
    log = out / "sweep.log"
    if log.is_file() and log.stat().st_size and not log.read_bytes().endswith(b"\n"):
        with open(log, "a", encoding="utf-8") as f:  # end the line torn by the kill
            f.write("\n")


def write_point(run_dir: Path, point: Point, outcome: Outcome, experiment: str,
                 session: int) -> None:
    seeds = {"master": point.seed, "derived": outcome.seeds}
    extra = {"experiment": experiment, "point": point.index, "replicate": point.replicate,
             "values": point.values, "session": session, "worker": outcome.worker,
             "status": "ok" if outcome.error is None else "error"}
    with atomic_directory(point_dir(run_dir, point.index)) as tmp:
        if outcome.error is None:
            write_result(tmp, point.cfg, outcome.result.data, outcome.result.summary, seeds, outcome.wall_s, extra)
        else:
            write_config(tmp / "config.toml", point.cfg)
            write_json(tmp / "error.json", outcome.error)
            write_json(tmp / "manifest.json", manifest(seeds, outcome.wall_s, extra=extra))
    log(run_dir, {"point": point.index, "session": session, "status": extra["status"]})
