"""The shared start: k-means++ seeding, Lloyd iterations, the groups they form."""

import numpy as np
import pytest

from emlib.initialization import (
    kmeans_plusplus,
    kmeans_start,
    lloyd,
    nearest_centre,
    overall_covariance,
)


def blobs(seed=0, n=600):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    return centres[np.arange(n) % 3] + rng.normal(size=(n, 2))


def test_lloyd_equals_scikit_learns_kmeans_from_the_same_centres():
    from sklearn.cluster import KMeans

    X = blobs()
    start = X[[0, 1, 5]] + 0.5
    for max_iter in (1, 3, 10):
        centres, assignment = lloyd(X, start, max_iter=max_iter)
        theirs = KMeans(3, init=start, n_init=1, max_iter=max_iter, tol=0, algorithm="lloyd").fit(X)
        np.testing.assert_allclose(centres, theirs.cluster_centers_, rtol=1e-12)
        np.testing.assert_array_equal(nearest_centre(X, centres), theirs.predict(X))
        assert assignment.shape == (len(X),)


def test_weighted_lloyd_counts_a_weight_as_repetitions():
    X = blobs(1, 300)
    weight = np.random.default_rng(1).integers(1, 4, len(X))
    start = X[[0, 1, 2]].copy()
    by_weight, _ = lloyd(X, start, sample_weight=weight.astype(float))
    by_repeat, _ = lloyd(np.repeat(X, weight, axis=0), start)
    np.testing.assert_allclose(by_weight, by_repeat, rtol=1e-12)


def test_forced_rows_keep_their_group():
    X = blobs(2, 300)
    forced = np.full(len(X), -1)
    forced[:10] = 2
    _, assignment = lloyd(X, X[[0, 1, 2]], forced=forced)
    assert np.all(assignment[:10] == 2)


def test_kmeans_start_groups_and_labelled_centres():
    X = blobs(3)
    rng = np.random.default_rng(0)
    centres, groups = kmeans_start(X, 3, rng)
    assert groups.shape == (len(X), 3) and np.all(groups.sum(axis=1) == 1)
    np.testing.assert_allclose(centres, (groups.T @ X) / groups.sum(axis=0)[:, None], rtol=1e-12)
    assert sorted(np.round(centres.sum(axis=1) / 8).astype(int).tolist()) == [0, 1, 1]
    rows = np.arange(0, 30, 3)  # rows of the first blob, labelled as group 2
    centres, groups = kmeans_start(X, 3, np.random.default_rng(0), labelled_rows=rows, labels=np.full(10, 2))
    assert np.all(groups[rows, 2] == 1)
    assert np.linalg.norm(centres[2]) < 1.0
    given = np.array([[0.0, 0.0], [8.0, 0.0], [0.0, 8.0]])
    same, groups = kmeans_start(X, 3, rng, centres=given)  # given centres are kept, not refined
    np.testing.assert_array_equal(same, given)
    np.testing.assert_array_equal(groups.argmax(axis=1), nearest_centre(X, given))


def test_kmeans_plusplus_spreads_and_continues_from_known_centres():
    X = blobs(4)
    chosen = kmeans_plusplus(X, 3, np.random.default_rng(0))
    assert len({int(np.round(c.sum() / 8)) + 2 * (c[0] > 4) for c in chosen}) == 3  # one per blob
    more = kmeans_plusplus(X, 2, np.random.default_rng(0), centres=np.array([[0.0, 0.0]]))
    assert np.min(np.linalg.norm(more, axis=1)) > 3.0  # away from the known centre
    duplicates = np.zeros((5, 2))
    assert kmeans_plusplus(duplicates, 3, np.random.default_rng(0)).shape == (3, 2)


def test_kmeans_plusplus_draws_only_rows_of_positive_weight():
    rng = np.random.default_rng(12)
    X = np.concatenate([rng.normal(size=(50, 2)) + c for c in ([0, 0], [20, 0], [0, 20])])
    weight = np.ones(150)
    weight[:100] = 0
    chosen = kmeans_plusplus(X, 3, np.random.default_rng(0), weight)
    rows = [int(np.flatnonzero((X == c).all(axis=1))[0]) for c in chosen]
    assert min(rows) >= 100 and len(set(rows)) == 3


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_overall_covariance_shapes_and_floor(covariance_type):
    X = np.column_stack([blobs(5)[:, 0], np.ones(600)])  # a constant feature
    cov = overall_covariance(X, None, covariance_type, 3, 0.0)
    variances = cov if covariance_type in ("diag", "spherical") else np.diagonal(cov, axis1=-2, axis2=-1)
    assert np.all(variances > 0)


def test_draw_is_the_draw_of_generator_choice():
    """k-means++ draws each centre as rng.choice(n, p=p) would, from the same random number."""
    from emlib.initialization import _draw

    for seed in range(200):
        rng = np.random.default_rng(seed)
        p = rng.random(int(rng.integers(1, 200))) ** 3
        p[rng.random(p.size) < 0.2] = 0.0
        if p.sum() == 0:
            continue
        p /= p.sum()
        ours, numpys = np.random.default_rng(seed + 1), np.random.default_rng(seed + 1)
        assert _draw(ours, p) == numpys.choice(p.size, p=p)
        assert ours.random() == numpys.random()  # the same state afterwards
