"""Bernoulli components and BernoulliMixture: closed forms, a plain reference EM, and known truth.

No common library fits mixtures of Bernoullis, so the references are direct formulas (scipy's Bernoulli
pmf, Bayes' rule written out) and a loop-by-loop EM written independently below.
"""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.optimize import linear_sum_assignment
from scipy.special import logsumexp
from scipy.stats import bernoulli

from emlib import BernoulliMixture
from emlib.distributions import Bernoulli
from emlib.exceptions import DegenerateComponentWarning

TRUTH = np.array([
    [0.9, 0.9, 0.9, 0.9, 0.1, 0.1, 0.1, 0.1, 0.5, 0.2],
    [0.1, 0.1, 0.1, 0.1, 0.9, 0.9, 0.9, 0.9, 0.5, 0.2],
    [0.8, 0.2, 0.8, 0.2, 0.8, 0.2, 0.8, 0.2, 0.5, 0.9],
])
TRUE_WEIGHTS = np.array([0.5, 0.3, 0.2])


def simulate(n, seed=0):
    rng = np.random.default_rng(seed)
    labels = rng.choice(3, size=n, p=TRUE_WEIGHTS)
    return (rng.random((n, TRUTH.shape[1])) < TRUTH[labels]).astype(np.int8), labels


def direct_log_prob(X, p):
    """sum_d log Bernoulli(x_d; p_d), by scipy, for every (sample, component)."""
    return np.stack([bernoulli.logpmf(X, pk).sum(axis=1) for pk in p], axis=1)


# -- the Bernoulli component family ---------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(N=st.integers(1, 20), D=st.integers(1, 8), K=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_log_prob_equals_scipy(N, D, K, seed):
    rng = np.random.default_rng(seed)
    X = rng.integers(0, 2, size=(N, D)).astype(float)
    p = rng.uniform(0.01, 0.99, size=(K, D))
    np.testing.assert_allclose(Bernoulli(p).log_prob(X), direct_log_prob(X, p), rtol=1e-12, atol=1e-12)


def test_extreme_probabilities_stay_finite_without_warnings():
    X = np.array([[1.0, 0.0], [0.0, 1.0]])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # numpy's divide-by-zero and invalid-value warnings included
        components = Bernoulli([[1.0, 0.0], [0.0, 1.0]], min_prob=1e-10)
        logp = components.log_prob(X)
        # Zero weighted counts for feature 1 in component 0: the weighted mean is exactly 0.
        components.fit(X, np.array([[1.0, 0.0], [0.0, 1.0]]))
        logp_after = components.log_prob(X)
    assert np.all(np.isfinite(logp)) and np.all(np.isfinite(logp_after))
    np.testing.assert_allclose(components.probabilities, [[1 - 1e-10, 1e-10], [1e-10, 1 - 1e-10]])
    # The impossible pairing costs about log(1e-10) per mismatched feature, not -inf.
    assert logp[0, 1] == pytest.approx(2 * np.log(1e-10), rel=1e-6)


def test_fit_is_the_weighted_mean_and_respects_fixed():
    rng = np.random.default_rng(1)
    X = rng.integers(0, 2, size=(30, 5)).astype(float)
    weights = rng.random((30, 2))
    components = Bernoulli(np.full((2, 5), 0.5)).fit(X, weights)
    expected = (weights.T @ X) / weights.sum(axis=0)[:, None]
    np.testing.assert_allclose(components.probabilities, np.clip(expected, 1e-10, 1 - 1e-10))
    before = components.probabilities.copy()
    components.fit(X, rng.random((30, 2)), fixed=("probabilities",))
    np.testing.assert_array_equal(components.probabilities, before)


