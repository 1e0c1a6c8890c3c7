"""emlib.GaussianMixture: against scikit-learn, EM's properties, bad input, degenerate data."""

import doctest
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from scipy import stats

import emlib.mixture
from emlib import BernoulliMixture, GaussianMixture, PoissonMixture
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    NotFittedError,
)

sklearn_mixture = pytest.importorskip("sklearn.mixture")
sklearn_exceptions = pytest.importorskip("sklearn.exceptions")

COVARIANCE_TYPES = ("full", "diag", "spherical", "tied")


def assert_close(actual, desired, rtol=1e-8):
    """Largest absolute difference within ``rtol`` times the largest entry of ``desired``."""
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    scale = np.max(np.abs(desired))
    assert np.max(np.abs(actual - desired)) <= rtol * scale, (
        f"relative difference {np.max(np.abs(actual - desired)) / scale:.2e} > {rtol:g}"
    )


def overlapping_clusters(seed, n_samples, n_features, n_components, offset=0.0, separation=1.5):
    """Correlated, overlapping clusters: EM is still moving after 20 iterations."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=separation, size=(n_components, n_features))
    labels = rng.integers(n_components, size=n_samples)
    mixing = rng.normal(scale=0.5, size=(n_components, n_features, n_features)) + np.eye(n_features)
    z = rng.standard_normal((n_samples, n_features))
    return offset + centres[labels] + np.einsum("nd,nde->ne", z, mixing[labels])


def starting_values(X, covariance_type, n_components, seed=0):
    """Weights, means and covariances to start both libraries from, and sklearn's precisions."""
    rng = np.random.default_rng(seed)
    D = X.shape[1]
    weights = rng.dirichlet(np.full(n_components, 3.0))
    means = X[rng.choice(X.shape[0], n_components, replace=False)]
    spread = np.cov(X, rowvar=False).reshape(D, D)
    scales = rng.uniform(0.3, 1.5, size=n_components)
    if covariance_type == "full":
        covariances = spread * scales[:, None, None]
        precisions = np.linalg.inv(covariances)
    elif covariance_type == "tied":
        covariances = spread * scales[0]
        precisions = np.linalg.inv(covariances)
    elif covariance_type == "diag":
        covariances = np.diag(spread) * scales[:, None]
        precisions = 1.0 / covariances
    else:
        covariances = np.mean(np.diag(spread)) * scales
        precisions = 1.0 / covariances
    return weights, means, covariances, precisions


def fit_both(X, covariance_type, n_components, n_iter, **kwargs):
    """Both libraries from the same start, for ``n_iter`` iterations.

    ``reg_covar`` is 0 unless given: emlib's E-step then includes the penalty whose exact M-step the
    regularised covariance is (see test_reg_covar_climbs_its_penalised_objective), scikit-learn's does not.
    """
    kwargs.setdefault("reg_covar", 0.0)
    weights, means, covariances, precisions = starting_values(X, covariance_type, n_components)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        warnings.simplefilter("ignore", sklearn_exceptions.ConvergenceWarning)
        ours = GaussianMixture(
            n_components, covariance_type=covariance_type, weights_init=weights, means_init=means,
            covariances_init=covariances, max_iter=n_iter, tol=0, **kwargs,
        ).fit(X)
        theirs = sklearn_mixture.GaussianMixture(
            n_components, covariance_type=covariance_type, weights_init=weights, means_init=means,
            precisions_init=precisions, max_iter=n_iter, tol=0, init_params="random_from_data",
            random_state=0, **kwargs,
        ).fit(X)
    return ours, theirs


# -- the same iterates as scikit-learn --------------------------------------------------------------
DATASETS = {
    "D=K=3": (0, 400, 3, 3),  # D equal to K: catches axes mixed up in broadcasting
    "D=2,K=4": (1, 300, 2, 4),
    "D=5,K=2,offset": (2, 500, 5, 2),
    "D=3,K=6": (3, 600, 3, 6),  # more components than the stacked kernel sums by a product
    "D=20,K=3": (6, 1000, 20, 3),  # triangular kernels (from 16 features on)
}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("n_iter", [5, 20])
@pytest.mark.parametrize("dataset", list(DATASETS))
def test_same_iterates_as_sklearn(covariance_type, n_iter, dataset):
    seed, n, D, K = DATASETS[dataset]
    X = overlapping_clusters(seed, n, D, K, offset=50.0 if "offset" in dataset else 0.0, separation=0.8)
    ours, theirs = fit_both(X, covariance_type, K, n_iter)
    assert ours.n_iter_ == theirs.n_iter_ == n_iter
    assert ours.loglik_history_.shape == (n_iter + 1,)
    assert np.all(np.diff(ours.loglik_history_)[:3] != 0)  # moving: a real test of the iterates
    assert_close(ours.weights_, theirs.weights_)
    assert_close(ours.means_, theirs.means_)
    assert_close(ours.covariances_, theirs.covariances_)
    # sklearn's lower_bound_ is the log-likelihood before its last M-step; score() is after it.
    assert ours.loglik_history_[-1] == pytest.approx(theirs.score(X) * n, rel=1e-8)
    assert ours.loglik_history_[-2] == pytest.approx(theirs.lower_bound_ * n, rel=1e-8)


