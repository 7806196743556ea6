"""The installed package, as a new user gets it: a wheel in a fresh virtual environment, outside the
repository, runs shipped configs by name (one Brian2 experiment, one rate experiment)."""

from __future__ import annotations

import json
import os
import shutil
import site
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from conftest import REPO

# what an sdist holds: the package, its metadata and the README it names as long description
SOURCES = ("stdp_ebm", "setup.cfg", "pyproject.toml", "README.md")
STDP_FAST = ["--set", "protocol.delta_t_ms=[-20, 20]", "--set", "protocol.n_pairings=2",
             "--set", "protocol.frequency_hz=4", "--set", "protocol.repeats=2",
             "--set", "control.pairs=5", "--set", "control.duration_s=1",
             "--set", "tau_sweep.plus_ms=[]", "--set", "tau_sweep.minus_ms=[]"]
ALIGNMENT_FAST = ["--set", "alignment.betas=[0.1]", "--set", "alignment.nudged_steps=[5]"]


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, f"{' '.join(argv)}\n{done.stdout}\n{done.stderr}"
    return done


def _version() -> str:
    from stdp_ebm import __version__

    return __version__


def _venv_seeing_this_environment(venv: Path, env: dict[str, str]) -> str:
    """A fresh venv that imports this interpreter's brian2, numpy, matplotlib… (no download).

    ``--system-site-packages`` alone is not enough when the tests run in a venv themselves: ``venv``
    builds from the base interpreter, so the new venv would see the base's packages, not this
    venv's. A ``.pth`` file names this environment's site directories after the new venv's own
    (path lines only: ``.pth`` files there, such as an editable install of this repository, are
    not processed), so the wheel installed into the new venv is the ``stdp_ebm`` it imports."""
    _run([sys.executable, "-m", "venv", "--system-site-packages", str(venv)], venv.parent, env)
    python = str(venv / "bin" / "python")
    purelib = _run([python, "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                   venv.parent, env).stdout.strip()
    ours = [p for p in site.getsitepackages() if Path(p).is_dir()]
    (Path(purelib) / "_outer_environment.pth").write_text("\n".join(ours) + "\n")
    return python


@pytest.mark.brian2
def test_wheel_runs_shipped_configs_in_a_fresh_venv(tmp_path):
    pytest.importorskip("wheel", reason="building without network needs the wheel package")
    src = tmp_path / "src"  # build from a copy: no build/ or egg-info left in the repository
    for name in SOURCES:
        copy = shutil.copytree if (REPO / name).is_dir() else shutil.copy2
        copy(REPO / name, src / name, **({"ignore": shutil.ignore_patterns("__pycache__")}
                                         if (REPO / name).is_dir() else {}))
    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME")}
    _run([sys.executable, "-m", "pip", "wheel", str(src), "--no-deps", "--no-build-isolation",
          "--quiet", "-w", str(tmp_path / "dist")], tmp_path, env)
    wheel = next((tmp_path / "dist").glob("stdp_ebm-*.whl"))
    with zipfile.ZipFile(wheel) as zf:  # the top-level models/ (a link) travels as package data
        shipped = {f"stdp_ebm/models/{p.name}" for p in (REPO / "models").iterdir()
                   if p.suffix in (".toml", ".py")}
        assert shipped and shipped <= set(zf.namelist()), shipped - set(zf.namelist())
    venv = tmp_path / "venv"
    python = _venv_seeing_this_environment(venv, env)
    _run([python, "-m", "pip", "install", "--quiet", "--no-deps", "--force-reinstall",
          "--disable-pip-version-check", str(wheel)], tmp_path, env)
    work = tmp_path / "elsewhere"
    work.mkdir()
    where = _run([python, "-c", "import stdp_ebm; print(stdp_ebm.__file__)"], work, env).stdout
    assert Path(where.strip()).is_relative_to(venv), where  # the wheel, not the repository
    cli = str(venv / "bin" / "stdp-ebm")
    listing = _run([cli, "list"], work, env).stdout
    assert "stdp_window" in listing and "alignment" in listing
    _run([cli, "run", "stdp_window", "--out", "window", "--quiet", *STDP_FAST], work, env)
    _run([cli, "run", "alignment", "--out", "align", "--quiet", *ALIGNMENT_FAST], work, env)
    for run in ("window", "align"):
        assert json.loads((work / run / "summary.json").read_text())
        assert any((work / run / "figures").glob("*.png"))
        # the installed package's version; no commit of a checkout it is not imported from
        manifest = json.loads((work / run / "manifest.json").read_text())
        assert manifest["versions"]["stdp-ebm"] == _version()
        assert manifest["git"]["source"] != "checkout"
    version = _run([str(venv / "bin" / "stdp-ebm"), "--version"], work, env).stdout
    assert version.startswith(f"stdp-ebm {_version()} ") and str(venv) in version
