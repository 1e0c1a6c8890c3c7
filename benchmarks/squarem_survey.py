"""SQUAREM against plain EM over many problems, not only the few that squarem.py times.

Thirteen kinds of problem, each with several seeds (``--seeds``, default 6): Gaussian mixtures (full
covariances with components 1.5 and 2 standard deviations apart; diagonal, tied and spherical ones;
full ones with 20% of the entries missing), Poisson and Bernoulli mixtures, Gaussian HMMs (one
feature; three features with full covariances), a sticky categorical HMM, a Poisson HMM, and factor
analysis. The seed draws the data and the start. Each problem is fitted twice from the same start,
``accelerate=None`` and ``"squarem"``, to ``tol=1e-10`` per sample.

One row per problem: E-steps of both, their ratio, the ratio of the CPU times (each the best of
``--repeats`` runs, default 3, interleaved: a single run of a few milliseconds says little on a
shared machine, and moved the worst ratio by 0.15 from one run of the survey to the next) and the
relative difference of the final objectives. A row is flagged if SQUAREM ends lower than plain
EM by more than 1e-8 of the objective, uses more E-steps, or either run stops at ``max_iter``.
Then, over the slow problems (plain EM needs at least ``SLOW`` E-steps): the smallest E-step ratio
and the largest time ratio. The last line is ``ratio <that largest time ratio>``.

Run from the repository root: ``python benchmarks/squarem_survey.py [--seeds N] [--repeats N]``.
"""

from __future__ import annotations

import argparse
import time
import warnings
from collections.abc import Callable
from typing import NamedTuple

import numpy as np

from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    FactorAnalysis,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
)

SLOW = 300  # plain EM's E-steps from which a problem counts as slow
SAME_OPTIMUM = 1e-8  # how much lower than plain EM's final objective SQUAREM's may be, relative
MAX_ITER = 20_000


class Problem(NamedTuple):
    kind: str
    seed: int
    make: Callable  # make(accelerate) -> an unfitted estimator
    X: np.ndarray


def separated_blobs(seed: int, separation: float, n: int = 600, K: int = 3, D: int = 2) -> np.ndarray:
    """``n`` points (n, D) around K unit-variance centres ``separation`` apart along the axes."""
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, K, n)
    return rng.normal(size=(n, D)) + separation * np.eye(K, D)[labels]


def with_missing(X: np.ndarray, seed: int, share: float = 0.2) -> np.ndarray:
    """A copy of ``X`` with about ``share`` of its entries NaN (never a whole row)."""
    rng = np.random.default_rng(seed + 100)
    lost = rng.random(X.shape) < share
    lost[lost.all(axis=1)] = False
    return np.where(lost, np.nan, X)


def poisson_counts(seed: int, n: int = 500) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(np.array([2.0, 3.5, 5.0])[rng.integers(0, 3, n)])[:, None]


def binary_rows(seed: int, n: int = 400, D: int = 12) -> np.ndarray:
    rng = np.random.default_rng(seed)
    probabilities = rng.uniform(0.2, 0.8, (3, D))
    return (rng.random((n, D)) < probabilities[rng.integers(0, 3, n)]).astype(float)


def sticky_chain(rng: np.random.Generator, T: int, K: int, stay: float) -> np.ndarray:
    """States (T,) of a chain that stays with probability ``stay`` and otherwise moves to any state."""
    states = np.zeros(T, dtype=int)
    for t in range(1, T):
        states[t] = states[t - 1] if rng.random() < stay else rng.integers(0, K)
    return states


def gaussian_hmm_steps(seed: int, D: int, T: int = 800, K: int = 3) -> np.ndarray:
    """(T, D) from a sticky Gaussian HMM whose states overlap."""
    transmat = np.full((K, K), 0.1 / (K - 1)) + np.eye(K) * (0.9 - 0.1 / (K - 1))
    spread = 1.2 if D == 1 else 0.8
    covariance = np.eye(D) if D == 1 else 0.7 * np.eye(D) + 0.3
    truth = GaussianHMM(K, covariance_type="full").set_parameters(
        startprob=np.full(K, 1 / K), transmat=transmat, means=np.arange(K)[:, None] * np.full((1, D), spread),
        covariances=np.tile(covariance, (K, 1, 1)))
    return truth.sample(T, random_state=seed)[0]


def sticky_symbols(seed: int, T: int = 1000) -> np.ndarray:
    """(T, 1) symbols of two states that emit three symbols with similar probabilities."""
    rng = np.random.default_rng(seed)
    emissions = np.array([[0.5, 0.3, 0.2], [0.25, 0.35, 0.4]])
    return np.array([rng.choice(3, p=emissions[state]) for state in sticky_chain(rng, T, 2, 0.95)])[:, None]


def poisson_steps(seed: int, T: int = 600) -> np.ndarray:
    rng = np.random.default_rng(seed)
    return rng.poisson(np.array([3.0, 5.0, 8.0])[sticky_chain(rng, T, 3, 0.9)])[:, None]