def penalised_reference_em(X, weights, means, covariances, reg_covar, n_iter):
    """EM, written out for full covariances, on the objective that reg_covar's M-step maximises.

    E-step: r[n, k] proportional to w_k N(x_n | mu_k, S_k) exp(-reg_covar tr(inv(S_k)) / 2);
    M-step: weighted means and covariances, plus reg_covar on the diagonal.
    Returns the parameters and the objective at every iterate.
    """
    objectives = []
    for iteration in range(n_iter + 1):
        log_joint = np.column_stack([
            np.log(w) + stats.multivariate_normal(m, c).logpdf(X) - 0.5 * reg_covar * np.trace(np.linalg.inv(c))
            for w, m, c in zip(weights, means, covariances, strict=True)
        ])
        top = log_joint.max(axis=1, keepdims=True)
        evidence = top[:, 0] + np.log(np.exp(log_joint - top).sum(axis=1))
        objectives.append(evidence.sum())
        if iteration == n_iter:
            break
        r = np.exp(log_joint - evidence[:, None])
        totals = r.sum(axis=0)
        weights = totals / totals.sum()
        means = (r.T @ X) / totals[:, None]
        covariances = np.array([
            ((X - m) * r[:, [k]]).T @ (X - m) / totals[k] + reg_covar * np.eye(X.shape[1])
            for k, m in enumerate(means)
        ])
    return weights, means, covariances, np.array(objectives)


# One component ends up held mostly by reg_covar, which is what this test runs EM with.
@pytest.mark.filterwarnings("ignore:component\\(s\\) \\[2\\] collapsed:emlib.exceptions.DegenerateComponentWarning")
def test_reg_covar_climbs_its_penalised_objective():
    """With a large reg_covar, emlib runs EM on the penalised objective: iterates equal an
    independent reference, and the objective never decreases."""
    X = overlapping_clusters(3, 200, 3, 3)
    weights, means, covariances, _ = starting_values(X, "full", 3)
    ours = GaussianMixture(3, weights_init=weights, means_init=means, covariances_init=covariances,
                           reg_covar=0.3, max_iter=10, tol=0).fit(X)
    ref_weights, ref_means, ref_covariances, objectives = penalised_reference_em(
        X, weights, means, covariances, 0.3, 10)
    assert_close(ours.weights_, ref_weights, rtol=1e-10)
    assert_close(ours.means_, ref_means, rtol=1e-10)
    assert_close(ours.covariances_, ref_covariances, rtol=1e-10)
    np.testing.assert_allclose(ours.loglik_history_, objectives, rtol=1e-10)
    assert np.all(np.diff(ours.loglik_history_) >= 0)
    # The plain log-likelihood (score) lies above the penalised objective.
    assert ours.score(X) * len(X) > ours.loglik_history_[-1]


def sklearn_at(ours):
    """A scikit-learn GaussianMixture holding the parameters of a fitted emlib one."""
    theirs = sklearn_mixture.GaussianMixture(ours.n_components, covariance_type=ours.covariance_type)
    theirs.weights_, theirs.means_, theirs.covariances_ = ours.weights_, ours.means_, ours.covariances_
    theirs.precisions_cholesky_ = ours.precisions_cholesky_  # in scikit-learn's shapes
    theirs.n_features_in_ = ours.n_features_in_
    theirs.converged_ = True
    return theirs


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_inference_matches_sklearn_at_the_same_parameters(covariance_type):
    X = overlapping_clusters(4, 300, 3, 3)
    new = overlapping_clusters(5, 50, 3, 3) * 1.5  # other data, some of it far out
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0, max_iter=500).fit(X)
    theirs = sklearn_at(ours)
    for data in (X, new):
        assert_close(ours.score_samples(data), theirs.score_samples(data), rtol=1e-10)
        assert ours.score(data) == pytest.approx(theirs.score(data), rel=1e-10)
        assert_close(ours.predict_proba(data), theirs.predict_proba(data), rtol=1e-9)
        np.testing.assert_array_equal(ours.predict(data), theirs.predict(data))
        assert ours.bic(data) == pytest.approx(theirs.bic(data), rel=1e-10)
        assert ours.aic(data) == pytest.approx(theirs.aic(data), rel=1e-10)
    assert ours.n_parameters() == theirs._n_parameters()


def test_fit_predict_equals_fit_then_predict():
    X = overlapping_clusters(6, 300, 2, 3)
    labels = GaussianMixture(3, random_state=1).fit_predict(X)
    np.testing.assert_array_equal(labels, GaussianMixture(3, random_state=1).fit(X).predict(X))
    assert labels.shape == (300,) and set(labels) <= {0, 1, 2}


