"""Load a config, validate it, run its experiment and write the run directory atomically.

A config with a ``[sweep]`` table runs as a sweep (:mod:`stdp_ebm.sweep`): one task per point.
Imports run one way: config → experiments → sweep → runner → cli.
"""

from __future__ import annotations

import dataclasses
import datetime
import time
from pathlib import Path
from typing import Any

import tomli_w

from . import config as cfgmod
from . import experiments, inputs, npzfile, progress, resumable, sweep
from .errors import NonFiniteResult, RunDirError, UserError
from .network import NetworkFile
from .resources import memory_limit
from .rundir import (atomic_directory, holds_work, nonfinite_headline, out_lock,
                     partial_directory, read_json, save_figures, write_result)
from .seeds import Seeds

__all__ = ["run_config", "resolve", "execute", "replot", "in_progress", "default_out"]


def resolve(path: str | Path, overrides: list[str] | None = None) -> tuple[dict[str, Any],
                                                                             experiments.Experiment]:
    """Read a config, apply ``--set`` overrides and validate it.

    Parameters
    ----------
    path : str or pathlib.Path
        A config file, or a shipped config's name (``"alignment"``).
    overrides : list of str or None
        ``--set`` assignments, ``"section.key=value"`` (TOML values).

    Returns
    -------
    cfg : dict
        The resolved config (defaults filled in; a ``[sweep]`` table parsed and every point validated).
    exp : Experiment
        The experiment the config names.

    Raises
    ------
    ConfigError
        If the config is invalid.
    """
    path = cfgmod.find_config(path)
    source = cfgmod.source_name(path)
    raw = cfgmod.apply_overrides(cfgmod.read_toml(path), overrides or [])
    name = raw.get("experiment")
    if not isinstance(name, str) or not name:
        raise cfgmod.ConfigError(f"{source}: top-level key 'experiment' must name one of "
                                 f"{', '.join(sorted(experiments.REGISTRY))}")
    exp = experiments.get(name, source)
    spec = raw.pop("sweep", None)
    cfg = exp.validate(raw, source)
    if spec is not None:
        cfg["sweep"] = sweep.parse_spec(spec, exp.schema, cfg["seed"], source)
        sweep.expand(cfg, exp, source)  # validates every point before anything is written
    return cfg, exp


def run_config(config: str | Path, out: str | Path, overrides: list[str] | None = None,
               progress: bool = False) -> Path:
    """Run a config into the new run directory ``out``, as ``stdp-ebm run CONFIG --out OUT`` does.

    Parameters
    ----------
    config : str or pathlib.Path
        A shipped config's name such as ``"alignment"``, or a TOML file.
    out : str or pathlib.Path
        The run directory to create (absent or empty).
    overrides : list of str or None
        ``--set`` assignments, ``"section.key=value"``.
    progress : bool
        Show progress bars or status lines on stderr.

    Returns
    -------
    pathlib.Path
        ``out``, holding ``config.toml``, ``manifest.json``, ``data.npz``, ``summary.json`` and
        ``figures/``.

    Examples
    --------
    >>> import json, stdp_ebm as se                                        # doctest: +SKIP
    >>> run = se.run_config("alignment", "runs/a", ["alignment.betas=[0.1, 0.01]"])  # doctest: +SKIP
    >>> json.loads((run / "summary.json").read_text())["headline"]["min_cos"]  # doctest: +SKIP
    """
    cfg, exp = resolve(config, overrides)
    return execute(cfg, exp, Path(out),
                   experiments.RunContext(seeds=Seeds(cfg["seed"]), progress=progress))


def _stamp() -> str:
    return datetime.datetime.now().strftime("%Y%m%d-%H%M%S")


def default_out(config_path: str | Path, root: str | Path = "runs") -> Path:
    """``runs/<config>-<date>-<time>``, or with ``-2``, ``-3``, … appended when that name is taken.

    Taken: a run directory, an unfinished run's partial directory or a lock exists, so runs started in
    the same second get distinct names. Two that choose one name at the same instant are separated by
    the lock (:func:`stdp_ebm.rundir.out_lock`): the second is refused with
    :class:`~stdp_ebm.errors.OutLocked` before anything runs and chooses again.

    Parameters
    ----------
    config_path : str or pathlib.Path
        The config; its stem starts the name.
    root : str or pathlib.Path
        The directory of runs.

    Returns
    -------
    pathlib.Path
        A free run directory name under ``root``.
    """
    base = f"{Path(config_path).stem}-{_stamp()}"
    for k in range(1, 10_000):
        out = Path(root) / (base if k == 1 else f"{base}-{k}")
        if not any(p.exists() or p.is_symlink() for p in
                   (out, partial_directory(out), out.parent / f".{out.name}.lock")):
            return out
    raise RunDirError(f"{root}: 10000 runs named {base}…; give --out")