def factor_rows(seed: int, n: int = 300, D: int = 8, F: int = 3) -> np.ndarray:
    """(n, D) from F factors, with noise variances from 0.0025 to 1."""
    rng = np.random.default_rng(seed)
    loadings = rng.normal(size=(D, F))
    return rng.normal(size=(n, F)) @ loadings.T + rng.normal(size=(n, D)) * rng.uniform(0.05, 1.0, D)


def kinds():
    """(name, make(seed, accelerate), data(seed)) for every kind of problem."""
    def estimator(cls, size=3, **options):  # ``size``: components, states or factors
        return lambda seed, accelerate: cls(size, random_state=seed, tol=1e-10, max_iter=MAX_ITER,
                                            accelerate=accelerate, **options)

    return [
        ("Gaussian mixture, full, 1.5 apart", estimator(GaussianMixture), lambda s: separated_blobs(s, 1.5)),
        ("Gaussian mixture, full, 2 apart", estimator(GaussianMixture), lambda s: separated_blobs(s, 2.0)),
        ("Gaussian mixture, diag", estimator(GaussianMixture, covariance_type="diag"),
         lambda s: separated_blobs(s, 1.8)),
        ("Gaussian mixture, tied", estimator(GaussianMixture, covariance_type="tied"),
         lambda s: separated_blobs(s, 1.8)),
        ("Gaussian mixture, spherical", estimator(GaussianMixture, covariance_type="spherical"),
         lambda s: separated_blobs(s, 1.8)),
        ("Gaussian mixture, 20% missing", estimator(GaussianMixture, missing="em"),
         lambda s: with_missing(separated_blobs(s, 2.0), s)),
        ("Poisson mixture", estimator(PoissonMixture), poisson_counts),
        ("Bernoulli mixture", estimator(BernoulliMixture), binary_rows),
        ("Gaussian HMM, 1 feature", estimator(GaussianHMM), lambda s: gaussian_hmm_steps(s, 1)),
        ("Gaussian HMM, 3 features, full", estimator(GaussianHMM, covariance_type="full"),
         lambda s: gaussian_hmm_steps(s, 3)),
        ("categorical HMM, sticky", estimator(CategoricalHMM, 2), sticky_symbols),
        ("Poisson HMM", estimator(PoissonHMM), poisson_steps),
        ("factor analysis", estimator(FactorAnalysis), factor_rows),
    ]


def timed_fit(estimator, X):
    start = time.process_time()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and degeneracy warnings: judged below
        estimator.fit(X)
    return estimator, time.process_time() - start


def main(args) -> float:
    slow_steps, slow_times = [], []
    print(f"{'problem':38s} {'E-steps: EM':>11s} {'SQUAREM':>8s} {'fewer':>6s} {'time':>6s}  objective")
    for name, make, data in kinds():
        ratios = []
        for seed in range(args.seeds):
            X = data(seed)
            plain_time = fast_time = np.inf
            for _ in range(args.repeats):  # interleaved, so that both see the same machine load
                plain, elapsed = timed_fit(make(seed, None), X)
                plain_time = min(plain_time, elapsed)
                fast, elapsed = timed_fit(make(seed, "squarem"), X)
                fast_time = min(fast_time, elapsed)
            top_plain, top_fast = plain.loglik_history_[-1], fast.loglik_history_[-1]
            difference = (top_fast - top_plain) / abs(top_plain)
            fewer = plain.n_e_steps_ / fast.n_e_steps_
            flags = []
            if difference < -SAME_OPTIMUM:
                flags.append("SQUAREM lower")
            if fast.n_e_steps_ > plain.n_e_steps_:
                flags.append("more E-steps")
            if not (plain.converged_ and fast.converged_):
                flags.append("max_iter reached by " + ("both" if not (plain.converged_ or fast.converged_)
                                                       else "EM" if not plain.converged_ else "SQUAREM"))
            print(f"{name + f', seed {seed}':38s} {plain.n_e_steps_:11d} {fast.n_e_steps_:8d} {fewer:5.1f}x "
                  f"{fast_time / plain_time:6.2f}  {difference:+.0e}" + ("  <-- " + "; ".join(flags) if flags else ""))
            ratios.append(fewer)
            if plain.n_e_steps_ >= SLOW:
                slow_steps.append(fewer)
                slow_times.append(fast_time / plain_time)
        print(f"  {name}: {min(ratios):.1f}x to {max(ratios):.1f}x fewer E-steps")
    if not slow_steps:
        print(f"no slow problems (plain EM needs at least {SLOW} E-steps): run more seeds")
        return float("nan")
    print(f"{len(slow_steps)} slow problems (plain EM needs at least {SLOW} E-steps): "
          f"at least {min(slow_steps):.1f}x fewer E-steps, at most {max(slow_times):.2f} of the time")
    return max(slow_times)


def positive_int(text: str) -> int:
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be at least 1, got {value}")
    return value


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=positive_int, default=6, help="seeds per kind of problem (default 6)")
    parser.add_argument("--repeats", type=positive_int, default=3,
                        help="timed runs of each fit; the best is kept (default 3)")
    print(f"ratio {main(parser.parse_args()):.3f}")
