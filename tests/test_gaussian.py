"""emlib.distributions.Gaussian and the numerical helpers in emlib._math."""

import sys
import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlib._math import (
    invert_lower_triangular,
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
        # the first matrix at fault is named, whichever test it fails
        ("full", np.stack([np.eye(4), -np.eye(4), np.eye(4) + np.triu(np.ones((4, 4)), 1)]),
         r"covariances\[1\] is not positive definite"),
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


# -- the fast kernels equal the plain computation ---------------------------------------------------
# Every path that log_prob and statistics may take (triangular products from 16 features on, the
# stacked product below, summing by a product or along rows, the origin or the mean of the means as
# the centre of the diagonal expansions, the fallbacks when an expansion would cancel) against the
# formulas written out.
def plain_log_prob(gaussian, X):
    """log N(x | mu_k, Sigma_k) by a solve with each full covariance: (N, K)."""
    D = X.shape[1]
    columns = []
    for mean, covariance in zip(gaussian.means, gaussian.full_covariances(), strict=True):
        d = X - mean
        _, log_det = np.linalg.slogdet(covariance)
        mahalanobis = np.einsum("nd,nd->n", d, np.linalg.solve(covariance, d.T).T)
        columns.append(-0.5 * (D * np.log(2 * np.pi) + log_det + mahalanobis))
    return np.column_stack(columns)


SHAPES = [(1, 1), (1, 3), (3, 1), (6, 3), (2, 16), (5, 20)]  # (K, D): stacked, einsum, triangular


# Diagonal covariances have compiled one-pass kernels beside the NumPy ones: both are tested.
KERNEL_PATHS = [("full", "numpy"), ("tied", "numpy"), ("diag", "numpy"), ("diag", "compiled"),
                ("spherical", "numpy"), ("spherical", "compiled")]


def use_kernels(monkeypatch, kernels):
    """Run the diagonal covariances' NumPy kernels, or their compiled twins, whatever the size."""
    from emlib.distributions import _gaussian_kernels, gaussian

    chosen = _gaussian_kernels if kernels == "compiled" else None
    monkeypatch.setattr(gaussian, "_compiled_kernels", lambda *args, **kwargs: chosen)


@pytest.fixture
def short_blocks(monkeypatch):
    """Blocks of at most 1,000 rows (2,048 for matrix products), however few the features: a few
    thousand rows make several blocks, the last one partial."""
    from emlib.distributions import gaussian

    monkeypatch.setattr(gaussian, "_MAX_BLOCK_ROWS", 1000)


@pytest.mark.usefixtures("short_blocks")
@pytest.mark.parametrize(("covariance_type", "kernels"), KERNEL_PATHS)
@pytest.mark.parametrize(("K", "D"), SHAPES)
@pytest.mark.parametrize("offset", [0.0, 1e4])
def test_log_prob_every_path_equals_the_plain_computation(covariance_type, kernels, K, D, offset, monkeypatch):
    use_kernels(monkeypatch, kernels)
    g = random_gaussian(20 + K + D, covariance_type, K=K, D=D, offset=offset)
    rng = np.random.default_rng(K * D)
    X = offset + rng.normal(scale=3.0, size=(3003, D))  # blocks of rows, a partial last one
    log_prob = g.log_prob(X)
    np.testing.assert_allclose(log_prob, plain_log_prob(g, X), rtol=1e-10, atol=1e-8)
    assert log_prob.flags.c_contiguous
    np.testing.assert_allclose(g.log_prob(X[:7]), log_prob[:7], rtol=1e-13)  # fewer rows than a block
    np.testing.assert_allclose(g.log_prob(X[:600]), log_prob[:600], rtol=1e-13)  # one block, not broadcast


@pytest.mark.usefixtures("short_blocks")
@pytest.mark.parametrize(("covariance_type", "kernels"), KERNEL_PATHS)
@pytest.mark.parametrize(("K", "D"), SHAPES)
@pytest.mark.parametrize("offset", [0.0, 1e4])
# N: one block of more rows than are broadcast (_BROADCAST_ROWS); blocks of rows, a partial last
# one (and the compiled kernels' four rows and three more)
@pytest.mark.parametrize("N", [600, 3003])
def test_fit_every_path_equals_the_plain_computation(covariance_type, kernels, K, D, offset, N, monkeypatch):
    use_kernels(monkeypatch, kernels)
    rng = np.random.default_rng(K + D)
    X = offset + rng.normal(size=(N, D)) * rng.uniform(0.5, 2.0, D)
    weights = rng.dirichlet(np.ones(K), size=N) * rng.integers(1, 3, size=(N, 1))
    weights[rng.random(N) < 0.1] = 0.0  # rows of no weight, as after a zero sample weight
    g = Gaussian(np.full((K, D), offset), covariance_shape_ones(covariance_type, K, D), covariance_type,
                 reg_covar=1e-4).fit(X, weights)
    means, covariances = reference_fit(X, weights, covariance_type, 1e-4)
    np.testing.assert_allclose(g.means, means, rtol=1e-12, atol=1e-12 * max(offset, 1.0))
    assert_close_to_scale(g.covariances, covariances, 1e-11)
    if covariance_type in ("full", "tied"):
        np.testing.assert_array_equal(g.covariances, np.swapaxes(g.covariances, -1, -2))


def assert_close_to_scale(actual, desired, rtol):
    """Largest difference within ``rtol`` times the largest entry of ``desired`` (round-off is
    relative to the scale of a matrix, not to each entry)."""
    scale = np.max(np.abs(desired))
    assert np.max(np.abs(actual - desired)) <= rtol * scale, np.max(np.abs(actual - desired)) / scale


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
def test_fewer_samples_than_features(kernels, monkeypatch):
    use_kernels(monkeypatch, kernels)
    rng = np.random.default_rng(30)
    X = rng.normal(size=(10, 24))
    weights = rng.dirichlet(np.ones(2), size=10)
    for covariance_type in COVARIANCE_TYPES:
        g = Gaussian(np.zeros((2, 24)), covariance_shape_ones(covariance_type, 2, 24), covariance_type,
                     reg_covar=1e-3).fit(X, weights)
        means, covariances = reference_fit(X, weights, covariance_type, 1e-3)
        np.testing.assert_allclose(g.means, means, rtol=1e-12, atol=1e-14)
        assert_close_to_scale(g.covariances, covariances, 1e-12)
        np.testing.assert_allclose(g.log_prob(X), plain_log_prob(g, X), rtol=1e-10)


def test_tied_moments_of_far_apart_clusters_are_taken_about_their_own_means():
    # Unit clusters 1e6 apart: the scatter about one common centre minus the between-cluster part
    # would keep no digit of the within-cluster covariance, so such components are taken apart.
    rng = np.random.default_rng(31)
    X = np.concatenate([rng.normal(size=(400, 3)), 1e6 + rng.normal(size=(300, 3)) @ [[1, 0.5, 0], [0, 1, 0],
                                                                                     [0, 0, 2]]])
    weights = np.zeros((700, 2))
    weights[:400, 0] = weights[400:, 1] = 1.0
    g = Gaussian(np.zeros((2, 3)), np.eye(3), "tied", reg_covar=0.0)
    statistics = g.statistics(X, weights)
    assert statistics.pooled and statistics.second.shape == (3, 3)
    assert not np.array_equal(statistics.centres[0], statistics.centres[1])  # the fallback ran
    g.fit_statistics(statistics)
    _, expected = reference_fit(X, weights, "tied", 0.0)
    np.testing.assert_allclose(g.covariances, expected, rtol=1e-9)
    # Overlapping clusters need no second pass: one common centre.
    near = g.statistics(rng.normal(size=(50, 3)), rng.dirichlet(np.ones(2), size=50))
    assert np.array_equal(near.centres[0], near.centres[1])


@pytest.mark.parametrize(("covariance_type", "kernels"), KERNEL_PATHS[2:])
def test_collapsed_component_moments_from_its_own_rows(covariance_type, kernels, monkeypatch):
    use_kernels(monkeypatch, kernels)
    # A component on a few points, with variance near 1e-8 and exactly zero weight elsewhere
    # (responsibilities underflow so): its moments are recomputed about its own mean from its rows.
    rng = np.random.default_rng(32)
    X = np.concatenate([rng.normal(size=(3000, 2)), 5.0 + 1e-4 * rng.normal(size=(4, 2))])
    weights = np.zeros((3004, 2))
    weights[:3000, 0] = 1.0
    weights[3000:, 1] = [0.2, 1.0, 1.0, 0.7]
    g = Gaussian([[0.0, 0.0], [5.0, 5.0]], np.ones(covariance_shape(covariance_type, 2, 2)), covariance_type,
                 reg_covar=0.0).fit(X, weights)
    means, expected = reference_fit(X, weights, covariance_type, 0.0)
    np.testing.assert_allclose(g.means, means, rtol=1e-13)
    np.testing.assert_allclose(g.covariances, expected, rtol=1e-9)


@pytest.mark.parametrize(("covariance_type", "kernels"), KERNEL_PATHS[1:])
def test_log_prob_of_a_tight_component_far_from_the_others(covariance_type, kernels, monkeypatch):
    use_kernels(monkeypatch, kernels)
    # A component 1e4 of its standard deviations from the centre of the means: the expansion about
    # that centre would cancel visibly, so it is scored directly.
    means = np.array([[0.0, 0.0, 0.0], [3.0, 0.0, 1.0], [1e4, 1e4, 1e4]])
    covariances = {"tied": np.eye(3) * 0.1, "diag": [[1.0, 2.0, 1.0], [1.0, 1.0, 1.0], [1e-2, 1e-2, 1e-2]],
                   "spherical": [1.0, 2.0, 1e-2]}[covariance_type]
    g = Gaussian(means, covariances, covariance_type)
    rng = np.random.default_rng(33)
    X = np.concatenate([rng.normal(size=(100, 3)), means[2] + 0.1 * rng.normal(size=(100, 3))])
    np.testing.assert_allclose(g.log_prob(X), plain_log_prob(g, X), rtol=1e-12, atol=1e-9)


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
@pytest.mark.parametrize("row", [0, 5, 9])  # in the compiled kernels' first or second four rows, or after
@pytest.mark.parametrize("value", [np.nan, np.inf, -np.inf])
def test_diagonal_kernels_refuse_non_finite_data(kernels, covariance_type, row, value, monkeypatch):
    # The compiled kernels check the entries in their one pass over X; the error is the same, even
    # for a row that no component weights.
    use_kernels(monkeypatch, kernels)
    g = random_gaussian(35, covariance_type, K=2, D=3)
    X = np.random.default_rng(35).normal(size=(10, 3))
    X[row, 1] = value
    weights = np.full((10, 2), 0.5)
    weights[row] = 0.0
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        g.log_prob(X)
    with pytest.raises(ValueError, match="X contains NaN or infinite values"):
        g.statistics(X, weights)


def test_compiled_kernels_only_for_large_calls():
    from emlib.distributions.gaussian import _COMPILED_MIN_ENTRIES, _compiled_kernels

    large = _COMPILED_MIN_ENTRIES
    assert _compiled_kernels(large - 1, 2) is None  # NumPy: no numba for small calls
    assert _compiled_kernels(large, 32) is not None  # log-densities, any K
    assert _compiled_kernels(large, 2, 8, moments="diagonal") is not None
    assert _compiled_kernels(large, 8, 8, moments="diagonal") is None  # BLAS's turn
    assert _compiled_kernels(large, 8, 32, moments="diagonal") is not None
    assert _compiled_kernels(large, 16, 400, moments="diagonal") is None
    assert _compiled_kernels(large, 8, 8, moments="traced") is not None
    assert _compiled_kernels(large, 32, 32, moments="traced") is None
    assert _compiled_kernels(large, 32, 128, moments="traced") is not None


@pytest.mark.parametrize("covariance_type", ["diag", "spherical"])
def test_compiled_kernels_at_their_own_threshold(covariance_type):
    # Large enough to take the compiled kernels unpatched: equal to the NumPy kernels.
    from emlib.distributions import gaussian

    rng = np.random.default_rng(36)
    X = 2.0 + rng.normal(size=(gaussian._COMPILED_MIN_ENTRIES // 16 + 3, 16))
    g = random_gaussian(36, covariance_type, K=2, D=16, offset=2.0)
    weights = rng.dirichlet(np.ones(2), size=len(X))
    compiled = g.log_prob(X), g.statistics(X, weights)
    assert "emlib.distributions._gaussian_kernels" in sys.modules
    with pytest.MonkeyPatch.context() as patch:
        use_kernels(patch, "numpy")
        plain = g.log_prob(X), g.statistics(X, weights)
    np.testing.assert_allclose(compiled[0], plain[0], rtol=1e-13)
    for name in ("totals", "centres", "first", "second"):
        np.testing.assert_allclose(getattr(compiled[1], name), getattr(plain[1], name), rtol=1e-12)


def test_diagonal_kernels_expand_about_the_origin_only_near_it():
    from emlib.distributions.gaussian import _expansion_centre

    variances = np.ones((2, 3))
    assert _expansion_centre(np.array([[0.0, 9.0, -9.0], [1.0, 2.0, 3.0]]), variances) is None
    np.testing.assert_array_equal(_expansion_centre(np.array([[0.0, 11.0, 0.0], [2.0, 1.0, 0.0]]), variances),
                                  [1.0, 6.0, 0.0])


@pytest.mark.parametrize("kernels", ["numpy", "compiled"])
def test_tiny_variances_far_from_the_origin(kernels, monkeypatch):
    use_kernels(monkeypatch, kernels)
    # Standard deviations of 1e-6 at 1e3: the variances keep their digits in every kernel.
    rng = np.random.default_rng(34)
    for covariance_type in COVARIANCE_TYPES:
        for D in (2, 18):
            X = 1e3 + 1e-6 * rng.normal(size=(500, D)) * rng.uniform(1, 2, D)
            weights = rng.dirichlet(np.ones(2), size=500)
            g = Gaussian(np.full((2, D), 1e3), 1e-12 * covariance_shape_ones(covariance_type, 2, D),
                         covariance_type, reg_covar=0.0).fit(X, weights)
            _, expected = reference_fit(X, weights, covariance_type, 0.0)
            assert_close_to_scale(g.covariances, expected, 1e-6)
            np.testing.assert_allclose(g.log_prob(X), plain_log_prob(g, X), rtol=1e-8)


@pytest.mark.parametrize("D", [16, 40])
def test_invert_lower_triangular_by_lapack(D):
    rng = np.random.default_rng(D)
    L = np.tril(rng.normal(size=(2, 3, D, D)))
    L[..., np.arange(D), np.arange(D)] = rng.uniform(0.5, 2.0, size=(2, 3, D))
    inverse = invert_lower_triangular(L)
    assert inverse.shape == L.shape and np.all(np.triu(inverse, 1) == 0)
    for index in np.ndindex(2, 3):
        np.testing.assert_allclose(inverse[index] @ L[index], np.eye(D), atol=1e-10)
    L[1, 2, 5, 5] = 0.0
    with pytest.raises(np.linalg.LinAlgError, match="singular"):
        invert_lower_triangular(L)
