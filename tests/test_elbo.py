"""log p(X) = L(q) + KL(q || posterior): emlib.elbo and GaussianMixture.evidence_lower_bound.

References are independent of emlib.elbo: scipy.special's logsumexp, xlogy and rel_entr, and
GaussianMixture's own score (the log-likelihood) and predict_proba (the posterior).
"""

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.special import logsumexp, rel_entr, softmax, xlogy

from emlib import GaussianMixture
from emlib.datasets import load_faithful
from emlib.elbo import Decomposition, mixture_decomposition

X_FAITHFUL = load_faithful().data


@pytest.fixture(scope="module")
def faithful_mixture():
    return GaussianMixture(n_components=2, random_state=0).fit(X_FAITHFUL)


def reference_terms(log_joint, q):
    """Bound and KL written straight from their definitions, with SciPy's special functions."""
    bound = np.sum(xlogy(q, np.exp(log_joint))) - np.sum(xlogy(q, q))
    posterior = softmax(log_joint, axis=1)
    return bound, np.sum(rel_entr(q, posterior))


def random_q(rng, shape):
    return rng.dirichlet(np.ones(shape[1]), size=shape[0])


# -- the identity ------------------------------------------------------------------------------------
def test_bound_plus_kl_is_loglik_for_gaussian_mixture(faithful_mixture):
    gm = faithful_mixture
    loglik = gm.score(X_FAITHFUL) * X_FAITHFUL.shape[0]
    rng = np.random.default_rng(1)
    for _ in range(5):
        bound, kl = gm.evidence_lower_bound(X_FAITHFUL, random_q(rng, (X_FAITHFUL.shape[0], 2)))
        assert bound + kl == pytest.approx(loglik, abs=1e-10)
        assert kl > 0 and bound < loglik


def test_kl_is_zero_at_posterior_and_bound_is_loglik(faithful_mixture):
    gm = faithful_mixture
    loglik = gm.score(X_FAITHFUL) * X_FAITHFUL.shape[0]
    bound, kl = gm.evidence_lower_bound(X_FAITHFUL, gm.predict_proba(X_FAITHFUL))
    assert kl == pytest.approx(0.0, abs=1e-10)
    assert bound == pytest.approx(loglik, abs=1e-10)


@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_kl_positive_away_from_posterior(covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X_FAITHFUL)
    posterior = gm.predict_proba(X_FAITHFUL)
    uniform = np.full_like(posterior, 1 / 3)
    hard = np.eye(3)[gm.predict(X_FAITHFUL)]
    for q in (uniform, hard, 0.5 * posterior + 0.5 * uniform):
        result = gm.evidence_lower_bound(X_FAITHFUL, q)
        assert result.kl > 1e-6
        assert result.loglik == pytest.approx(gm.score(X_FAITHFUL) * len(X_FAITHFUL), abs=1e-9)


def test_matches_definition_written_with_scipy():
    rng = np.random.default_rng(2)
    log_joint = rng.normal(-3, 2, size=(40, 4))
    q = random_q(rng, log_joint.shape)
    bound, kl = mixture_decomposition(log_joint, q)
    ref_bound, ref_kl = reference_terms(log_joint, q)
    assert bound == pytest.approx(ref_bound, abs=1e-10)
    assert kl == pytest.approx(ref_kl, abs=1e-10)
    assert bound + kl == pytest.approx(logsumexp(log_joint, axis=1).sum(), abs=1e-10)


@settings(max_examples=60, deadline=None)
@given(
    n=st.integers(1, 30),
    k=st.integers(1, 5),
    scale=st.floats(0.1, 300.0),
    seed=st.integers(0, 2**32 - 1),
)
def test_identity_and_bound_property(n, k, scale, seed):
    rng = np.random.default_rng(seed)
    log_joint = rng.normal(0.0, scale, size=(n, k))
    q = random_q(rng, (n, k))
    loglik = logsumexp(log_joint, axis=1).sum()
    result = mixture_decomposition(log_joint, q)
    assert isinstance(result, Decomposition)
    assert result.kl >= 0.0
    assert result.bound <= loglik + 1e-9 * max(1.0, abs(loglik))
    assert result.loglik == pytest.approx(loglik, rel=1e-12, abs=1e-10)
    at_posterior = mixture_decomposition(log_joint, softmax(log_joint, axis=1))
    assert at_posterior.kl == pytest.approx(0.0, abs=1e-10 * max(1.0, abs(loglik)))


def test_posterior_maximises_the_bound_over_a_one_parameter_family():
    rng = np.random.default_rng(3)
    log_joint = rng.normal(size=(1, 2))
    s = np.linspace(0, 1, 1001)
    bounds = [mixture_decomposition(log_joint, [[p, 1 - p]]).bound for p in s]
    posterior_first = softmax(log_joint, axis=1)[0, 0]
    assert s[np.argmax(bounds)] == pytest.approx(posterior_first, abs=1e-3)


