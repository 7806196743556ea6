"""The partial directory of a resumable (training) run: what it was started with, and its sittings.

Besides its checkpoints, ``.<out>.partial/`` holds (and the finished run directory keeps):

* ``config.toml`` and ``inputs.json``: the resolved config and the record of the input files;
* ``started.json``: the SHA-256 of those two files as the run wrote them. A resume checks the files
  against it before anything else, so an edited ``config.toml`` (another learning rate) or
  ``inputs.json`` is refused: ``--resume OUT`` takes its config from that very file, so comparing
  the config with it could not see the edit;
* ``sittings.json``: one entry per sitting (each start or resume of the command): when it started
  (UTC), the finished epochs of each learner at its start and end, its wall time, whether it
  resumed earlier work, and how it ended (``finished``, ``interrupted``, ``failed: <error>``; a
  sitting ended by SIGKILL keeps ``null``). The list goes into ``manifest.json`` as ``sittings``.
"""

from __future__ import annotations

import datetime
import os
from pathlib import Path
from typing import Any

from .checkpoint import epochs_done
from .errors import RunDirError
from .inputs import Record, sha256
from .rundir import read_json, write_config, write_json

__all__ = ["check_started", "check_epochs", "begin", "end", "sittings"]

CONFIG, INPUTS, STARTED, SITTINGS = "config.toml", "inputs.json", "started.json", "sittings.json"


def _write_json(path: Path, obj: Any) -> None:
    """:func:`write_json` through a temporary file and a rename: never a torn file."""
    tmp = path.with_name(f".{path.name}.tmp")
    write_json(tmp, obj)
    os.replace(tmp, path)


def check_started(partial: Path) -> None:
    """Refuse a partial directory whose ``config.toml`` or ``inputs.json`` is not what the run wrote.

    Compared with the hashes in ``started.json``. A partial directory without ``started.json``
    (written by a version before it existed) is compared by content only.

    Parameters
    ----------
    partial : pathlib.Path
        The run's partial directory ``.<out>.partial/``.

    Raises
    ------
    RunDirError
        If either file was edited or is missing.
    """
    path = partial / STARTED
    if not path.is_file():
        return
    record = read_json(path)
    for name in (CONFIG, INPUTS):
        file = partial / name
        want, got = record.get(name), sha256(file) if file.is_file() else None
        if got != want:
            what = "missing" if got is None else f"sha256 {got[:12]}…, written as " \
                f"{str(want)[:12]}…"
            raise RunDirError(f"{file}: edited since the interrupted run wrote it ({what}); its "
                              "finished epochs were trained with the config it was started "
                              f"with, so it does not continue under another; restore the file, "
                              f"or remove {partial} to start again")


def check_epochs(partial: Path, cfg: dict[str, Any]) -> None:
    """Refuse a checkpoint holding more finished epochs than the config trains (``[train] epochs``).

    A damaged or edited checkpoint, or one of another run.

    Parameters
    ----------
    partial : pathlib.Path
        The run's partial directory ``.<out>.partial/``.
    cfg : dict
        The resolved config.

    Raises
    ------
    RunDirError
        If a checkpoint holds too many epochs.
    """
    epochs = cfg.get("train", {}).get("epochs") if isinstance(cfg.get("train"), dict) else None
    if epochs is None:
        return
    for tag, (path, done) in epochs_done(partial / "checkpoints").items():
        if done > epochs:
            raise RunDirError(f"{path}: holds {done} finished epochs but the config trains "
                              f"{epochs}: a damaged or edited checkpoint; remove {partial} to "
                              "start again")


def begin(partial: Path, cfg: dict[str, Any], recorded: Record, resume: bool) -> int:
    """Write the config, the input record and their hashes into ``partial`` and open a new sitting.

    Parameters
    ----------
    partial : pathlib.Path
        The run's partial directory ``.<out>.partial/``.
    cfg : dict
        The resolved config (written as ``config.toml``).
    recorded : dict
        The input record (:func:`stdp_ebm.inputs.record`, written as ``inputs.json``).
    resume : bool
        Whether the run continues earlier work.

    Returns
    -------
    int
        The new sitting's index in ``sittings.json``.
    """
    write_config(partial / CONFIG, cfg)
    _write_json(partial / INPUTS, recorded)
    _write_json(partial / STARTED, {name: sha256(partial / name) for name in (CONFIG, INPUTS)})
    done = {tag: n for tag, (_, n) in epochs_done(partial / "checkpoints").items()}
    entries = sittings(partial)
    entries.append({"started": datetime.datetime.now(datetime.timezone.utc).isoformat(
                        timespec="seconds"),
                    "resumed": resume or bool(entries) or any(done.values()),
                    "epochs_at_start": done, "epochs_at_end": None, "wall_s": None,
                    "ended": None})
    _write_json(partial / SITTINGS, {"sittings": entries})
    return len(entries) - 1


def end(partial: Path, index: int, wall_s: float, how: str) -> list[dict[str, Any]]:
    """Close sitting ``index`` with its finished epochs, wall time and how it ended.

    Parameters
    ----------
    partial : pathlib.Path
        The run's partial directory ``.<out>.partial/``.
    index : int
        The sitting's index (from :func:`begin`).
    wall_s : float
        The sitting's wall time (s).
    how : str
        ``"finished"``, ``"interrupted"`` or ``"failed: <error>"``.

    Returns
    -------
    list of dict
        All sittings, as written.
    """
    entries = sittings(partial)
    if 0 <= index < len(entries):
        entries[index].update(
            epochs_at_end={tag: n for tag, (_, n) in epochs_done(partial / "checkpoints").items()},
            wall_s=wall_s, ended=how)
        _write_json(partial / SITTINGS, {"sittings": entries})
    return entries


def sittings(partial: Path) -> list[dict[str, Any]]:
    """The sittings recorded in ``partial`` (empty if none).

    Parameters
    ----------
    partial : pathlib.Path
        The run's partial directory ``.<out>.partial/``.

    Returns
    -------
    list of dict
        One entry per sitting: ``started``, ``resumed``, ``epochs_at_start``, ``epochs_at_end``,
        ``wall_s``, ``ended``.

    Raises
    ------
    RunDirError
        If ``sittings.json`` is damaged.
    """
    path = partial / SITTINGS
    if not path.is_file():
        return []
    entries = read_json(path).get("sittings")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise RunDirError(f"{path}: not a list of sittings; a damaged or edited file")
    return entries