def test_predict_proba_is_c_contiguous_and_predict_is_its_argmax():
    X = overlapping_clusters(7, 200, 2, 2)
    gm = GaussianMixture(2, random_state=0, max_iter=1000).fit(X)
    proba = gm.predict_proba(X)
    assert proba.flags.c_contiguous and proba.shape == (200, 2)
    np.testing.assert_array_equal(gm.predict(X), proba.argmax(axis=1))


def test_sample_follows_the_fitted_mixture():
    gm = GaussianMixture(2, weights_init=[0.3, 0.7], means_init=[[-5.0, 0.0], [5.0, 1.0]],
                         covariances_init=[[[1.0, 0.5], [0.5, 2.0]], [[0.5, 0.0], [0.0, 0.5]]],
                         max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(np.zeros((5, 2)) + np.arange(5)[:, None])  # max_iter=0: keeps the starting values
    X, labels = gm.sample(20000, random_state=0)
    assert X.shape == (20000, 2) and labels.shape == (20000,)
    assert np.mean(labels == 1) == pytest.approx(0.7, abs=0.015)
    for k in (0, 1):
        assert_close(X[labels == k].mean(axis=0), gm.means_[k], rtol=0.01)
        assert_close(np.cov(X[labels == k], rowvar=False), gm.covariances_[k], rtol=0.05)
    again, _ = gm.sample(20000, random_state=0)
    np.testing.assert_array_equal(X, again)
    with pytest.raises(ValueError, match="n_samples"):
        gm.sample(0)


def test_bic_and_aic_by_hand():
    X = overlapping_clusters(8, 200, 2, 2)
    gm = GaussianMixture(2, random_state=0, max_iter=1000).fit(X)
    loglik = gm.score(X) * 200
    p = 1 + 2 * 2 + 2 * 3  # weights, means, full covariances
    assert gm.n_parameters() == p
    assert gm.bic(X) == pytest.approx(-2 * loglik + p * np.log(200))
    assert gm.aic(X) == pytest.approx(-2 * loglik + 2 * p)


def test_one_dimensional_data_and_lists():
    rng = np.random.default_rng(0)
    X = np.concatenate([rng.normal(-3, 1, 200), rng.normal(3, 1, 200)])
    gm = GaussianMixture(2, random_state=0).fit(X.tolist())
    assert gm.means_.shape == (2, 1) and gm.covariances_.shape == (2, 1, 1)
    np.testing.assert_allclose(np.sort(gm.means_.ravel()), [-3, 3], atol=0.3)
    assert gm.predict([-3.0, 3.0]).tolist() == np.argsort(gm.means_.ravel()).tolist()


def test_docstring_example():
    result = doctest.testmod(emlib.mixture._gaussian, optionflags=doctest.NORMALIZE_WHITESPACE)
    assert result.attempted > 0 and result.failed == 0


# -- restarts, convergence and warnings -----------------------------------------------------------
def test_restarts_keep_the_best_and_its_parameters():
    X = overlapping_clusters(9, 300, 2, 4)
    gm = GaussianMixture(4, n_init=4, reg_covar=0.0, random_state=0, max_iter=300).fit(X)
    assert gm.restart_logliks_.shape == (4,)
    assert gm.loglik_history_[-1] == gm.restart_logliks_.max()
    # The kept parameters are the best restart's: scoring with them gives its log-likelihood.
    assert gm.score(X) * 300 == pytest.approx(gm.restart_logliks_.max(), rel=1e-12)


def test_convergence_warning_and_tol_semantics():
    X = overlapping_clusters(10, 300, 2, 3)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        gm = GaussianMixture(3, max_iter=2, random_state=0).fit(X)
    assert not gm.converged_ and gm.n_iter_ == 2
    tol = 1e-4
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        gm = GaussianMixture(3, tol=tol, max_iter=1000, random_state=0).fit(X)
    history = gm.loglik_history_
    assert gm.converged_ and gm.n_iter_ == len(history) - 1
    # Change per sample: the last step is within tol, the one before not.
    assert abs(history[-1] - history[-2]) <= tol * len(X)
    assert abs(history[-2] - history[-3]) > tol * len(X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_the_same_data_in_other_units_give_the_same_fit(covariance_type):
    X = overlapping_clusters(12, 400, 3, 3)
    fits = []
    for scale in (1.0, 1e3, 1e-3):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            fits.append(GaussianMixture(3, covariance_type=covariance_type, reg_covar=0.0, max_iter=500,
                                        random_state=0).fit(X * scale))
    assert len({gm.n_iter_ for gm in fits}) == 1
    for gm, scale in zip(fits[1:], (1e3, 1e-3), strict=True):
        np.testing.assert_allclose(gm.means_ / scale, fits[0].means_, rtol=1e-9, atol=1e-9)
        np.testing.assert_allclose(gm.covariances_ / scale**2, fits[0].covariances_, rtol=1e-9, atol=1e-12)


def test_verbose_prints_every_iteration(capsys):
    X = overlapping_clusters(11, 100, 2, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(2, max_iter=3, tol=0, verbose=True, random_state=0).fit(X)
    assert len(capsys.readouterr().out.strip().splitlines()) == 4


def test_evidence_lower_bound_splits_the_loglik():
    X = overlapping_clusters(12, 100, 2, 2)
    gm = GaussianMixture(2, random_state=0).fit(X)
    bound, kl = gm.evidence_lower_bound(X, np.full((100, 2), 0.5))
    assert bound + kl == pytest.approx(gm.score(X) * 100)
    assert kl > 0
    bound, kl = gm.evidence_lower_bound(X, gm.predict_proba(X))
    assert kl == pytest.approx(0, abs=1e-9)


@pytest.mark.parametrize("init", ["kmeans++", "random"])
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_finds_well_separated_clusters(init, covariance_type):
    rng = np.random.default_rng(13)
    truth = np.array([[0.0, 0.0], [10.0, 0.0], [0.0, 10.0]])
    X = np.concatenate([rng.normal(size=(200, 2)) + m for m in truth])
    gm = GaussianMixture(3, covariance_type=covariance_type, init=init, n_init=3, random_state=0).fit(X)
    found = gm.means_[np.argsort(gm.means_ @ [1.0, 3.0])]
    assert_close(found, truth[np.argsort(truth @ [1.0, 3.0])], rtol=0.02)
    np.testing.assert_allclose(gm.weights_, 1 / 3, atol=0.01)


def test_partial_user_starting_values():
    X = overlapping_clusters(14, 200, 2, 2)
    means = np.array([[-1.0, 0.0], [1.0, 0.0]])
    gm = GaussianMixture(2, means_init=means, max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    np.testing.assert_array_equal(gm.means_, means)  # kept; covariances about them from the groups
    nearest = np.argmin(((X[:, None, :] - means) ** 2).sum(axis=2), axis=1)
    group = X[nearest == 0] - means[0]
    assert_close(gm.covariances_[0], group.T @ group / len(group) + 1e-6 * np.eye(2), rtol=1e-10)
    gm = GaussianMixture(2, covariances_init=[[1.0, 2.0], [3.0, 4.0]], covariance_type="diag", max_iter=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm.fit(X)
    np.testing.assert_array_equal(gm.covariances_, [[1.0, 2.0], [3.0, 4.0]])


# -- properties (hypothesis) ------------------------------------------------------------------------
@st.composite
def problems(draw, min_samples_per_component=4):
    """Small random data with starting values for every covariance type."""
    n_components = draw(st.integers(1, 3))
    n_features = draw(st.integers(1, 3))
    n_samples = draw(st.integers(min_samples_per_component * n_components * (n_features + 1), 60))
    seed = draw(st.integers(0, 2**32 - 1))
    scale = draw(st.sampled_from([1e-2, 1.0, 1e3]))
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    X = overlapping_clusters(seed, n_samples, n_features, n_components) * scale
    weights, means, covariances, _ = starting_values(X, covariance_type, n_components, seed=seed % 1000)
    init = {"weights_init": weights, "means_init": means, "covariances_init": covariances}
    return X, covariance_type, n_components, init, seed


PROPERTY_SETTINGS = settings(max_examples=30, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


def assert_same_history(actual, desired, rtol=1e-9):
    # With tol=0, emlib.em.fit stops early only at an exact fixed point (a change of exactly 0), which
    # round-off may reach in one run an iteration before the other: compare the common part.
    n = min(len(actual), len(desired))
    assert_close(actual[:n], desired[:n], rtol=rtol)
    assert actual[-1] == pytest.approx(desired[-1], rel=rtol)


def fit_quietly(X, covariance_type, n_components, init, sample_weight=None, **kwargs):
    kwargs = {"max_iter": 15, "tol": 0, **kwargs}
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(n_components, covariance_type=covariance_type, **init, **kwargs).fit(
            X, sample_weight=sample_weight)


@PROPERTY_SETTINGS
@given(problems(), st.integers(0, 2**32 - 1))
def test_responsibilities_are_probabilities(problem, seed):
    X, covariance_type, K, init, _ = problem
    gm = fit_quietly(X, covariance_type, K, init, random_state=seed)
    new = np.concatenate([X, X[:5] * 100.0, X[:5] + 1e3 * X.std()])  # some far outside the data
    proba = gm.predict_proba(new)
    assert proba.shape == (len(new), K)
    assert np.all(np.isfinite(proba)) and np.all(proba >= 0) and np.all(proba <= 1)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0, rtol=0, atol=1e-12)
    assert np.all(np.isfinite(gm.score_samples(new)))


@PROPERTY_SETTINGS
@given(problems())
def test_loglik_never_decreases(problem):
    X, covariance_type, K, init, _ = problem
    # Exact EM (no regularisation) climbs; a jitter for a singular covariance would void that.
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(K, covariance_type=covariance_type, **init, reg_covar=0.0, max_iter=30,
                             tol=0).fit(X)
    assume(not any(issubclass(w.category, DegenerateComponentWarning) for w in caught))
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)
    history = gm.loglik_history_
    assert np.all(np.diff(history) >= -1e-10 * np.maximum(1.0, np.abs(history[1:])))


@PROPERTY_SETTINGS
@given(problems(), st.randoms(use_true_random=False))
def test_permuting_rows_changes_nothing(problem, random):
    X, covariance_type, K, init, _ = problem
    order = list(range(len(X)))
    random.shuffle(order)
    gm = fit_quietly(X, covariance_type, K, init)
    permuted = fit_quietly(X[order], covariance_type, K, init)
    assert_close(permuted.weights_, gm.weights_, rtol=1e-9)
    assert_close(permuted.means_, gm.means_, rtol=1e-9)
    assert_close(permuted.covariances_, gm.covariances_, rtol=1e-9)
    assert_same_history(permuted.loglik_history_, gm.loglik_history_)
    np.testing.assert_array_equal(permuted.predict(X), gm.predict(X))


@PROPERTY_SETTINGS
@given(problems(), st.data())
def test_sample_weight_is_a_repeat_count(problem, data):
    X, covariance_type, K, init, _ = problem
    counts = np.array(data.draw(st.lists(st.integers(0, 3), min_size=len(X), max_size=len(X))))
    assume(np.count_nonzero(counts) >= K * (X.shape[1] + 1))
    weighted = fit_quietly(X, covariance_type, K, init, sample_weight=counts)
    repeated = fit_quietly(np.repeat(X, counts, axis=0), covariance_type, K, init)
    assert_close(weighted.weights_, repeated.weights_, rtol=1e-9)
    assert_close(weighted.means_, repeated.means_, rtol=1e-9)
    assert_close(weighted.covariances_, repeated.covariances_, rtol=1e-9)
    assert_same_history(weighted.loglik_history_, repeated.loglik_history_)


@PROPERTY_SETTINGS
@given(problems(), st.integers(2, 1000))
def test_scaling_all_weights_changes_only_the_loglik_scale(problem, factor):
    X, covariance_type, K, init, seed = problem
    weights = np.random.default_rng(seed).integers(1, 4, size=len(X)).astype(float)
    one = fit_quietly(X, covariance_type, K, init, sample_weight=weights)
    scaled = fit_quietly(X, covariance_type, K, init, sample_weight=factor * weights)
    assert_close(scaled.weights_, one.weights_, rtol=1e-9)
    assert_close(scaled.means_, one.means_, rtol=1e-9)
    assert_close(scaled.covariances_, one.covariances_, rtol=1e-9)
    assert_same_history(scaled.loglik_history_, factor * one.loglik_history_)


def test_zero_weight_rows_are_ignored():
    X = overlapping_clusters(15, 100, 2, 2)
    weights = np.ones(100)
    weights[::3] = 0
    init = dict(zip(("weights_init", "means_init", "covariances_init"),
                    starting_values(X, "full", 2)[:3]))
    dropped = fit_quietly(X[weights > 0], "full", 2, init)
    zeroed = fit_quietly(X, "full", 2, init, sample_weight=weights)
    assert_close(zeroed.means_, dropped.means_, rtol=1e-12)
    assert_close(zeroed.covariances_, dropped.covariances_, rtol=1e-12)


# -- bad input -------------------------------------------------------------------------------------
GOOD_X = np.random.default_rng(0).normal(size=(20, 2))


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((4, 3, 2)), "X must be 1-D .* or 2-D"),
        ([["a", "b"], ["c", "d"]], "X must contain numbers"),
        ([[1.0, 2.0], [3.0]], "X must be a rectangular array"),
        (np.empty((0, 2)), "X is empty"),
        ([], "X is empty"),
        ([[1.0, np.nan], [2.0, 3.0], [4.0, 5.0]], "X contains NaN"),
        ([[1.0, np.inf], [2.0, 3.0], [4.0, 5.0]], "X contains infinite"),
        (np.array([[1 + 2j, 3.0], [1.0, 2.0]]), "X must contain real numbers"),
    ],
)
def test_bad_data(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GaussianMixture(1).fit(X)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"n_components": 0}, "n_components must be an integer >= 1"),
        ({"n_components": 2.5}, "n_components must be an integer"),
        ({"n_components": "2"}, "n_components must be an integer"),
        ({"n_components": True}, "n_components must be an integer"),
        ({"n_components": 21}, "fewer than n_components=21"),
        ({"covariance_type": "banded"}, "covariance_type must be one of"),
        ({"init": "kmeans"}, "init must be one of"),
        ({"n_init": 0}, "n_init must be"),
        ({"max_iter": -1}, "max_iter must be"),
        ({"tol": -1e-3}, "tol must be a non-negative"),
        ({"reg_covar": -1.0}, "reg_covar must be a non-negative"),
        ({"n_components": 2, "weights_init": [0.5, 0.4]}, "weights_init must sum to one"),
        ({"n_components": 2, "weights_init": [1.5, -0.5]}, "weights_init has negative entries"),
        ({"n_components": 2, "weights_init": [1.0, 0.0]}, "weights_init must be positive"),
        ({"n_components": 2, "weights_init": [1.0]}, "weights_init must have length 2"),
        ({"n_components": 2, "means_init": np.zeros((2, 3))}, r"means_init must have shape \(2, 2\)"),
        ({"n_components": 2, "means_init": [[0, np.nan], [1, 1]]}, "means_init contains NaN"),
        ({"n_components": 2, "covariances_init": np.ones((2, 2))}, r"covariances_init .* shape \(2, 2, 2\)"),
        ({"n_components": 2, "covariance_type": "diag", "covariances_init": np.ones(2)},
         r"covariances_init .* shape \(2, 2\)"),
        ({"n_components": 2, "covariances_init": [np.eye(2), [[1.0, 0.5], [0.4, 1.0]]]},
         r"covariances_init\[1\] is not symmetric"),
        ({"n_components": 2, "covariances_init": [np.eye(2), [[1.0, 2.0], [2.0, 1.0]]]},
         r"covariances_init\[1\] is not positive definite"),
        ({"n_components": 2, "covariance_type": "tied", "covariances_init": np.zeros((2, 2))},
         "covariances_init is not positive definite"),
        ({"n_components": 2, "covariance_type": "diag", "covariances_init": [[1.0, 0.0], [1.0, 1.0]]},
         "covariances_init must be positive"),
        ({"n_components": 2, "covariance_type": "spherical", "covariances_init": [1.0, -1.0]},
         "covariances_init must be positive"),
    ],
)
def test_bad_parameters(kwargs, match):
    with pytest.raises(ValueError, match=match):
        GaussianMixture(**kwargs).fit(GOOD_X)


