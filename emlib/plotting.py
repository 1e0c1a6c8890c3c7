"""Pictures of Gaussian mixtures and of EM's progress, for the book's chapters and your own notebooks.

Three helpers, each drawing into an axes you pass in and returning what it drew:

- :func:`covariance_ellipse`: the contour of one Gaussian component (its mean and covariance).
- :func:`plot_mixture`: 2-D data coloured by their responsibilities, with every component's ellipse.
- :func:`plot_loglik`: the log-likelihood after each EM iteration.

Matplotlib is needed only here and is imported when a helper is first called, so ``import emlib``
and ``import emlib.plotting`` stay light (install it with ``pip install matplotlib``).
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING, Any, NamedTuple

import numpy as np

if TYPE_CHECKING:
    from collections.abc import Sequence

    from matplotlib.axes import Axes
    from matplotlib.lines import Line2D
    from matplotlib.patches import Ellipse

    from emlib._typing import ArrayLike
    from emlib.mixture import BaseMixture

__all__ = ["MixtureArtists", "covariance_ellipse", "plot_loglik", "plot_mixture"]

# Blue and red first: a point shared between two components is drawn in their mixture, purple,
# as in Bishop's figures. The rest are matplotlib's "tab10" colours.
DEFAULT_COLORS = (
    "#1f77b4", "#d62728", "#2ca02c", "#ff7f0e", "#9467bd",
    "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf",
)
_COLOR_MODES = ("auto", "mix", "argmax")


class MixtureArtists(NamedTuple):
    """What :func:`plot_mixture` drew, as a named tuple ``(points, ellipses, centres, colors)``.

    - ``points``: the scatter of the data (a matplotlib ``PathCollection``).
    - ``ellipses``: one ``matplotlib.patches.Ellipse`` per component, in component order.
    - ``centres``: the scatter of the component means.
    - ``colors``: the RGBA colour of each data point, an array of shape (N, 4).
    """

    points: Any
    ellipses: list
    centres: Any
    colors: np.ndarray


def covariance_ellipse(ax: Axes, mean: ArrayLike, covariance: ArrayLike, n_std: float = 2.0,
                       **kwargs: Any) -> Ellipse:
    """Draw the ellipse of a 2-D Gaussian at ``n_std`` standard deviations from its mean.

    The ellipse is the set of points at Mahalanobis distance ``n_std`` from ``mean``. Its axes point
    along the eigenvectors of the covariance and have half-lengths ``n_std * sqrt(eigenvalue)``. A
    2-D Gaussian puts a probability of ``1 - exp(-n_std**2 / 2)`` inside it: 39% for 1, 86% for 2,
    99% for 3.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw.
    mean : array-like of shape (2,)
        Centre of the ellipse.
    covariance : array-like of shape (2, 2), (2,) or ()
        A full covariance matrix, the two variances of a diagonal covariance, or the single variance
        of a spherical one. It must be symmetric and positive definite.
    n_std : float, default 2.0
        Mahalanobis radius of the contour.
    **kwargs
        Passed to :class:`matplotlib.patches.Ellipse` (``edgecolor``, ``linewidth``, ``linestyle``,
        ``alpha``, ``label``, ...). By default the ellipse is an unfilled black outline.

    Returns
    -------
    matplotlib.patches.Ellipse
        The patch added to ``ax``. Its ``width`` is the full length of the major axis, ``height`` that
        of the minor axis, and ``angle`` the direction of the major axis in degrees, in (-90, 90].

    Raises
    ------
    ValueError
        If ``mean`` or ``covariance`` has the wrong shape, is not finite, or the covariance is not
        symmetric positive definite; or if ``n_std`` is not a positive number.
    """
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.patches import Ellipse

    mean = _as_finite(mean, "mean")
    if mean.shape != (2,):
        raise ValueError(f"mean must have shape (2,), got {mean.shape}")
    if isinstance(n_std, bool) or not isinstance(n_std, (int, float, np.integer, np.floating)) \
            or not (math.isfinite(n_std) and n_std > 0):
        raise ValueError(f"n_std must be a positive number, got {n_std!r}")
    width, height, angle = _ellipse_geometry(_as_covariance_matrix(covariance), float(n_std))
    kwargs = normalize_kwargs(kwargs, Ellipse)  # "lw" -> "linewidth", "ec" -> "edgecolor", ...
    style = {"linewidth": 1.5}
    if "color" not in kwargs:  # "color" sets both face and edge; then it alone decides
        style.update(facecolor="none", edgecolor="black")
    style.update(kwargs)
    return ax.add_patch(Ellipse(tuple(mean), width, height, angle=angle, **style))


def plot_mixture(ax: Axes, X: ArrayLike, mixture: BaseMixture, responsibilities: ArrayLike | None = None, *,
                 covariance_type: str | None = None, colors: Sequence | None = None, color_mode: str = "auto",
                 n_std: float = 2.0, point_size: float = 16.0, ellipse_kwargs: dict | None = None,
                 scatter_kwargs: dict | None = None) -> MixtureArtists:
    """Draw 2-D data coloured by responsibilities, with each component's covariance ellipse.

    Each point gets the colours of the components in proportion to its responsibilities
    (``color_mode="mix"``: with blue and red components, a point shared equally is purple), or the
    colour of its most responsible component (``color_mode="argmax"``).

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw. For standardised data call ``ax.set_aspect("equal")`` so the ellipses are not
        distorted.
    X : array-like of shape (N, 2)
        The data.
    mixture : emlib.GaussianMixture or tuple
        A fitted :class:`emlib.GaussianMixture` with two features, or its parameters as a tuple
        ``(weights, means, covariances)``: ``weights`` of
        shape (K,), ``means`` of shape (K, 2) and ``covariances`` shaped as for ``covariance_type``:
        (K, 2, 2) full, (K, 2) diag, (K,) spherical, (2, 2) tied.
    responsibilities : array-like of shape (N, K), optional
        Colour weights of each point, rows summing to one. By default they are computed from the
        mixture's parameters, i.e. the E-step for the parameters drawn.
    covariance_type : {"full", "diag", "spherical", "tied"}, optional
        Needed only for a tuple whose covariances' shape is ambiguous: shape (2, 2) with K = 2 may be
        diagonal or tied. Otherwise it is read from the shape (or from the estimator).
    colors : list of str, optional
        One matplotlib colour per component (a name, ``"#rrggbb"`` or an RGB(A) tuple); by default
        blue, red, green, orange, ...
    color_mode : {"auto", "mix", "argmax"}, default "auto"
        ``"auto"`` mixes the colours for K <= 2 and uses the most responsible component for K > 2,
        where mixtures of several colours are hard to read.
    n_std : float, default 2.0
        Mahalanobis radius of the ellipses (see :func:`covariance_ellipse`).
    point_size : float, default 16.0
        Marker area of the data points.
    ellipse_kwargs : dict, optional
        Extra arguments for every ellipse (e.g. ``{"linestyle": "--"}``).
    scatter_kwargs : dict, optional
        Extra arguments for the data's ``ax.scatter``.

    Returns
    -------
    MixtureArtists
        The scatter of the data, the ellipses, the scatter of the means and the point colours.

    Raises
    ------
    ValueError
        If ``X`` is not of shape (N, 2), the parameters' shapes do not fit together, the weights are
        not a probability vector, or ``responsibilities`` is not of shape (N, K) with rows that are
        probability vectors.
    """
    from matplotlib.cbook import normalize_kwargs
    from matplotlib.collections import PathCollection
    from matplotlib.colors import to_rgba_array
    from matplotlib.patches import Ellipse

    X = _as_finite(X, "X")
    if X.ndim != 2 or X.shape[1] != 2 or X.shape[0] == 0:
        raise ValueError(f"X must have shape (N, 2) with N >= 1, got {X.shape}")
    weights, means, full_covariances = _mixture_parameters(mixture, covariance_type)
    K = means.shape[0]

    if responsibilities is None:
        responsibilities = _responsibilities(X, weights, means, full_covariances)
    else:
        responsibilities = _as_finite(responsibilities, "responsibilities")
        if responsibilities.shape != (X.shape[0], K):
            raise ValueError(
                f"responsibilities must have shape (N, K) = {(X.shape[0], K)}, got {responsibilities.shape}"
            )
        if np.any(responsibilities < 0) or not np.allclose(responsibilities.sum(axis=1), 1.0, atol=1e-6):
            raise ValueError("each row of responsibilities must be non-negative and sum to one")

    if color_mode not in _COLOR_MODES:
        raise ValueError(f"color_mode must be one of {', '.join(map(repr, _COLOR_MODES))}; got {color_mode!r}")
    if colors is None:
        colors = DEFAULT_COLORS if K <= len(DEFAULT_COLORS) else _cycled_colors(K)
    palette = to_rgba_array(colors)
    if palette.shape[0] < K:
        raise ValueError(f"colors must give one colour per component ({K}), got {palette.shape[0]}")
    palette = palette[:K]
    if color_mode == "mix" or (color_mode == "auto" and K <= 2):
        point_colors = np.clip(responsibilities @ palette, 0.0, 1.0)
    else:
        point_colors = palette[np.argmax(responsibilities, axis=1)]

    point_style = {"s": point_size, "c": point_colors, "linewidths": 0}
    point_style.update(normalize_kwargs(scatter_kwargs or {}, PathCollection))
    if "color" in point_style:  # one colour for all points replaces the responsibilities' colours
        del point_style["c"]
    points = ax.scatter(X[:, 0], X[:, 1], **point_style)
    ellipse_style = normalize_kwargs(ellipse_kwargs or {}, Ellipse)
    ellipses = [
        covariance_ellipse(ax, means[k], full_covariances[k], n_std=n_std,
                           **{"edgecolor": palette[k], "linewidth": 2.0, **ellipse_style})
        for k in range(K)
    ]
    centres = ax.scatter(means[:, 0], means[:, 1], marker="X", s=90, c=palette, edgecolors="white",
                         linewidths=1.0, zorder=3)
    return MixtureArtists(points, ellipses, centres, point_colors)


def plot_loglik(ax: Axes, history: ArrayLike, *, marker: str = "o", **kwargs: Any) -> Line2D:
    """Draw a log-likelihood curve: one point per EM iteration.

    Parameters
    ----------
    ax : matplotlib.axes.Axes
        Where to draw. Axis labels ("EM iteration", "log-likelihood") are set.
    history : array-like of shape (n_iter + 1,) or object
        The log-likelihood at the starting values (drawn at iteration 0) and after each iteration,
        such as ``GaussianMixture.loglik_history_``; or an object holding it as ``loglik_history_``
        (a fitted estimator) or ``loglik_history`` (the :class:`emlib.em.EMResult` returned by
        :func:`emlib.em.fit`).
    marker : str, default "o"
        Marker for each iteration (``""`` for a plain line).
    **kwargs
        Passed to ``ax.plot`` (``color``, ``label``, ...).

    Returns
    -------
    matplotlib.lines.Line2D
        The curve.

    Raises
    ------
    ValueError
        If the history is not a non-empty 1-D array of finite numbers.
    """
    from matplotlib.ticker import MaxNLocator

    for attribute in ("loglik_history_", "loglik_history"):
        if hasattr(history, attribute):
            history = getattr(history, attribute)
            break
    history = _as_finite(history, "history")
    if history.ndim != 1 or history.size == 0:
        raise ValueError(f"history must be a non-empty 1-D array of log-likelihoods, got shape {history.shape}")
    (line,) = ax.plot(np.arange(history.size), history, marker=marker, **kwargs)
    ax.set_xlabel("EM iteration")
    ax.set_ylabel("log-likelihood")
    ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    return line


# -- helpers --------------------------------------------------------------------------------------
def _as_finite(value, name: str) -> np.ndarray:
    try:
        array = np.asarray(value, dtype=np.float64)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be an array of numbers") from None
    if not np.all(np.isfinite(array)):
        raise ValueError(f"{name} contains NaN or infinite values")
    return array


def _as_covariance_matrix(covariance, name: str = "covariance") -> np.ndarray:
    """A (2, 2) symmetric positive definite matrix from a full, diagonal or spherical covariance."""
    cov = _as_finite(covariance, name)
    if cov.shape == ():
        cov = cov * np.eye(2)
    elif cov.shape == (2,):
        cov = np.diag(cov)
    elif cov.shape != (2, 2):
        raise ValueError(
            f"{name} must have shape (2, 2) (full), (2,) (diagonal variances) or () (one variance), "
            f"got {cov.shape}"
        )
    if not np.allclose(cov, cov.T, rtol=1e-8, atol=1e-12 * max(np.abs(cov).max(), 1e-300)):
        raise ValueError(f"{name} must be symmetric, got {cov.tolist()}")
    if np.linalg.eigvalsh(cov)[0] <= 0:
        raise ValueError(f"{name} must be positive definite, got {cov.tolist()}")
    return cov


def _ellipse_geometry(cov: np.ndarray, n_std: float) -> tuple[float, float, float]:
    """Full axis lengths (major, minor) and the major axis' angle in degrees, in (-90, 90]."""
    eigenvalues, eigenvectors = np.linalg.eigh(cov)  # ascending
    major = eigenvectors[:, 1]
    # A circle has no major axis; report 0 rather than whatever direction eigh happens to return.
    if eigenvalues[1] - eigenvalues[0] <= 1e-12 * eigenvalues[1]:
        return 2.0 * n_std * math.sqrt(eigenvalues[1]), 2.0 * n_std * math.sqrt(eigenvalues[0]), 0.0
    angle = math.degrees(math.atan2(major[1], major[0]))
    # An axis has no direction: fold the angle into (-90, 90] so equal ellipses report equal angles.
    if angle > 90.0:
        angle -= 180.0
    elif angle <= -90.0:
        angle += 180.0
    return 2.0 * n_std * math.sqrt(eigenvalues[1]), 2.0 * n_std * math.sqrt(eigenvalues[0]), angle


