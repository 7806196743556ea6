"""Benchmark: the spiking learner's mini-batch over P workers — local processes and a Dask cluster —
and a projection to more workers from the measured compute and communication per mini-batch.

The learner of ``experiments/train_spiking.toml`` (or ``--config``) on the first training
mini-batches of its task: one untimed mini-batch (compilation, worker start), then ``--batches``
timed ones, for each P of ``--workers``:

* ``local``: P = 1, one :class:`~stdp_ebm.spiking.learner.SpikingLearner` in this process;
  P > 1, :class:`~stdp_ebm.spiking.pool.ParallelSpikingLearner` (worker processes);
* ``dask``: P > 1, :class:`~stdp_ebm.spiking.dask_pool.DaskSpikingLearner` on a ``LocalCluster``
  of P worker processes, one thread each (or on ``--scheduler ADDRESS``).

Measured per mini-batch (medians): wall seconds; on Dask each learner's CPU seconds in its own
thread (``time.thread_time`` around its free and ±β phases and ΔW: the per-worker compute cost at
batch/P examples); the bytes each learner is sent (W, b, its rows of x and d) and sends back (ΔW,
Δb, ŷ and its network state + random numbers, which the parent keeps to rebuild a lost learner);
and the seconds of that scatter/gather alone, timed with actors that only echo payloads of those
sizes (no simulation).

Projection to P = 8, 32, 128 workers at the measured examples per worker (m = batch/P of the
largest P measured; the mini-batch grows to m·P): the parent sends and receives each learner's
payload in turn, so one mini-batch takes c(m) + P·g, with c(m) the measured per-worker compute and
g the measured scatter/gather seconds per learner; examples per second = m·P / (c(m) + P·g),
against m / c(m)·… of one process (P = 1: its measured seconds per example). This assumes a free
core per worker and the parent's link as the only shared resource. Usage::

    python benchmarks/bench_spiking_workers.py [--workers 1 2] [--batches 3] [--set key=value]
        [--scheduler ADDRESS] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import subprocess
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
CONFIG = REPO / "experiments" / "train_spiking.toml"
PROJECT = (8, 32, 128)


class Echo:
    """An actor that returns ``nbytes`` bytes whatever it is sent: the scatter/gather of a
    learner's request and answer without the simulation."""

    def echo(self, nbytes: int, *payload: object) -> bytes:
        return bytes(nbytes)


def _nbytes(obj: object) -> int:
    """Bytes of the arrays in ``obj`` (nested lists, tuples, dicts)."""
    if isinstance(obj, np.ndarray):
        return obj.nbytes
    if isinstance(obj, dict):
        return sum(_nbytes(v) for v in obj.values())
    if isinstance(obj, (list, tuple)):
        return sum(_nbytes(v) for v in obj)
    return 0


def _learner(config: str, overrides: list[str], workers: int, scheduler: str | None):
    """The task and the experiment's spiking learner for ``workers`` (with ``scheduler``: on
    that Dask cluster, as ``--scheduler`` gives it)."""
    from stdp_ebm.experiments import RunContext
    from stdp_ebm.experiments.train_spiking import build, load_task
    from stdp_ebm.runner import resolve
    from stdp_ebm.seeds import Seeds

    cfg = resolve(Path(config), overrides + [f"learner.workers={workers}"])[0]
    ctx = RunContext(Seeds(cfg["seed"]), options={"scheduler": scheduler})
    data = load_task(cfg["task"], ctx.seeds.rng("data"), cfg["train"]["batch_size"],
                     cfg["data"]["dir"])
    return data, build(cfg, ctx, data)[3]


def measure(config: str, overrides: list[str], workers: int, batches: int,
            scheduler: str | None = None) -> dict:
    """Median wall (and on Dask: per-learner CPU) seconds per mini-batch, bytes per learner."""
    data, spk = _learner(config, overrides, workers, scheduler)
    bs = spk.batch
    try:
        wall, cpu = [], []
        for i in range(batches + 1):
            rows = slice(i * bs, (i + 1) * bs)
            c0, t0 = time.process_time(), time.perf_counter()
            dW, db, y = spk.delta(data.x_train[rows], data.y_train[rows])
            wall.append(time.perf_counter() - t0)
            cpu.append(max(spk.cpu_s) if hasattr(spk, "cpu_s") else
                       time.process_time() - c0 if workers == 1 else float("nan"))
        out = {"workers": workers, "batch": bs, "wall_s": statistics.median(wall[1:]),
               "cpu_s": statistics.median(cpu[1:])}
        if hasattr(spk, "states"):
            m = bs // workers
            out["bytes_to_worker"] = _nbytes([spk.net.W, spk.net.b, data.x_train[:m],
                                              data.y_train[:m]])
            out["bytes_from_worker"] = _nbytes([dW, db, y[:m], spk.states[0]])
    finally:
        spk.close()
    return out