def test_init_must_be_a_name():
    with pytest.raises(TypeError, match="init must be one of .* give starting values through weights_init"):
        GaussianMixture(2, init=np.zeros((2, 2))).fit(GOOD_X)


@pytest.mark.parametrize(
    ("sample_weight", "match"),
    [
        (-np.ones(20), "sample_weight must be non-negative"),
        (np.r_[np.ones(19), -1.0], "sample_weight must be non-negative"),
        (np.zeros(20), "sample_weight is zero everywhere"),
        (np.ones(19), r"sample_weight must have shape \(20,\)"),
        (np.ones((20, 1)), r"sample_weight must have shape \(20,\)"),
        (np.r_[np.ones(19), np.nan], "sample_weight contains NaN"),
        (["a"] * 20, "sample_weight must contain numbers"),
        (np.r_[np.ones(1), np.zeros(19)], r"1 sample\(s\) .* fewer than n_components=2"),
    ],
)
def test_bad_sample_weight(sample_weight, match):
    with pytest.raises((ValueError, TypeError), match=match):
        GaussianMixture(2).fit(GOOD_X, sample_weight=sample_weight)


@pytest.mark.parametrize(("sample_weight", "largest"), [
    (np.r_[np.full(2, 1e308), np.ones(18)], "1e.308"), (np.r_[1e101, np.ones(19)], "1e.101"),
    (np.full(20, 1e-320), "9.99989e-321"),
])
def test_sample_weights_of_extreme_scale_are_named(sample_weight, largest):
    # Sums of such weights overflowed (a FloatingPointError under np.errstate(over="raise")), or
    # their reciprocal did ("statistics can only be scaled by a finite number").
    match = f"sample_weight has a largest weight of {largest}; only the ratios of the weights matter"
    with np.errstate(over="raise"), pytest.raises(ValueError, match=match):
        GaussianMixture(2).fit(GOOD_X, sample_weight=sample_weight)
    with np.errstate(over="raise"), pytest.raises(ValueError, match=match):
        GaussianMixture(2, random_state=0).fit(GOOD_X).partial_fit(GOOD_X, sample_weight=sample_weight)


