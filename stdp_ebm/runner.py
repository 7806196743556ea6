"""Load a config, validate it, run its experiment and write the run directory atomically."""

from __future__ import annotations

import datetime
import json
import time
from pathlib import Path
from typing import Any

import numpy as np

from . import config as cfgmod
from . import experiments
from .rundir import atomic_directory, manifest, save_figure, save_npz, write_config, write_json
from .seeds import Seeds


def resolve(path: str | Path, overrides: list[str] | None = None) -> tuple[dict[str, Any],
                                                                             experiments.Experiment]:
    """Read ``path``, apply ``--set`` overrides, validate; return (resolved config, experiment)."""
    source = str(path)
    raw = cfgmod.apply_overrides(cfgmod.read_toml(path), overrides or [])
    name = raw.get("experiment")
    if not isinstance(name, str) or not name:
        raise cfgmod.ConfigError(f"{source}: missing top-level key 'experiment' "
                                 f"(one of {', '.join(sorted(experiments.REGISTRY))})")
    exp = experiments.get(name, source)
    cfg = cfgmod.validate(raw, exp.schema, source)
    if exp.check is not None:
        exp.check(cfg, source)
    return cfg, exp


def default_out(config_path: str | Path) -> Path:
    stamp = datetime.datetime.now().strftime("%Y%m%d-%H%M%S")
    return Path("runs") / f"{Path(config_path).stem}-{stamp}"


def execute(cfg: dict[str, Any], exp: experiments.Experiment, out: Path,
            ctx: experiments.RunContext | None = None) -> Path:
    """Run ``exp`` with ``cfg`` and write everything into ``out`` (atomically)."""
    ctx = ctx or experiments.RunContext(seeds=Seeds(cfg["seed"]))
    with atomic_directory(Path(out)) as tmp:
        t0 = time.perf_counter()
        result = exp.run(cfg, ctx)
        wall = time.perf_counter() - t0
        write_config(tmp / "config.toml", cfg)
        save_npz(tmp / "data.npz", result.data)
        write_json(tmp / "summary.json", result.summary)
        seeds = {"master": ctx.seeds.master, "derived": dict(ctx.seeds.used)}
        extra = {"network_file": ctx.network_path, "experiment": exp.name}
        write_json(tmp / "manifest.json", manifest(seeds, wall, extra=extra))
        draw(tmp, result.data, result.summary, cfg, exp)
    return Path(out)


def draw(run_dir: Path, data: dict[str, np.ndarray], summary: dict, cfg: dict,
         exp: experiments.Experiment) -> list[str]:
    """Make the experiment's figures from its data into ``run_dir/figures``."""
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig_dir = Path(run_dir) / "figures"
    fig_dir.mkdir(exist_ok=True)
    names = []
    for name, fig in exp.figures(data, summary, cfg).items():
        save_figure(fig, fig_dir, name)
        plt.close(fig)
        names.append(name)
    return names


def replot(run_dir: str | Path) -> list[str]:
    """Redraw the figures of a finished run from its config.toml, data.npz and summary.json."""
    run_dir = Path(run_dir)
    for name in ("config.toml", "data.npz", "summary.json"):
        if not (run_dir / name).is_file():
            raise cfgmod.ConfigError(f"{run_dir}: not a run directory (no {name})")
    cfg, exp = resolve(run_dir / "config.toml")
    with np.load(run_dir / "data.npz", allow_pickle=False) as f:
        data = {k: f[k] for k in f.files}
    summary = json.loads((run_dir / "summary.json").read_text())
    return draw(run_dir, data, summary, cfg, exp)
