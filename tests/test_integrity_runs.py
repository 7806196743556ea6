"""Integrity of what a run records: the bytes hashed are the bytes used, an edited partial run is
refused, sittings are recorded, default names are unique, huge or non-finite things are refused in
one line. Timing-dependent cases are made deterministic by injecting the change (a file swapped
right after its first read), never by racing."""

from __future__ import annotations

import builtins
import contextlib
import hashlib
import io
import json
import os
import shutil
from pathlib import Path

import numpy as np
import pytest

from stdp_ebm.network import random_network, save_network

from conftest import run_cli

REPO = Path(__file__).resolve().parent.parent
DIGITS = REPO / "experiments" / "train_digits.toml"
QUICK = ["data.n_train=200", "data.n_test=100", "train.epochs=2", "network.sizes=[64,30,10]"]
ALIGN = """
experiment = "alignment"
seed = 11
[network]
sizes = [6, 8, 4]
batch = 2
[alignment]
betas = [0.1, 0.01]
nudged_steps = [1, 5]
"""


def two_networks(tmp_path: Path, sizes=(6, 8, 4)) -> tuple[Path, Path]:
    paths = []
    for seed in (1, 2):
        paths.append(tmp_path / f"net{seed}.npz")
        save_network(random_network(list(sizes), np.random.default_rng(seed)), paths[-1])
    return paths[0], paths[1]


def sha(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


@contextlib.contextmanager
def swapped_after_first_open(path: Path, other: Path):
    """Every open of ``path`` after the first finds the content of ``other``: the file is replaced
    (renamed over, as a sync tool does) the moment it is first opened, so the first reader still
    reads the old bytes through its open file and any later reader gets the new ones."""
    real_open, real_io_open = builtins.open, io.open
    target = os.path.abspath(path)
    opened = []

    def hooked(real):
        def open_(file, *args, **kwargs):
            f = real(file, *args, **kwargs)
            if isinstance(file, (str, os.PathLike)) and os.path.abspath(file) == target \
                    and not opened:
                opened.append(file)
                staged = Path(target + ".staged")
                shutil.copy(other, staged)
                os.replace(staged, target)
            return f
        return open_

    builtins.open, io.open = hooked(real_open), hooked(real_io_open)
    try:
        yield opened
    finally:
        builtins.open, io.open = real_open, real_io_open


# --- 1. the bytes hashed are the bytes used ---------------------------------------------------------
def test_a_network_file_swapped_after_its_first_read_does_not_mix_two_networks(tmp_path):
    net1, net2 = two_networks(tmp_path)
    (tmp_path / "a.toml").write_text(ALIGN)
    used = tmp_path / "used.npz"
    shutil.copy(net1, used)
    with swapped_after_first_open(used, net2) as opened:
        code, err = run_cli(["run", str(tmp_path / "a.toml"), "--out", str(tmp_path / "run"),
                             "--network", str(used), "--quiet"])
    assert code == 0, err
    assert opened and sha(used) == sha(net2)  # the swap did happen
    # the reference: the same run from an untouched copy of net1
    assert run_cli(["run", str(tmp_path / "a.toml"), "--out", str(tmp_path / "ref"),
                    "--network", str(net1), "--quiet"])[0] == 0
    manifest = json.loads((tmp_path / "run" / "manifest.json").read_text())
    assert manifest["inputs"]["--network"]["sha256"] == sha(net1)  # what the run used …
    assert (tmp_path / "run" / "data.npz").read_bytes() == \
        (tmp_path / "ref" / "data.npz").read_bytes()  # … is what it computed from


def test_sweep_points_use_the_bytes_the_sweep_hashed(tmp_path):
    net1, net2 = two_networks(tmp_path)
    (tmp_path / "s.toml").write_text(ALIGN + "[sweep]\nseeds = 2\n")
    used = tmp_path / "used.npz"
    shutil.copy(net1, used)
    args = ["run", str(tmp_path / "s.toml"), "--workers", "1", "--quiet"]
    with swapped_after_first_open(used, net2):
        code, err = run_cli(args + ["--out", str(tmp_path / "run"), "--network", str(used)])
    assert code == 0, err
    assert sha(used) == sha(net2)
    assert run_cli(args + ["--out", str(tmp_path / "ref"), "--network", str(net1)])[0] == 0
    plan = json.loads((tmp_path / "run" / "sweep.json").read_text())
    assert plan["inputs"]["--network"]["sha256"] == sha(net1)
    for point in ("0000", "0001"):
        assert (tmp_path / "run" / "points" / point / "data.npz").read_bytes() == \
            (tmp_path / "ref" / "points" / point / "data.npz").read_bytes()


def test_a_network_file_is_pickled_with_its_bytes(tmp_path):
    import pickle

    from stdp_ebm.network import NetworkFile, load_network

    net1, net2 = two_networks(tmp_path)
    read = NetworkFile.read(net1)
    shutil.copy(net2, net1)  # the file changes after it was read: the copy in memory does not
    again = pickle.loads(pickle.dumps(read))
    assert again == str(net1) and again.content == read.content and again.sha256 == read.sha256
    np.testing.assert_array_equal(load_network(again).W[0],  # exact: the same bytes parsed
                                  random_network([6, 8, 4], np.random.default_rng(1)).W[0])
