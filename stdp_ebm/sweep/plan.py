"""The plan of a sweep: a ``[sweep]`` table validated and expanded into points, each with its own
full, validated config (zip rows × grid combinations × seeds, seed fastest)."""

from __future__ import annotations

import itertools
import json
import math
from dataclasses import dataclass
from typing import Any, Iterator

from ..config import ConfigError, Key, Schema, coerce, fail, suggest
from ..experiments import Experiment
from ..seeds import Seeds

__all__ = ["SPEC", "MAX_POINTS", "Point", "parse_spec", "expand", "variants", "plan"]

#: The keys of a ``[sweep]`` table and what each means.
SPEC: dict[str, str] = {
    "grid": "table of section.key = [values]: every combination is a point",
    "zip": "table of section.key = [values] of equal length, taken together",
    "seeds": "number of replicates (seeds derived from the master seed) or a list of seeds",
    "timeout": "seconds one point may run before it is stopped and recorded as failed",
}
#: The most points (rows × combinations × seeds) a sweep may have.
MAX_POINTS = 100_000
SEEDS_N = Key("int", 1, SPEC["seeds"], low=1, high=MAX_POINTS)
SEEDS_LIST = Key("ints", [], SPEC["seeds"], low=0, high=2**63 - 1)
TIMEOUT = Key("float", 0.0, SPEC["timeout"], low=0.0, open_low=True, high=1e7)  # 116 days


@dataclass(frozen=True)
class Point:
    """One point of a sweep.

    Parameters
    ----------
    index : int
        Its number (zip rows × grid combinations × seeds, seed fastest).
    replicate : int
        Its seed's index in the sweep's seed list.
    seed : int
        Its master seed.
    values : dict of str to object
        ``"section.key"`` -> the swept value, as validated.
    cfg : dict
        The point's full, validated config (no ``[sweep]``).
    """
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

    Parameters
    ----------
    raw : object
        The ``[sweep]`` table as read from TOML.
    schema : dict
        The experiment's config schema (the keys that may be swept).
    master : int
        The config's master seed (replicate seeds derive from it).
    source : str
        The config's name, for error messages.

    Returns
    -------
    dict
        ``grid`` and ``zip`` (dotted path -> list of values), ``seeds`` (list of int) and ``timeout``
        (s) when given.

    Raises
    ------
    ConfigError
        Naming ``source`` and the offending entry.
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


def expand(cfg: dict[str, Any], exp: Experiment, source: str) -> list[Point]:
    """The points of the sweep in ``cfg["sweep"]``, each config validated and cross-checked.

    Parameters
    ----------
    cfg : dict
        The resolved config with its parsed ``sweep`` entry.
    exp : Experiment
        The experiment (validates each point's config).
    source : str
        The config's name, for error messages.

    Returns
    -------
    list of Point
        In index order.

    Raises
    ------
    ConfigError
        If a point's config is invalid (naming the point and its values).
    """
    spec = cfg["sweep"]
    base = {k: v for k, v in cfg.items() if k != "sweep"}
    rows = [{**z, **g} for z in _rows(spec.get("zip", {}), True)
            for g in _rows(spec.get("grid", {}), False)]
    points: list[Point] = []
    for values, (replicate, seed) in itertools.product(rows, enumerate(spec["seeds"])):
        raw = json.loads(json.dumps(base))  # a deep copy of plain data
        for path, value in values.items():
            section, key = path.split(".", 1)
            raw[section][key] = value
        raw["seed"] = seed
        try:
            point_cfg = exp.validate(raw, source)
        except ConfigError as exc:
            raise ConfigError(f"{exc} (in [sweep], point {len(points)}: {_show(values)})") from None
        swept = {p: point_cfg[p.split(".")[0]][p.split(".", 1)[1]] for p in values}
        points.append(Point(len(points), replicate, seed, swept, point_cfg))
    return points


def variants(cfg: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The config of each zip × grid row of the sweep in ``cfg`` (its points without their seeds).

    Neither copied deeply nor validated again: cheap, for estimates.

    Parameters
    ----------
    cfg : dict
        The resolved config with its parsed ``sweep`` entry.

    Yields
    ------
    dict
        One config per row.
    """
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


def plan(cfg: dict[str, Any], exp: Experiment, points: list[Point]) -> dict[str, Any]:
    """JSON-able description of the sweep; a resumed sweep must have the same plan.

    Parameters
    ----------
    cfg : dict
        The resolved config.
    exp : Experiment
        The experiment.
    points : list of Point
        :func:`expand`'s points.

    Returns
    -------
    dict
        ``experiment``, ``config`` and every point's ``index``, ``replicate``, ``seed`` and ``values``.
    """
    described = {"experiment": exp.name, "config": cfg,
                 "points": [{"index": p.index, "replicate": p.replicate, "seed": p.seed,
                             "values": p.values} for p in points]}
    return json.loads(json.dumps(described))

