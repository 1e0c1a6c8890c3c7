"""FactorAnalysis: against scikit-learn, closed-form Gaussian conditioning, and known truth."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy.stats import multivariate_normal
from sklearn.datasets import load_wine
from sklearn.decomposition import FactorAnalysis as SklearnFA

from emlib import FactorAnalysis
from emlib.exceptions import ConvergenceWarning, DegenerateComponentWarning
from emlib.factor_analysis import factor_log_likelihood, factor_posterior, varimax


def standardised_wine():
    X = load_wine().data
    return (X - X.mean(axis=0)) / X.std(axis=0)


def random_parameters(rng, D, k):
    loadings = rng.normal(size=(D, k))
    noise = rng.uniform(0.2, 2.0, size=D)
    mean = rng.normal(size=D)
    return loadings, noise, mean


def fitted_with(loadings, noise, mean):
    """An emlib FactorAnalysis holding the given parameters, as if fitted."""
    fa = FactorAnalysis(n_components=loadings.shape[1])
    fa.loadings_, fa.noise_variance_, fa.mean_ = loadings, noise, mean
    fa.n_features_in_ = loadings.shape[0]
    return fa


def sklearn_with(loadings, noise, mean):
    sk = SklearnFA(n_components=loadings.shape[1])
    sk.components_, sk.noise_variance_, sk.mean_ = loadings.T.copy(), noise.copy(), mean.copy()
    sk.n_features_in_ = loadings.shape[0]
    return sk


# -- the model at given parameters ------------------------------------------------------------------
@pytest.mark.parametrize(("D", "k"), [(5, 1), (8, 3), (13, 4)])
def test_score_equals_sklearn_at_same_parameters(D, k):
    rng = np.random.default_rng(D + k)
    loadings, noise, mean = random_parameters(rng, D, k)
    X = rng.normal(size=(50, D)) * 2 + mean
    ours, theirs = fitted_with(loadings, noise, mean), sklearn_with(loadings, noise, mean)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-10)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-12)
    np.testing.assert_allclose(ours.transform(X), theirs.transform(X), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.get_covariance(), theirs.get_covariance(), rtol=1e-12)
    np.testing.assert_allclose(ours.get_precision(), theirs.get_precision(), rtol=1e-9, atol=1e-12)
    np.testing.assert_allclose(ours.get_precision() @ ours.get_covariance(), np.eye(D), atol=1e-9)
    np.testing.assert_array_equal(ours.components_, loadings.T)


@settings(max_examples=40, deadline=None)
@given(D=st.integers(1, 7), k=st.integers(1, 4), seed=st.integers(0, 2**32 - 1))
def test_likelihood_and_posterior_equal_direct_gaussian_formulas(D, k, seed):
    """Woodbury / determinant-lemma forms equal the D x D textbook formulas."""
    k = min(k, D)
    rng = np.random.default_rng(seed)
    loadings, noise, _ = random_parameters(rng, D, k)
    R = rng.normal(size=(6, D)) * 3
    covariance = loadings @ loadings.T + np.diag(noise)
    expected = multivariate_normal(np.zeros(D), covariance).logpdf(R).reshape(-1)
    np.testing.assert_allclose(factor_log_likelihood(R, loadings, noise), expected, rtol=1e-9, atol=1e-9)

    # p(z | x) from the joint Gaussian of (z, x): Cov = I - W^T C^{-1} W, mean = W^T C^{-1} r.
    gain = np.linalg.solve(covariance, loadings).T  # W^T C^{-1}, (k, D)
    means, post_cov = factor_posterior(R, loadings, noise)
    np.testing.assert_allclose(means, R @ gain.T, rtol=1e-8, atol=1e-9)
    np.testing.assert_allclose(post_cov, np.eye(k) - gain @ loadings, rtol=1e-8, atol=1e-9)


# -- fitting -------------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [1, 2, 3])
def test_fit_reaches_sklearn_log_likelihood_on_wine(k):
    X = standardised_wine()
    ours = FactorAnalysis(n_components=k, tol=1e-12, max_iter=5000).fit(X)
    # scikit-learn's tol is on the absolute change; 1e-8 puts it within 1e-9 (relative) of the maximum.
    theirs = SklearnFA(n_components=k, tol=1e-8, max_iter=100_000, svd_method="lapack").fit(X)
    assert ours.converged_
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-6)
    # The last entry of the history is the fitted model's log-likelihood.
    assert ours.loglik_history_[-1] == pytest.approx(ours.score(X) * X.shape[0], rel=1e-9)
    # The fitted covariance is rotation-free, so it can be compared directly.
    np.testing.assert_allclose(ours.get_covariance(), theirs.get_covariance(), atol=2e-3)
    np.testing.assert_allclose(ours.noise_variance_, theirs.noise_variance_, atol=2e-3)
    np.testing.assert_allclose(ours.mean_, X.mean(axis=0))


def test_default_settings_get_close_to_the_optimum():
    X = standardised_wine()
    default = FactorAnalysis(n_components=2).fit(X)
    theirs = SklearnFA(n_components=2, tol=1e-8, max_iter=100_000, svd_method="lapack").fit(X)
    assert default.converged_
    assert default.score(X) == pytest.approx(theirs.score(X), rel=1e-5)


@pytest.mark.parametrize("init", ["pca", "random"])
def test_history_is_monotone(init):
    X = standardised_wine()
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)  # em.fit warns on any decrease
        # tol=0 asks for exactly max_iter iterations: no convergence warning either.
        warnings.simplefilter("error", ConvergenceWarning)
        fa = FactorAnalysis(n_components=3, init=init, tol=0, max_iter=300, random_state=1).fit(X)
    history = fa.loglik_history_
    assert len(history) == fa.n_iter_ + 1 == 301
    assert np.all(np.diff(history) >= -1e-9 * np.abs(history[1:]))
    assert history[-1] > history[0]


def test_random_and_pca_starts_reach_the_same_maximum():
    X = standardised_wine()
    pca = FactorAnalysis(n_components=2, tol=1e-12, max_iter=5000).fit(X)
    rand = FactorAnalysis(n_components=2, init="random", tol=1e-12, max_iter=5000, random_state=3).fit(X)
    assert rand.score(X) == pytest.approx(pca.score(X), rel=1e-7)
    np.testing.assert_allclose(rand.get_covariance(), pca.get_covariance(), atol=1e-3)


def test_recovers_simulated_truth():
    rng = np.random.default_rng(0)
    loadings = np.array([[2.0, 0.0], [1.5, 0.5], [1.0, 1.0], [0.0, 2.0], [0.5, -1.0], [0.0, 0.0]])
    noise = np.array([0.5, 0.3, 0.8, 0.4, 1.0, 2.0])
    truth = fitted_with(loadings, noise, np.arange(6.0))
    X, factors = truth.sample(20_000, random_state=rng)
    assert X.shape == (20_000, 6) and factors.shape == (20_000, 2)
    fa = FactorAnalysis(n_components=2, tol=1e-10).fit(X)
    # Loadings are identified only up to rotation: compare W W^T and the noise.
    np.testing.assert_allclose(fa.loadings_ @ fa.loadings_.T, loadings @ loadings.T, atol=0.1)
    np.testing.assert_allclose(fa.noise_variance_, noise, atol=0.06)
    np.testing.assert_allclose(fa.mean_, np.arange(6.0), atol=0.05)


def test_varimax_keeps_the_likelihood_and_matches_sklearn():
    X = standardised_wine()
    plain = FactorAnalysis(n_components=2, tol=1e-12, max_iter=5000).fit(X)
    rotated = FactorAnalysis(n_components=2, rotation="varimax", tol=1e-12, max_iter=5000).fit(X)
    assert not np.allclose(rotated.loadings_, plain.loadings_)
    assert rotated.score(X) == pytest.approx(plain.score(X), rel=1e-12)
    np.testing.assert_allclose(rotated.get_covariance(), plain.get_covariance(), atol=1e-10)

    theirs = SklearnFA(n_components=2, rotation="varimax", tol=1e-8, max_iter=100_000,
                       svd_method="lapack").fit(X).components_.T
    ours = rotated.loadings_
    # Same columns up to order and sign.
    cosine = (ours.T @ theirs) / np.outer(np.linalg.norm(ours, axis=0), np.linalg.norm(theirs, axis=0))
    order = np.argmax(np.abs(cosine), axis=1)
    assert sorted(order) == [0, 1]
    np.testing.assert_allclose(np.abs(ours), np.abs(theirs[:, order]), atol=1e-3)


def test_varimax_rotation_is_orthogonal_and_increases_the_criterion():
    rng = np.random.default_rng(5)
    simple = np.kron(np.eye(3), np.ones((4, 1)))  # each feature on one factor: the varimax optimum
    mixing, _ = np.linalg.qr(rng.normal(size=(3, 3)))
    rotated, R = varimax(simple @ mixing)
    np.testing.assert_allclose(R.T @ R, np.eye(3), atol=1e-12)
    np.testing.assert_allclose(rotated, simple @ mixing @ R)

    def criterion(W):
        return np.sum(np.var(W**2, axis=0))

    assert criterion(rotated) == pytest.approx(criterion(simple), rel=1e-8)
    assert criterion(rotated) > criterion(simple @ mixing)


def test_sample_matches_model_covariance():
    rng = np.random.default_rng(2)
    loadings, noise, mean = random_parameters(rng, 4, 2)
    fa = fitted_with(loadings, noise, mean)
    X, factors = fa.sample(50_000, random_state=7)
    np.testing.assert_allclose(np.cov(X.T), fa.get_covariance(), atol=0.1 * np.abs(fa.get_covariance()).max())
    np.testing.assert_allclose(X.mean(axis=0), mean, atol=0.05)
    np.testing.assert_allclose(np.cov(factors.T), np.eye(2), atol=0.03)
    again, _ = fa.sample(50_000, random_state=7)
    np.testing.assert_array_equal(X, again)


def test_fit_transform_and_n_parameters():
    X = standardised_wine()
    fa = FactorAnalysis(n_components=2)
    Z = fa.fit_transform(X)
    np.testing.assert_allclose(Z, fa.transform(X))
    assert Z.shape == (178, 2)
    # Posterior means of standard-normal factors: mean zero, variance below one.
    np.testing.assert_allclose(Z.mean(axis=0), 0, atol=1e-10)
    assert np.all(Z.var(axis=0) < 1)
    assert fa.n_parameters() == 13 + 13 * 2 - 1 + 13
    assert fa.bic(X) == pytest.approx(-2 * fa.score(X) * 178 + fa.n_parameters() * np.log(178))
    assert fa.aic(X) == pytest.approx(-2 * fa.score(X) * 178 + 2 * fa.n_parameters())


# -- degenerate data and bad input ---------------------------------------------------------------------
def test_constant_feature_is_regularised_and_warned():
    rng = np.random.default_rng(4)
    X = rng.normal(size=(500, 1)) @ [[1.0, 2.0, 0.0, -1.0, 0.5]] + rng.normal(size=(500, 5))
    X[:, 2] = 4.0
    with pytest.warns(DegenerateComponentWarning, match=r"feature\(s\) \[2\].*Heywood"):
        fa = FactorAnalysis(n_components=1).fit(X)
    assert fa.converged_
    assert np.all(np.isfinite(fa.score_samples(X)))
    assert np.all(fa.noise_variance_ > 0)


@pytest.mark.parametrize(
    ("X", "params", "match"),
    [
        (np.ones((10, 3)) + np.arange(3), {"n_components": 4}, "n_components=4 must be at most .* 3"),
        (np.array([[1.0, np.nan], [2.0, 3.0], [0.0, 1.0]]), {}, "X contains NaN; factor analysis"),
        (np.array([[1.0, np.inf], [2.0, 3.0]]), {}, "X contains infinite"),
        (np.array([[1.0, 2.0, 3.0]]), {}, "at least 2 samples"),
        (np.ones((5, 3)), {}, "same value in every row"),
        (np.ones((2, 2, 2)), {}, "1-D .* or 2-D"),
        (np.array([["a", "b"], ["c", "d"]]), {}, "X must contain numbers"),
        (np.eye(3), {"n_components": 0}, "n_components must be an integer >= 1"),
        (np.eye(3), {"n_components": 1.5}, "n_components must be an integer"),
        (np.eye(3), {"init": "kmeans"}, "init must be one of 'pca', 'random'"),
        (np.eye(3), {"rotation": "quartimax"}, "rotation must be one of None, 'varimax'"),
        (np.eye(3), {"min_noise_variance": 0.0}, r"min_noise_variance must be in \(0, 1\)"),
        (np.eye(3), {"max_iter": -1}, "max_iter must be an integer >= 0"),
        (np.eye(3), {"tol": -1.0}, "tol must be a non-negative number"),
    ],
)
def test_bad_input_raises_clear_errors(X, params, match):
    with pytest.raises(ValueError, match=match):
        FactorAnalysis(**params).fit(X)


def test_nan_message_does_not_promise_a_missing_data_mode():
    with pytest.raises(ValueError) as info:
        FactorAnalysis().fit(np.array([[1.0, np.nan], [2.0, 3.0]]))
    assert "missing=" not in str(info.value)


def test_unfitted_and_wrong_width_errors():
    fa = FactorAnalysis(n_components=1)
    for method in (fa.transform, fa.score_samples, fa.score):
        with pytest.raises(AttributeError, match="not fitted yet"):
            method(np.eye(3))
    for method in (fa.get_covariance, fa.get_precision, fa.sample):
        with pytest.raises(AttributeError, match="not fitted yet"):
            method()
    fa.fit(standardised_wine())
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 13 features"):
        fa.transform(np.eye(3))
    with pytest.raises(ValueError, match="n_samples must be an integer >= 1"):
        fa.sample(0)
    with pytest.raises(TypeError, match="random_state"):
        FactorAnalysis(random_state="seed").fit(np.eye(3))


@pytest.mark.parametrize(("loadings", "kwargs", "match"), [
    # Each once fell through to numpy: an SVD that did not converge, a failed unpacking, NaN from an
    # empty mean, an overflow; and a negative max_iter or NaN tol passed unnoticed.
    (np.full((3, 2), np.nan), {}, "loadings contains NaN"),
    (np.ones((2, 2, 2)), {}, "loadings must be 1-D .* or 2-D"),
    (np.zeros((0, 2)), {}, "loadings is empty"),
    (np.full((3, 2), 1e200), {}, "loadings has values as large as 1e"),
    ("abc", {}, "loadings must contain numbers"),
    (np.ones((3, 2)), {"max_iter": -1}, "max_iter must be an integer >= 0"),
    (np.ones((3, 2)), {"tol": np.nan}, "tol must be a non-negative number"),
])
def test_varimax_names_bad_arguments(loadings, kwargs, match):
    with np.errstate(all="raise"), pytest.raises(ValueError, match=match):
        varimax(loadings, **kwargs)


def test_varimax_does_not_depend_on_the_scale():
    W = np.random.default_rng(4).normal(size=(6, 2))
    rotated, R = varimax(W)
    for scale in (1e90, 1e-90, 3.0):
        with np.errstate(over="raise", invalid="raise"):
            scaled, R_scaled = varimax(W * scale)
        np.testing.assert_allclose(R_scaled, R, rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(scaled / scale, rotated, rtol=1e-12, atol=1e-14)