def test_use_before_fit_is_a_clear_error():
    gm = GaussianMixture(2)
    for use in (lambda: gm.predict(GOOD_X), lambda: gm.predict_proba(GOOD_X), lambda: gm.score(GOOD_X),
                lambda: gm.score_samples(GOOD_X), lambda: gm.bic(GOOD_X), lambda: gm.aic(GOOD_X),
                lambda: gm.sample(3), lambda: gm.means_, lambda: gm.covariances_, gm.n_parameters):
        with pytest.raises(NotFittedError, match="not fitted yet; call fit"):
            use()
    assert issubclass(NotFittedError, ValueError) and issubclass(NotFittedError, AttributeError)
    assert not hasattr(gm, "means_")


def test_predict_checks_the_data():
    gm = GaussianMixture(2, random_state=0).fit(GOOD_X)
    with pytest.raises(ValueError, match="X has 3 features, but GaussianMixture is expecting 2 features"):
        gm.predict(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="X contains NaN"):
        gm.score_samples([[0.0, np.nan]])


# -- degenerate data -------------------------------------------------------------------------------
def gaussian_logpdf(X, mean, cov):
    """log N(x | mean, cov) by a determinant and a linear solve (independent of emlib's Cholesky)."""
    diff = X - mean
    _, log_det = np.linalg.slogdet(cov)
    mahalanobis = np.sum(diff * np.linalg.solve(cov, diff.T).T, axis=1)
    return -0.5 * (X.shape[1] * np.log(2 * np.pi) + log_det + mahalanobis)


