"""GaussianMixture(missing="em") and emlib.mixture.missing: EM with missing entries (NaN) in the data.

The references are independent: a row-by-row EM written from the textbook formulas (marginal density
of the observed entries; conditional mean and covariance of the missing ones by linear solves),
scipy.stats.multivariate_normal on the observed coordinates, the closed-form conditional mean, and
the complete-data truth that the estimates must approach as N grows.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

import emlib.mixture.missing
from emlib import GaussianMixture
from emlib.distributions import COVARIANCE_TYPES, Gaussian, WeightedMoments
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    NotFittedError,
)
from emlib.mixture.missing import (
    MissingPatterns,
    expected_statistics,
    observed_log_prob,
)

stats = pytest.importorskip("scipy.stats")
special = pytest.importorskip("scipy.special")

PROPERTY_SETTINGS = settings(max_examples=25, deadline=None,
                             suppress_health_check=[HealthCheck.too_slow])


# -- data and references ---------------------------------------------------------------------------
def mixture_data(seed, n, D, K, offset=0.0, separation=3.0):
    """Correlated Gaussian clusters, shape (n, D), and the true labels."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(scale=separation, size=(K, D))
    labels = rng.integers(K, size=n)
    mixing = rng.normal(scale=0.5, size=(K, D, D)) + np.eye(D)
    z = rng.standard_normal((n, D))
    return offset + centres[labels] + np.einsum("nd,nde->ne", z, mixing[labels]), labels


def remove_at_random(X, rate, seed):
    """A copy of X with each entry NaN with probability ``rate``; every row keeps one entry."""
    rng = np.random.default_rng(seed)
    X = X.copy()
    gone = rng.random(X.shape) < rate
    empty = np.flatnonzero(gone.all(axis=1))
    gone[empty, rng.integers(X.shape[1], size=empty.size)] = False
    X[gone] = np.nan
    return X


def to_full(covariances, covariance_type, K, D):
    return Gaussian(np.zeros((K, D)), covariances, covariance_type).full_covariances()


def start_values(X, covariance_type, K, seed=0):
    """Weights, means and covariances (emlib's shape) from the observed entries."""
    rng = np.random.default_rng(seed)
    D = X.shape[1]
    weights = rng.dirichlet(np.full(K, 4.0))
    centre, spread = np.nanmean(X, axis=0), np.nanstd(X, axis=0)
    means = centre + spread * rng.normal(size=(K, D))
    scales = rng.uniform(0.5, 1.5, size=K)
    full = np.diag(spread**2)[None] * scales[:, None, None]
    covariances = {"full": full, "tied": full[0], "diag": np.diagonal(full, axis1=1, axis2=2),
                   "spherical": np.mean(spread**2) * scales}[covariance_type]
    return weights, means, covariances


def gaussian_log_density(x, mean, cov):
    """log N(x | mean, cov) by slogdet and a linear solve."""
    diff = x - mean
    _, log_det = np.linalg.slogdet(2 * np.pi * cov)
    return -0.5 * (log_det + diff @ np.linalg.solve(cov, diff))


def reference_e_step(X, weights, means, covs):
    """Row by row: log p(x_o, k), and E[x | x_o, k] and Cov[x | x_o, k] (zeros on observed coords)."""
    N, D = X.shape
    K = len(weights)
    log_joint = np.empty((N, K))
    filled = np.empty((N, K, D))
    conditional = np.zeros((N, K, D, D))
    for n in range(N):
        o = ~np.isnan(X[n])
        m = ~o
        for k in range(K):
            S = covs[k]
            log_joint[n, k] = np.log(weights[k]) + gaussian_log_density(X[n, o], means[k][o], S[np.ix_(o, o)])
            filled[n, k] = X[n]
            if m.any():
                B = np.linalg.solve(S[np.ix_(o, o)], S[np.ix_(o, m)]).T  # Sigma_mo Sigma_oo^-1
                filled[n, k, m] = means[k][m] + B @ (X[n, o] - means[k][o])
                conditional[n, k][np.ix_(m, m)] = S[np.ix_(m, m)] - B @ S[np.ix_(o, m)]
    return log_joint, filled, conditional


