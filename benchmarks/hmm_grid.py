"""emlib's GaussianHMM against hmmlearn's over a grid of sizes (issue 16, item 1).

The grid: K in {2, 4, 16, 64} states, D in {1, 8, 32} features, diagonal and full covariances, and
three layouts of the data: one sequence of T = 1,000 steps, one of T = 100,000, and 1,000 sequences
of 50 steps: 72 points. hmmlearn's full-covariance M-step (an ``einsum`` over T x K x D x D
products, per sequence) makes the points with K = 64 and D > 1 take minutes, so by default the
script runs a sample of 64 points, about eight minutes of CPU time (twenty of wall clock when the
two cores were shared with other work; ``--all`` runs every point, ``--quick`` a few for
development):

- T = 1,000: every point (24);
- T = 100,000 and 1,000 x 50: every point with K <= 16, and K = 64 with D = 1 (2 x 20).

Every point runs 5 Baum-Welch iterations.

Each point is fitted by both libraries from the same start probabilities, transition matrix, means
and covariances for exactly the same number of Baum-Welch iterations (``tol=0`` and ``tol=-inf``),
as ``hmm_vs_hmmlearn.py`` does, and the script checks that both end at the same parameters. hmmlearn
runs its faster implementation, ``implementation="scaling"``, with no initialisation
(``init_params=""``) and no covariance prior (``covars_prior=0``, ``min_covar=0``); emlib runs with
``reg_covar=0``: both then compute the maximum-likelihood M-step. emlib's fit evaluates the
log-likelihood after its last M-step (one E-step more than hmmlearn's ``n_iter``): it is timed with
it. numba's compilation is left out: every kernel is compiled first (``_kernels.compile_all()``),
then a small warm-up fit of each covariance type runs.

Each side is timed as the best of at least three interleaved repeats (more, up to ten, while they
take under half a second; two when one fit takes over ten seconds), in CPU seconds of this process
(``time.process_time``): every library here runs on one thread, so on a quiet machine that is the
wall-clock time, and on a shared machine it leaves out the time spent waiting for a core. Both libraries run with one BLAS thread: the script sets
``OPENBLAS_NUM_THREADS=1`` before NumPy is imported.

Prints one row per point (emlib seconds, hmmlearn seconds, ratio, the largest relative parameter
difference) and, last, ``ratio <worst ratio of the grid>`` (the issue's goal: at most 0.5).

Run from the repository root: ``python benchmarks/hmm_grid.py [--quick | --all]``.
"""

from __future__ import annotations

import os

os.environ["OPENBLAS_NUM_THREADS"] = "1"  # before NumPy loads OpenBLAS: one thread for both sides

import argparse
import itertools
import logging
import sys
import time
import warnings

import numpy as np

warnings.simplefilter("ignore")  # ConvergenceWarning for fixed iteration counts, hmmlearn's chatter
logging.getLogger("hmmlearn").setLevel(logging.ERROR)  # its "degenerate solution" notes at K = 64

from hmmlearn import hmm as hmmlearn_hmm

from emlib import GaussianHMM
from emlib.hmm import _kernels

STATES = (2, 4, 16, 64)
FEATURES = (1, 8, 32)
COVARIANCE_TYPES = ("diag", "full")
LAYOUTS = {  # name: sequence lengths
    "T=1e3": (1_000,),
    "T=1e5": (100_000,),
    "1000x50": (50,) * 1_000,
}
N_ITER = 5

MIN_REPEATS, MAX_REPEATS, REPEAT_BUDGET = 3, 10, 0.5  # timed runs per side; CPU seconds per side
LONG_FIT, LONG_FIT_REPEATS = 10.0, 2  # fewer timed runs when one fit takes longer than this
AGREEMENT = 1e-6  # largest relative parameter difference accepted between the two libraries


def in_sample(layout: str, K: int, D: int) -> bool:
    """Whether a point of the grid is in the default sample (see the module docstring)."""
    return layout == "T=1e3" or K <= 16 or D == 1