def assert_sound(gm, X):
    """Finite everything, and covariances positive definite."""
    for value in (gm.weights_, gm.means_, gm.covariances_, gm.loglik_history_, gm.predict_proba(X)):
        assert np.all(np.isfinite(value))
    full = gm.components_.full_covariances()
    assert np.all(np.linalg.eigvalsh(full) > 0)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_duplicate_rows_warn_and_stay_positive_definite(covariance_type):
    rng = np.random.default_rng(16)
    X = np.concatenate([np.repeat([[1.0, 2.0]], 30, axis=0), rng.normal(size=(30, 2)) + 8])
    if covariance_type == "tied":  # one covariance pooled over all the data: nothing collapses
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
        assert_sound(gm, X)
        return
    with pytest.warns(DegenerateComponentWarning, match="reg_covar"):
        gm = GaussianMixture(2, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sound(gm, X)
    if covariance_type != "tied":  # the component on the duplicates has covariance reg_covar I
        on_point = np.argmin(np.abs(gm.means_[:, 0] - 1.0))
        np.testing.assert_allclose(gm.components_.full_covariances()[on_point], 1e-6 * np.eye(2), rtol=1e-6)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_all_rows_identical(covariance_type, init):
    X = np.full((10, 3), 4.2)
    with pytest.warns(DegenerateComponentWarning):
        gm = GaussianMixture(2, covariance_type=covariance_type, init=init, random_state=0).fit(X)
    assert_sound(gm, X)
    np.testing.assert_allclose(gm.means_, 4.2)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_one_component_per_sample(covariance_type):
    X = np.random.default_rng(17).normal(size=(6, 2))
    with pytest.warns(DegenerateComponentWarning):
        gm = GaussianMixture(6, covariance_type=covariance_type, random_state=0).fit(X)
    assert_sound(gm, X)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
# diag and spherical: the jittered M-step is not an exact maximiser, and a warning says so.
@pytest.mark.filterwarnings("ignore:the objective decreased:emlib.exceptions.DegenerateComponentWarning")
def test_singular_without_reg_covar_is_jittered_consistently(covariance_type):
    # Two points per component in 2-D with reg_covar=0: every covariance is singular.
    X = np.array([[0.0, 0.0], [1.0, 1.0], [10.0, 10.0], [11.0, 11.0]])
    if covariance_type in ("diag", "spherical"):
        X = np.array([[0.0, 0.0], [0.0, 0.0], [10.0, 10.0], [10.0, 10.0]])
    with pytest.warns(DegenerateComponentWarning, match="singular|zero variance"):
        gm = GaussianMixture(2, covariance_type=covariance_type, reg_covar=0.0, random_state=0,
                             means_init=[[0.5, 0.5], [10.5, 10.5]]).fit(X)
    assert_sound(gm, X)
    # The stored covariances are the ones the densities use: compare with a direct evaluation.
    full = gm.components_.full_covariances()
    expected = np.stack([gaussian_logpdf(X, m, c) for m, c in zip(gm.means_, full)], axis=1)
    assert_close(gm.components_.log_prob(X), expected, rtol=1e-6)
    if covariance_type in ("full", "tied"):
        factors = gm.components_._cholesky
        np.testing.assert_allclose(factors @ np.swapaxes(factors, -1, -2), gm.covariances_, rtol=1e-12)


def test_a_collapse_far_from_the_others_never_lowers_the_objective():
    # Six spread-out points, three components: one sits on a single point, held by reg_covar, far
    # from the others. Scoring it must not lose the log-likelihood's last digits to cancellation.
    X = [-258.0, 1878.0, -582.0, -161.0, 288.0, 554.0]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(3, covariance_type="diag", random_state=157, max_iter=50, tol=0).fit(X)
    assert np.min(gm.covariances_) < 2e-6  # the situation this test is about
    assert np.all(np.diff(gm.loglik_history_) >= -1e-12 * np.abs(gm.loglik_history_[1:]))
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught), [str(w.message) for w in caught]


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_a_collapse_onto_a_tilted_line_is_reported(covariance_type):
    # Twenty points on a line that no feature axis points along, and two round clouds: the
    # component started on the line collapses onto it; only reg_covar holds its thin direction.
    rng = np.random.default_rng(4)
    line = np.outer(rng.uniform(-1, 1, 20), [1.0, 1.0]) + [6.0, 0.0]
    clouds = np.concatenate([rng.normal([-6, 0], 1.0, (60, 2)), rng.normal([0, 6], 1.0, (60, 2))])
    X = np.concatenate([line, clouds])
    means = [[6.0, 0.0], [-6.0, 0.0], [0.0, 6.0]]
    if covariance_type == "full":
        with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[0\] collapsed"):
            gm = GaussianMixture(3, covariance_type=covariance_type, means_init=means, random_state=0).fit(X)
        assert np.linalg.eigvalsh(gm.covariances_)[0, 0] < 2e-6
    else:  # no other type can be thin along a tilted direction: nothing collapses
        with warnings.catch_warnings():
            warnings.simplefilter("error", DegenerateComponentWarning)
            GaussianMixture(3, covariance_type=covariance_type, means_init=means, random_state=0).fit(X)