def reference_em(X, start, covariance_type, n_iter, sample_weight=None, reg_covar=0.0):
    """EM for a Gaussian mixture with missing entries, from the formulas, one row at a time.

    With ``reg_covar``, the E-step scores each component with the penalty
    ``-reg_covar tr(inv(Sigma_k)) / 2`` whose exact M-step the regularised covariance is.
    """
    N, D = X.shape
    weights, means, covariances = (np.array(a, dtype=float) for a in start)
    K = len(weights)
    covs = to_full(covariances, covariance_type, K, D)
    w = np.ones(N) if sample_weight is None else np.asarray(sample_weight, dtype=float)
    history = []
    for iteration in range(n_iter + 1):
        log_joint, filled, conditional = reference_e_step(X, weights, means, covs)
        log_joint = log_joint - 0.5 * reg_covar * np.trace(np.linalg.inv(covs), axis1=1, axis2=2)
        log_evidence = special.logsumexp(log_joint, axis=1)
        history.append(w @ log_evidence)
        if iteration == n_iter:
            break
        r = np.exp(log_joint - log_evidence[:, None]) * w[:, None]
        totals = r.sum(axis=0)
        weights = totals / totals.sum()
        means = np.einsum("nk,nkd->kd", r, filled) / totals[:, None]
        diff = filled - means
        scatter = (np.einsum("nk,nkd,nke->kde", r, diff, diff)
                   + np.einsum("nk,nkde->kde", r, conditional))
        if covariance_type == "full":
            covs = scatter / totals[:, None, None] + reg_covar * np.eye(D)
        elif covariance_type == "tied":
            covs = np.broadcast_to(scatter.sum(axis=0) / totals.sum() + reg_covar * np.eye(D), (K, D, D))
        else:
            variances = np.diagonal(scatter, axis1=1, axis2=2) / totals[:, None] + reg_covar
            if covariance_type == "spherical":
                variances = np.repeat(variances.mean(axis=1, keepdims=True), D, axis=1)
            covs = variances[:, :, None] * np.eye(D)
    return weights, means, covs, np.array(history)


def fit(X, covariance_type, K, start=None, sample_weight=None, **kwargs):
    kwargs = {"missing": "em", "max_iter": 8, "tol": 0, "reg_covar": 0.0, **kwargs}
    if start is not None:
        weights, means, covariances = start
        kwargs.update(weights_init=weights, means_init=means, covariances_init=covariances)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return GaussianMixture(K, covariance_type=covariance_type, **kwargs).fit(X, sample_weight=sample_weight)


def assert_close(actual, desired, rtol=1e-9):
    actual, desired = np.asarray(actual), np.asarray(desired)
    assert actual.shape == desired.shape
    scale = np.max(np.abs(desired))
    assert np.max(np.abs(actual - desired)) <= rtol * scale, (
        f"relative difference {np.max(np.abs(actual - desired)) / scale:.2e} > {rtol:g}")


# -- exact EM: the same iterates as the row-by-row reference ---------------------------------------
PROBLEMS = {
    "K=1,D=3": (0, 60, 3, 1, 0.0, 0.3),  # the classic EM for one multivariate normal
    "K=3,D=3": (1, 90, 3, 3, 0.0, 0.25),
    "K=2,D=4,offset": (2, 80, 4, 2, 100.0, 0.35),  # far from the origin: no digits lost
}


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("problem", list(PROBLEMS))
def test_same_iterates_as_row_by_row_reference(covariance_type, problem):
    seed, n, D, K, offset, rate = PROBLEMS[problem]
    X = remove_at_random(mixture_data(seed, n, D, K, offset)[0], rate, seed)
    start = start_values(X, covariance_type, K)
    gm = fit(X, covariance_type, K, start, max_iter=6)
    weights, means, covs, history = reference_em(X, start, covariance_type, n_iter=6)
    assert gm.n_iter_ == 6
    assert_close(gm.weights_, weights)
    assert_close(gm.means_, means)
    assert_close(gm.components_.full_covariances(), covs)
    assert_close(gm.loglik_history_, history)
    assert np.all(np.diff(history) > 0)  # still climbing: six real steps were compared


