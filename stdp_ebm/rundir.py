"""Run directories, written atomically: a temporary sibling directory renamed into place at the end.

Layout: ``config.toml`` (fully resolved), ``manifest.json`` (versions, Python, Brian2 codegen target,
git commit and dirty flag, master and derived seeds, wall time, command line), ``data.npz``,
``summary.json``, ``figures/*.png`` and ``figures/*.svg``, and for training runs ``checkpoints/``.
``data.npz`` is written with fixed zip timestamps so that the same seed gives a bit-identical file.

A resumable run (training) is written in ``.<name>.partial`` next to the run directory: an
interruption (Ctrl-C, kill) leaves it there with the last epoch's checkpoints and the same command
continues from them; an error removes it. Making the directory (atomically, resumably, under a
lock) is :mod:`stdp_ebm.outdir`, whose names are importable from here.
"""

from __future__ import annotations

import io
import json
import math
import platform
import subprocess
import sys
import zipfile
from importlib import metadata
from pathlib import Path
from typing import Any

import numpy as np
import tomli_w

from .errors import RunDirError
from .outdir import (atomic_directory, check_out, holds_work, out_lock,  # noqa: F401
                     partial_directory)

#: The distributions whose versions a run's manifest records.
PACKAGES = ("numpy", "scipy", "matplotlib", "brian2", "cython", "stdp-ebm")


