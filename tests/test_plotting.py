"""emlib.plotting: the ellipses have the covariance's geometry, colours follow the responsibilities,
bad shapes fail with ValueError, and matplotlib stays out of ``import emlib``."""

import math
import subprocess
import sys

import matplotlib.pyplot as plt
import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from matplotlib.colors import to_rgba

from emlib import GaussianMixture, em
from emlib.plotting import DEFAULT_COLORS, covariance_ellipse, plot_loglik, plot_mixture


@pytest.fixture
def ax():
    fig, axes = plt.subplots()
    yield axes
    plt.close(fig)


def rotation(degrees):
    t = math.radians(degrees)
    return np.array([[math.cos(t), -math.sin(t)], [math.sin(t), math.cos(t)]])


def boundary_points(patch):
    """Points on the drawn curve (not the Bezier control points), in data coordinates."""
    path = patch.get_patch_transform().transform_path(patch.get_path())
    t = np.linspace(0.0, 1.0, 7)
    return np.concatenate([curve(t) for curve, _ in path.iter_bezier() if curve.degree > 1])


def mahalanobis(points, mean, cov):
    diff = points - mean
    return np.sqrt(np.einsum("ni,ij,nj->n", diff, np.linalg.inv(cov), diff))


def expand_covariances(covariances, covariance_type, K):
    """Full (K, 2, 2) matrices, written independently of the code under test."""
    if covariance_type == "full":
        return covariances
    if covariance_type == "tied":
        return np.array([covariances] * K)
    if covariance_type == "diag":
        return np.array([np.diag(v) for v in covariances])
    return np.array([v * np.eye(2) for v in covariances])


@pytest.fixture(scope="module")
def blobs():
    rng = np.random.default_rng(3)
    return np.concatenate([
        rng.multivariate_normal([-2, 0], [[1.0, 0.6], [0.6, 0.8]], 150),
        rng.multivariate_normal([2, 1], [[0.5, -0.2], [-0.2, 0.4]], 100),
        rng.multivariate_normal([0, 4], [[0.3, 0.0], [0.0, 1.2]], 80),
    ])