def execute(cfg: dict[str, Any], exp: experiments.Experiment, out: Path,
            ctx: experiments.RunContext | None = None) -> Path:
    """Run ``exp`` with ``cfg`` and write everything into ``out`` (atomically, under ``out``'s lock).

    A config with a ``sweep`` entry runs every point of the sweep (:func:`stdp_ebm.sweep.run_sweep`).

    Parameters
    ----------
    cfg : dict
        The resolved config (:func:`resolve`).
    exp : Experiment
        The experiment.
    out : pathlib.Path
        The run directory to create.
    ctx : RunContext or None
        Seeds, progress, ``--network`` file and options; None derives the seeds from ``cfg["seed"]``.

    Returns
    -------
    pathlib.Path
        ``out``.
    """
    ctx = ctx or experiments.RunContext(seeds=Seeds(cfg["seed"]))
    if ctx.network_path:  # read once: the bytes hashed for the record are the bytes parsed
        ctx = dataclasses.replace(ctx, network_path=NetworkFile.read(ctx.network_path))
    progress.configure(ctx.progress)
    with out_lock(Path(out)):
        if "sweep" in cfg:
            return sweep.run_sweep(cfg, exp, Path(out), ctx)
        _run(cfg, exp, Path(out), ctx)
    return Path(out)


def _run(cfg: dict[str, Any], exp: experiments.Experiment, out: Path,
         ctx: experiments.RunContext) -> None:
    """One run (not a sweep) into ``out``; a resumable one continues its partial directory and
    records its sittings (:mod:`stdp_ebm.resumable`)."""
    recorded = inputs.record(inputs.input_files([cfg], ctx.network_path))
    if exp.resumable:
        check_partial(out, cfg, recorded)
    with atomic_directory(out, resumable=exp.resumable) as tmp:
        extra: dict[str, Any] = {}
        if exp.resumable:
            sitting = resumable.begin(tmp, cfg, recorded, bool(ctx.options.get("resume")))
            ctx = dataclasses.replace(ctx, work_dir=tmp)
        t0 = time.perf_counter()
        how = "finished"
        try:
            result = exp.run(cfg, ctx)
        except BaseException as exc:
            how = f"failed: {type(exc).__name__}" if isinstance(exc, Exception) else "interrupted"
            raise
        finally:
            wall = time.perf_counter() - t0
            if exp.resumable:
                extra["sittings"] = resumable.end(tmp, sitting, wall, how)
        seeds = {"master": ctx.seeds.master, "derived": dict(ctx.seeds.used)}
        write_result(tmp, cfg, result.data, result.summary, seeds, wall,
                     {"experiment": exp.name,
                      "network_file": None if ctx.network_path is None else str(ctx.network_path),
                      "inputs": recorded, **extra})
        save_figures(tmp, exp.figures(result.data, result.summary, cfg))
    check_finite(exp.name, result.summary, out, bool(ctx.options.get("allow_nonfinite")))


def check_finite(experiment: str, summary: dict[str, Any], out: Path, allow: bool) -> None:
    """After the run directory is written: :class:`NonFiniteResult` (exit status 3) if headline
    numbers of ``summary`` are not finite, unless ``allow`` (``--allow-nonfinite``)."""
    bad = [] if allow else nonfinite_headline(experiment, summary)
    if bad:
        more = f" and {len(bad) - 1} more" if len(bad) > 1 else ""
        raise NonFiniteResult(f"{out}: the run finished but its headline numbers are not finite "
                              f"(summary.json {bad[0]}{more}); the run directory is kept to "
                              "inspect; --allow-nonfinite accepts such a result")


