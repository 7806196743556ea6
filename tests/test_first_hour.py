"""What a new user meets first: --version, the keys of a config, the list of experiments, help
without markup, one data-directory key, a console warning when measured points are absent, the
manifest's version and commit, config errors that name what the user typed, the timing script."""

from __future__ import annotations

import importlib.util
import json
import logging
import os
import re
import subprocess
import sys
from importlib import metadata
from pathlib import Path

import pytest

from conftest import REPO
import stdp_ebm
from stdp_ebm import __version__, cli, experiments, rundir
from stdp_ebm.config import CONFIGS_DIR, DATA_DIR, TOP_LEVEL


def run_cli(argv: list[str], capsys) -> tuple[int, str, str]:
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's --version and --help exit
        code = exc.code
    out = capsys.readouterr()
    return code, out.out, out.err


# --- the command line ------------------------------------------------------------------------------
def test_version_prints_the_package_version_on_one_line(capsys, monkeypatch):
    monkeypatch.setenv("COLUMNS", "30")  # a narrow terminal does not wrap it
    code, out, _ = run_cli(["--version"], capsys)
    assert code == 0 and out.startswith(f"stdp-ebm {__version__} (") and out.count("\n") == 1


def test_keys_prints_value_default_range_and_doc_of_every_key(capsys):
    code, out, err = run_cli(["keys", "stdp_window", "--set", "protocol.repeats=3"], capsys)
    assert code == 0, err
    schema = experiments.get("stdp_window").schema
    for section, keys in schema.items():
        assert f"\n[{section}]\n" in out
        for name in keys:
            assert re.search(rf"^{re.escape(name)} = ", out, re.M), name
    for name in TOP_LEVEL:
        assert re.search(rf"^{name} = ", out, re.M)
    # the value given, the schema's default beside it, then the allowed range and the meaning
    block = out.split("\nrepeats = ", 1)[1].split("\n")
    assert block[0] == f"3    (default {schema['protocol']['repeats'].default})"
    assert "Allowed: an integer >= 2" in " ".join(block[1:3])
    assert "bootstrap" in " ".join(block[1:3])  # from the key's documentation
    assert "``" not in out and ":func:" not in out


def test_keys_of_a_bad_config_is_one_line_exit_2(capsys):
    code, _, err = run_cli(["keys", "stdp_window", "--set", "protocol.repeats=1"], capsys)
    assert code == 2 and err.count("\n") == 1 and "[protocol] repeats" in err


def test_list_columns_are_aligned_for_long_names(capsys):
    code, out, _ = run_cli(["list"], capsys)
    assert code == 0
    rows = [line for line in out.splitlines() if line.startswith("  ")]
    assert any(line.split()[0] == "train_spiking_mnist_full" for line in rows)
    # every description starts in one column: after the longest name and two spaces
    names = [line.split()[0] for line in rows]
    column = 2 + max(map(len, names)) + 2
    for line, name in zip(rows, names):
        assert line[:column].rstrip() == f"  {name}" and line[column] != " ", line


@pytest.mark.parametrize("argv", [["--help"], ["run", "--help"], ["keys", "--help"],
                                  ["plot", "--help"], ["list"]])
def test_help_and_list_hold_no_restructuredtext(argv, capsys):
    _, out, _ = run_cli(argv, capsys)
    assert out and not re.search(r"``|:[a-z]+:`", out), out


def test_config_error_names_the_shipped_config_as_typed(capsys):
    code, _, err = run_cli(["run", "stdp_window", "--set", "protocol.repeats=1"], capsys)
    assert code == 2
    assert err.startswith("stdp-ebm: error: stdp_window: [protocol] repeats = 1"), err
    assert str(CONFIGS_DIR) not in err


# --- one data-directory key ------------------------------------------------------------------------
def _directory_keys() -> list[tuple[str, str, str]]:
    """(experiment, section, key) of every key whose name or documentation says directory."""
    out = []
    for name in experiments.REGISTRY:
        for section, keys in experiments.get(name).schema.items():
            for key_name, key in keys.items():
                if "dir" in key_name or "directory" in key.doc:
                    out.append((name, section, key_name))
    return out


def test_every_data_directory_is_the_one_key_data_dir():
    found = _directory_keys()
    readers = {name for name, _, _ in found}
    # the experiments that read data files: MNIST (train, depth, train_spiking) and the STDP points
    assert {"train", "depth", "train_spiking", "stdp_window", "stdp_frequency",
            "stdp_random_trains"} <= readers
    assert {f"{s}.{k}" for _, s, k in found} == {DATA_DIR}
    for path in sorted(CONFIGS_DIR.glob("*.toml")):
        assert "data_dir" not in path.read_text(), path