def scatter_gather(client, workers: int, to_worker: int, from_worker: int, repeats: int = 5
                   ) -> float:
    """Median seconds to send ``workers`` echo actors ``to_worker`` bytes each and gather
    ``from_worker`` bytes from each."""
    hosts = sorted(client.scheduler_info()["workers"])
    actors = [client.submit(Echo, actor=True, pure=False, workers=[hosts[p % len(hosts)]]).result()
              for p in range(workers)]
    payload = np.zeros(to_worker // 8)
    times = []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        calls = [a.echo(from_worker, payload) for a in actors]
        for c in calls:
            c.result()
        times.append(time.perf_counter() - t0)
    return statistics.median(times[1:])


def cpu_name() -> str:
    try:
        for line in subprocess.run(["lscpu"], capture_output=True, text=True).stdout.splitlines():
            if line.startswith("Model name:"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--config", default=str(CONFIG))
    p.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    p.add_argument("--batches", type=int, default=3)
    p.add_argument("--set", action="append", default=[], dest="overrides")
    p.add_argument("--scheduler", default=None, help="a Dask cluster (default: a LocalCluster "
                   "of max(--workers) processes, one thread each)")
    p.add_argument("--json", default=None)
    a = p.parse_args()
    from distributed import Client, LocalCluster

    from stdp_ebm import progress

    progress.configure(False)
    cluster = None if a.scheduler else LocalCluster(
        processes=True, n_workers=max(a.workers), threads_per_worker=1, dashboard_address=":0")
    client = Client(a.scheduler or cluster)
    print(f"CPU: {cpu_name()}; config {Path(a.config).name} {' '.join(a.overrides)}")
    print(f"{'pool':6} {'P':>3} {'batch':>5} {'wall s/batch':>12} {'ms/example':>10} "
          f"{'worker CPU s':>12} {'bytes to/from worker':>22}", flush=True)
    rows: list[dict] = []

    def row(r: dict) -> None:
        rows.append(r)
        sent = (f"{r['bytes_to_worker']:,} / {r['bytes_from_worker']:,}"
                if "bytes_to_worker" in r else "")
        print(f"{r['pool']:6} {r['workers']:>3} {r['batch']:>5} {r['wall_s']:>12.3f} "
              f"{1e3 * r['wall_s'] / r['batch']:>10.1f} {r['cpu_s']:>12.3f} {sent:>22}",
              flush=True)
    try:
        for w in a.workers:
            row({"pool": "local", **measure(a.config, a.overrides, w, a.batches)})
            if w > 1:
                row({"pool": "dask", **measure(a.config, a.overrides, w, a.batches,
                                               client.scheduler.address)})
        dask = [r for r in rows if r["pool"] == "dask"]
        comm = None
        if dask:
            r = dask[-1]
            comm = scatter_gather(client, r["workers"], r["bytes_to_worker"],
                                  r["bytes_from_worker"])
    finally:
        client.close()
        if cluster is not None:
            cluster.close()
    out = {"cpu": cpu_name(), "rows": rows}
    if comm is not None:
        r = dask[-1]
        g = comm / r["workers"]
        m = r["batch"] // r["workers"]
        c = r["cpu_s"]
        one = next((q for q in rows if q["workers"] == 1), None)
        base = one["cpu_s"] / one["batch"] if one else float("nan")
        print(f"scatter/gather alone, P = {r['workers']}: {comm:.4f} s per mini-batch "
              f"(g = {g:.4f} s per learner); per-learner compute c({m}) = {c:.3f} CPU-s")
        print(f"projection, {m} examples per learner: {'P':>4} {'batch':>6} {'s/batch':>8} "
              f"{'comm share':>10} {'examples/s':>10} {'× one process':>13}")
        out["comm_s"], out["projection"] = comm, []
        for P in PROJECT:
            t = c + P * g
            rate = m * P / t
            print(f"{'':37}{P:>4} {m * P:>6} {t:>8.3f} {P * g / t:>10.1%} {rate:>10.1f} "
                  f"{rate * base:>13.1f}")
            out["projection"].append({"workers": P, "batch": m * P, "s_per_batch": t,
                                      "examples_per_s": rate})
    if a.json:
        Path(a.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