def check_partial(out: Path, cfg: dict[str, Any], recorded: inputs.Record) -> None:
    """An interrupted run left in ``.<out>.partial`` is continued only with the config and the
    input files it was started with: its ``config.toml`` and ``inputs.json`` must be the files
    it wrote (their hashes in ``started.json``), the config must equal ``config.toml`` and the
    inputs must have the SHA-256 of ``inputs.json``; no checkpoint may hold more epochs than the
    config trains. The stored config is validated again, so keys added to the schema since (at
    their defaults, which keep the old behaviour) do not make it another config."""
    partial = partial_directory(out)
    previous = partial / "config.toml"
    if not previous.is_file():
        if holds_work(partial):
            raise RunDirError(f"--out {out}: {partial} holds checkpoints but no config.toml, so "
                              "nothing says which config trained them; restore it, or remove "
                              f"{partial} to start again")
        return
    resumable.check_started(partial)
    if previous.read_text(encoding="utf-8") != tomli_w.dumps(cfg):
        try:
            then = resolve(previous)[0]
        except UserError:
            then = cfgmod.read_toml(previous)
        if tomli_w.dumps(then) != tomli_w.dumps(cfg):
            raise UserError(f"--out {out}: {partial} holds an interrupted run of another config "
                            f"({cfgmod.difference(then, cfg)}); rerun with its config "
                            "(--resume OUT) or remove it")
    stored = partial / "inputs.json"
    before = read_json(stored) if stored.is_file() else None
    inputs.check_same(before, recorded, f"--out {out}: the interrupted run in {partial}")
    resumable.check_epochs(partial, cfg)


def in_progress(run_dir: str | Path) -> Path | None:
    """The partial directory of a resumable run into ``run_dir`` that has not finished.

    Running, or interrupted.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        The run directory, or that partial directory itself.

    Returns
    -------
    pathlib.Path or None
        The partial directory; None for any other directory (a finished run among them).
    """
    run_dir = Path(run_dir)
    if (run_dir / "summary.json").is_file():
        return None
    partial = run_dir if run_dir.name.startswith(".") and run_dir.name.endswith(".partial") \
        else partial_directory(run_dir)
    return partial if (partial / "config.toml").is_file() else None


def replot(run_dir: str | Path) -> list[str]:
    """Redraw the figures of a finished run (or sweep) from the files it wrote.

    For a training run in progress (:func:`in_progress`), draw its finished epochs from their
    checkpoints into the ``figures`` folder of its partial directory, where the final figures will
    replace them.

    Parameters
    ----------
    run_dir : str or pathlib.Path
        A run or sweep directory (or a training run's partial directory).

    Returns
    -------
    list of str
        The names of the figures drawn.

    Raises
    ------
    RunDirError
        If the run directory is damaged (truncated data.npz, unreadable summary.json, a missing array
        or summary entry, ``figures`` not a directory): bad input, one line.
    """
    partial = in_progress(run_dir)
    run_dir = partial or Path(run_dir)
    if (run_dir / "figures").exists() and not (run_dir / "figures").is_dir():
        raise RunDirError(f"{run_dir}/figures: not a directory; remove it to redraw")
    try:
        if partial is not None:
            return _plot_interim(partial)
        if (run_dir / "sweep.json").is_file():
            return sweep.replot_sweep(run_dir, *resolve(run_dir / "config.toml"))
        return _replot(run_dir)
    except (KeyError, IndexError, ValueError, TypeError) as exc:  # data that do not fit figures
        raise RunDirError(f"{run_dir}: its data do not fit the experiment's figures "
                          f"({type(exc).__name__}: {exc}); a damaged or edited run "
                          "directory?") from None


def _plot_interim(partial: Path) -> list[str]:
    resumable.check_started(partial)
    cfg, exp = resolve(partial / "config.toml")
    resumable.check_epochs(partial, cfg)
    if exp.interim is None:
        raise RunDirError(f"{partial}: a run of {exp.name} in progress; it draws its figures "
                          "when it finishes")
    got = exp.interim(cfg, partial)
    if got is None:
        raise RunDirError(f"{partial}: a run in progress with no finished epoch to draw yet")
    return save_figures(partial, exp.figures(*got, cfg))


def _replot(run_dir: Path) -> list[str]:
    for name in ("config.toml", "data.npz", "summary.json"):
        if not (run_dir / name).is_file():
            raise cfgmod.ConfigError(f"{run_dir}: not a run directory (no {name})")
    cfg, exp = resolve(run_dir / "config.toml")
    data = npzfile.load(run_dir / "data.npz", memory_limit(), RunDirError)
    return save_figures(run_dir, exp.figures(data, read_json(run_dir / "summary.json"), cfg))
