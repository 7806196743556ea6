"""Making a run directory: atomically, resumably, and under a lock against a second run into it.

A run is written into a temporary sibling directory that is renamed into place at the end
(:func:`atomic_directory`); a resumable run (training) into ``.<name>.partial``
(:func:`partial_directory`), which an interruption leaves with its checkpoints for the same command
to continue; :func:`out_lock` keeps two runs from writing the same ``--out`` at once. What goes into
the directory is :mod:`stdp_ebm.rundir`, from which these names are importable too.
"""

from __future__ import annotations

import glob
import os
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path
from typing import Iterator

from .errors import OutLocked, UserError

__all__ = ["partial_directory", "atomic_directory", "check_out", "holds_work", "out_lock"]


def _directory_mode() -> int:
    """The mode ``mkdir`` gives a new directory under the current umask (e.g. 0755 under 022)."""
    umask = os.umask(0)
    os.umask(umask)
    return 0o777 & ~umask


def partial_directory(final: Path) -> Path:
    """Where a resumable run into ``final`` is written until it finishes.

    Parameters
    ----------
    final : pathlib.Path
        The run directory (``--out``).

    Returns
    -------
    pathlib.Path
        ``.<name>.partial`` beside it.
    """
    final = Path(final)
    return final.parent / f".{final.name}.partial"


@contextmanager
def atomic_directory(final: Path, resumable: bool = False) -> Iterator[Path]:
    """Yield a temporary directory next to ``final``; rename it to ``final`` on success.

    On an exception the temporary directory is removed, so no half-written run remains. With
    ``resumable`` it is :func:`partial_directory` (reused if it exists) and is kept by an interruption
    that is not an error (KeyboardInterrupt, SystemExit; a kill never reaches this code) and by an
    error once it holds finished work (a checkpoint): no finished epoch is lost.

    Parameters
    ----------
    final : pathlib.Path
        The run directory to create (absent or empty).
    resumable : bool
        Whether the run can continue in a later sitting.

    Yields
    ------
    pathlib.Path
        The directory to write the run into.

    Raises
    ------
    UserError
        If ``final`` exists and is not empty, or cannot be created.
    """
    final = check_out(final)
    if final.exists() and (not final.is_dir() or any(final.iterdir())):
        raise UserError(f"--out {final}: already exists and is not empty; choose another directory")
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        if resumable:
            tmp = partial_directory(final)
            tmp.mkdir(exist_ok=True)
        else:
            tmp = Path(tempfile.mkdtemp(prefix=f".{final.name}.tmp-", dir=final.parent))
            tmp.chmod(_directory_mode())  # mkdtemp's private 0700, made what mkdir would give
    except OSError as exc:
        raise UserError(f"--out {final}: cannot create the run directory ({exc.strerror})") from None
    try:
        yield tmp
        if final.exists():
            final.rmdir()
        os.replace(tmp, final)
    except BaseException as exc:
        if not (resumable and (not isinstance(exc, Exception) or holds_work(tmp))):
            shutil.rmtree(tmp, ignore_errors=True)
        raise


def check_out(final: Path) -> Path:
    """Refuse, before anything runs, an ``--out`` that cannot be renamed into place at the end.

    A symlink, the current directory or one above it, a name too long for the temporary siblings
    (``.<name>.partial``, ``.<name>.tmp-…``).

    Parameters
    ----------
    final : pathlib.Path
        The ``--out`` directory.

    Returns
    -------
    pathlib.Path
        ``final`` as a path.

    Raises
    ------
    UserError
        If it cannot be used.
    """
    final = Path(final)
    if final.is_symlink():
        raise UserError(f"--out {final}: is a symbolic link; give the directory itself")
    if final.name in ("", ".", "..") or final.resolve() in (Path.cwd(), *Path.cwd().parents):
        raise UserError(f"--out {final}: is the current directory or above it; give a new "
                        "directory's name")
    try:
        name_max = os.pathconf(final.parent if final.parent.is_dir() else ".", "PC_NAME_MAX")
    except (OSError, ValueError):
        name_max = 255
    if len(os.fsencode(final.name)) + len(".tmp-12345678.partial") > name_max:
        raise UserError(f"--out: the name {final.name[:40]!r}… is too long (at most "
                        f"{name_max - 21} bytes leave room for its temporary siblings)")
    return final


def holds_work(partial: Path) -> bool:
    """Whether a resumable run's directory holds a finished epoch (a checkpoint).

    Parameters
    ----------
    partial : pathlib.Path
        The partial directory.

    Returns
    -------
    bool
        True if ``checkpoints/*.npz`` exists.
    """
    return any((Path(partial) / "checkpoints").glob("*.npz"))


@contextmanager
def out_lock(final: Path) -> Iterator[None]:
    """Hold an exclusive lock on ``--out`` (the file ``.<name>.lock`` beside it) for the run.

    So that two runs cannot write one directory; a second one fails at once with one line.

    Parameters
    ----------
    final : pathlib.Path
        The ``--out`` directory.

    Yields
    ------
    None
        While the lock is held.

    Raises
    ------
    OutLocked
        If another run holds the lock.
    UserError
        If ``--out`` is a symbolic link or the lock file cannot be created.
    """
    import fcntl

    final = Path(os.path.abspath(final))  # "." (resuming a sweep from inside it) has a name
    if final.is_symlink():
        raise UserError(f"--out {final}: is a symbolic link; give the directory itself")
    path = final.parent / f".{final.name}.lock"
    try:
        final.parent.mkdir(parents=True, exist_ok=True)
        while True:
            fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                os.close(fd)
                raise OutLocked(f"--out {final}: another stdp-ebm run is writing it (it holds "
                                f"{path}); wait for it to finish or choose another --out") from None
            try:
                if os.path.samestat(os.fstat(fd), os.stat(path)):
                    break
            except FileNotFoundError:
                pass
            os.close(fd)  # the holder removed the file while we opened it: lock the new one
    except OSError as exc:
        raise UserError(f"--out {final}: cannot create the lock file {path} "
                        f"({exc.strerror})") from None
    for stale in final.parent.glob(f".{glob.escape(final.name)}.tmp-*"):
        shutil.rmtree(stale, ignore_errors=True)  # left by a killed run: no one else writes here
    try:
        yield
    finally:
        os.unlink(path)  # while still locked, so that no one locks the unlinked file
        os.close(fd)
