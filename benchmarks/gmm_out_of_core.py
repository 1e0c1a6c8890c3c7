"""A Gaussian mixture fitted to data larger than a quarter of the machine's memory, out of core.

Writes N = 100,000,000 points in D = 8 dimensions (6.4 GB of float64) to disk, one ``.npy`` file
per chunk of 1,000,000 rows, then fits K = 6 components with full covariances for exactly 10
iterations (``tol=0``) on a ``dask.distributed.LocalCluster`` of 2 worker processes (one thread
and a 2 GiB memory limit each). The workers read the files chunk by chunk in every E-step; only
the statistics (K D^2 numbers per chunk) come back. Then the same fit, from the same start, of
the first N = 10,000,000 points held in memory (no dask). For each it prints:

- the iterations' time: from the end of the first E-step (at the starting values) to the end of
  the last, i.e. 10 M-steps and 10 E-steps, read off ``verbose`` output as it is printed; and the
  whole ``fit`` (which also validates the data in one pass and computes the start);
- the points per second: ``N * 10 / iterations' time``;
- the peak memory of all processes together: the resident set sizes of this process and all its
  children (the cluster's nanny and worker processes), summed, sampled every 20 ms during the fit.
  Pages shared between processes are counted once per process, so the figure errs high;
- the CPU time all these processes used during the whole fit, and the points per CPU-second
  (``N * 10`` over it). On a machine shared with other work the wall-clock figures depend on what
  else runs, and differently for the two fits, which run one after the other. The line
  ``CPU efficiency ratio`` (out-of-core points per CPU-second over in-memory ones) depends on it far
  less; times the number of workers, it is the throughput ratio to expect on an otherwise idle
  machine with a core per worker.

Both fits must stay under 4 GiB. The last line is ``throughput ratio X``: out-of-core points per
second over in-memory points per second (both with one BLAS thread per process).

Disk: N * D * 8 bytes (6.4 GB at the default size) in a temporary folder (``--dir``, by default the
system's), checked before writing and removed at the end, also after an error, Ctrl-C, SIGTERM or
SIGHUP. A run killed outright (SIGKILL, a power cut) cannot clean up: the folder holds the pid of
the run that made it, and the next run removes any such folder whose process is gone.
Run time on the 2-core development machine at the default size, otherwise idle: 11 minutes
(writing the data: 1; the out-of-core fit: 8; throughput ratio 1.55) on 2026-12-01. With other work
keeping its load average near 14 the same run took 105 minutes (throughput ratio 0.24). With ``--n 4000000
--n-memory 1000000 --chunk 250000`` it runs in a few minutes (for development).

Run from the repository root: ``python benchmarks/gmm_out_of_core.py [--n N] [--n-memory N]
[--chunk ROWS] [--dir PATH]``. Needs ``pip install emlib[dask]`` (dask and distributed) and psutil
(installed with distributed).
"""

from __future__ import annotations

import os

os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")  # one BLAS thread per process, workers included
os.environ.setdefault("OMP_NUM_THREADS", "1")

import argparse
import contextlib
import io
import shutil
import signal
import sys
import tempfile
import threading
import time
import warnings
from pathlib import Path

import numpy as np

D, K, N_ITER = 8, 6, 10
GIB = 2**30
MEMORY_LIMIT = 4 * GIB
WORKER_MEMORY = "2GiB"


# -- data -------------------------------------------------------------------------------------------
def mixture_truth(seed: int = 20261201):
    """Six overlapping, correlated Gaussians in 8-D: weights (K,), means (K, D), Cholesky factors."""
    rng = np.random.default_rng(seed)
    weights = rng.dirichlet(np.full(K, 5.0))
    means = rng.normal(scale=2.0, size=(K, D))
    factors = np.linalg.cholesky(np.stack([a @ a.T / D + 0.2 * np.eye(D) for a in rng.normal(size=(K, D, D))]))
    return weights, means, factors


def draw_chunk(index: int, rows: int, truth) -> np.ndarray:
    """Chunk ``index`` of the data, (rows, D): its own seed, so any chunk can be redrawn alone."""
    weights, means, factors = truth
    rng = np.random.default_rng([20261201, index])
    labels = rng.choice(K, size=rows, p=weights)
    X = rng.standard_normal((rows, D))
    for k in range(K):
        members = labels == k
        X[members] = X[members] @ factors[k].T + means[k]
    return X