def save_npz(path: Path, arrays: dict[str, np.ndarray]) -> None:
    """Like ``np.savez`` (loadable with ``np.load``) but byte-for-byte reproducible (fixed timestamps).

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    arrays : dict of str to numpy.ndarray
        The arrays by name (stored sorted by name, uncompressed, no pickles).
    """
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_STORED) as zf:
        for name in sorted(arrays):
            buf = io.BytesIO()
            np.lib.format.write_array(buf, np.asarray(arrays[name]), allow_pickle=False)
            info = zipfile.ZipInfo(f"{name}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            zf.writestr(info, buf.getvalue())


def _jsonable(obj: Any) -> Any:
    if isinstance(obj, dict):
        return {str(k): _jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [_jsonable(v) for v in obj]
    if isinstance(obj, np.ndarray):
        return _jsonable(obj.tolist())
    if isinstance(obj, np.generic):
        return _jsonable(obj.item())
    if isinstance(obj, float) and not math.isfinite(obj):
        return None if math.isnan(obj) else ("inf" if obj > 0 else "-inf")
    return obj


#: the headline numbers of each experiment's summary.json: the entries (with everything below them)
#: whose non-finite value means the result is not usable (:func:`nonfinite_headline`). Other
#: entries may be NaN by design (an STDP fit with too few points, a zero crossing not found).
HEADLINE = {"alignment": ("headline",), "unification": ("headline",),
            "noise_bridge": ("headline",), "rate_vs_spike": ("headline", "fixed_point_corr"),
            "train": ("test_error_fraction",),
            "train_spiking": ("test_accuracy_pct", "spk_weights_in_rate_model_test_accuracy_pct"),
            "stdp_window": ("max_sem_fraction_of_max_mean",),
            "early_inference": ("layers",)}


def nonfinite_headline(experiment: str, summary: dict[str, Any]) -> list[str]:
    """Dotted paths of the non-finite numbers among ``experiment``'s headline numbers in ``summary``.

    Parameters
    ----------
    experiment : str
        The experiment's name (a key of :data:`HEADLINE`).
    summary : dict
        Its ``summary.json`` content.

    Returns
    -------
    list of str
        E.g. ``["headline.min_cos"]``; empty if every headline number is finite.
    """
    found: list[str] = []

    def walk(value: Any, path: str) -> None:
        if isinstance(value, dict):
            for k, v in value.items():
                walk(v, f"{path}.{k}")
        elif isinstance(value, (list, tuple, np.ndarray)):
            for i, v in enumerate(np.asarray(value, dtype=object).ravel()):
                walk(v, f"{path}[{i}]")
        elif isinstance(value, (float, np.floating)) and not math.isfinite(value):
            found.append(path)

    for key in HEADLINE.get(experiment, ()):
        if key in summary:
            walk(summary[key], key)
    return found


def write_json(path: Path, obj: Any) -> None:
    """Write ``obj`` as indented JSON with sorted keys (NaN as null, ±inf as strings, arrays as lists).

    Parameters
    ----------
    path : pathlib.Path
        The file to write.
    obj : object
        Dicts, lists, numbers, strings and numpy arrays or scalars.
    """
    path.write_text(json.dumps(_jsonable(obj), indent=2, sort_keys=True) + "\n", encoding="utf-8")


def read_json(path: Path) -> Any:
    """A JSON object the run wrote.

    Parameters
    ----------
    path : pathlib.Path
        The file.

    Returns
    -------
    dict
        Its content.

    Raises
    ------
    RunDirError
        If it is unreadable or not an object.
    """
    try:
        value = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError, RecursionError) as exc:
        raise RunDirError(f"{path}: unreadable ({type(exc).__name__}: {exc})") from None
    if not isinstance(value, dict):
        raise RunDirError(f"{path}: not a JSON object")
    return value


def git_state() -> dict[str, Any]:
    """Commit and dirty flag of the source tree the package is imported from.

    For an installed (non-editable) package, the commit pip recorded when it installed from a git URL
    (:func:`installed_commit`).

    Returns
    -------
    dict
        ``commit`` (str or None), ``dirty`` (bool, or None when unknown) and ``source`` (which of the
        two it came from, or None).
    """
    root = Path(__file__).resolve().parent.parent
    try:
        # only a checkout that tracks this package: an installed copy inside some other
        # repository (a venv in a project folder) must not take that repository's commit
        tracked = subprocess.run(["git", "ls-files", "--error-unmatch", "stdp_ebm/__init__.py"],
                                 cwd=root, capture_output=True, text=True, timeout=10)
        commit = subprocess.run(["git", "rev-parse", "HEAD"], cwd=root, capture_output=True,
                                text=True, timeout=10)
        if tracked.returncode == 0 and commit.returncode == 0:
            dirty = subprocess.run(["git", "status", "--porcelain", "--untracked-files=no"],
                                   cwd=root, capture_output=True, text=True, timeout=10)
            return {"commit": commit.stdout.strip(), "dirty": bool(dirty.stdout.strip()),
                    "source": "checkout"}
    except (OSError, subprocess.SubprocessError):
        pass
    return installed_commit()


def installed_commit() -> dict[str, Any]:
    """The commit pip recorded for an install from a git URL (``pip install git+https://…``).

    Read from the distribution's ``direct_url.json`` (PEP 610).

    Returns
    -------
    dict
        ``commit``, ``dirty`` (None) and ``source``; all None for any other install.
    """
    try:
        info = json.loads(metadata.distribution("stdp-ebm").read_text("direct_url.json") or "{}")
    except (metadata.PackageNotFoundError, ValueError, OSError):
        info = {}
    vcs = info.get("vcs_info") if isinstance(info, dict) else None
    if isinstance(vcs, dict) and isinstance(vcs.get("commit_id"), str):
        return {"commit": vcs["commit_id"], "dirty": None,
                "source": f"pip's direct_url.json ({info.get('url')})"}
    return {"commit": None, "dirty": None, "source": None}


def versions() -> dict[str, str | None]:
    """Versions of the packages a run depends on (:data:`PACKAGES`).

    This package's own from ``__version__`` when no installed metadata names it (imported from a source
    tree on ``PYTHONPATH``).

    Returns
    -------
    dict of str to str or None
        Distribution name -> version; None for one not installed.
    """
    from . import __version__

    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            out[name] = None
    out["stdp-ebm"] = out.get("stdp-ebm") or __version__
    return out


def codegen_target() -> str | None:
    """The Brian2 code-generation target the latest simulation of this process ran on.

    Each simulation sets its own and restores the caller's (:mod:`stdp_ebm.spiking.brian2_env`).

    Returns
    -------
    str or None
        E.g. ``"cython"`` or ``"numpy"``; None if nothing was simulated.
    """
    env = sys.modules.get("stdp_ebm.spiking.brian2_env")
    return None if env is None else env.last_target()


def manifest(seeds: dict[str, Any], wall_time_s: float, argv: list[str] | None = None,
             extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The manifest of a run (see module docstring).

    Parameters
    ----------
    seeds : dict
        The master seed and the derived seeds used (:attr:`stdp_ebm.seeds.Seeds.used`).
    wall_time_s : float
        The run's wall time (s).
    argv : list of str or None
        The command line; None is ``sys.argv``.
    extra : dict or None
        More entries (e.g. ``inputs``, ``sittings``).

    Returns
    -------
    dict
        Command line, Python, platform, versions, Brian2 codegen target, git state, seeds, wall time.
    """
    return {
        "command_line": list(sys.argv if argv is None else argv),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions(),
        "brian2_codegen_target": codegen_target(),
        "git": git_state(),
        "seeds": seeds,
        "wall_time_s": wall_time_s,
        **(extra or {}),
    }


def save_figure(fig: Any, figures_dir: Path, name: str) -> None:
    """Save a matplotlib figure as PNG (200 dpi) and SVG (no timestamp metadata).

    Parameters
    ----------
    fig : matplotlib.figure.Figure
        The figure.
    figures_dir : pathlib.Path
        The existing directory to write into.
    name : str
        The files' stem.
    """
    fig.savefig(figures_dir / f"{name}.png", dpi=200, bbox_inches="tight")
    fig.savefig(figures_dir / f"{name}.svg", bbox_inches="tight", metadata={"Date": None})


def save_figures(run_dir: Path, figures: dict[str, Any]) -> list[str]:
    """Save figures into ``run_dir/figures`` (PNG and SVG) and close them.

    Parameters
    ----------
    run_dir : pathlib.Path
        The run directory.
    figures : dict of str to matplotlib.figure.Figure
        Figures by file stem.

    Returns
    -------
    list of str
        The names saved.
    """
    import matplotlib.pyplot as plt

    figures_dir = Path(run_dir) / "figures"
    figures_dir.mkdir(exist_ok=True)
    for name, fig in figures.items():
        save_figure(fig, figures_dir, name)
        plt.close(fig)
    return list(figures)


def write_result(run_dir: Path, cfg: dict[str, Any], data: dict[str, np.ndarray],
                 summary: dict[str, Any], seeds: dict[str, Any], wall: float,
                 extra: dict[str, Any]) -> None:
    """Write config.toml, data.npz, summary.json and manifest.json of one run into ``run_dir``.

    Parameters
    ----------
    run_dir : pathlib.Path
        The (temporary) run directory.
    cfg : dict
        The resolved config.
    data : dict of str to numpy.ndarray
        The run's arrays.
    summary : dict
        Its summary (headline numbers).
    seeds : dict
        Seeds for the manifest.
    wall : float
        Wall time (s).
    extra : dict
        More manifest entries.
    """
    write_config(run_dir / "config.toml", cfg)
    save_npz(run_dir / "data.npz", data)
    write_json(run_dir / "summary.json", summary)
    write_json(run_dir / "manifest.json", manifest(seeds, wall, extra=extra))


def write_config(path: Path, cfg: dict[str, Any]) -> None:
    """Write a resolved config as TOML.

    Parameters
    ----------
    path : pathlib.Path
        The file (``config.toml``).
    cfg : dict
        The config, sections of keys.
    """
    path.write_text(tomli_w.dumps(cfg), encoding="utf-8")
