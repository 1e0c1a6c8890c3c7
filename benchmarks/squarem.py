"""SQUAREM against plain EM: E-steps and time to the same tolerance, on slowly converging problems.

Problems (issue 16, item 2):
  - overlapping Gaussian mixtures: two unit-variance normals 2 and 2.5 standard deviations apart,
    1,000 points, the data and settings of book/why_em_climbs.ipynb (tol=1e-10);
  - the two- and three-state Poisson HMMs of the earthquake counts, with the settings of
    book/earthquakes.ipynb (tol=1e-10, max_iter=2000) but one start (random_state=0);
  - factor analysis near a Heywood case: two factors, six features, one of which the factors
    explain to 99.9% (its noise variance converges slowly towards zero).

Each problem is fitted twice from the same start, with ``accelerate=None`` and ``"squarem"``, to
the same tolerance (the same stopping rule: one EM step changes the objective by at most ``tol``
per sample). For each the script prints the E-steps, the best time of a few interleaved repeats,
both ratios, and the relative difference of the final objectives (it fails if that exceeds 1e-8).
Short fits are timed in batches of about 50 ms and repeated more (up to 30 times, within about
four seconds), since a single run of a few milliseconds says little on a shared machine.

Run: ``python benchmarks/squarem.py`` (``--repeats N`` for more timed runs). The last line is
``ratio <worst time ratio accelerated / plain>``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from emlib import FactorAnalysis, GaussianMixture, PoissonHMM
from emlib.datasets import load_earthquakes

SAME_OPTIMUM = 1e-8  # largest relative difference of the final objectives
BUDGET = 4.0  # seconds of timed runs per problem, beyond the minimum number of repeats


class Problem(NamedTuple):
    name: str
    make: Callable  # make(accelerate) -> an unfitted estimator
    X: np.ndarray


def overlapping_mixture(separation: float, seed: int = 0, n: int = 1000, n_components: int = 2,
                        n_features: int = 1) -> np.ndarray:
    """``n`` points from ``n_components`` unit-variance normals, equally likely, their means
    ``separation`` apart along a line (the construction of book/why_em_climbs.ipynb for two
    components in one dimension), shape (n, n_features)."""
    rng = np.random.default_rng(seed)
    if n_components == 2 and n_features == 1:  # exactly the chapter's draws
        x = np.where(rng.random(n) < 0.5, rng.normal(-separation / 2, 1, n), rng.normal(separation / 2, 1, n))
        return x[:, None]
    labels = rng.integers(0, n_components, n)
    X = rng.normal(size=(n, n_features))
    X[:, 0] += separation * labels
    return X


def heywood_factor_data(seed: int = 1, n: int = 500, n_features: int = 6, n_factors: int = 2,
                        explained: float = 0.999) -> np.ndarray:
    """Factor-model data in which the factors explain feature 0 to the share ``explained``: the
    maximum-likelihood noise variance of that feature is near zero (close to a Heywood case)."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(n_features, n_factors))
    noise = np.full(n_features, 0.5)
    noise[0] = (1.0 - explained) / explained * np.sum(loadings[0] ** 2)
    return rng.normal(size=(n, n_factors)) @ loadings.T + rng.normal(size=(n, n_features)) * np.sqrt(noise)


def problems() -> list[Problem]:
    counts = load_earthquakes().data
    return [
        Problem("Gaussian mixture, separation 2.0", lambda acc: GaussianMixture(
            2, random_state=0, tol=1e-10, max_iter=20000, accelerate=acc), overlapping_mixture(2.0)),
        Problem("Gaussian mixture, separation 2.5", lambda acc: GaussianMixture(
            2, random_state=0, tol=1e-10, max_iter=20000, accelerate=acc), overlapping_mixture(2.5)),
        Problem("earthquakes, 2-state Poisson HMM", lambda acc: PoissonHMM(
            2, random_state=0, tol=1e-10, max_iter=2000, accelerate=acc), counts),
        Problem("earthquakes, 3-state Poisson HMM", lambda acc: PoissonHMM(
            3, random_state=0, tol=1e-10, max_iter=2000, accelerate=acc), counts),
        Problem("factor analysis, near Heywood", lambda acc: FactorAnalysis(
            2, tol=1e-10, max_iter=100000, accelerate=acc), heywood_factor_data()),
    ]


def final_objective(estimator) -> float:
    return float(estimator.loglik_history_[-1])


def timed_fit(problem: Problem, accelerate, fits: int = 1):
    """Seconds per fit, timed over ``fits`` fits in a row, and the last fitted estimator."""
    start = time.perf_counter()
    for _ in range(fits):
        estimator = problem.make(accelerate).fit(problem.X)
    return (time.perf_counter() - start) / fits, estimator


def compare(problem: Problem, repeats: int) -> float:
    best = {None: np.inf, "squarem": np.inf}
    fitted = {}
    # A fit of a few milliseconds is timed in batches of about 50 ms, so that one interruption
    # of a shared machine does not decide it.
    fits = max(1, int(0.05 / timed_fit(problem, "squarem")[0]))
    runs, spent = 0, 0.0
    # Interleaved, so both see the same machine load; short cases get more runs, up to 30, while
    # they fit in the budget.
    while runs < repeats or (spent < BUDGET and runs < 30):
        for accelerate in (None, "squarem"):
            elapsed, fitted[accelerate] = timed_fit(problem, accelerate, fits)
            best[accelerate] = min(best[accelerate], elapsed)
            spent += elapsed * fits
        runs += 1
    plain, fast = fitted[None], fitted["squarem"]
    difference = abs(final_objective(fast) - final_objective(plain)) / abs(final_objective(plain))
    if difference > SAME_OPTIMUM or not (plain.converged_ and fast.converged_):
        raise AssertionError(f"{problem.name}: not the same optimum (relative difference {difference:.1e}, "
                             f"converged {plain.converged_}, {fast.converged_})")
    ratio = best["squarem"] / best[None]
    print(f"{problem.name:34s} E-steps {plain.n_e_steps_:6d} -> {fast.n_e_steps_:5d} "
          f"({plain.n_e_steps_ / fast.n_e_steps_:5.1f}x fewer)   time {best[None] * 1e3:8.1f} ms -> "
          f"{best['squarem'] * 1e3:7.1f} ms (ratio {ratio:.2f})   objectives differ by {difference:.0e}")
    return ratio


def main(repeats: int) -> float:
    warnings.simplefilter("ignore")  # a Heywood case warns by design
    for problem in problems():  # warm-up: numba compilation and caches out of the timings
        problem.make("squarem").set_params(max_iter=2).fit(problem.X)
    worst = max(compare(problem, repeats) for problem in problems())
    print(f"ratio {worst:.3f}")
    return worst


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3, help="timed runs per side (the best is kept)")
    main(parser.parse_args().repeats)