def write_chunks(folder: Path, n: int, chunk: int, truth) -> list[tuple[Path, int]]:
    files = []
    for index, start in enumerate(range(0, n, chunk)):
        rows = min(chunk, n - start)
        path = folder / f"part-{index:05d}.npy"
        np.save(path, draw_chunk(index, rows, truth))
        files.append((path, rows))
    return files


def starting_values(first_chunk: np.ndarray):
    """The same start for both fits: equal weights, K rows of the first chunk as means, and its
    covariance for every component."""
    rng = np.random.default_rng(0)
    means = first_chunk[rng.choice(len(first_chunk), size=K, replace=False)]
    covariance = np.cov(first_chunk, rowvar=False)
    return {"weights_init": np.full(K, 1.0 / K), "means_init": means,
            "covariances_init": np.broadcast_to(covariance, (K, D, D)).copy()}


# -- measuring --------------------------------------------------------------------------------------
class ProcessTree:
    """Samples this process and its children in a thread: the peak of their summed resident memory,
    and the CPU time they used (user + system, each process's last sample, less its first)."""

    def __init__(self, interval: float = 0.02):
        import psutil

        self.process, self.interval, self.peak = psutil.Process(), interval, 0
        self._first_cpu, self._last_cpu = {}, {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _sample(self) -> None:
        import psutil

        total = 0
        for process in [self.process, *self.process.children(recursive=True)]:
            with contextlib.suppress(psutil.NoSuchProcess, psutil.AccessDenied):
                total += process.memory_info().rss
                times = process.cpu_times()
                self._last_cpu[process.pid] = times.user + times.system
                self._first_cpu.setdefault(process.pid, self._last_cpu[process.pid])
        self.peak = max(self.peak, total)

    @property
    def cpu_seconds(self) -> float:
        return sum(self._last_cpu[pid] - self._first_cpu[pid] for pid in self._last_cpu)

    def _run(self):
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self):
        self._sample()
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()
        self._sample()


class IterationClock(io.TextIOBase):
    """Stands in for stdout during a verbose fit: notes when each iteration's line is printed."""

    def __init__(self):
        self.times, self._line = {}, ""

    def write(self, text: str) -> int:
        self._line += text
        while "\n" in self._line:
            line, self._line = self._line.split("\n", 1)
            parts = line.split()
            if len(parts) > 1 and parts[0] == "iteration":
                self.times[int(parts[1])] = time.perf_counter()
        return len(text)


def timed_fit(X, start, n: int) -> dict:
    """Fit with the given start; the iterations' time, the whole fit's, points/s and peak memory."""
    from emlib import GaussianMixture

    model = GaussianMixture(K, covariance_type="full", max_iter=N_ITER, tol=0, verbose=True, **start)
    clock = IterationClock()
    with ProcessTree() as tree, contextlib.redirect_stdout(clock), warnings.catch_warnings():
        warnings.simplefilter("ignore")
        begin = time.perf_counter()
        model.fit(X)
        whole = time.perf_counter() - begin
    iterations = clock.times[N_ITER] - clock.times[0]
    return {"model": model, "iterations": iterations, "whole": whole, "points_per_second": n * N_ITER / iterations,
            "peak": tree.peak, "cpu": tree.cpu_seconds, "points_per_cpu_second": n * N_ITER / tree.cpu_seconds}


def report(label: str, n: int, figures: dict) -> None:
    verdict = "under" if figures["peak"] < MEMORY_LIMIT else "OVER"
    print(f"{label:12s} N={n:>11,}  iterations {figures['iterations']:8.1f} s  (whole fit "
          f"{figures['whole']:7.1f} s)  {figures['points_per_second']:12,.0f} points/s  peak memory "
          f"{figures['peak'] / GIB:5.2f} GiB ({verdict} 4 GiB)  CPU {figures['cpu']:7.1f} s "
          f"({figures['points_per_cpu_second']:10,.0f} points per CPU-second)", flush=True)