# -- import cost ----------------------------------------------------------------------------------
def test_import_emlib_does_not_import_matplotlib():
    code = ("import sys, emlib, emlib.plotting; emlib.GaussianMixture; "
            "assert 'matplotlib' not in sys.modules, 'matplotlib was imported'")
    result = subprocess.run([sys.executable, "-c", code], check=False, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr


# -- covariance_ellipse ---------------------------------------------------------------------------
@pytest.mark.parametrize("n_std", [1.0, 2.0, 3])
def test_axis_aligned_ellipse_has_sqrt_eigenvalue_axes(ax, n_std):
    patch = covariance_ellipse(ax, [1.0, -2.0], np.diag([4.0, 1.0]), n_std=n_std)
    assert patch.center == pytest.approx((1.0, -2.0))
    assert patch.width == pytest.approx(2 * n_std * 2.0)
    assert patch.height == pytest.approx(2 * n_std * 1.0)
    assert patch.angle == pytest.approx(0.0)
    assert patch in ax.patches


def test_tall_ellipse_points_up(ax):
    patch = covariance_ellipse(ax, [0, 0], np.diag([1.0, 9.0]), n_std=1)
    assert (patch.width, patch.height) == pytest.approx((6.0, 2.0))
    assert patch.angle == pytest.approx(90.0)


@pytest.mark.parametrize("degrees", [-75.0, -30.0, 10.0, 45.0, 89.0])
def test_rotated_ellipse_angle_and_axes(ax, degrees):
    R = rotation(degrees)
    cov = R @ np.diag([2.5**2, 0.5**2]) @ R.T
    patch = covariance_ellipse(ax, [0, 0], cov, n_std=2.0)
    assert (patch.width, patch.height) == pytest.approx((2 * 2 * 2.5, 2 * 2 * 0.5))
    assert patch.angle == pytest.approx(degrees)


def test_diagonal_and_spherical_inputs_expand(ax):
    diag = covariance_ellipse(ax, [0, 0], [0.25, 4.0], n_std=1)
    assert (diag.width, diag.height, diag.angle) == pytest.approx((4.0, 1.0, 90.0))
    circle = covariance_ellipse(ax, [0, 0], 2.25, n_std=2)
    assert (circle.width, circle.height, circle.angle) == pytest.approx((6.0, 6.0, 0.0))


@settings(max_examples=40, deadline=None)
@given(
    log_sd=st.tuples(st.floats(-2, 2), st.floats(-2, 2)),
    degrees=st.floats(-180, 180),
    mean=st.tuples(st.floats(-10, 10), st.floats(-10, 10)),
    n_std=st.floats(0.5, 3.0),
)
def test_drawn_boundary_lies_at_mahalanobis_distance_n_std(log_sd, degrees, mean, n_std):
    R = rotation(degrees)
    cov = R @ np.diag(np.exp(2 * np.array(log_sd))) @ R.T
    cov = 0.5 * (cov + cov.T)
    fig, ax = plt.subplots()
    try:
        patch = covariance_ellipse(ax, mean, cov, n_std=n_std)
        distances = mahalanobis(boundary_points(patch), np.array(mean), cov)
    finally:
        plt.close(fig)
    # matplotlib draws the ellipse from Bezier arcs, accurate to ~3e-4 of the radius.
    np.testing.assert_allclose(distances, n_std, rtol=1e-3)
    assert -90.0 < patch.angle <= 90.0


def test_ellipse_style_defaults_and_overrides(ax):
    outline = covariance_ellipse(ax, [0, 0], np.eye(2))
    assert outline.get_facecolor()[3] == 0  # unfilled
    red = covariance_ellipse(ax, [0, 0], np.eye(2), edgecolor="red", linestyle="--", label="k=1")
    assert red.get_edgecolor() == pytest.approx(to_rgba("red"))
    assert red.get_linestyle() == "--"
    assert red.get_label() == "k=1"


def test_ellipse_accepts_matplotlib_aliases(ax):
    thin = covariance_ellipse(ax, [0, 0], np.eye(2), lw=0.5, ec="blue", ls=":")
    assert thin.get_linewidth() == pytest.approx(0.5)
    assert thin.get_edgecolor() == pytest.approx(to_rgba("blue"))
    filled = covariance_ellipse(ax, [0, 0], np.eye(2), color="green", alpha=0.3)
    assert filled.get_facecolor()[:3] == pytest.approx(to_rgba("green")[:3])


def test_plot_mixture_style_arguments_override_defaults(ax, blobs):
    gm = GaussianMixture(2, random_state=0).fit(blobs[:250])
    artists = plot_mixture(ax, blobs[:250], gm, ellipse_kwargs={"lw": 4, "ls": "--"},
                           scatter_kwargs={"s": 3, "marker": "s", "alpha": 0.5})
    assert all(e.get_linewidth() == pytest.approx(4) for e in artists.ellipses)
    assert all(e.get_linestyle() == "--" for e in artists.ellipses)
    np.testing.assert_allclose(artists.points.get_sizes(), [3])
    assert artists.points.get_alpha() == pytest.approx(0.5)
    grey = plot_mixture(ax, blobs[:250], gm, scatter_kwargs={"color": "0.5"})
    np.testing.assert_allclose(grey.points.get_facecolors()[:, :3], 0.5)


@pytest.mark.parametrize(
    ("mean", "cov", "match"),
    [
        ([0, 0, 0], np.eye(2), "mean must have shape"),
        ([[0, 0]], np.eye(2), "mean must have shape"),
        ([0, 0], np.eye(3), "covariance must have shape"),
        ([0, 0], np.ones((2, 2, 2)), "covariance must have shape"),
        ([0, 0], [[1.0, 0.5], [0.0, 1.0]], "symmetric"),
        ([0, 0], [[1.0, 2.0], [2.0, 1.0]], "positive definite"),
        ([0, 0], [1.0, 0.0], "positive definite"),
        ([0, 0], -1.0, "positive definite"),
        ([0, np.nan], np.eye(2), "mean contains NaN"),
        ([0, 0], [[1.0, np.inf], [np.inf, 1.0]], "covariance contains NaN or infinite"),
        (["a", "b"], np.eye(2), "mean must be an array of numbers"),
    ],
)
def test_covariance_ellipse_rejects_bad_input(ax, mean, cov, match):
    with pytest.raises(ValueError, match=match):
        covariance_ellipse(ax, mean, cov)


@pytest.mark.parametrize("n_std", [0, -1.0, math.nan, math.inf, True, "2"])
def test_covariance_ellipse_rejects_bad_n_std(ax, n_std):
    with pytest.raises(ValueError, match="n_std"):
        covariance_ellipse(ax, [0, 0], np.eye(2), n_std=n_std)


# -- plot_mixture ---------------------------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", ["full", "diag", "spherical", "tied"])
def test_plot_mixture_ellipses_match_fitted_covariances(ax, blobs, covariance_type):
    gm = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(blobs)
    artists = plot_mixture(ax, blobs, gm, n_std=1.5)
    full = expand_covariances(gm.covariances_, covariance_type, K=3)
    assert len(artists.ellipses) == 3
    for k, patch in enumerate(artists.ellipses):
        assert patch.center == pytest.approx(tuple(gm.means_[k]))
        distances = mahalanobis(boundary_points(patch), gm.means_[k], full[k])
        np.testing.assert_allclose(distances, 1.5, rtol=1e-3)
        assert patch.get_edgecolor() == pytest.approx(to_rgba(DEFAULT_COLORS[k]))
    np.testing.assert_allclose(artists.centres.get_offsets(), gm.means_)
    np.testing.assert_allclose(artists.points.get_offsets(), blobs)


@pytest.mark.parametrize("covariance_type", ["full", "tied"])
def test_plot_mixture_draws_a_scikit_learn_mixture(ax, blobs, covariance_type):
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    sk = SklearnGaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(blobs)
    artists = plot_mixture(ax, blobs, sk)
    full = expand_covariances(sk.covariances_, covariance_type, K=3)
    for k, patch in enumerate(artists.ellipses):
        np.testing.assert_allclose(mahalanobis(boundary_points(patch), sk.means_[k], full[k]), 2.0,
                                   rtol=1e-3)
    palette = np.array([to_rgba(c) for c in DEFAULT_COLORS[:3]])
    np.testing.assert_allclose(artists.colors, palette[sk.predict(blobs)])


def test_plot_mixture_from_tuple_equals_from_estimator(blobs):
    gm = GaussianMixture(3, covariance_type="diag", random_state=1).fit(blobs)
    fig, (left, right) = plt.subplots(1, 2)
    try:
        a = plot_mixture(left, blobs, gm)
        b = plot_mixture(right, blobs, (gm.weights_, gm.means_, gm.covariances_))
    finally:
        plt.close(fig)
    np.testing.assert_allclose(a.colors, b.colors)
    for ea, eb in zip(a.ellipses, b.ellipses):
        assert (ea.width, ea.height, ea.angle) == pytest.approx((eb.width, eb.height, eb.angle))


def test_default_colours_mix_the_estimators_responsibilities_for_two_components(ax, blobs):
    X = blobs[:250]
    gm = GaussianMixture(2, random_state=0).fit(X)
    artists = plot_mixture(ax, X, gm)
    palette = np.array([to_rgba(c) for c in DEFAULT_COLORS[:2]])
    np.testing.assert_allclose(artists.colors, gm.predict_proba(X) @ palette, atol=1e-12)


def test_given_responsibilities_set_the_colours(ax):
    X = np.array([[0.0, 0.0], [1.0, 1.0], [2.0, 2.0]])
    params = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [2.0, 2.0]]), np.stack([np.eye(2)] * 2))
    r = np.array([[1.0, 0.0], [0.5, 0.5], [0.0, 1.0]])
    colors = plot_mixture(ax, X, params, r, colors=["red", "blue"]).colors
    np.testing.assert_allclose(colors[0], to_rgba("red"))
    np.testing.assert_allclose(colors[1], [0.5, 0.0, 0.5, 1.0])
    np.testing.assert_allclose(colors[2], to_rgba("blue"))