def sample_points(args) -> list[tuple[str, str, int, int, int]]:
    """The points to time, as (covariance type, layout, K, D, iterations), in the order they run."""
    points = []
    for layout, K, D in itertools.product(LAYOUTS, STATES, FEATURES):
        if args.quick:
            keep = layout != "T=1e5" and K <= 4
        else:
            keep = args.all or in_sample(layout, K, D)
        if keep:
            points.extend((covariance_type, layout, K, D, N_ITER) for covariance_type in COVARIANCE_TYPES)
    return points


def make_data(K: int, D: int, lengths, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Observations (sum(lengths), D) from a sticky Gaussian HMM with correlated noise, and its means.

    The means are spread so that their typical distance (about 4 noise standard deviations) does not
    grow with D: the states overlap, and Baum-Welch is still moving after the iterations timed here.
    """
    transmat = np.full((K, K), 0.1 / (K - 1))
    np.fill_diagonal(transmat, 0.9)
    mixing = np.eye(D) + 0.5 * rng.normal(size=(K, D, D)) / np.sqrt(D)
    means = rng.normal(0.0, 3.0 / np.sqrt(D), (K, D))
    truth = GaussianHMM(K, covariance_type="full").set_parameters(
        startprob=np.full(K, 1.0 / K), transmat=transmat, means=means,
        covariances=mixing @ mixing.transpose(0, 2, 1),
    )
    return np.concatenate([truth.sample(n, random_state=rng)[0] for n in lengths]), means


def starting_values(X: np.ndarray, means: np.ndarray, covariance_type: str,
                    rng: np.random.Generator) -> dict:
    """Start probabilities, transition matrix, means and covariances that both libraries share.

    The means start near the true ones (about 0.5 away), as after a k-means initialisation: a mean
    started on a data point can keep only that point in many dimensions and collapse.
    """
    K, D = means.shape
    spread = np.cov(X, rowvar=False).reshape(D, D)
    return {
        "startprob": np.full(K, 1.0 / K),
        "transmat": rng.dirichlet(np.full(K, 5.0), size=K),
        "means": means + rng.normal(scale=0.5 / np.sqrt(D), size=(K, D)),
        "covariances": np.tile(np.diag(spread) if covariance_type == "diag" else spread,
                               (K,) + (1,) * (1 if covariance_type == "diag" else 2)),
    }


def fit_emlib(X, lengths, K, covariance_type, n_iter, start) -> GaussianHMM:
    return GaussianHMM(
        K, covariance_type=covariance_type, startprob_init=start["startprob"],
        transmat_init=start["transmat"], means_init=start["means"],
        covariances_init=start["covariances"], reg_covar=0.0, max_iter=n_iter, tol=0.0,
    ).fit(X, lengths)


def fit_hmmlearn(X, lengths, K, covariance_type, n_iter, start):
    model = hmmlearn_hmm.GaussianHMM(
        K, covariance_type=covariance_type, n_iter=n_iter, tol=-np.inf, params="stmc",
        init_params="", covars_prior=0.0, min_covar=0.0, implementation="scaling",
    )
    model.startprob_ = start["startprob"].copy()
    model.transmat_ = start["transmat"].copy()
    model.means_ = start["means"].copy()
    model.covars_ = start["covariances"].copy()
    return model.fit(X, lengths)


def timed(fit):
    """CPU seconds of ``fit()`` (this process; every library here runs one thread), and its result."""
    start = time.process_time()
    result = fit()
    return time.process_time() - start, result


def relative_difference(a, b) -> float:
    return float(np.max(np.abs(a - b)) / max(np.abs(b).max(), np.finfo(float).tiny))


def compare(X, lengths, K, covariance_type, n_iter, start, min_repeats=MIN_REPEATS):
    """Best emlib and hmmlearn times (interleaved repeats) and the parameter difference."""
    ours = theirs = np.inf
    spent = 0.0
    repeats = 0
    while repeats < min_repeats or (spent < REPEAT_BUDGET and repeats < MAX_REPEATS):
        t_em, em = timed(lambda: fit_emlib(X, lengths, K, covariance_type, n_iter, start))
        t_hl, hl = timed(lambda: fit_hmmlearn(X, lengths, K, covariance_type, n_iter, start))
        if max(t_em, t_hl) > LONG_FIT:
            min_repeats = min(min_repeats, LONG_FIT_REPEATS)
        ours, theirs = min(ours, t_em), min(theirs, t_hl)
        spent += max(t_em, t_hl)
        repeats += 1
    if not em.n_iter_ == hl.monitor_.iter == n_iter:
        raise AssertionError(f"iterations: emlib {em.n_iter_}, hmmlearn {hl.monitor_.iter}")
    # hmmlearn's covars_ are full matrices whatever the type; its diagonal ones are in _covars_.
    their_covariances = hl._covars_ if covariance_type == "diag" else hl.covars_
    difference = max(
        relative_difference(em.means_, hl.means_),
        relative_difference(em.covariances_, their_covariances),
        relative_difference(em.transmat_, hl.transmat_),
    )
    return ours, theirs, difference


def warm_up() -> None:
    """Compile (or load from numba's cache) every kernel a fit uses, outside the timings.

    The recursions compile lazily (small calls run their NumPy twins until the twins have run
    ``_kernels.NUMPY_STEPS`` steps), so they are compiled here explicitly: otherwise the first
    points of the grid would time the twins, and one of them the compilation.
    """
    _kernels.compile_all()
    X = np.random.default_rng(0).normal(size=(200, 2))
    for covariance_type in COVARIANCE_TYPES:
        start = starting_values(X, np.array([[-1.0, 0.0], [1.0, 0.0]]), covariance_type,
                                np.random.default_rng(0))
        fit_emlib(X, np.array([100, 100]), 2, covariance_type, 2, start)


def main(args) -> tuple[float, list[str]]:
    points = sample_points(args)
    warm_up()
    print(f"{len(points)} points, hmmlearn implementation='scaling', CPU seconds", flush=True)
    rows, disagreements = [], []
    data, data_key = None, None
    began = time.perf_counter()
    for covariance_type, layout, K, D, n_iter in points:
        lengths = np.array(LAYOUTS[layout])
        if data_key != (layout, K, D):
            (data, means), data_key = make_data(K, D, lengths, np.random.default_rng([K, D, lengths.size])), (
                layout, K, D)
        start = starting_values(data, means, covariance_type, np.random.default_rng([K, D, 1]))
        ours, theirs, difference = compare(data, lengths, K, covariance_type, n_iter, start,
                                           args.repeats)
        label = f"{covariance_type:4s} {layout:7s} K={K:<2d} D={D:<2d} {n_iter:2d} it"
        if not difference <= AGREEMENT:
            disagreements.append(label)
        rows.append((label, ours / theirs))
        print(f"{label}  emlib {ours:8.3f} s  hmmlearn {theirs:8.3f} s  ratio {ours / theirs:5.2f}  "
              f"(difference {difference:.0e})", flush=True)
    print(f"{len(rows)} points in {time.perf_counter() - began:.0f} s (wall clock)")
    worst_label, worst = max(rows, key=lambda row: row[1])
    print(f"worst point: {worst_label}")
    return worst, disagreements


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    size = parser.add_mutually_exclusive_group()
    size.add_argument("--quick", action="store_true", help="T=1e3 and 1000x50 with K<=4, for development")
    size.add_argument("--all", action="store_true", help="every point of the grid (much longer)")
    parser.add_argument("--repeats", type=int, default=MIN_REPEATS,
                        help=f"least number of timed runs per side (default {MIN_REPEATS})")
    worst_ratio, disagreeing = main(parser.parse_args())
    if disagreeing:
        print(f"DISAGREE (relative parameter difference > {AGREEMENT:g}): {disagreeing}", file=sys.stderr)
    print(f"ratio {worst_ratio:.3f}")
    sys.exit(1 if disagreeing else 0)