# -- the two fits -----------------------------------------------------------------------------------
def out_of_core(files, start, n: int) -> dict:
    import dask
    import dask.array as da
    from dask.distributed import Client, LocalCluster

    parts = [da.from_delayed(dask.delayed(np.load)(str(path)), shape=(rows, D), dtype=np.float64)
             for path, rows in files]
    X = da.concatenate(parts)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = LocalCluster(n_workers=2, threads_per_worker=1, processes=True, memory_limit=WORKER_MEMORY,
                               dashboard_address=None)
        client = Client(cluster)
    try:
        return timed_fit(X, start, n)
    finally:
        client.close()
        cluster.close()


def in_memory(files, start, n: int) -> dict:
    X = np.empty((n, D))
    row = 0
    for path, rows in files:
        take = min(rows, n - row)
        if take <= 0:
            break
        X[row:row + take] = np.load(path, mmap_mode="r")[:take]
        row += take
    return timed_fit(X, start, n)


# -- cleaning up ------------------------------------------------------------------------------------
WORKDIR_PREFIX = "emlib-out-of-core-"
OWNER_FILE = "owner.pid"


def interrupt_on_signal(signum, frame):
    """SIGTERM and SIGHUP end the run as Ctrl-C does, through the ``finally`` that removes the data."""
    raise KeyboardInterrupt(f"signal {signal.Signals(signum).name}")


def remove_abandoned(parent: Path) -> None:
    """Remove the data of earlier runs that were killed outright: folders whose owner process is gone
    (a folder without an owner file, being made right now, is left alone)."""
    import psutil

    for old in parent.glob(WORKDIR_PREFIX + "*"):
        try:
            pid = int((old / OWNER_FILE).read_text())
        except (OSError, ValueError):
            continue
        if not psutil.pid_exists(pid):
            shutil.rmtree(old, ignore_errors=True)
            print(f"removed {old}, left by an earlier run (process {pid}) that was killed", flush=True)


def main(n: int, n_memory: int, chunk: int, folder: str | None) -> float:
    need = n * D * 8
    parent = Path(folder or tempfile.gettempdir())
    remove_abandoned(parent)
    free = shutil.disk_usage(parent).free
    if free < 1.1 * need:
        sys.exit(f"not enough disk in {parent}: {need / 1e9:.1f} GB needed, {free / 1e9:.1f} GB free")
    n_memory = min(n_memory, n)
    workdir = Path(tempfile.mkdtemp(prefix=WORKDIR_PREFIX, dir=parent))
    try:
        (workdir / OWNER_FILE).write_text(str(os.getpid()))
        begin = time.perf_counter()
        files = write_chunks(workdir, n, chunk, mixture_truth())
        print(f"wrote {n:,} x {D} points ({need / 1e9:.1f} GB) as {len(files)} files of up to {chunk:,} rows in "
              f"{time.perf_counter() - begin:.0f} s", flush=True)
        start = starting_values(np.load(files[0][0]))
        big = out_of_core(files, start, n)
        report("out of core", n, big)
        small = in_memory(files, start, n_memory)
        report("in memory", n_memory, small)
        print(f"log-likelihood per point after {N_ITER} iterations: out of core "
              f"{big['model'].loglik_history_[-1] / n:.4f}, in memory {small['model'].loglik_history_[-1] / n_memory:.4f}")
        for label, figures in (("out of core", big), ("in memory", small)):
            if figures["peak"] >= MEMORY_LIMIT:
                print(f"WARNING: the {label} fit used more than 4 GiB at its peak")
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    cpu_ratio = big["points_per_cpu_second"] / small["points_per_cpu_second"]
    print(f"CPU efficiency ratio {cpu_ratio:.2f} (points per CPU-second, out of core over in memory; "
          f"{os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f} now)")
    ratio = big["points_per_second"] / small["points_per_second"]
    print(f"throughput ratio {ratio:.2f}")
    return ratio


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000_000, help="points written to disk and fitted out of core")
    parser.add_argument("--n-memory", type=int, default=10_000_000, help="points fitted in memory")
    parser.add_argument("--chunk", type=int, default=1_000_000, help="rows per file (and per dask chunk)")
    parser.add_argument("--dir", default=None, help="where to write the data (a temporary folder inside it)")
    arguments = parser.parse_args()
    for name in ("SIGTERM", "SIGHUP"):
        if hasattr(signal, name):
            signal.signal(getattr(signal, name), interrupt_on_signal)
    main(arguments.n, arguments.n_memory, arguments.chunk, arguments.dir)