def test_argmax_colours_for_more_than_two_components(ax, blobs):
    gm = GaussianMixture(3, random_state=0).fit(blobs)
    artists = plot_mixture(ax, blobs, gm)
    palette = np.array([to_rgba(c) for c in DEFAULT_COLORS[:3]])
    np.testing.assert_allclose(artists.colors, palette[gm.predict(blobs)])
    mixed = plot_mixture(ax, blobs, gm, color_mode="mix").colors
    np.testing.assert_allclose(mixed, gm.predict_proba(blobs) @ palette, atol=1e-12)


def test_many_components_get_distinct_colours(ax):
    K = 12
    means = np.stack([np.arange(K), np.zeros(K)], axis=1).astype(float)
    params = (np.full(K, 1 / K), means, np.full(K, 0.01))
    artists = plot_mixture(ax, means, params)
    assert len({tuple(c) for c in artists.colors}) == K


def test_ambiguous_shape_needs_covariance_type(ax):
    X = np.array([[0.0, 0.0], [1.0, 1.0]])
    weights, means = np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]])
    two_by_two = np.array([[1.0, 0.2], [0.2, 2.0]])
    with pytest.raises(ValueError, match="pass covariance_type"):
        plot_mixture(ax, X, (weights, means, two_by_two))
    tied = plot_mixture(ax, X, (weights, means, two_by_two), covariance_type="tied")
    assert tied.ellipses[0].angle == pytest.approx(tied.ellipses[1].angle)
    assert tied.ellipses[0].angle != pytest.approx(90.0)
    diag = plot_mixture(ax, X, (weights, means, two_by_two), covariance_type="diag")
    # Row 0 read as variances (1.0, 0.2): wider than tall, axis-aligned.
    assert diag.ellipses[0].angle == pytest.approx(0.0)
    assert (diag.ellipses[0].width, diag.ellipses[0].height) == pytest.approx((4.0, 4 * math.sqrt(0.2)))


