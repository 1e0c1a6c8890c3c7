"""The generic EM loop, on the two-coin model of Do & Batzoglou (2008)."""

import itertools
import warnings

import numpy as np
import pytest

from emlib import em

COUNTS = np.array([[5, 5], [9, 1], [8, 2], [4, 6], [7, 3]])  # [heads, tails] per set of ten tosses


class TwoCoins:
    def __init__(self, theta_a=0.6, theta_b=0.5):
        self.theta = np.array([theta_a, theta_b])

    def initialize(self, counts, rng):
        pass

    def e_step(self, counts):
        heads, tails = counts[:, :1], counts[:, 1:]
        joint = 0.5 * self.theta**heads * (1 - self.theta) ** tails
        evidence = joint.sum(axis=1, keepdims=True)
        return joint / evidence, np.log(evidence).sum()

    def m_step(self, counts, responsibilities):
        expected = responsibilities.T @ counts
        self.theta = expected[:, 0] / expected.sum(axis=1)


def test_published_iterates():
    one = em.fit(TwoCoins(), COUNTS, max_iter=1)
    np.testing.assert_allclose(one.model.theta, [0.71, 0.58], atol=0.005)
    ten = em.fit(TwoCoins(), COUNTS, max_iter=10, tol=0)
    np.testing.assert_allclose(ten.model.theta, [0.80, 0.52], atol=0.005)
    assert ten.n_iter == 10 and len(ten.loglik_history) == 11
    assert np.all(np.diff(ten.loglik_history) >= 0)


def test_converges_and_reports():
    result = em.fit(TwoCoins(), COUNTS, max_iter=500, tol=1e-12)
    assert result.converged and result.n_iter < 500
    assert result.loglik == result.loglik_history[-1]


class BrokenMStep(TwoCoins):
    def m_step(self, counts, responsibilities):
        self.theta = np.array([0.9, 0.1]) if self.theta[0] > 0.55 else np.array([0.6, 0.5])


def test_decrease_warns_with_iteration():
    with pytest.warns(RuntimeWarning, match=r"decreased at iteration \d+.*M-step"):
        em.fit(BrokenMStep(), COUNTS, max_iter=5, tol=0)


def test_only_the_kept_restarts_warnings_are_shown():
    # Restart 0 runs the broken M-step (a decrease) and ends low; restart 1 is sound and kept.
    class BrokenOnlyFirst(TwoCoins):
        def initialize(self, counts, rng):
            self.broken = getattr(self, "_restarts", 0) == 0
            type(self)._restarts = getattr(self, "_restarts", 0) + 1
            self.theta = np.array([0.6, 0.5])

        def m_step(self, counts, responsibilities):
            if self.broken:
                self.theta = np.array([0.9, 0.1]) if self.theta[0] > 0.55 else np.array([0.6, 0.5])
            else:
                super().m_step(counts, responsibilities)

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        result = em.fit(BrokenOnlyFirst(), COUNTS, n_init=2, max_iter=5, tol=0)
    assert result.best_restart == 1
    assert not [w for w in caught if "decreased" in str(w.message)]

    BrokenOnlyFirst._restarts = 0
    with pytest.warns(RuntimeWarning, match="decreased"):  # alone, the broken run does warn
        em.fit(BrokenOnlyFirst(), COUNTS, n_init=1, max_iter=5, tol=0)


@pytest.mark.parametrize("verbose", ["yes", None, 1.0, [True]])
def test_verbose_must_be_a_flag_or_a_level(verbose, capsys):
    # bool("yes") is True: em.fit took any object for verbose, where the estimators refuse it.
    with pytest.raises(TypeError, match="verbose must be True or False"):
        em.fit(TwoCoins(), COUNTS, max_iter=1, verbose=verbose)
    assert capsys.readouterr().out == ""  # refused before any work
    em.fit(TwoCoins(), COUNTS, max_iter=1, verbose=np.int64(0))  # a level, as the estimators take


def test_verbose_prints_one_line_per_iteration(capsys):
    em.fit(TwoCoins(), COUNTS, max_iter=3, tol=0, verbose=True)
    lines = capsys.readouterr().out.strip().splitlines()
    assert len(lines) == 4 and lines[-1].startswith("iteration    3")


def test_restarts_keep_best_and_callback_sees_every_iteration():
    class RandomStart(TwoCoins):
        def initialize(self, counts, rng):
            self.theta = rng.uniform(0.05, 0.95, size=2)

    seen = []
    result = em.fit(RandomStart(), COUNTS, n_init=5, random_state=0, max_iter=50,
                    callback=lambda model, it, ll: seen.append((it, ll)))
    assert result.restart_logliks.shape == (5,)
    assert result.loglik == pytest.approx(result.restart_logliks.max())
    assert result.restart_logliks[result.best_restart] == result.loglik
    assert seen[0][0] == 0


class MirrorStarts(TwoCoins):
    """Restarts from the same coins, every other one swapped (the mirror image, which climbs to
    the mirror image of the same maximum), each log-likelihood raised by ``raises[restart]``
    (relative): round-off, or more."""

    def __init__(self, raises):
        super().__init__()
        self.raises = raises
        # shared by the copies that the restarts run on: deepcopy keeps a function as it is
        restarts = itertools.count()
        self.next_restart = lambda: next(restarts)

    def initialize(self, counts, rng):
        self.restart = self.next_restart()
        self.theta = np.array([0.6, 0.5] if self.restart % 2 == 0 else [0.5, 0.6])

    def e_step(self, counts):
        responsibilities, loglik = super().e_step(counts)
        return responsibilities, loglik + abs(loglik) * self.raises[self.restart]


@pytest.mark.parametrize(("raises", "kept"), [
    ((0.0, 4e-16), 0),  # the mirror image higher by round-off only: a tie, the first is kept
    ((0.0, 1e-9), 1),  # higher by more: kept
    ((0.0, 0.0, 1e-9, 1e-9 + 5e-16), 2),  # tied with the best so far: the best stays
])
def test_restarts_tied_by_round_off_keep_the_first(raises, kept):
    """Which restart is kept must not hang on the last bits, which differ from one CPU (its BLAS,
    NumPy's SIMD paths) to another: the book's outputs would then depend on the machine."""
    result = em.fit(MirrorStarts(raises), COUNTS, n_init=len(raises), max_iter=200, tol=1e-12)
    assert np.ptp(result.restart_logliks) <= 2e-9 * abs(result.loglik)  # one maximum, mirrored
    assert result.best_restart == kept
    assert result.loglik == result.restart_logliks[kept]


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [({"max_iter": -1}, "max_iter"), ({"n_init": 0}, "n_init"), ({"tol": -1.0}, "tol")],
)
def test_bad_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        em.fit(TwoCoins(), COUNTS, **kwargs)


def test_nan_loglik_is_an_error():
    class NaNModel(TwoCoins):
        def e_step(self, counts):
            stats, _ = super().e_step(counts)
            return stats, float("nan")

    with warnings.catch_warnings():
        warnings.simplefilter("error")
        with pytest.raises(FloatingPointError, match="iteration 0"):
            em.fit(NaNModel(), COUNTS)
