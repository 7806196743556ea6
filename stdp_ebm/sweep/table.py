"""The sweep's table: one row per point (bookkeeping, swept values and every scalar of the point's
summary.json under dotted names), as typed columns for table.npz and as table.csv."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import RunDirError
from ..rundir import read_json
from .plan import Point
from .store import point_dir

__all__ = ["BOOKKEEPING", "row", "columns", "write_csv"]

#: The columns every sweep table starts with, before the swept values and the summary numbers.
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
    """The point's row of the table.

    Parameters
    ----------
    run_dir : pathlib.Path
        The sweep's run directory.
    point : Point
        The point.

    Returns
    -------
    dict
        :data:`BOOKKEEPING`, the swept values and every scalar of the point's summary.json under
        dotted names (or its error message).

    Raises
    ------
    RunDirError
        If the point directory was damaged since it was written, naming it.
    """
    pdir = point_dir(run_dir, point.index)
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


def columns(rows: list[dict[str, Any]]) -> dict[str, np.ndarray]:
    """Rows → one array per column.

    Integers as int64, other numbers as float64 (NaN where missing), anything else as text.

    Parameters
    ----------
    rows : list of dict
        :func:`row` of every point.

    Returns
    -------
    dict of str to numpy.ndarray
        One array of length ``len(rows)`` per column, in order of first appearance.

    Examples
    --------
    >>> t = columns([{"index": 0, "cos": 0.5}, {"index": 1}])
    >>> print(t["index"].dtype, t["cos"])
    int64 [0.5 nan]
    """
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
    """Write the table as CSV: a header, then one line per point (NaN as an empty cell).

    Parameters
    ----------
    path : pathlib.Path
        The file (``table.csv``).
    table : dict of str to numpy.ndarray
        :func:`columns`' result.
    """
    with open(path, "w", newline="", encoding="utf-8") as f:
        writer = csv.writer(f)
        writer.writerow(list(table))
        for i in range(len(next(iter(table.values())))):
            writer.writerow([_cell(col[i]) for col in table.values()])


def _cell(value: Any) -> str:
    if isinstance(value, np.floating):
        return "" if np.isnan(value) else repr(float(value))
    return str(value)