def test_shapes_are_read_when_unambiguous(ax):
    X = np.zeros((4, 2))
    weights, means = np.full(3, 1 / 3), np.array([[0.0, 0.0], [1.0, 0.0], [0.0, 1.0]])
    diag = plot_mixture(ax, X, (weights, means, [[1.0, 4.0], [4.0, 1.0], [1.0, 1.0]]))
    assert [e.angle for e in diag.ellipses] == pytest.approx([90.0, 0.0, 0.0])
    tied = plot_mixture(ax, X, (weights, means, [[1.0, 0.0], [0.0, 4.0]]))
    assert all(e.width == pytest.approx(8.0) for e in tied.ellipses)
    spherical = plot_mixture(ax, X, (weights, means, [1.0, 4.0, 9.0]))
    assert [e.width for e in spherical.ellipses] == pytest.approx([4.0, 8.0, 12.0])


GOOD = (np.array([0.5, 0.5]), np.array([[0.0, 0.0], [1.0, 1.0]]), np.stack([np.eye(2)] * 2))


@pytest.mark.parametrize(
    ("X", "mixture", "kwargs", "match"),
    [
        (np.zeros((5, 3)), GOOD, {}, r"X must have shape \(N, 2\)"),
        (np.zeros(5), GOOD, {}, r"X must have shape \(N, 2\)"),
        (np.zeros((0, 2)), GOOD, {}, r"X must have shape \(N, 2\)"),
        (np.full((2, 2), np.nan), GOOD, {}, "X contains NaN"),
        (np.zeros((5, 2)), (GOOD[0], np.zeros((2, 3)), GOOD[2]), {}, r"means must have shape \(K, 2\)"),
        (np.zeros((5, 2)), (np.array([0.2, 0.2, 0.6]), GOOD[1], GOOD[2]), {}, r"weights must have shape"),
        (np.zeros((5, 2)), (np.array([0.7, 0.7]), GOOD[1], GOOD[2]), {}, "sum to one"),
        (np.zeros((5, 2)), (GOOD[0], GOOD[1], np.stack([np.eye(2)] * 3)), {}, "must have shape"),
        (np.zeros((5, 2)), (GOOD[0], GOOD[1], np.ones((2, 2, 2))), {}, r"covariances\[0\] must be positive"),
        (np.zeros((5, 2)), (GOOD[0], GOOD[1], GOOD[2]), {"covariance_type": "banana"}, "covariance_type"),
        (np.zeros((5, 2)), (GOOD[0], GOOD[1], GOOD[2]), {"covariance_type": "diag"}, "must have shape"),
        (np.zeros((5, 2)), (GOOD[0], GOOD[1]), {}, "tuple"),
        (np.zeros((5, 2)), GOOD, {"responsibilities": np.full((5, 3), 1 / 3)}, r"shape \(N, K\)"),
        (np.zeros((5, 2)), GOOD, {"responsibilities": np.full((5, 2), 0.6)}, "sum to one"),
        (np.zeros((5, 2)), GOOD, {"color_mode": "rainbow"}, "color_mode"),
        (np.zeros((5, 2)), GOOD, {"colors": ["red"]}, "one colour per component"),
    ],
)
def test_plot_mixture_rejects_bad_input(ax, X, mixture, kwargs, match):
    with pytest.raises(ValueError, match=match):
        plot_mixture(ax, X, mixture, **kwargs)