def test_a_collapse_that_em_leaves_again_is_not_reported():
    # On this split of the irises the kept run passes through a component thinner than the
    # rounding floor and leaves it again; only the final fit counts.
    from sklearn.datasets import load_iris

    X = load_iris().data
    train = X[np.random.default_rng(3).permutation(len(X))[:100]]
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(4, reg_covar=0.1**2 / 12, n_init=3, max_iter=500, random_state=0).fit(train)
    assert gm.components_.collapsed_components().size == 0
    assert not [w for w in caught if "collapsed" in str(w.message)]


def test_a_decrease_after_a_jitter_is_explained_as_degenerate():
    # reg_covar=0 and a component on one repeated point: its covariance is singular, the M-step
    # jitters it, and any resulting fall of the objective is put down to that, not to a bug.
    from emlib.exceptions import LikelihoodDecreaseWarning

    gm = GaussianMixture(2, reg_covar=0.0)
    decrease = LikelihoodDecreaseWarning("log-likelihood decreased", 3, -10.0, -10.5)
    with pytest.warns(DegenerateComponentWarning, match="iteration 3.*Not a bug"):
        gm._explain_decreases([decrease], degenerate=True)
    with pytest.warns(LikelihoodDecreaseWarning, match="bug in emlib"):
        gm._explain_decreases([decrease], degenerate=False)