@pytest.mark.parametrize("config, old", [("train_mnist", "data.data_dir"),
                                         ("train_spiking_mnist", "task.data_dir"),
                                         ("stdp_window", "data.data_dir")])
def test_former_data_directory_keys_say_did_you_mean(config, old, capsys):
    code, _, err = run_cli(["run", config, "--set", f"{old}=somewhere"], capsys)
    assert code == 2 and f"did you mean '{DATA_DIR}'?" in err and err.count("\n") == 1


@pytest.mark.parametrize("config, sets", [
    ("train_digits", ["data.dataset=mnist", "network.sizes=[784,30,10]"]),
    ("train_spiking_mnist", []),
])
def test_a_missing_data_directory_is_named_by_its_key(config, sets, tmp_path, capsys):
    missing = tmp_path / "no_mnist_here"
    argv = ["run", config, "--out", str(tmp_path / "run"), "--quiet",
            "--set", f"data.dir={missing}"] + [a for s in sets for a in ("--set", s)]
    code, _, err = run_cli(argv, capsys)
    assert code == 2 and err.count("\n") == 1
    assert f"{DATA_DIR} = '{missing}': no such directory" in err
    assert not (tmp_path / "run").exists()


def test_absent_bi_poo_points_are_said_on_the_console(tmp_path):
    """The run goes on (summary.json notes it); the console gets one warning line that names the
    key to set. In a fresh interpreter, as the CLI runs it: no logging configured."""
    code = ("from stdp_ebm.experiments.stdp_window import _data_comparison\n"
            f"out = _data_comparison([], {{}}, {{'data': {{'dir': {str(tmp_path)!r}}}}}, None)\n"
            "print(out['bi_poo_points']['present'])")
    here = str(Path(stdp_ebm.__file__).resolve().parents[1])  # the package under test
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([here, os.environ.get("PYTHONPATH", "")])}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=120, cwd=tmp_path, env=env)
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
    lines = [line for line in done.stderr.splitlines() if "warning" in line]
    assert len(lines) == 1, done.stderr
    assert "Bi & Poo's points absent" in lines[0] and f"--set {DATA_DIR}=DIR" in lines[0]
    assert str(tmp_path) in lines[0]


def test_absent_sjostrom_points_warn_once(tmp_path, caplog):
    from stdp_ebm.experiments.stdp_frequency import _compare

    with caplog.at_level(logging.WARNING, logger="stdp_ebm.data"):
        out = _compare([], {}, {"data": {"dir": str(tmp_path)}})
    assert out["present"] is False
    assert len(caplog.records) == 1 and DATA_DIR in caplog.records[0].getMessage()


# --- the manifest: version and commit --------------------------------------------------------------
def test_manifest_records_the_package_version():
    assert rundir.versions()["stdp-ebm"] == __version__


class _Dist:
    def __init__(self, direct_url: str | None):
        self.direct_url = direct_url

    def read_text(self, name: str) -> str | None:
        return self.direct_url if name == "direct_url.json" else None


def test_an_install_from_git_records_pips_commit(monkeypatch):
    commit = "0123456789abcdef0123456789abcdef01234567"
    url = {"url": "https://example.org/stdp-ebm.git",
           "vcs_info": {"vcs": "git", "commit_id": commit}}
    monkeypatch.setattr(metadata, "distribution", lambda name: _Dist(json.dumps(url)))
    state = rundir.installed_commit()
    assert state["commit"] == commit and state["dirty"] is None and "direct_url" in state["source"]
    monkeypatch.setattr(metadata, "distribution",
                        lambda name: _Dist(json.dumps({"url": "file:///src", "dir_info": {}})))
    assert rundir.installed_commit() == {"commit": None, "dirty": None, "source": None}