def test_sample_weight_matches_reference_and_reg_covar_is_added():
    X = remove_at_random(mixture_data(3, 50, 3, 2)[0], 0.3, 3)
    weights = np.random.default_rng(3).uniform(0.2, 3.0, size=50)
    start = start_values(X, "full", 2)
    gm = fit(X, "full", 2, start, sample_weight=weights, reg_covar=0.05, max_iter=4)
    _, means, covs, history = reference_em(X, start, "full", 4, sample_weight=weights, reg_covar=0.05)
    assert_close(gm.means_, means)
    assert_close(gm.covariances_, covs)
    assert_close(gm.loglik_history_, history)


# -- no missing values: nothing changes -------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_without_missing_values_it_is_the_ordinary_fit(covariance_type):
    X, _ = mixture_data(4, 200, 3, 3)
    ordinary = GaussianMixture(3, covariance_type=covariance_type, n_init=2, random_state=0).fit(X)
    with_option = GaussianMixture(3, covariance_type=covariance_type, n_init=2, random_state=0,
                                  missing="em").fit(X)
    np.testing.assert_array_equal(with_option.means_, ordinary.means_)
    np.testing.assert_array_equal(with_option.covariances_, ordinary.covariances_)
    np.testing.assert_array_equal(with_option.loglik_history_, ordinary.loglik_history_)
    np.testing.assert_array_equal(with_option.predict_proba(X), ordinary.predict_proba(X))


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_missing_data_step_on_complete_data_is_the_ordinary_step(covariance_type):
    """The pattern machinery itself, given complete data, reproduces log_prob and fit."""
    X, _ = mixture_data(5, 300, 4, 3, offset=20.0)
    weights, means, covariances = start_values(X, covariance_type, 3)
    g = Gaussian(means, covariances, covariance_type, reg_covar=1e-3)
    stack = g.covariances if covariance_type == "tied" else g.full_covariances()
    patterns = MissingPatterns(X)
    assert patterns.n_patterns == 1
    assert_close(observed_log_prob(patterns, means, stack), g.log_prob(X), rtol=1e-12)

    log_evidence, statistics = expected_statistics(patterns, weights, means, stack)
    log_joint = g.log_prob(X) + np.log(weights)
    assert_close(log_evidence, special.logsumexp(log_joint, axis=1), rtol=1e-12)
    resp = special.softmax(log_joint, axis=1)
    by_fit = Gaussian(means, covariances, covariance_type, reg_covar=1e-3).fit(X, resp)
    by_statistics = Gaussian(means, covariances, covariance_type, reg_covar=1e-3)
    by_statistics.fit_statistics(statistics)
    assert_close(by_statistics.means, by_fit.means, rtol=1e-11)
    assert_close(by_statistics.covariances, by_fit.covariances, rtol=1e-10)


# -- consistency: the estimates approach the truth ---------------------------------------------------
def test_converges_to_the_truth_as_n_grows_one_gaussian():
    rng = np.random.default_rng(6)
    mean = np.array([1.0, -2.0, 0.5])
    A = rng.normal(size=(3, 3))
    cov = A @ A.T / 3 + 0.5 * np.eye(3)
    sizes = (200, 5_000, 100_000)
    errors = []
    for n in sizes:
        X = remove_at_random(rng.multivariate_normal(mean, cov, size=n), 0.3, n)
        gm = GaussianMixture(missing="em", tol=1e-10, max_iter=1000).fit(X)
        errors.append(max(np.abs(gm.means_[0] - mean).max(), np.abs(gm.covariances_[0] - cov).max()))
    # The error shrinks like 1/sqrt(N), as for complete data (with a larger constant).
    assert errors[0] > errors[1] > errors[2]
    assert np.all(np.array(errors) * np.sqrt(sizes) < 10 * np.abs(cov).max())
    assert errors[2] < 0.02 * np.abs(cov).max()