# -- hard cases ----------------------------------------------------------------------------------------
def test_posterior_underflow_gives_finite_exact_kl():
    # The second label's posterior is exp(-1000): zero in floating point, but log-posterior is exact.
    log_joint = np.array([[0.0, -1000.0], [-1000.0, 0.0]])
    q = np.full((2, 2), 0.5)
    bound, kl = mixture_decomposition(log_joint, q)
    expected_kl = 2 * (0.5 * np.log(0.5) + 0.5 * (np.log(0.5) + 1000.0))
    assert np.isfinite(kl)
    assert kl == pytest.approx(expected_kl, rel=1e-12)
    assert bound + kl == pytest.approx(logsumexp(log_joint, axis=1).sum(), abs=1e-10)


def test_zero_q_on_impossible_label_is_fine():
    log_joint = np.array([[np.log(0.3), -np.inf], [np.log(0.2), np.log(0.1)]])
    q = np.array([[1.0, 0.0], [0.5, 0.5]])
    bound, kl = mixture_decomposition(log_joint, q)
    assert np.isfinite(bound) and np.isfinite(kl)
    assert bound + kl == pytest.approx(np.log(0.3) + np.log(0.3), abs=1e-12)


def test_q_on_impossible_label_gives_minus_inf_bound():
    log_joint = np.array([[np.log(0.3), -np.inf]])
    bound, kl = mixture_decomposition(log_joint, [[0.5, 0.5]])
    assert bound == -np.inf and kl == np.inf


def test_sample_weight_counts_like_repetition():
    rng = np.random.default_rng(4)
    log_joint = rng.normal(size=(6, 3))
    q = random_q(rng, (6, 3))
    weight = np.array([2, 0, 1, 3, 1, 1])
    repeated = np.repeat(np.arange(6), weight)
    weighted = mixture_decomposition(log_joint, q, sample_weight=weight)
    expanded = mixture_decomposition(log_joint[repeated], q[repeated])
    np.testing.assert_allclose(weighted, expanded, rtol=1e-12, atol=1e-12)


def test_zero_weight_sample_may_be_impossible():
    log_joint = np.array([[0.0, -1.0], [-np.inf, -np.inf]])
    q = np.full((2, 2), 0.5)
    result = mixture_decomposition(log_joint, q, sample_weight=[1.0, 0.0])
    assert np.isfinite(result.bound)


# -- bad input -----------------------------------------------------------------------------------------
LOG_JOINT = np.log(np.array([[0.2, 0.3], [0.1, 0.4]]))


@pytest.mark.parametrize(
    ("q", "match"),
    [
        (np.full((2, 3), 1 / 3), r"q must have shape \(2, 2\)"),
        (np.array([0.5, 0.5]), "q must be a non-empty 2-D array"),
        (np.array([[0.5, 0.6], [0.5, 0.5]]), "each row of q must sum to one, but row 0"),
        (np.array([[1.5, -0.5], [0.5, 0.5]]), "q has negative entries"),
        (np.array([[np.nan, 1.0], [0.5, 0.5]]), "q contains NaN"),
        ([["a", "b"], ["c", "d"]], "q must contain numbers, got an array of dtype <U1"),
        (np.array([["0.5", "0.5"], ["1", "0"]]), "q must contain numbers, got an array of dtype"),
    ],
)
def test_bad_q_rejected_naming_q(q, match):
    with pytest.raises(ValueError, match=match):
        mixture_decomposition(LOG_JOINT, q)


def test_gaussian_mixture_rejects_bad_q_naming_q(faithful_mixture):
    with pytest.raises(ValueError, match="each row of q must sum to one"):
        faithful_mixture.evidence_lower_bound(X_FAITHFUL, np.full((len(X_FAITHFUL), 2), 0.4))
    with pytest.raises(ValueError, match=r"q must have shape \(272, 2\)"):
        faithful_mixture.evidence_lower_bound(X_FAITHFUL, np.full((len(X_FAITHFUL), 3), 1 / 3))


@pytest.mark.parametrize(
    ("log_joint", "match"),
    [
        (np.array([[0.0, np.nan], [0.0, 0.0]]), "log_joint contains NaN"),
        (np.array([[0.0, np.inf], [0.0, 0.0]]), r"log_joint contains \+inf"),
        (np.zeros(2), "log_joint must be a non-empty 2-D array"),
        (np.array([[-np.inf, -np.inf], [0.0, 0.0]]), "row 0: that sample has zero probability"),
    ],
)
def test_bad_log_joint_rejected(log_joint, match):
    with pytest.raises(ValueError, match=match):
        mixture_decomposition(log_joint, np.full((2, 2), 0.5) if log_joint.ndim == 2 else [[0.5, 0.5]])


@pytest.mark.parametrize(
    ("weight", "match"),
    [([1.0], r"sample_weight must have shape \(2,\)"), ([1.0, -1.0], "non-negative"), (["x", 1], "numbers")],
)
def test_bad_sample_weight_rejected(weight, match):
    with pytest.raises((ValueError, TypeError), match=match):
        mixture_decomposition(LOG_JOINT, np.full((2, 2), 0.5), sample_weight=weight)


def test_unfitted_mixture_says_so():
    with pytest.raises(AttributeError, match="not fitted"):
        GaussianMixture(2).evidence_lower_bound(X_FAITHFUL, np.full((len(X_FAITHFUL), 2), 0.5))
