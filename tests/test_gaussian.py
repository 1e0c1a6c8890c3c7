"""emlib.distributions.Gaussian and the numerical helpers in emlib._math."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlib._math import (
    invert_lower_triangular,
    kmeans_plusplus,
    logsumexp_rows,
    normalize_log_rows,
)
from emlib.distributions import COVARIANCE_TYPES, Gaussian, covariance_shape
from emlib.exceptions import DegenerateComponentWarning

stats = pytest.importorskip("scipy.stats")
special = pytest.importorskip("scipy.special")
linalg = pytest.importorskip("scipy.linalg")


def random_covariances(rng, covariance_type, K, D):
    if covariance_type == "full":
        A = rng.normal(size=(K, D, D))
        return A @ np.swapaxes(A, 1, 2) + 0.5 * np.eye(D)
    if covariance_type == "tied":
        A = rng.normal(size=(D, D))
        return A @ A.T + 0.5 * np.eye(D)
    if covariance_type == "diag":
        return rng.uniform(0.2, 3.0, size=(K, D))
    return rng.uniform(0.2, 3.0, size=K)


def random_gaussian(seed, covariance_type, K=3, D=4, offset=0.0, reg_covar=1e-6):
    rng = np.random.default_rng(seed)
    means = offset + rng.normal(scale=3.0, size=(K, D))
    return Gaussian(means, random_covariances(rng, covariance_type, K, D), covariance_type, reg_covar)


def scipy_log_prob(gaussian, X):
    full = gaussian.full_covariances()
    return np.stack([stats.multivariate_normal(m, c).logpdf(X) for m, c in zip(gaussian.means, full)],
                    axis=-1).reshape(len(X), -1)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [0.0, 1e6])
def test_log_prob_matches_scipy(covariance_type, offset):
    g = random_gaussian(0, covariance_type, offset=offset)
    rng = np.random.default_rng(1)
    X = offset + rng.normal(scale=4.0, size=(5000, 4))  # more rows than one block
    np.testing.assert_allclose(g.log_prob(X), scipy_log_prob(g, X), rtol=1e-9, atol=1e-9)
    assert g.log_prob(X).flags.c_contiguous and g.log_prob(X).shape == (5000, 3)


def test_log_prob_one_feature_one_component_and_wrong_width():
    g = Gaussian([[1.0]], [[[4.0]]])
    np.testing.assert_allclose(g.log_prob(np.array([[1.0], [3.0]]))[:, 0],
                               stats.norm(1.0, 2.0).logpdf([1.0, 3.0]))
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 1\)"):
        g.log_prob(np.zeros((2, 2)))


def reference_fit(X, weights, covariance_type, reg):
    totals = weights.sum(axis=0)
    means = weights.T @ X / totals[:, None]
    scatter = np.stack([(weights[:, k, None] * (X - means[k])).T @ (X - means[k])
                        for k in range(weights.shape[1])])
    D = X.shape[1]
    if covariance_type == "full":
        return means, scatter / totals[:, None, None] + reg * np.eye(D)
    if covariance_type == "tied":
        return means, scatter.sum(axis=0) / totals.sum() + reg * np.eye(D)
    variances = np.diagonal(scatter, axis1=1, axis2=2) / totals[:, None] + reg
    return means, variances if covariance_type == "diag" else variances.mean(axis=1)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("offset", [0.0, 1e5])
def test_fit_is_weighted_maximum_likelihood(covariance_type, offset):
    rng = np.random.default_rng(2)
    X = offset + rng.normal(size=(5000, 3)) * [1.0, 2.0, 0.5]
    weights = rng.dirichlet(np.ones(4), size=5000) * rng.integers(1, 4, size=(5000, 1))
    g = Gaussian(np.full((4, 3), offset), covariance_shape_ones(covariance_type, 4, 3), covariance_type,
                 reg_covar=1e-3)
    g.fit(X, weights)
    means, covariances = reference_fit(X, weights, covariance_type, 1e-3)
    np.testing.assert_allclose(g.means, means, rtol=1e-12)
    np.testing.assert_allclose(g.covariances, covariances, rtol=1e-9)
    if covariance_type in ("full", "tied"):
        np.testing.assert_array_equal(g.covariances, np.swapaxes(g.covariances, -1, -2))
    # In any memory layout, e.g. the transpose of a (K, N) array, as mixtures pass them.
    g2 = Gaussian(np.full((4, 3), offset), covariance_shape_ones(covariance_type, 4, 3), covariance_type,
                  reg_covar=1e-3)
    g2.fit(X, np.asfortranarray(weights))
    np.testing.assert_allclose(g2.covariances, g.covariances, rtol=1e-12)


def covariance_shape_ones(covariance_type, K, D):
    """Unit covariances in the shape of ``covariance_type``."""
    return {"full": np.stack([np.eye(D)] * K), "tied": np.eye(D), "diag": np.ones((K, D)),
            "spherical": np.ones(K)}[covariance_type]


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_diagonal_fit_far_from_the_origin_loses_no_digits(covariance_type):
    # A tiny cluster far from the others: moments about one common centre would cancel badly.
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(size=(500, 2)), 1e7 + 1e-3 * rng.normal(size=(500, 2))])
    weights = np.zeros((1000, 2))
    weights[:500, 0] = weights[500:, 1] = 1.0
    g = Gaussian([[0.0, 0.0], [1.0, 1.0]], np.ones(covariance_shape(covariance_type, 2, 2)),
                 covariance_type, reg_covar=0.0)
    g.fit(X, weights)
    _, expected = reference_fit(X, weights, covariance_type, 0.0)
    np.testing.assert_allclose(g.covariances, expected, rtol=1e-9)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_fixed_parameters_stay(covariance_type):
    rng = np.random.default_rng(4)
    X = rng.normal(size=(300, 2))
    weights = rng.dirichlet(np.ones(2), size=300)
    g = random_gaussian(5, covariance_type, K=2, D=2, reg_covar=0.0)
    means, covariances = g.means.copy(), g.covariances.copy()
    g.fit(X, weights, fixed=("means", "covariances"))
    np.testing.assert_array_equal(g.means, means)
    np.testing.assert_array_equal(g.covariances, covariances)
    g.fit(X, weights, fixed=("means",))
    np.testing.assert_array_equal(g.means, means)
    # Covariances about the fixed means, not about the weighted means.
    totals = weights.sum(axis=0)
    scatter = np.stack([(weights[:, k, None] * (X - means[k])).T @ (X - means[k]) for k in range(2)])
    expected = {
        "full": scatter / totals[:, None, None],
        "tied": scatter.sum(axis=0) / totals.sum(),
        "diag": np.diagonal(scatter, axis1=1, axis2=2) / totals[:, None],
        "spherical": np.diagonal(scatter, axis1=1, axis2=2).mean(axis=1) / totals,
    }[covariance_type]
    np.testing.assert_allclose(g.covariances, expected, rtol=1e-10)
    g.fit(X, weights, fixed=("covariances",))
    np.testing.assert_allclose(g.means, weights.T @ X / weights.sum(axis=0)[:, None], rtol=1e-12)
    with pytest.raises(ValueError, match="fixed may only name"):
        g.fit(X, weights, fixed=("mean",))


def test_component_without_weight_keeps_its_parameters():
    rng = np.random.default_rng(6)
    X = rng.normal(size=(50, 2))
    weights = np.zeros((50, 2))
    weights[:, 0] = 1.0
    g = random_gaussian(7, "full", K=2, D=2)
    before_mean, before_cov = g.means[1].copy(), g.covariances[1].copy()
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[1\] received no weight"):
        g.fit(X, weights)
    np.testing.assert_array_equal(g.means[1], before_mean)
    np.testing.assert_array_equal(g.covariances[1], before_cov)
    with pytest.raises(ValueError, match=r"weights must have shape \(50, 2\)"):
        g.fit(X, weights[:, :1])


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_moments(covariance_type):
    g = random_gaussian(8, covariance_type, K=2, D=3)
    rng = np.random.default_rng(9)
    labels = np.repeat([0, 1], 40000)
    X = g.sample(labels, rng)
    full = g.full_covariances()
    for k in (0, 1):
        np.testing.assert_allclose(X[labels == k].mean(axis=0), g.means[k], atol=0.05)
        np.testing.assert_allclose(np.cov(X[labels == k], rowvar=False), full[k], atol=0.1)
    with pytest.raises(ValueError, match="components must be integers in"):
        g.sample([2], rng)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_precisions_cholesky_and_full_covariances(covariance_type):
    g = random_gaussian(10, covariance_type)
    full = g.full_covariances()
    assert full.shape == (3, 4, 4)
    P = g.precisions_cholesky
    np.testing.assert_allclose(P @ np.swapaxes(P, 1, 2), np.linalg.inv(full), rtol=1e-9)
    assert np.allclose(np.triu(P), P)  # upper triangular: the transpose of a lower factor's inverse


@pytest.mark.parametrize(
    ("covariance_type", "expected"), [("full", 3 * 4 + 3 * 10), ("diag", 24), ("spherical", 15), ("tied", 22)]
)
def test_n_parameters(covariance_type, expected):
    assert random_gaussian(11, covariance_type).n_parameters == expected


@pytest.mark.parametrize(
    ("covariance_type", "covariances", "match"),
    [
        ("full", np.ones((3, 4)), r"covariances for covariance_type='full' must have shape \(3, 4, 4\)"),
        ("full", np.full((3, 4, 4), np.nan), "covariances contains NaN"),
        ("full", np.stack([np.eye(4)] * 2 + [np.eye(4) + np.triu(np.ones((4, 4)), 1)]),
         r"covariances\[2\] is not symmetric"),
        ("full", np.stack([np.eye(4)] * 2 + [np.ones((4, 4))]), r"covariances\[2\] is not positive definite"),
        ("tied", -np.eye(4), "covariances is not positive definite"),
        ("diag", np.zeros((3, 4)), "covariances must be positive"),
        ("spherical", [1.0, 1.0, -1.0], "covariances must be positive"),
        ("spherical", "abc", "covariances must contain numbers"),
    ],
)
def test_bad_covariances(covariance_type, covariances, match):
    with pytest.raises(ValueError, match=match):
        Gaussian(np.zeros((3, 4)), covariances, covariance_type)


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="covariance_type must be one of"):
        Gaussian(np.zeros((1, 1)), [[[1.0]]], "banded")
    with pytest.raises(ValueError, match="means must be a finite, non-empty array"):
        Gaussian([[np.nan]], [[[1.0]]])
    with pytest.raises(ValueError, match="reg_covar must be a non-negative"):
        Gaussian([[0.0]], [[[1.0]]], reg_covar=-1.0)
    g = Gaussian([[0.0]], [[[1.0]]])
    with pytest.raises(ValueError, match=r"means must be a finite array of shape \(1, 1\)"):
        g.means = [[0.0, 1.0]]


def test_covariances_setter_refactors():
    g = Gaussian([[0.0, 0.0]], [np.eye(2)])
    g.covariances = [4.0 * np.eye(2)]
    np.testing.assert_allclose(g.log_prob(np.zeros((1, 2))), [[-np.log(2 * np.pi) - np.log(4.0)]])


def test_singular_covariance_in_fit_is_jittered_and_stored():
    # All weight on two points: the weighted covariance is singular (rank 1); no reg_covar.
    X = np.array([[0.0, 0.0], [1.0, 1.0], [5.0, -5.0]])
    weights = np.array([[1.0], [1.0], [0.0]])
    g = Gaussian([[0.0, 0.0]], [np.eye(2)], reg_covar=0.0)
    with pytest.warns(DegenerateComponentWarning, match="was singular; added"):
        g.fit(X, weights)
    L = g._cholesky
    np.testing.assert_allclose(L @ np.swapaxes(L, 1, 2), g.covariances, rtol=1e-12, atol=1e-15)
    assert np.all(np.linalg.eigvalsh(g.covariances) > 0)


def test_zero_variance_in_fit_is_jittered():
    X = np.array([[1.0, 0.0], [1.0, 2.0]])
    g = Gaussian([[0.0, 0.0]], [[1.0, 1.0]], "diag", reg_covar=0.0)
    with pytest.warns(DegenerateComponentWarning, match="zero variance"):
        g.fit(X, np.ones((2, 1)))
    assert np.all(g.covariances > 0) and g.covariances[0, 1] == pytest.approx(1.0)


def test_collapse_warning_names_the_component():
    X = np.array([[0.0, 0.0], [0.0, 0.0], [3.0, 1.0], [4.0, 5.0], [6.0, 2.0]])
    weights = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.0, 1.0], [0.0, 1.0]])
    g = Gaussian(np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # fitting itself is quiet: EM may pass through a collapse
        g.fit(X, weights)
    np.testing.assert_allclose(g.covariances[0], 1e-6 * np.eye(2))
    np.testing.assert_array_equal(g.collapsed_components(), [0])
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[0\] collapsed"):
        g.warn_if_collapsed()


def test_collapse_along_a_tilted_line_is_found():
    # Points on the line y = x: flat along (1, -1), which no feature points along.
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0], [3.0, 3.0]])
    g = Gaussian(np.zeros((1, 2)), [np.eye(2)]).fit(X, np.ones((4, 1)))
    np.testing.assert_array_equal(g.collapsed_components(), [0])
    g = Gaussian(np.zeros((1, 2)), np.eye(2), "tied").fit(X, np.ones((4, 1)))
    np.testing.assert_array_equal(g.collapsed_components(), [0])
    wide = X + np.array([[0.0, 0.1], [0.0, -0.1], [0.0, 0.1], [0.0, -0.1]])
    assert Gaussian(np.zeros((1, 2)), [np.eye(2)]).fit(wide, np.ones((4, 1))).collapsed_components().size == 0


# -- numerical helpers -----------------------------------------------------------------------------
@settings(max_examples=50, deadline=None)
@given(st.integers(1, 8), st.integers(1, 4), st.integers(0, 2**32 - 1))
def test_invert_lower_triangular(D, K, seed):
    rng = np.random.default_rng(seed)
    L = np.tril(rng.normal(size=(K, D, D)))
    L[:, np.arange(D), np.arange(D)] = rng.uniform(0.5, 2.0, size=(K, D))
    inverse = invert_lower_triangular(L)
    for k in range(K):
        expected = linalg.solve_triangular(L[k], np.eye(D), lower=True)
        np.testing.assert_allclose(inverse[k], expected, rtol=1e-10, atol=1e-12)
    assert np.all(np.triu(inverse, 1) == 0)


@settings(max_examples=50, deadline=None)
@given(st.integers(1, 50), st.integers(1, 6), st.integers(0, 2**32 - 1), st.sampled_from([1.0, 100.0, 1e4]))
def test_normalize_log_rows_matches_scipy(N, K, seed, scale):
    rng = np.random.default_rng(seed)
    log_joint = rng.normal(scale=scale, size=(N, K))
    log_joint[rng.random((N, K)) < 0.2] = -np.inf
    log_joint[:, 0] = rng.normal(size=N)  # every row possible
    posterior, log_evidence = normalize_log_rows(log_joint)
    np.testing.assert_allclose(log_evidence, special.logsumexp(log_joint, axis=1), rtol=1e-12)
    np.testing.assert_allclose(posterior, special.softmax(log_joint, axis=1), rtol=1e-10, atol=1e-300)
    np.testing.assert_allclose(logsumexp_rows(log_joint), log_evidence, rtol=1e-12)


def test_normalize_log_rows_impossible_row():
    posterior, log_evidence = normalize_log_rows(np.array([[-np.inf, -np.inf], [0.0, -np.inf]]))
    assert log_evidence[0] == -np.inf and np.all(np.isnan(posterior[0]))
    np.testing.assert_array_equal(posterior[1], [1.0, 0.0])
    assert logsumexp_rows(np.array([[-np.inf, -np.inf]]))[0] == -np.inf


def test_kmeans_plusplus():
    rng = np.random.default_rng(12)
    X = np.concatenate([rng.normal(size=(50, 2)) + c for c in ([0, 0], [20, 0], [0, 20])])
    chosen = kmeans_plusplus(X, 3, np.random.default_rng(0))
    assert sorted(set(chosen // 50)) == [0, 1, 2]  # one centre in each far-apart cluster
    weight = np.ones(150)
    weight[:100] = 0
    chosen = kmeans_plusplus(X, 3, np.random.default_rng(0), weight)
    assert np.all(chosen >= 100) and len(set(chosen)) == 3  # only rows of positive weight
    identical = kmeans_plusplus(np.zeros((4, 2)), 3, np.random.default_rng(0))
    assert len(set(identical)) == 3  # distinct rows even when all coincide


def test_numerically_singular_counts_as_singular():
    # Points on a line: np.linalg.cholesky happens to succeed on their covariance, with a pivot that
    # is pure round-off. Densities from such a factor would be meaningless, so it is jittered.
    t = np.array([0.0, 1.0, 2.3, 4.1])
    X = np.c_[t, 0.12462311557788945 * t]
    diff = X - X.mean(axis=0)
    covariance = diff.T @ diff / 4
    np.linalg.cholesky(covariance)  # no error: the premise of this test
    with pytest.raises(ValueError, match=r"covariances\[0\] is not positive definite"):
        Gaussian([[0.0, 0.0]], [covariance])
    g = Gaussian([[0.0, 0.0]], [np.eye(2)], reg_covar=0.0)
    with pytest.warns(DegenerateComponentWarning, match="was singular"):
        g.fit(X, np.ones((4, 1)))
    assert np.linalg.eigvalsh(g.covariances[0]).min() > 1e-12