def test_converges_to_the_truth_as_n_grows_mixture():
    true_means = np.array([[0.0, 0.0, 0.0], [5.0, 5.0, 0.0]])
    true_covs = np.array([[[1.0, 0.6, 0.0], [0.6, 1.0, 0.3], [0.0, 0.3, 1.0]],
                          [[2.0, -0.5, 0.4], [-0.5, 1.0, 0.0], [0.4, 0.0, 0.5]]])
    errors = []
    for n in (500, 20_000):
        rng = np.random.default_rng(n)
        labels = rng.random(n) < 0.4
        X = np.where(labels[:, None], rng.multivariate_normal(true_means[1], true_covs[1], size=n),
                     rng.multivariate_normal(true_means[0], true_covs[0], size=n))
        X = remove_at_random(X, 0.25, n)
        gm = GaussianMixture(2, missing="em", n_init=3, random_state=0, tol=1e-9, max_iter=500).fit(X)
        order = np.argsort(gm.means_[:, 0])
        errors.append(max(np.abs(gm.weights_[order] - [0.6, 0.4]).max(),
                          np.abs(gm.means_[order] - true_means).max(),
                          np.abs(gm.covariances_[order] - true_covs).max()))
    assert errors[1] < errors[0]
    assert errors[1] < 0.08


# -- EM's guarantee: the observed-data log-likelihood never decreases -------------------------------
@st.composite
def missing_problems(draw):
    covariance_type = draw(st.sampled_from(COVARIANCE_TYPES))
    K = draw(st.integers(1, 3))
    D = draw(st.integers(1, 4))
    n = draw(st.integers(8 * K * (D + 1), 150))
    seed = draw(st.integers(0, 2**32 - 1))
    rate = draw(st.sampled_from([0.05, 0.2, 0.4]))
    X, _ = mixture_data(seed, n, D, K, offset=draw(st.sampled_from([0.0, 50.0])), separation=1.5)
    return remove_at_random(X, rate, seed), covariance_type, K, seed


@PROPERTY_SETTINGS
@given(missing_problems())
def test_loglik_never_decreases(problem):
    X, covariance_type, K, seed = problem
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(K, covariance_type=covariance_type, missing="em", reg_covar=0.0,
                             max_iter=30, tol=0, random_state=seed).fit(X)
    assume(not any(issubclass(w.category, DegenerateComponentWarning) for w in caught))
    assert not any(issubclass(w.category, RuntimeWarning) for w in caught)
    history = gm.loglik_history_
    assert np.all(np.diff(history) >= -1e-10 * np.maximum(1.0, np.abs(history[1:])))


@PROPERTY_SETTINGS
@given(missing_problems(), st.randoms(use_true_random=False))
def test_permuting_rows_changes_nothing(problem, random):
    X, covariance_type, K, seed = problem
    order = list(range(len(X)))
    random.shuffle(order)
    start = start_values(X, covariance_type, K, seed=seed % 1000)
    gm = fit(X, covariance_type, K, start, reg_covar=1e-6)
    permuted = fit(X[order], covariance_type, K, start, reg_covar=1e-6)
    assert_close(permuted.means_, gm.means_, rtol=1e-8)
    assert_close(permuted.covariances_, gm.covariances_, rtol=1e-8)
    np.testing.assert_allclose(permuted.score_samples(X), gm.score_samples(X), rtol=1e-8, atol=1e-8)


