"""Where EM starts: k-means++ seeding, a few k-means (Lloyd) iterations, and the groups they form.

Every emlib estimator that has no starting values from the user starts the same way
(:func:`kmeans_start`): ``K`` centres seeded by k-means++ (or rows drawn at random), refined by at
most ten Lloyd iterations, and the resulting groups (samples assigned to their nearest centre)
handed to the component family's ``fit``, as if they were responsibilities of 0 and 1. A Gaussian
component thus starts at its group's mean and covariance; :func:`overall_covariance` stands in for a
group that ends up empty. Steps whose hidden state is known (semi-supervised HMMs) always belong to
their state's group, and their states' centres start at the mean of those steps.
"""

from __future__ import annotations

import numpy as np

from emlib._validation import check_choice

__all__ = ["INIT_METHODS", "kmeans_plusplus", "kmeans_start", "lloyd", "nearest_centre", "overall_covariance"]

INIT_METHODS = ("kmeans++", "random")
# Rows per block when measuring distances: the (rows, K) temporaries stay small however long X is.
_BLOCK_ROWS = 4096


def kmeans_plusplus(X: np.ndarray, n_clusters: int, rng: np.random.Generator,
                    sample_weight: np.ndarray | None = None,
                    centres: np.ndarray | None = None) -> np.ndarray:
    """``n_clusters`` rows of ``X`` (N, D) chosen by k-means++ seeding, as an array (n_clusters, D).

    The first centre is drawn in proportion to ``sample_weight``; each next one in proportion to the
    weight times the squared distance to the nearest centre chosen so far (Arthur & Vassilvitskii,
    2007). ``centres`` (M, D) are centres known beforehand (from labelled samples, say): the new ones
    are then drawn where those do not explain the data. When every remaining point of positive
    weight coincides with a centre, the rest are drawn uniformly from the rows of positive weight
    not chosen yet.
    """
    n = X.shape[0]
    weight = np.ones(n) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    chosen = np.empty(n_clusters, dtype=np.intp)
    nearest = np.full(n, np.inf)
    for centre in () if centres is None else centres:
        np.minimum(nearest, np.sum((X - centre) ** 2, axis=1), out=nearest)
    for i in range(n_clusters):
        if i == 0 and (centres is None or len(centres) == 0):
            chosen[0] = _draw(rng, weight / weight.sum())
        else:
            score = weight * nearest
            total = score.sum()
            if total > 0:
                chosen[i] = _draw(rng, score / total)
            else:
                remaining = np.setdiff1d(np.flatnonzero(weight > 0), chosen[:i])
                chosen[i] = rng.choice(remaining) if remaining.size else rng.choice(np.flatnonzero(weight > 0))
        np.minimum(nearest, np.sum((X - X[chosen[i]]) ** 2, axis=1), out=nearest)
    return X[chosen]


def _draw(rng: np.random.Generator, p: np.ndarray) -> int:
    """``rng.choice(len(p), p=p)`` for probabilities ``p`` that sum to one (made so by the caller),
    without the checks of ``p`` that take most of that call's time: the same draw from the same
    random number (tests compare the two)."""
    cumulative = p.cumsum()
    cumulative /= cumulative[-1]
    return int(cumulative.searchsorted(rng.random(), side="right"))