def test_discarded_restarts_do_not_warn():
    from sklearn.datasets import load_iris

    X = load_iris().data
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(3, init="random", n_init=4, random_state=0).fit(X)
    kept = [w for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    # Whatever was reported must be true of the kept fit.
    if kept:
        assert np.linalg.eigvalsh(gm.covariances_)[:, 0].min() < 2e-6
    else:
        assert np.linalg.eigvalsh(gm.covariances_)[:, 0].min() > 2e-6


def test_each_warning_once_per_fit():
    X = np.full((10, 2), 1.0)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GaussianMixture(2, random_state=0, max_iter=20, tol=0).fit(X)
    messages = [str(w.message) for w in caught]
    assert len(messages) == len(set(messages)) > 0


def test_fit_checks_the_starting_values_once(count_calls):
    """Each mixture checks its *_init values against the data once per fit (in memory and on a
    sample of a dask array alike), however many runs start from them: _check_initial_values built the
    start to check it, and fit built it again; each run's Gaussian checked covariances_init again."""
    from emlib.distributions import Gaussian
    from emlib.mixture import _discrete, _gaussian

    X = np.random.default_rng(0).normal(size=(120, 2))
    count_calls(_gaussian, "check_means_init", "means")
    count_calls(Gaussian, "check_covariances", "covariances")
    count_calls(_discrete, "_check_probabilities_init", "probabilities")
    count_calls(_discrete, "_check_rates_init", "rates")
    covariances = np.array([np.eye(2), 2 * np.eye(2)])
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(2, means_init=[[0, 0], [1, 1]], covariances_init=covariances, n_init=3, max_iter=0,
                             random_state=0).fit(X, sample_weight=np.r_[0.0, np.ones(119)])
        BernoulliMixture(2, probabilities_init=[[0.2, 0.7], [0.6, 0.4]], n_init=3, max_iter=0,
                         random_state=0).fit(X > 0)
        PoissonMixture(2, rates_init=[[1, 2], [3, 4]], n_init=3, max_iter=0, random_state=0).fit(np.abs(X).round())
    assert count_calls.calls == {"means": 1, "covariances": 1, "probabilities": 1, "rates": 1}
    np.testing.assert_array_equal(gm.covariances_, covariances)