# -- the observed-data likelihood and posteriors ------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_loglik_is_the_density_of_the_observed_entries(covariance_type):
    X = remove_at_random(mixture_data(7, 120, 3, 2)[0], 0.3, 7)
    sample_weight = np.random.default_rng(7).integers(1, 4, size=len(X))
    gm = fit(X, covariance_type, 2, random_state=0, max_iter=5, reg_covar=0.0,
             sample_weight=sample_weight)
    covs = gm.components_.full_covariances()
    log_joint = np.empty((len(X), 2))
    for n, row in enumerate(X):
        o = ~np.isnan(row)
        for k in range(2):
            marginal = stats.multivariate_normal(gm.means_[k][o], covs[k][np.ix_(o, o)])
            log_joint[n, k] = np.log(gm.weights_[k]) + marginal.logpdf(row[o])
    expected = special.logsumexp(log_joint, axis=1)
    np.testing.assert_allclose(gm.score_samples(X), expected, rtol=1e-10)
    assert gm.score(X) == pytest.approx(expected.mean(), rel=1e-10)
    assert gm.loglik_history_[-1] == pytest.approx(sample_weight @ expected, rel=1e-10)
    proba = gm.predict_proba(X)
    np.testing.assert_allclose(proba, special.softmax(log_joint, axis=1), rtol=1e-9, atol=1e-12)
    np.testing.assert_array_equal(gm.predict(X), np.argmax(log_joint, axis=1))
    assert gm.bic(X) == pytest.approx(-2 * expected.sum() + gm.n_parameters() * np.log(len(X)))
    bound, kl = gm.evidence_lower_bound(X, proba)
    assert bound == pytest.approx(expected.sum(), rel=1e-10) and kl == pytest.approx(0.0, abs=1e-8)


def test_rows_spread_over_many_blocks(monkeypatch):
    """Rows of one pattern split between blocks, many patterns in one block: same numbers."""
    X = remove_at_random(mixture_data(8, 700, 5, 2)[0], 0.3, 8)
    start = start_values(X, "full", 2)
    whole = fit(X, "full", 2, start, max_iter=3)
    monkeypatch.setattr(emlib.mixture.missing, "_BLOCK_SIZE", 1)  # blocks of 64 rows
    assert len(list(MissingPatterns(X).blocks())) == 11
    split = fit(X, "full", 2, start, max_iter=3)
    assert_close(split.means_, whole.means_, rtol=1e-12)
    assert_close(split.covariances_, whole.covariances_, rtol=1e-11)
    np.testing.assert_allclose(split.impute(X), whole.impute(X), rtol=1e-12)


# -- impute: conditional means ----------------------------------------------------------------------
def test_impute_one_gaussian_is_the_regression_formula():
    rng = np.random.default_rng(9)
    A = rng.normal(size=(4, 4))
    X = remove_at_random(rng.multivariate_normal([1, 2, 3, 4], A @ A.T + np.eye(4), size=400), 0.3, 9)
    gm = GaussianMixture(missing="em").fit(X)
    mu, S = gm.means_[0], gm.covariances_[0]
    filled = gm.impute(X)
    for row, result in zip(X, filled):
        o = ~np.isnan(row)
        m = ~o
        expected = row.copy()
        expected[m] = mu[m] + S[np.ix_(m, o)] @ np.linalg.solve(S[np.ix_(o, o)], row[o] - mu[o])
        np.testing.assert_allclose(result, expected, rtol=1e-10, atol=1e-12)
        np.testing.assert_array_equal(result[o], row[o])  # observed entries exactly as given
    assert not np.isnan(filled).any()


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_impute_mixture_weights_components_by_posterior(covariance_type):
    X = remove_at_random(mixture_data(10, 150, 3, 3)[0], 0.3, 10)
    gm = fit(X, covariance_type, 3, random_state=1, max_iter=10, reg_covar=1e-6)
    covs = gm.components_.full_covariances()
    log_joint, filled, _ = reference_e_step(X, gm.weights_, gm.means_, covs)
    posterior = special.softmax(log_joint, axis=1)
    expected = np.einsum("nk,nkd->nd", posterior, filled)
    np.testing.assert_allclose(gm.impute(X), expected, rtol=1e-9, atol=1e-10)


