"""The sweep's table: one row per point (bookkeeping, swept values and every scalar of the point's
summary.json under dotted names), as typed columns for table.npz and as table.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from .plan import Point
from .store import point_dir

__all__ = ["BOOKKEEPING", "row", "columns", "write_csv"]

BOOKKEEPING = ("index", "replicate", "seed", "status", "error", "wall_s")


def _scalars(summary: Any, prefix: str = "") -> dict[str, Any]:
    """The scalar leaves of a summary reached through dicts only, with dotted names."""
    out: dict[str, Any] = {}
    if isinstance(summary, dict):
        for key, value in summary.items():
            out.update(_scalars(value, f"{prefix}{key}."))
    elif isinstance(summary, (int, float, str, bool)) or summary is None:
        out[prefix[:-1]] = summary
    return out


def row(run_dir: Path, point: Point) -> dict[str, Any]:
    pdir = point_dir(run_dir, point.index)
    meta = json.loads((pdir / "manifest.json").read_text(encoding="utf-8"))
    row: dict[str, Any] = {"index": point.index, "replicate": point.replicate, "seed": point.seed,
                           "status": meta["status"], "error": "", "wall_s": meta["wall_time_s"]}
    row.update({p: json.dumps(v) if isinstance(v, list) else v for p, v in point.values.items()})
    if meta["status"] == "ok":
        row.update(_scalars(json.loads((pdir / "summary.json").read_text(encoding="utf-8"))))
    else:
        row["error"] = json.loads((pdir / "error.json").read_text(encoding="utf-8"))["message"]
    return row


def columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
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


def write_csv(path: Path, table: dict[str, np.ndarray]) -> None:
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(table))
        for i in range(len(next(iter(table.values())))):
            writer.writerow([_cell(col[i]) for col in table.values()])


def _cell(value: Any) -> str:
    if isinstance(value, np.floating):
        return "" if np.isnan(value) else repr(float(value))
    return str(value)