def test_plot_mixture_rejects_unfitted_estimator(ax):
    with pytest.raises(ValueError, match="not fitted"):
        plot_mixture(ax, np.zeros((3, 2)), GaussianMixture(2))


def test_plot_mixture_rejects_three_dimensional_model(ax, blobs):
    X3 = np.column_stack([blobs, blobs[:, 0]])
    gm = GaussianMixture(2, covariance_type="diag", random_state=0).fit(X3)
    with pytest.raises(ValueError, match="2-D data"):
        plot_mixture(ax, blobs, gm)


# -- plot_loglik ----------------------------------------------------------------------------------
def test_plot_loglik_draws_one_point_per_iteration(ax):
    history = np.array([-120.0, -101.5, -100.2, -100.0])
    line = plot_loglik(ax, history, color="k", label="run")
    np.testing.assert_array_equal(line.get_xdata(), [0, 1, 2, 3])
    np.testing.assert_array_equal(line.get_ydata(), history)
    assert line.get_label() == "run"
    assert ax.get_xlabel() == "EM iteration"
    assert ax.get_ylabel() == "log-likelihood"


def test_plot_loglik_reads_estimators_and_em_results(ax, blobs):
    gm = GaussianMixture(2, random_state=0).fit(blobs)
    line = plot_loglik(ax, gm)
    np.testing.assert_array_equal(line.get_ydata(), gm.loglik_history_)

    class Constant:
        def initialize(self, data, rng):
            pass

        def e_step(self, data):
            return None, -1.0

        def m_step(self, data, stats):
            pass

    result = em.fit(Constant(), None, max_iter=3)
    np.testing.assert_array_equal(plot_loglik(ax, result).get_ydata(), result.loglik_history)


@pytest.mark.parametrize(
    ("history", "match"),
    [
        (np.zeros((3, 2)), "1-D"),
        ([], "non-empty"),
        ([-1.0, np.nan], "NaN"),
        ([-1.0, -np.inf], "infinite"),
        (["a"], "numbers"),
    ],
)
def test_plot_loglik_rejects_bad_history(ax, history, match):
    with pytest.raises(ValueError, match=match):
        plot_loglik(ax, history)