def test_impute_without_missing_entries_and_on_a_complete_data_model():
    X, _ = mixture_data(11, 100, 2, 2)
    gm = GaussianMixture(2, random_state=0).fit(X)  # missing="error": impute still works
    np.testing.assert_array_equal(gm.impute(X), X)
    filled = gm.impute([[np.nan, 0.5]])
    assert filled.shape == (1, 2) and filled[0, 1] == 0.5 and np.isfinite(filled[0, 0])
    with pytest.raises(ValueError, match="missing='em'"):
        gm.predict([[np.nan, 0.5]])


# -- sample weights, starting values ----------------------------------------------------------------
@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
def test_sample_weight_is_a_repeat_count(covariance_type):
    X = remove_at_random(mixture_data(12, 80, 3, 2)[0], 0.3, 12)
    counts = np.random.default_rng(12).integers(0, 4, size=len(X))
    start = start_values(X, covariance_type, 2)
    weighted = fit(X, covariance_type, 2, start, sample_weight=counts, reg_covar=1e-6)
    repeated = fit(np.repeat(X, counts, axis=0), covariance_type, 2, start, reg_covar=1e-6)
    assert_close(weighted.weights_, repeated.weights_)
    assert_close(weighted.means_, repeated.means_)
    assert_close(weighted.covariances_, repeated.covariances_)
    assert_close(weighted.loglik_history_, repeated.loglik_history_)


@pytest.mark.parametrize("covariance_type", COVARIANCE_TYPES)
@pytest.mark.parametrize("init", ["kmeans++", "random"])
def test_starting_values_from_data_with_missing_entries(covariance_type, init):
    X, labels = mixture_data(13, 300, 3, 3, separation=4.0)
    X = remove_at_random(X, 0.3, 13)
    gm = GaussianMixture(3, covariance_type=covariance_type, init=init, n_init=3, missing="em",
                         random_state=0, max_iter=300).fit(X)
    again = GaussianMixture(3, covariance_type=covariance_type, init=init, n_init=3, missing="em",
                            random_state=0, max_iter=300).fit(X)
    np.testing.assert_array_equal(gm.means_, again.means_)  # reproducible
    assert gm.converged_ and np.all(np.isfinite(gm.covariances_))
    # Well separated clusters are found despite 30% of entries missing.
    agreement = max(np.mean(gm.predict(X) == np.argsort(p)[labels]) for p in
                    np.array([[0, 1, 2], [0, 2, 1], [1, 0, 2], [1, 2, 0], [2, 0, 1], [2, 1, 0]]))
    assert agreement > 0.9


def test_means_init_with_missing_entries():
    X = remove_at_random(mixture_data(14, 200, 2, 2, separation=4.0)[0], 0.2, 14)
    gm = GaussianMixture(2, means_init=[[0.0, 0.0], [1.0, 1.0]], missing="em").fit(X)
    assert gm.converged_ and np.all(np.isfinite(gm.means_))


def test_degenerate_feature_warns_and_stays_finite():
    X = remove_at_random(mixture_data(15, 60, 3, 1)[0], 0.2, 15)
    X[:, 2] = np.nan
    X[0, 2] = 1.0  # one value only: its variance is 0 but for reg_covar
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        gm = GaussianMixture(missing="em", max_iter=50).fit(X)
    assert any("column(s) [2] of X take a single observed value" in str(w.message)
               and w.filename == __file__ for w in caught)
    assert np.all(np.isfinite(gm.covariances_)) and np.all(np.isfinite(gm.score_samples(X)))


def test_repr_mentions_the_option():
    assert repr(GaussianMixture(2, missing="em")) == "GaussianMixture(n_components=2, missing='em')"


# -- bad input --------------------------------------------------------------------------------------
X_BAD = remove_at_random(mixture_data(16, 30, 3, 1)[0], 0.2, 16)