def test_component_without_weight_is_kept_and_warned():
    X = np.array([[1.0, 0.0], [1.0, 1.0]])
    components = Bernoulli([[0.3, 0.3], [0.6, 0.7]])
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[1\] received no weight"):
        components.fit(X, np.array([[1.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(components.probabilities, [[1 - 1e-10, 0.5], [0.6, 0.7]])


def test_sample_frequencies_and_parameter_count():
    p = np.array([[0.1, 0.5, 0.95], [0.7, 0.2, 0.0]])
    components = Bernoulli(p)
    draws = components.sample(np.repeat([0, 1], 20_000), np.random.default_rng(3))
    assert draws.shape == (40_000, 3) and set(np.unique(draws)) <= {0.0, 1.0}
    np.testing.assert_allclose(draws[:20_000].mean(axis=0), p[0], atol=0.01)
    np.testing.assert_allclose(draws[20_000:].mean(axis=0), p[1], atol=0.01)
    assert components.n_parameters == 6
    assert (components.n_components, components.n_features) == (2, 3)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        ([[0, 1], [0.5, 1]], r"X must be binary .* X\[1, 0\] = 0\.5"),
        ([[0, 2], [1, 1]], r"X\[0, 1\] = 2"),
        ([[0, -1]], r"X\[0, 1\] = -1"),
        ([[0, np.nan]], "X contains NaN; binary data"),
        ([[0, np.inf]], "X contains infinite"),
        ([["a", "b"]], "X must contain numbers"),
        (np.zeros((0, 3)), "X is empty"),
    ],
)
def test_check_data_rejects_non_binary(X, match):
    with pytest.raises(ValueError, match=match):
        Bernoulli.check_data(X)


def test_check_data_accepts_booleans_and_integers():
    out = Bernoulli.check_data(np.array([[True, False], [False, True]]))
    assert out.dtype == np.float64 and out.shape == (2, 2)
    np.testing.assert_array_equal(Bernoulli.check_data([1, 0, 1]), [[1.0], [0.0], [1.0]])


@pytest.mark.parametrize(
    ("args", "match"),
    [
        (([[0.5, 1.2]],), r"probabilities must lie in \[0, 1\]"),
        (([[0.5, np.nan]],), "probabilities contain NaN"),
        (([[[0.5]]],), r"probabilities must have shape \(K, D\)"),
        (([[0.5]], 0.0), r"min_prob must be a number in \(0, 0\.5\)"),
        (([[0.5]], 0.5), r"min_prob must be a number in \(0, 0\.5\)"),
    ],
)
def test_bad_parameters(args, match):
    with pytest.raises(ValueError, match=match):
        Bernoulli(*args)


# -- the mixture -------------------------------------------------------------------------------------------
def reference_em(X, weights, p, n_iter):
    """EM for a Bernoulli mixture written sample by sample, straight from Bayes' rule."""
    X = X.astype(float)
    weights, p = weights.copy(), p.copy()
    for _ in range(n_iter):
        resp = np.empty((X.shape[0], len(weights)))
        for n, x in enumerate(X):
            joint = weights * np.prod(p**x * (1 - p) ** (1 - x), axis=1)
            resp[n] = joint / joint.sum()
        weights = resp.mean(axis=0)
        p = (resp.T @ X) / resp.sum(axis=0)[:, None]
    return weights, p


def test_iterates_match_a_plain_reference_em():
    X, _ = simulate(300, seed=1)
    start_p = np.random.default_rng(2).uniform(0.3, 0.7, size=(3, 10))
    start_w = np.array([0.2, 0.3, 0.5])
    ref_w, ref_p = reference_em(X, start_w, start_p, n_iter=15)
    bm = BernoulliMixture(3, weights_init=start_w, probabilities_init=start_p, max_iter=15, tol=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # tol=0 asks for exactly 15 iterations: no warning
        bm.fit(X)
    np.testing.assert_allclose(bm.weights_, ref_w, rtol=1e-10)
    np.testing.assert_allclose(bm.probabilities_, ref_p, rtol=1e-10)


def test_responsibilities_and_likelihood_match_bayes_rule():
    X, _ = simulate(400)
    bm = BernoulliMixture(3, random_state=0).fit(X)
    joint = bm.weights_ * np.exp(direct_log_prob(X, bm.probabilities_))  # (N, K)
    np.testing.assert_allclose(bm.predict_proba(X), joint / joint.sum(axis=1, keepdims=True), rtol=1e-10)
    np.testing.assert_allclose(bm.score_samples(X), np.log(joint.sum(axis=1)), rtol=1e-12)
    expected_total = logsumexp(direct_log_prob(X, bm.probabilities_) + np.log(bm.weights_), axis=1).sum()
    assert bm.loglik_history_[-1] == pytest.approx(expected_total, rel=1e-10)
    np.testing.assert_array_equal(bm.predict(X), np.argmax(joint, axis=1))


def test_one_component_is_the_column_means():
    X, _ = simulate(500)
    bm = BernoulliMixture(1).fit(X)
    np.testing.assert_allclose(bm.probabilities_[0], X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(bm.weights_, [1.0])
    means = X.mean(axis=0)
    closed_form = np.sum(X * np.log(means) + (1 - X) * np.log1p(-means))
    assert bm.loglik_history_[-1] == pytest.approx(closed_form, rel=1e-12)
    assert bm.n_iter_ == 1 and bm.converged_


def test_recovers_known_truth():
    X, labels = simulate(6000, seed=3)
    bm = BernoulliMixture(3, n_init=3, random_state=0, max_iter=500).fit(X)
    # Match fitted components to the true ones (label switching) by the closest probability vectors.
    cost = np.abs(bm.probabilities_[:, None, :] - TRUTH[None]).sum(axis=2)
    fitted, true = linear_sum_assignment(cost)
    order = fitted[np.argsort(true)]
    np.testing.assert_allclose(bm.probabilities_[order], TRUTH, atol=0.04)
    np.testing.assert_allclose(bm.weights_[order], TRUE_WEIGHTS, atol=0.02)
    agreement = np.mean(np.argsort(order)[bm.predict(X)] == labels)
    assert agreement > 0.9


@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_history_is_monotone(init):
    X, _ = simulate(800, seed=4)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        bm = BernoulliMixture(4, init=init, random_state=5, tol=0, max_iter=60)
        bm.fit(X)
    history = bm.loglik_history_
    assert len(history) == 61
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert history[-1] > history[0]


def test_restarts_keep_the_best():
    X, _ = simulate(600, seed=6)
    bm = BernoulliMixture(3, n_init=4, init="random", random_state=0).fit(X)
    assert bm.restart_logliks_.shape == (4,)
    assert bm.loglik_history_[-1] == pytest.approx(bm.restart_logliks_.max())


def test_sample_weight_counts_like_duplicated_rows():
    X, _ = simulate(200, seed=7)
    counts = np.random.default_rng(8).integers(1, 4, size=200)
    start = {"probabilities_init": np.random.default_rng(9).uniform(0.3, 0.7, (2, 10)), "tol": 1e-12,
             "max_iter": 500}
    weighted = BernoulliMixture(2, **start).fit(X, sample_weight=counts)
    repeated = BernoulliMixture(2, **start).fit(np.repeat(X, counts, axis=0))
    np.testing.assert_allclose(weighted.probabilities_, repeated.probabilities_, rtol=1e-8)
    np.testing.assert_allclose(weighted.weights_, repeated.weights_, rtol=1e-8)


def test_sample_and_model_selection():
    X, _ = simulate(1000)
    bm = BernoulliMixture(3, random_state=0).fit(X)
    draws, labels = bm.sample(5000, random_state=1)
    assert draws.shape == (5000, 10) and labels.shape == (5000,)
    assert set(np.unique(draws)) <= {0.0, 1.0}
    for k in range(3):
        np.testing.assert_allclose(draws[labels == k].mean(axis=0), bm.probabilities_[k], atol=0.06)
    np.testing.assert_array_equal(bm.sample(50, random_state=2)[0], bm.sample(50, random_state=2)[0])
    assert bm.n_parameters() == 2 + 3 * 10
    assert bm.bic(X) == pytest.approx(-2 * bm.score(X) * 1000 + 32 * np.log(1000))


def test_mixture_errors():
    with pytest.raises(ValueError, match=r"X must be binary .* X\[0, 1\] = 3"):
        BernoulliMixture(2).fit([[0, 3], [1, 0], [1, 1]])
    with pytest.raises(ValueError, match=r"min_prob must be a number in \(0, 0\.5\)"):
        BernoulliMixture(2, min_prob=-1).fit([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match=r"probabilities_init must have shape \(2, 2\)"):
        BernoulliMixture(2, probabilities_init=[[0.5, 0.5]]).fit([[0, 1], [1, 0]])
    with pytest.raises(ValueError, match="fewer than n_components=3"):
        BernoulliMixture(3).fit([[0, 1], [1, 0]])
    bm = BernoulliMixture(2)
    with pytest.raises(AttributeError, match="not fitted yet"):
        bm.sample(3)
    with pytest.raises(AttributeError, match="not fitted yet"):
        bm.probabilities_  # noqa: B018 (the attribute access is the test)
    bm.fit(simulate(100)[0])
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 10 features"):
        bm.predict([[0, 1]])
    with pytest.raises(ValueError, match="X must be binary"):
        bm.predict_proba(np.full((1, 10), 0.5))


@pytest.mark.parametrize("method", ["predict", "predict_proba", "score_samples", "score"])
def test_unfitted_inference_says_not_fitted(method):
    with pytest.raises(AttributeError, match="not fitted yet"):
        getattr(BernoulliMixture(2), method)([[0, 1]])