def nearest_centre(X: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Index of the nearest centre (squared Euclidean distance) for each row of ``X``: int array (N,).

    Distances are expanded as ``|y|^2 - 2 y.c + |c|^2`` about the centres' mean (so little cancels)
    and computed block by block; ties go to the lower index.
    """
    offset = np.add.reduce(centres, axis=0) / centres.shape[0]  # their mean (np.mean's arithmetic)
    cc = centres - offset
    squared_norms = (cc**2).sum(axis=1)
    nearest = np.empty(X.shape[0], dtype=np.intp)
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        y = X[start:start + _BLOCK_ROWS] - offset
        nearest[start:start + _BLOCK_ROWS] = np.argmin(squared_norms - 2.0 * y @ cc.T, axis=1)
    return nearest


def lloyd(X: np.ndarray, centres: np.ndarray, sample_weight: np.ndarray | None = None,
          forced: np.ndarray | None = None, max_iter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """At most ``max_iter`` k-means (Lloyd) iterations from ``centres`` (K, D).

    Each iteration assigns every row to its nearest centre, then moves each centre to the
    (``sample_weight``-weighted) mean of its rows; a centre without rows stays. Stops early when no
    row changes group.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    centres : ndarray of shape (K, D)
    sample_weight : ndarray of shape (N,), optional
    forced : ndarray of shape (N,), optional
        A group for each row, ``-1`` where free: rows with a group always belong to it.
    max_iter : int, default 10

    Returns
    -------
    centres : ndarray of shape (K, D)
    assignment : ndarray of shape (N,)
        The group of each row, from the last assignment step.
    """
    centres = np.array(centres, dtype=np.float64)
    K = centres.shape[0]
    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    assignment = np.full(X.shape[0], -1, dtype=np.intp)
    for _ in range(max(max_iter, 1)):
        new = nearest_centre(X, centres)
        if forced is not None:
            new = np.where(forced >= 0, forced, new)
        if (new == assignment).all():
            break
        assignment = new
        totals = np.bincount(assignment, weights=weight, minlength=K)
        sums = _group_sums(X, assignment, weight, K)
        filled = totals > 0
        centres[filled] = sums[filled] / totals[filled, None]
    return centres, assignment


def _group_sums(X: np.ndarray, assignment: np.ndarray, weight: np.ndarray, K: int) -> np.ndarray:
    """``sum of weight[n] * X[n]`` over the rows of each group, (K, D), by one-hot products per block."""
    sums = np.zeros((K, X.shape[1]))
    for start in range(0, X.shape[0], _BLOCK_ROWS):
        rows = slice(start, start + _BLOCK_ROWS)
        one_hot = np.zeros((K, len(assignment[rows])))
        one_hot[assignment[rows], np.arange(one_hot.shape[1])] = weight[rows]
        sums += one_hot @ X[rows]
    return sums


def kmeans_start(X: np.ndarray, n_components: int, rng: np.random.Generator, *, init: str = "kmeans++",
                 sample_weight: np.ndarray | None = None, centres: np.ndarray | None = None,
                 labelled_rows: np.ndarray | None = None, labels: np.ndarray | None = None,
                 max_iter: int = 10) -> tuple[np.ndarray, np.ndarray]:
    """The shared default start: centres and the groups they form, as weights of 0 and 1.

    Parameters
    ----------
    X : ndarray of shape (N, D)
    n_components : int
    rng : numpy.random.Generator
    init : {"kmeans++", "random"}
        How to seed the centres: k-means++ or distinct random rows (of positive weight).
    sample_weight : ndarray of shape (N,), optional
        Frequency weights; they weight the seeding and the group means, and multiply the groups.
    centres : ndarray of shape (K, D), optional
        Starting centres given by the user: no seeding and no Lloyd iterations (the centres are
        the means the fit starts from); the groups are the nearest-centre assignment.
    labelled_rows, labels : ndarray of int, optional
        Rows whose group is known, and their groups: those groups' centres start at the mean of
        their rows, and the rows never change group.
    max_iter : int, default 10
        Largest number of Lloyd iterations.

    Returns
    -------
    centres : ndarray of shape (K, D)
        The centres after the Lloyd iterations (the group means).
    groups : ndarray of shape (N, K)
        ``sample_weight[n]`` in the column of row ``n``'s group, zeros elsewhere.
    """
    check_choice(init, "init", INIT_METHODS)
    N, K = X.shape[0], n_components
    weight = np.ones(N) if sample_weight is None else np.asarray(sample_weight, dtype=np.float64)
    forced = None
    if labelled_rows is not None and len(labelled_rows):
        forced = np.full(N, -1, dtype=np.intp)
        forced[labelled_rows] = labels
    if centres is not None:
        centres = np.asarray(centres, dtype=np.float64)
        assignment = nearest_centre(X, centres)
        if forced is not None:
            assignment = np.where(forced >= 0, forced, assignment)
    else:
        centres = np.empty((K, X.shape[1]))
        known = np.zeros(K, dtype=bool)
        if forced is not None:
            for k in np.unique(labels):
                rows = labelled_rows[labels == k]
                centres[k] = weight[rows] @ X[rows] / weight[rows].sum()
                known[k] = True
        free = np.flatnonzero(~known)
        if free.size and init == "kmeans++":
            centres[free] = kmeans_plusplus(X, free.size, rng, weight, centres[known])
        elif free.size:
            candidates = np.flatnonzero(weight > 0)
            centres[free] = X[rng.choice(candidates, size=free.size, replace=candidates.size < free.size)]
        centres, assignment = lloyd(X, centres, weight, forced, max_iter)
    groups = np.zeros((N, K))
    groups[np.arange(N), assignment] = weight
    return centres, groups


def overall_covariance(X: np.ndarray, sample_weight: np.ndarray | None, covariance_type: str,
                       n_components: int, reg_covar: float) -> np.ndarray:
    """The weighted covariance of all of ``X`` (N, D), in the shape ``covariance_type`` needs.

    ``reg_covar`` is added to the diagonal; with ``reg_covar=0`` a tiny share of the average
    variance is, so that a constant feature still gives a positive definite start.
    """
    from emlib.distributions.gaussian import covariance_shape

    weight = np.ones(X.shape[0]) if sample_weight is None else sample_weight
    total = weight.sum()
    mean = weight @ X / total
    diff = X - mean
    cov = (diff * weight[:, None]).T @ diff / total
    cov = 0.5 * (cov + cov.T)
    scale = np.trace(cov) / X.shape[1]
    cov.flat[:: X.shape[1] + 1] += reg_covar if reg_covar > 0 else 1e-10 * (scale if scale > 0 else 1.0)
    shape = covariance_shape(covariance_type, n_components, X.shape[1])
    if covariance_type == "full":
        return np.broadcast_to(cov, shape).copy()
    if covariance_type == "tied":
        return cov
    if covariance_type == "diag":
        return np.broadcast_to(np.diag(cov), shape).copy()
    return np.full(shape, np.mean(np.diag(cov)))