def test_nan_is_refused_by_default_with_a_pointer_to_the_option():
    with pytest.raises(ValueError, match=r"X contains NaN.*missing='em'"):
        GaussianMixture().fit(X_BAD)


@pytest.mark.parametrize("missing", ["EM", None, "drop"])
def test_bad_missing_option(missing):
    with pytest.raises(ValueError, match="missing must be one of 'error', 'em'"):
        GaussianMixture(missing=missing).fit(X_BAD)


def test_row_without_observed_entries_is_named():
    X = X_BAD.copy()
    X[[4, 9]] = np.nan
    with pytest.raises(ValueError, match=r"row 4 of X \(and 1 other row\(s\)\) has no observed entry"):
        GaussianMixture(missing="em").fit(X)
    gm = GaussianMixture(missing="em").fit(X_BAD)
    for method in (gm.predict, gm.predict_proba, gm.score_samples, gm.score, gm.impute):
        with pytest.raises(ValueError, match="row 1 of X has no observed entry"):
            method([[0.0, 1.0, 2.0], [np.nan, np.nan, np.nan]])


def test_column_without_observed_entries_is_named():
    X = X_BAD.copy()
    X[:, 1] = np.nan
    with pytest.raises(ValueError, match="column 1 of X has no observed entry"):
        GaussianMixture(missing="em").fit(X)
    X = mixture_data(16, 30, 3, 1)[0]
    X[1:, 2] = np.nan
    weight = np.ones(len(X))
    weight[0] = 0
    with pytest.raises(ValueError, match="column 2 of X is observed only in rows of sample_weight 0"):
        GaussianMixture(missing="em").fit(X, sample_weight=weight)


def test_other_bad_data_is_still_refused():
    X = X_BAD.copy()
    X[3, 0] = np.inf
    with pytest.raises(ValueError, match="X contains infinite"):
        GaussianMixture(missing="em").fit(X)
    with pytest.raises(ValueError, match="X must contain numbers"):
        GaussianMixture(missing="em").fit([["a", "b"]])
    with pytest.raises(NotFittedError):
        GaussianMixture(missing="em").impute(X_BAD)
    gm = GaussianMixture(missing="em").fit(X_BAD)
    with pytest.raises(ValueError, match=r"X has 2 features, but \w+ is expecting 3 features"):
        gm.impute(np.ones((2, 2)))
    with pytest.raises(ValueError, match="fewer than n_components=40"):
        GaussianMixture(40, missing="em").fit(X_BAD)


def test_fit_statistics_checks_shapes():
    g = Gaussian(np.zeros((2, 3)), np.ones((2, 3)), "diag")
    with pytest.raises(ValueError, match="statistics do not fit 2 components of 3 features"):
        g.fit_statistics(WeightedMoments(np.ones(2), np.zeros((2, 3)), np.zeros((2, 3)), np.zeros((2, 4))))
    with pytest.raises(TypeError, match="statistics must be the WeightedMoments"):
        g.fit_statistics((np.ones(2), np.zeros((2, 3)), np.zeros((2, 3, 3))))
    full = Gaussian(np.zeros((2, 3)), np.stack([np.eye(3)] * 2), "full")
    with pytest.raises(ValueError, match="needs full second moments"):
        full.fit_statistics(WeightedMoments(np.ones(2), np.zeros((2, 3)), np.zeros((2, 3)), np.ones((2, 3))))
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[1\] received no weight"):
        g.fit_statistics(WeightedMoments(np.array([2.0, 0.0]), np.ones((2, 3)), np.zeros((2, 3)),
                                         np.stack([np.eye(3), np.eye(3)])))
    np.testing.assert_array_equal(g.means[1], 0.0)  # left unchanged
    np.testing.assert_array_equal(g.means[0], 1.0)
    np.testing.assert_allclose(g.covariances[0], 0.5 + g.reg_covar)
