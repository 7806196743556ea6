"""CLI and run directories: the contract of DESIGN.md, reproducibility, one-line errors."""

from __future__ import annotations

import json
import shutil
import stat

import numpy as np
import pytest

from conftest import EXPERIMENTS
from stdp_ebm.cli import main
from stdp_ebm.network import NetworkParams, load_network, network_from_config, save_network

FAST = ["--set", "alignment.betas=[0.1, 0.01]", "--set", "alignment.nudged_steps=[5, 50]", "--quiet"]


def run_cli(argv, capsys):
    code = main(argv)
    out = capsys.readouterr()
    return code, out.out, out.err


@pytest.fixture(scope="module")
def alignment_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("runs") / "a"
    assert main(["run", str(EXPERIMENTS / "alignment.toml"), "--out", str(out), *FAST]) == 0
    return out


def test_run_directory_contract(alignment_run):
    probe = alignment_run.parent / "made_by_mkdir"
    probe.mkdir()  # a run directory gets the permissions of any new directory (not mkdtemp's 0700)
    assert stat.S_IMODE(alignment_run.stat().st_mode) == stat.S_IMODE(probe.stat().st_mode)
    names = {p.name for p in alignment_run.iterdir()}
    assert {"config.toml", "manifest.json", "data.npz", "summary.json", "figures"} <= names
    figs = {p.name for p in (alignment_run / "figures").iterdir()}
    assert "beta_sym.png" in figs and "beta_sym.svg" in figs
    manifest = json.loads((alignment_run / "manifest.json").read_text())
    for key in ("versions", "python", "git", "seeds", "wall_time_s", "command_line",
                "brian2_codegen_target"):
        assert key in manifest
    assert manifest["seeds"]["master"] == 1234 and "network" in manifest["seeds"]["derived"]
    with np.load(alignment_run / "data.npz", allow_pickle=False) as data:
        assert data["dW_sym_W0"].shape == (2, 20, 30)
        assert data["ref_implicit_W2"].shape == (20, 10)
        assert data["align_sym_vs_implicit"].shape == (2, 4, 5)
    # the resolved config.toml reruns as is
    assert "[alignment]" in (alignment_run / "config.toml").read_text()


def test_same_seed_gives_bit_identical_data(alignment_run, tmp_path):
    again = tmp_path / "again"
    assert main(["run", str(alignment_run / "config.toml"), "--out", str(again), "--quiet"]) == 0
    assert (again / "data.npz").read_bytes() == (alignment_run / "data.npz").read_bytes()


def test_plot_redraws_a_finished_run(alignment_run, tmp_path, capsys):
    copy = tmp_path / "copy"
    shutil.copytree(alignment_run, copy)
    shutil.rmtree(copy / "figures")
    code, out, _ = run_cli(["plot", str(copy)], capsys)
    assert code == 0 and (copy / "figures" / "length_up.svg").is_file()


def test_user_network_file_with_x_and_target(tmp_path, capsys):
    net = network_from_config(NetworkParams(sizes=(5, 7, 3), init_scale=0.5, bias_low=0.2,
                                            bias_high=0.6, batch=2), np.random.default_rng(0))
    path = tmp_path / "net.npz"
    save_network(net, path)
    out = tmp_path / "run"
    code, _, err = run_cli(["run", str(EXPERIMENTS / "alignment.toml"), "--network", str(path),
                            "--out", str(out), *FAST], capsys)
    assert code == 0, err
    with np.load(out / "data.npz") as data:
        assert data["dW_sym_W1"].shape == (2, 7, 3)
    manifest = json.loads((out / "manifest.json").read_text())
    assert manifest["network_file"] == str(path)
    assert load_network(path).sizes == [5, 7, 3]