def test_an_install_inside_another_repository_takes_not_its_commit(tmp_path, monkeypatch):
    """A package installed into a venv that lives inside some other git checkout: that
    checkout's commit is not the package's."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-C", str(tmp_path)]
    subprocess.run(git[:-2] + ["init", "-q", str(tmp_path)], check=True)
    (tmp_path / "other.txt").write_text("another project\n")
    subprocess.run(git + ["add", "other.txt"], check=True)
    subprocess.run(git + ["commit", "-qm", "other"], check=True)
    fake = tmp_path / "venv" / "site-packages" / "stdp_ebm" / "rundir.py"
    fake.parent.mkdir(parents=True)
    monkeypatch.setattr(rundir, "__file__", str(fake))
    monkeypatch.setattr(rundir, "installed_commit",
                        lambda: {"commit": None, "dirty": None, "source": None})
    assert rundir.git_state()["commit"] is None


def test_a_checkout_records_its_commit():
    state = rundir.git_state()
    if (REPO / ".git").exists():
        head = subprocess.run(["git", "rev-parse", "HEAD"], cwd=REPO, capture_output=True,
                              text=True).stdout.strip()
        assert state["commit"] == head and state["source"] == "checkout"


# --- benchmarks/timings.py -------------------------------------------------------------------------
def _timings(monkeypatch):
    spec = importlib.util.spec_from_file_location("timings", REPO / "benchmarks" / "timings.py")
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "timings", module)  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


def test_timings_reads_the_childs_cpu_seconds(tmp_path, monkeypatch):
    timings = _timings(monkeypatch)
    # a child that burns CPU for at least 0.3 s (process time, not wall time)
    burn = "import time\nt = time.process_time()\nwhile time.process_time() - t < 0.3: pass"
    row = timings.measure("burn", "warm", [sys.executable, "-c", burn], dict(os.environ),
                          tmp_path)
    assert row.returncode == 0
    # the child's own 0.3 s at least; one thread cannot use more CPU time than wall time (the
    # 0.05 s margin covers the clocks' resolutions)
    assert row.cpu_s >= 0.3 and row.wall_s >= row.cpu_s - 0.05
    table = timings.table([row])
    assert re.search(r"^\| `burn` \| warm \| \d+ \| \d+ s \| [\d.]+ \|$", table, re.M), table
    assert table.startswith("CPU: ")


# --- stdp-ebm data: the digitised points, fetched with pinned checksums (loopback only) ------------
SHARED_POINTS = REPO.parent / "shared" / "data" / "stdp_experiments"


@pytest.fixture
def served(tmp_path):
    """A folder served over HTTP on the loopback address (no network): (folder, base URL)."""
    import functools
    import http.server
    import threading

    folder = tmp_path / "served"
    folder.mkdir()
    class Quiet(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args) -> None:  # the server's own log would mix into stderr
            pass

    handler = functools.partial(Quiet, directory=str(folder))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


@pytest.mark.skipif(not SHARED_POINTS.is_dir(), reason="no digitised points next to the checkout")
def test_data_fetches_the_pinned_files_and_the_experiments_read_them(served, tmp_path, capsys):
    """The pinned SHA-256 are those of the verbatim files; fetched, they are what the STDP
    experiments read (45 Bi & Poo points, Sjöström et al. at five frequencies)."""
    import shutil

    from stdp_ebm import fetch
    from stdp_ebm.stdp import data as stdp_data

    folder, url = served
    for name in fetch.FILES:
        shutil.copy(SHARED_POINTS / name, folder / name)
    dest = tmp_path / "points"
    code, out, err = run_cli(["data", str(dest), "--url", url], capsys)
    assert code == 0, err
    assert "CC BY-NC-ND 4.0" in out and f"--set data.dir={dest}" in out
    assert stdp_data.bi_poo_points(dest).x.size == 45
    assert set(stdp_data.sjostrom_points(dest)) == {10.0, -10.0}
    assert "Licence" in (dest / "PROVENANCE.txt").read_text()
    # files present with the right checksum are kept, not fetched again
    for name in fetch.FILES:
        (folder / name).unlink()
    assert run_cli(["data", str(dest), "--url", url], capsys)[0] == 0


def test_data_refuses_a_wrong_checksum_and_writes_nothing(served, tmp_path, monkeypatch, capsys):
    from stdp_ebm import fetch

    folder, url = served
    good, bad = b"-10,20\n10,30\n", b"-10,20\n10,31\n"
    monkeypatch.setattr(fetch, "FILES", {"a.csv": __import__("hashlib").sha256(good).hexdigest()})
    (folder / "a.csv").write_bytes(bad)
    dest = tmp_path / "points"
    code, _, err = run_cli(["data", str(dest), "--url", url], capsys)
    assert code == 2 and err.count("\n") == 1 and "is not the pinned" in err
    assert list(dest.iterdir()) == []  # no file, no temporary left behind
    (folder / "a.csv").write_bytes(good)
    assert fetch.fetch_stdp_data(dest, url) == [dest / "a.csv"]
    assert (dest / "a.csv").read_bytes() == good


def test_data_reports_a_failed_download_in_one_line(served, tmp_path, capsys):
    _, url = served  # an empty folder: every file answers 404
    code, _, err = run_cli(["data", str(tmp_path / "points"), "--url", url], capsys)
    assert code == 2 and err.count("\n") == 1 and "cannot download" in err
