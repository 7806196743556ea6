"""Progress output without a terminal (CI, nohup, tee): plain status lines at a fixed interval."""

from __future__ import annotations

import time

from stdp_ebm import progress


def test_status_lines_at_a_fixed_interval(monkeypatch, capsys):
    monkeypatch.setattr(progress, "INTERVAL_S", 0.1)
    progress.configure(True, terminal=False)
    try:
        for _ in progress.iterate(range(3), "slow loop"):
            time.sleep(0.25)  # each step spans two intervals: the timer reports during the step
    finally:
        progress.configure(False)
    err = capsys.readouterr().err
    lines = err.splitlines()
    assert "\r" not in err and all(line.startswith("slow loop:") for line in lines)
    assert lines[0].count("0/3") == 1 and "3/3" in lines[-1]
    assert len(lines) >= 5  # start, end, and at least one line per 0.25 s step at 0.1 s intervals


def test_quiet_and_terminal_modes(capsys):
    progress.configure(False, terminal=False)
    assert list(progress.iterate(range(2), "x")) == [0, 1] and progress.brian2_report() is None
    with progress.bar(2, "y") as b:
        b.update()
    assert capsys.readouterr().err == ""
    progress.configure(True, terminal=True)
    try:
        assert progress.brian2_report() == "stderr"
    finally:
        progress.configure(False)


def test_brian2_quiet_turns_only_brian2_reports_off_and_restores_them(capsys):
    """Training silences Brian2's per-run reports but keeps progress bars, and restores both."""
    from stdp_ebm import progress

    progress.configure(True, terminal=False)
    try:
        with progress.brian2_quiet():
            assert progress.brian2_report() is None
            list(progress.iterate([1, 2], "inside"))
        assert "inside" in capsys.readouterr().err
        assert progress.brian2_report() == "stderr"
    finally:
        progress.configure(False)


def test_epoch_lines_print_one_line_per_epoch_and_nothing_when_quiet(capsys):
    """The per-epoch line of both training experiments: the numbers of the history handed in,
    the ETA from the median epoch (60 s here, two epochs left), the time trained over all
    sittings; silent with progress off (``--quiet``)."""
    from stdp_ebm.checkpoint import History

    h = History(train_error=[0.2, 0.1, 0.05], test_error=[0.25, 0.125, 0.0625],
                train_cost=[1.0, 0.5, 0.25], wall_s=[300.0, 60.0, 30.0])
    report = progress.epoch_lines("EP", 5)
    progress.configure(False)
    report(h)
    assert capsys.readouterr().err == ""
    progress.configure(True, terminal=False)
    try:
        report(h)
    finally:
        progress.configure(False)
    assert capsys.readouterr().err == ("EP epoch 3/5: train error (running) 5.00 %, test error "
                                       "6.25 %, 30.0 s/epoch, ETA 2.0 min (6.5 min trained)\n")