@pytest.mark.parametrize("argv, fragment", [
    (["--set", "dynamics.epsilom=0.1"], "did you mean 'epsilon'"),
    (["--set", "dynamics.epsilon=-1"], "[dynamics] epsilon"),
    (["--set", "dynamics.epsilon=2"], "<= 1"),
    (["--set", "alignment.betas=[]"], "at least 1"),
    (["--set", "alignment.model=spiky"], "alignment] model"),
    (["--set", "dynamics.beta1=2"], "must be < beta2"),
    (["--set", "network.sizes=[3]"], "[network] sizes"),
    (["--set", "seed=true"], "seed"),
    (["--network", "/nonexistent.npz"], "nonexistent.npz: no such"),
    (["--set", "dynamics.noise=-0.1"], "[dynamics] noise"),
    (["--model", "spiking", "--set", "dynamics.noise=0.1"], "[dynamics] noise"),
    (["--model", "spiky"], "alignment] model"),
])
def test_bad_input_is_one_line_and_exit_2(argv, fragment, tmp_path, capsys):
    out = tmp_path / "never"
    code, _, err = run_cli(["run", str(EXPERIMENTS / "alignment.toml"), "--out", str(out), *argv],
                           capsys)
    assert code == 2
    assert fragment in err and err.count("\n") == 1 and "Traceback" not in err
    assert not out.exists() and list(tmp_path.iterdir()) == []


def test_bad_config_file_and_bad_flag(tmp_path, capsys):
    bad = tmp_path / "bad.toml"
    bad.write_text("experiment = 'alignment'\n[dynamics\n")
    code, _, err = run_cli(["run", str(bad)], capsys)
    assert code == 2 and "TOML syntax error" in err
    bad.write_text("experiment = 'alignmnt'\n")
    code, _, err = run_cli(["run", str(bad)], capsys)
    assert code == 2 and "did you mean 'alignment'" in err
    with pytest.raises(SystemExit) as exc:
        main(["run", str(bad), "--workers", "0"])
    assert exc.value.code == 2
    assert capsys.readouterr().err.count("\n") == 1


def test_failed_run_leaves_no_directory(tmp_path, capsys):
    out = tmp_path / "run"
    code, _, err = run_cli(["run", str(EXPERIMENTS / "alignment.toml"), "--out", str(out),
                            "--set", "dynamics.max_steps=3", *FAST], capsys)
    assert code == 2 and "did not converge" in err
    assert list(tmp_path.iterdir()) == []


def test_list_names_the_experiments(capsys):
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0 and "alignment" in out and "early_inference" in out


def test_shipped_configs_by_name_from_any_directory(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # no experiments/ here: the list comes from the package
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    assert {p.stem for p in EXPERIMENTS.glob("*.toml")} <= {line.split()[0] for line in
                                                           out.splitlines() if line.startswith("  ")}
    code, _, err = run_cli(["run", "alignmen", "--quiet"], capsys)
    assert code == 2 and "did you mean 'alignment'" in err and not (tmp_path / "runs").exists()
    assert main(["run", "alignment", "--out", "alignment", *FAST]) == 0
    assert main(["run", "alignment", "--out", "again", *FAST]) == 0  # not the run directory "alignment"
    assert (tmp_path / "again" / "summary.json").is_file()


def test_no_arguments_names_the_commands(capsys):
    with pytest.raises(SystemExit) as stop:
        main([])
    err = capsys.readouterr().err
    assert stop.value.code == 2 and "{run,list,keys,plot,data}" in err and "see stdp-ebm --help" in err


@pytest.mark.parametrize("path", sorted(EXPERIMENTS.glob("*.toml")), ids=lambda p: p.stem)
def test_every_shipped_config_validates_as_shipped(path, monkeypatch):
    """Each config in experiments/ passes its experiment's schema and checks unchanged (a long run's
    config must not fail at the start of a sitting). The core count is raised to at least 2 for the
    check, so that a config with two worker processes is judged on itself, not on this host."""
    import os

    from stdp_ebm import runner

    cores = os.cpu_count() or 1
    monkeypatch.setattr(os, "cpu_count", lambda: max(2, cores))
    cfg, exp = runner.resolve(path)
    assert cfg["experiment"] == exp.name and cfg["seed"] >= 0
