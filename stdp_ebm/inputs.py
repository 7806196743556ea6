"""The input files of a run, hashed: what a resume must find unchanged besides the config.

A run's result is determined by its resolved config and by the files it reads: the ``--network``
file, the data set files of ``[data] dir`` (MNIST) and the user's own model files that config keys
name (``[spiking] synapse``, ``neuron``, ``compare``, ``[rule_vs_backprop] rules``; the shipped model
files belong to the package version the manifest records). :func:`record` gives each one's path,
size and SHA-256 of its bytes; the record is written into ``manifest.json`` (``inputs``), into a
sweep's ``sweep.json`` and into the ``inputs.json`` of an interrupted training run, and
:func:`check_same` refuses a resume whose inputs differ, naming the first input that does.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any, Iterable

from .config import data_directory
from .data import mnist_file_limit, mnist_files
from .errors import DataError, InputError, NetworkFileError
from .models import MAX_MODEL_BYTES, MODELS_DIR, resolve_path
from .network import NetworkFile

#: (section, key) of the config keys that name model files (comma-separated lists allowed)
MODEL_KEYS = (("spiking", "synapse"), ("spiking", "neuron"), ("spiking", "compare"),
              ("rule_vs_backprop", "rules"))

#: label -> {"path", "bytes", "sha256"}
Record = dict[str, dict[str, Any]]


def sha256(path: str | Path) -> str:
    """SHA-256 of the bytes of ``path``, read in 1 MiB blocks.

    Parameters
    ----------
    path : str or pathlib.Path
        The file.

    Returns
    -------
    str
        The hex digest (64 characters).
    """
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def input_files(cfgs: Iterable[dict[str, Any]],
                network_path: str | None) -> dict[str, Path | NetworkFile]:
    """Label -> path of every file that runs of ``cfgs`` read.

    Parameters
    ----------
    cfgs : iterable of dict
        Resolved configs: a run's, or those of a sweep's points.
    network_path : str or None
        The ``--network`` file, read here once as a :class:`~stdp_ebm.network.NetworkFile`.

    Returns
    -------
    dict
        Label (``"--network"``, ``"[data] <path>"``, ``"[model] <path>"``) -> path, or the
        :class:`~stdp_ebm.network.NetworkFile` for ``--network``.
    """
    files: dict[str, Path | NetworkFile] = {}
    if network_path:
        files["--network"] = NetworkFile.read(network_path)
    for cfg in cfgs:
        for section in ("data", "task"):  # [task]: the spiking learner's data set
            data = cfg.get(section)
            if isinstance(data, dict) and data.get("dataset") == "mnist":
                where = data_directory(cfg["data"]["dir"], "MNIST needs its four IDX files")
                for path in mnist_files(where):
                    files[f"[data] {path}"] = path
        files.update(_user_model_files(cfg))
    return files


def _user_model_files(cfg: dict[str, Any]) -> dict[str, Path]:
    """Label -> path of the model files named by ``cfg`` that do not ship with the package."""
    files: dict[str, Path] = {}
    for section, key in MODEL_KEYS:
        value = cfg.get(section, {}).get(key) if isinstance(cfg.get(section), dict) else None
        for name in (n.strip() for n in value.split(",")) if isinstance(value, str) else ():
            path = resolve_path(name) if name else None
            if path is not None and path.resolve().parent != MODELS_DIR.resolve():
                files[f"[model] {path}"] = path
    return files


def record(files: dict[str, Path | NetworkFile]) -> Record:
    """Path, size and SHA-256 of each input file.

    Of the bytes a :class:`~stdp_ebm.network.NetworkFile` holds (what the run parses), else of the
    file, whose size is checked first against what it can be (MNIST: the canonical size), so a huge or
    sparse file is refused at once instead of hashed.

    Parameters
    ----------
    files : dict
        :func:`input_files`' result.

    Returns
    -------
    dict of str to dict
        Label -> ``{"path", "bytes", "sha256"}``.

    Raises
    ------
    DataError
        If a file is larger than it can be.
    InputError
        If a file cannot be read (``NetworkFileError`` for ``--network``).
    """
    out: Record = {}
    for label, path in files.items():
        if isinstance(path, NetworkFile):
            out[label] = {"path": str(path), "bytes": len(path.content), "sha256": path.sha256}
            continue
        try:
            model = label.startswith("[model]")
            size, limit = path.stat().st_size, MAX_MODEL_BYTES if model else mnist_file_limit(path)
            if limit is not None and size > limit:
                what = "a model file" if model else "this MNIST file"
                raise DataError(f"{label}: {size} bytes, more than the {limit} that {what} "
                                "can be; not read")
            out[label] = {"path": str(path), "bytes": size, "sha256": sha256(path)}
        except OSError as exc:
            error = NetworkFileError if label == "--network" else InputError
            raise error(f"{label} {path}: cannot read ({exc.strerror})") from None
    return out


def check_same(before: Record | None, now: Record, what: str) -> None:
    """Refuse to continue ``what`` if its inputs changed, naming the first input that did.

    Parameters
    ----------
    before : dict or None
        The record the run was started with (:func:`record`); None for a run started before inputs
        were recorded, accepted only if it has no input files now either.
    now : dict
        The record of the inputs given now.
    what : str
        What would continue, for the message (e.g. ``"--out runs/x: the sweep"``).

    Raises
    ------
    InputError
        If an input was added, dropped or changed.
    """
    if before is None:
        if now:
            label = sorted(now)[0]
            raise InputError(f"{what} was started without a record of its input files, so "
                             f"{label} {now[label]['path']} cannot be checked against it; "
                             "remove it or choose another --out")
        return
    for label in sorted(set(before) | set(now)):
        a, b = before.get(label), now.get(label)
        if a is None:
            raise InputError(f"{what} was started without {label}; give the same inputs to "
                             "continue it, or choose another --out")
        if b is None:
            raise InputError(f"{what} was started with {label} {a['path']}; give it again to "
                             "continue it, or choose another --out")
        if a["sha256"] != b["sha256"]:
            raise InputError(f"{what} was started with {label} {a['path']} (sha256 "
                             f"{a['sha256'][:12]}…) but {b['path']} now has sha256 "
                             f"{b['sha256'][:12]}…: another input would mix two results; give "
                             "the same file, or choose another --out")
