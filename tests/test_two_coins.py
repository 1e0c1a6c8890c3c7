"""The two-coin example of Do & Batzoglou (2008) against the paper's figure, and EM's bound on it.

The paper (Nature Biotechnology 26:897, Fig. 1) gives the five sequences, the maximum-likelihood
estimates with known coins (0.80, 0.45), the first E-step's expected counts (about 21.3 heads and 8.6
tails for coin A, 11.7 and 8.4 for coin B) and the iterates after one and ten EM steps.
"""

import numpy as np
import pytest
from scipy.optimize import minimize_scalar

from emlib import em
from emlib.elbo import mixture_decomposition

SEQUENCES = ["HTTTHHTHTH", "HHHHTHHHHH", "HTHHHHHTHH", "HTHTTTHHTT", "THHHTHHHTH"]
COINS = "BAABA"
COUNTS = np.array([[s.count("H"), s.count("T")] for s in SEQUENCES])


def log_joint(theta):
    """log p(sequence_i, coin = k | theta), shape (5, 2); each coin is picked with probability 1/2."""
    theta = np.asarray(theta, dtype=float)
    return np.log(0.5) + COUNTS[:, :1] * np.log(theta) + COUNTS[:, 1:] * np.log1p(-theta)


def loglik(theta):
    return float(np.logaddexp(*log_joint(theta).T).sum())


class TwoCoins:
    def __init__(self, theta_a, theta_b):
        self.theta = np.array([theta_a, theta_b], dtype=float)

    def initialize(self, counts, rng):
        pass

    def e_step(self, counts):
        joint = log_joint(self.theta)
        log_evidence = np.logaddexp(*joint.T)
        return np.exp(joint - log_evidence[:, None]), float(log_evidence.sum())

    def m_step(self, counts, responsibilities):
        expected = responsibilities.T @ counts
        self.theta = expected[:, 0] / expected.sum(axis=1)


def test_counts_are_the_papers():
    assert COUNTS[:, 0].tolist() == [5, 9, 8, 4, 7]
    assert COUNTS.sum(axis=1).tolist() == [10] * 5


def test_known_coins_give_080_and_045():
    heads = {c: sum(COUNTS[i, 0] for i in range(5) if COINS[i] == c) for c in "AB"}
    tosses = {c: 10 * COINS.count(c) for c in "AB"}
    assert heads["A"] / tosses["A"] == pytest.approx(0.80)
    assert heads["B"] / tosses["B"] == pytest.approx(0.45)


def test_first_e_step_matches_figure():
    responsibilities, _ = TwoCoins(0.6, 0.5).e_step(COUNTS)
    np.testing.assert_allclose(responsibilities[:, 0], [0.45, 0.80, 0.73, 0.35, 0.65], atol=0.005)
    expected = responsibilities.T @ COUNTS
    np.testing.assert_allclose(expected, [[21.3, 8.6], [11.7, 8.4]], atol=0.05)


def test_iterates_and_monotone_loglik():
    result = em.fit(TwoCoins(0.6, 0.5), COUNTS, max_iter=10, tol=0)
    np.testing.assert_allclose(result.model.theta, [0.80, 0.52], atol=0.005)
    assert np.all(np.diff(result.loglik_history) >= 0)


def test_label_switching_gives_mirror_maximum():
    one = em.fit(TwoCoins(0.6, 0.5), COUNTS, max_iter=1000, tol=1e-14).model.theta
    other = em.fit(TwoCoins(0.5, 0.6), COUNTS, max_iter=1000, tol=1e-14).model.theta
    np.testing.assert_allclose(other, one[::-1], atol=1e-6)
    assert loglik(one) == pytest.approx(loglik(other), abs=1e-10)


def test_equal_start_stays_on_diagonal_at_a_saddle():
    theta = em.fit(TwoCoins(0.6, 0.6), COUNTS, max_iter=100, tol=1e-14).model.theta
    pooled = COUNTS[:, 0].sum() / COUNTS.sum()
    np.testing.assert_allclose(theta, [pooled, pooled], atol=1e-12)
    # Second differences along (1, 1) and (1, -1): a maximum along one, a minimum along the other.
    h = 1e-3
    centre = loglik(theta)
    along = loglik(theta + h) + loglik(theta - h) - 2 * centre
    across = loglik(theta + [h, -h]) + loglik(theta - [h, -h]) - 2 * centre
    assert along < 0 < across


@pytest.mark.parametrize("theta_old", [(0.6, 0.5), (0.3, 0.9), (0.75, 0.55)])
def test_em_step_maximises_the_bound_which_touches_below(theta_old):
    # Coin B held fixed: the bound L(q_old, theta_a) in the free parameter alone.
    q_old, ll_old = TwoCoins(*theta_old).e_step(COUNTS)
    model = TwoCoins(*theta_old)
    model.m_step(COUNTS, q_old)
    theta_a_new = model.theta[0]

    def bound(theta_a):
        return mixture_decomposition(log_joint([theta_a, theta_old[1]]), q_old).bound

    assert bound(theta_old[0]) == pytest.approx(ll_old, abs=1e-12)
    grid = np.linspace(0.01, 0.99, 99)
    assert all(bound(t) <= loglik([t, theta_old[1]]) + 1e-12 for t in grid)
    best = minimize_scalar(lambda t: -bound(t), bounds=(1e-6, 1 - 1e-6), method="bounded",
                           options={"xatol": 1e-10})
    assert best.x == pytest.approx(theta_a_new, abs=1e-6)