def _cycled_colors(n: int) -> list:
    from matplotlib import colormaps

    return [colormaps["turbo"](t) for t in np.linspace(0.05, 0.95, n)]


def _infer_covariance_type(shape: tuple[int, ...], K: int) -> str:
    if len(shape) == 3:
        return "full"
    if len(shape) == 1:
        return "spherical"
    if len(shape) == 2:
        if shape == (K, 2) and shape == (2, 2):
            raise ValueError(
                "covariances of shape (2, 2) with 2 components could be 'diag' (one row of variances "
                "per component) or 'tied' (one matrix shared by both); pass covariance_type"
            )
        return "diag" if shape == (K, 2) else "tied"
    raise ValueError(f"covariances must be 1-D, 2-D or 3-D, got shape {shape}")


def _mixture_parameters(mixture, covariance_type):
    """Weights (K,), means (K, 2) and full covariances (K, 2, 2) from an estimator or a tuple."""
    if hasattr(mixture, "means_") or hasattr(mixture, "n_components"):
        if not hasattr(mixture, "weights_"):
            raise ValueError(f"{type(mixture).__name__} is not fitted yet; call fit first")
        weights, means, covariances = mixture.weights_, mixture.means_, mixture.covariances_
        covariance_type = getattr(mixture, "covariance_type", covariance_type)
    else:
        try:
            weights, means, covariances = mixture
        except (TypeError, ValueError):
            raise ValueError(
                "mixture must be a fitted GaussianMixture or a tuple (weights, means, covariances)"
            ) from None
    means = _as_finite(means, "means")
    if means.ndim != 2 or means.shape[1] != 2 or means.shape[0] == 0:
        raise ValueError(f"means must have shape (K, 2): plot_mixture draws 2-D data; got {means.shape}")
    K = means.shape[0]
    weights = _as_finite(weights, "weights")
    if weights.shape != (K,):
        raise ValueError(f"weights must have shape (K,) = ({K},) to match means, got {weights.shape}")
    if np.any(weights < 0) or abs(weights.sum() - 1.0) > 1e-6:
        raise ValueError(f"weights must be non-negative and sum to one, got {weights.tolist()}")
    covariances = _as_finite(covariances, "covariances")
    if covariance_type is None:
        covariance_type = _infer_covariance_type(covariances.shape, K)
    expected = {"full": (K, 2, 2), "diag": (K, 2), "spherical": (K,), "tied": (2, 2)}
    if covariance_type not in expected:
        raise ValueError(
            f"covariance_type must be one of 'full', 'diag', 'spherical', 'tied'; got {covariance_type!r}"
        )
    if covariances.shape != expected[covariance_type]:
        raise ValueError(
            f"covariances for covariance_type={covariance_type!r} with K={K} must have shape "
            f"{expected[covariance_type]}, got {covariances.shape}"
        )
    if covariance_type == "tied":
        covariances = np.broadcast_to(covariances, (K, 2, 2))
    full = np.stack([_as_covariance_matrix(c, name=f"covariances[{k}]") for k, c in enumerate(covariances)])
    return weights, means, full


def _responsibilities(X, weights, means, full_covariances) -> np.ndarray:
    """The E-step for plotting: p(component k | x_n), shape (N, K)."""
    from emlib._math import normalize_log_rows
    from emlib.distributions import Gaussian

    log_joint = Gaussian(means, full_covariances, "full").log_prob(X)
    with np.errstate(divide="ignore"):
        log_joint += np.log(weights)
    return normalize_log_rows(log_joint)[0]
