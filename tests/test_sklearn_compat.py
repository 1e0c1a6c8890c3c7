"""emlib's estimators in scikit-learn's tools: its own estimator checks, clone, pipelines, grid search."""

import pickle
import warnings

import numpy as np
import pytest

import emlib
from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    ConvergenceWarning,
    FactorAnalysis,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
)
from emlib.exceptions import NotFittedError

sklearn = pytest.importorskip("sklearn")
from sklearn.base import clone
from sklearn.exceptions import NotFittedError as SklearnNotFittedError
from sklearn.model_selection import GridSearchCV, KFold
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils.validation import check_is_fitted

SKLEARN_VERSION = tuple(int(part) for part in sklearn.__version__.split(".")[:2])

# -- scikit-learn's own estimator checks -------------------------------------------------------------
_BINARY_ONLY = "the check feeds non-binary data; BernoulliMixture models 0/1 data only"
# Checks that build their data themselves, so no tag can make it binary; the same behaviours are
# tested on binary data below (test_bernoulli_mixture_in_sklearn_tools).
_BERNOULLI_EXPECTED = {
    name: _BINARY_ONLY for name in (
        "check_fit_score_takes_y", "check_estimators_overwrite_params", "check_dont_overwrite_parameters",
        "check_estimators_fit_returns_self", "check_readonly_memmap_input", "check_n_features_in_after_fitting",
        "check_positive_only_tag_during_fit", "check_estimators_dtypes", "check_sample_weights_not_an_array",
        "check_sample_weights_list", "check_all_zero_sample_weights_error", "check_sample_weights_shape",
        "check_sample_weights_not_overwritten", "check_sample_weight_equivalence_on_dense_data",
        "check_dtype_object", "check_pipeline_consistency", "check_estimators_nan_inf", "check_estimators_pickle",
        "check_f_contiguous_array_estimator", "check_methods_sample_order_invariance",
        "check_methods_subset_invariance", "check_fit2d_1sample", "check_fit2d_1feature", "check_dict_unchanged",
        "check_fit_idempotent", "check_fit_check_is_fitted", "check_n_features_in", "check_fit2d_predict1d",
    )
}
_ONE_D_IS_ONE_FEATURE = "1-D X is read as one feature (a documented convenience), not refused"
EXPECTED_FAILURES = {
    "GaussianMixture": {"check_fit1d": _ONE_D_IS_ONE_FEATURE},
    # check_fit1d passes for these two, but only because its data are neither binary nor counts.
    "BernoulliMixture": _BERNOULLI_EXPECTED,
    "PoissonMixture": {
        "check_sample_weight_equivalence_on_dense_data": "the check feeds non-integer data; PoissonMixture "
                                                         "models counts only",
    },
    "FactorAnalysis": {},
}


def expected_failed_checks(estimator):
    return EXPECTED_FAILURES[type(estimator).__name__]


if SKLEARN_VERSION >= (1, 6):
    from sklearn.utils.estimator_checks import parametrize_with_checks

    with warnings.catch_warnings():
        # emlib does not depend on scikit-learn, so its estimators cannot inherit from its
        # BaseEstimator; these checks are what says they behave as if they did.
        warnings.filterwarnings("ignore", message=".*does not inherit from `sklearn.base.BaseEstimator`")
        sklearn_checks = parametrize_with_checks(
            [GaussianMixture(), BernoulliMixture(), PoissonMixture(), FactorAnalysis(),
             GaussianMixture(accelerate="squarem"), FactorAnalysis(accelerate="squarem")],
            expected_failed_checks=expected_failed_checks,
        )

    @sklearn_checks
    def test_sklearn_estimator_checks(estimator, check):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", ConvergenceWarning)
            warnings.simplefilter("ignore", emlib.DegenerateComponentWarning)
            check(estimator)


def test_expected_failures_still_fail():
    """Each listed expected failure is real: the list never hides a check that now passes."""
    if SKLEARN_VERSION < (1, 6):
        pytest.skip("check_estimator(on_fail=None) needs scikit-learn 1.6")
    from sklearn.utils.estimator_checks import check_estimator

    for estimator in (GaussianMixture(), PoissonMixture()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            results = check_estimator(estimator, on_fail=None)
        failed = {r["check_name"] for r in results if r["status"] == "failed"}
        assert failed == set(EXPECTED_FAILURES[type(estimator).__name__]), failed


# -- the habits of scikit-learn users --------------------------------------------------------------
def two_clusters(seed=0, n=200):
    rng = np.random.default_rng(seed)
    X = np.concatenate([rng.normal(-3, 1, (n, 2)), rng.normal(3, 1, (n, 2))])
    y = np.repeat([0, 1], n)
    return X, y


def three_blobs(seed=1, n=450):
    rng = np.random.default_rng(seed)
    centres = np.array([[0.0, 0.0], [6.0, 0.0], [0.0, 6.0]])
    X = centres[np.arange(n) % 3] + rng.normal(size=(n, 2))
    return X[rng.permutation(n)]  # shuffled: GridSearchCV's folds do not shuffle


@pytest.mark.parametrize("make", [lambda: GaussianMixture(2, random_state=0),
                                  lambda: PoissonMixture(2, random_state=0)])
def test_y_is_ignored_never_taken_for_sample_weight(make):
    X, y = two_clusters()
    if isinstance(make(), PoissonMixture):
        X = np.random.default_rng(0).poisson(np.where(y[:, None] == 0, 2.0, 20.0), size=(len(y), 2))
    with_y = make().fit(X, y)
    without = make().fit(X)
    np.testing.assert_allclose(np.sort(with_y.weights_), np.sort(without.weights_))
    assert with_y.fit_predict(X, y).shape == y.shape


def test_bernoulli_y_is_ignored():
    rng = np.random.default_rng(0)
    y = np.repeat([0, 1], 200)
    X = (rng.random((400, 6)) < np.where(y[:, None] == 0, 0.9, 0.1)).astype(int)
    with_y = BernoulliMixture(2, random_state=0).fit(X, y)
    without = BernoulliMixture(2, random_state=0).fit(X)
    np.testing.assert_array_equal(with_y.probabilities_, without.probabilities_)
    np.testing.assert_allclose(np.sort(with_y.probabilities_[:, 0]), [0.1, 0.9], atol=0.08)


def test_clone_get_and_set_params():
    gm = GaussianMixture(3, covariance_type="diag", reg_covar=1e-3, random_state=4)
    twin = clone(gm)
    assert twin is not gm and twin.get_params() == gm.get_params()
    assert "n_components" in gm.get_params() and "warm_start" in gm.get_params()
    assert gm.set_params(n_components=5) is gm and gm.n_components == 5
    with pytest.raises(ValueError, match="Invalid parameter 'n_component' for estimator GaussianMixture"):
        gm.set_params(n_component=2)
    assert repr(GaussianMixture()) == "GaussianMixture()"
    assert repr(GaussianMixture(3, covariance_type="tied")) == "GaussianMixture(n_components=3, covariance_type='tied')"


ALL_ESTIMATORS = [GaussianMixture(2), BernoulliMixture(2), PoissonMixture(2), FactorAnalysis(1), GaussianHMM(2),
                  CategoricalHMM(2), PoissonHMM(2)]


def data_for(estimator, seed=0):
    rng = np.random.default_rng(seed)
    if isinstance(estimator, BernoulliMixture):
        return (rng.random((60, 4)) < 0.4).astype(int)
    if isinstance(estimator, (PoissonMixture, PoissonHMM)):
        return rng.poisson(4.0, (60, 2))
    if isinstance(estimator, CategoricalHMM):
        return rng.integers(0, 3, 60)
    return rng.normal(size=(60, 3))


@pytest.mark.parametrize("estimator", ALL_ESTIMATORS, ids=lambda e: type(e).__name__)
def test_every_estimator_clones_pickles_and_reports_fitted(estimator):
    estimator = clone(estimator)
    assert clone(estimator).get_params() == estimator.get_params()
    X = data_for(estimator)
    with pytest.raises(SklearnNotFittedError):
        check_is_fitted(estimator)
    with pytest.raises(NotFittedError):
        estimator.score(X)
    with pytest.raises(SklearnNotFittedError):  # caught by code written for scikit-learn, too
        estimator.score(X)
    assert not hasattr(estimator, "n_features_in_")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(random_state=0).fit(X)
    check_is_fitted(estimator)
    again = pickle.loads(pickle.dumps(estimator))
    assert again.score(X) == estimator.score(X)
    # An unfitted error survives pickling (joblib sends errors between processes).
    error = pickle.loads(pickle.dumps(_not_fitted(estimator)))
    assert isinstance(error, NotFittedError) and isinstance(error, SklearnNotFittedError)


def _not_fitted(estimator):
    try:
        clone(estimator).score(data_for(estimator))
    except NotFittedError as error:
        return error
    raise AssertionError("no error")


@pytest.mark.filterwarnings("ignore::emlib.ConvergenceWarning")  # 4 components for 3 blobs converge slowly
def test_grid_search_picks_the_number_of_components():
    X = three_blobs()
    search = GridSearchCV(GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}).fit(X)
    assert search.best_params_["n_components"] in (3, 4)  # mean log-likelihood on held-out folds

    def negative_bic(estimator, X, y=None):
        return -estimator.bic(X)

    by_bic = GridSearchCV(GaussianMixture(random_state=0), {"n_components": [1, 2, 3, 4]}, scoring=negative_bic,
                          cv=KFold(3, shuffle=True, random_state=0)).fit(X)
    assert by_bic.best_params_["n_components"] == 3


def test_pipeline_fit_predict_score():
    X = three_blobs() * [1.0, 100.0] + [0.0, 1e4]
    pipe = Pipeline([("scale", StandardScaler()), ("mixture", GaussianMixture(3, random_state=0))]).fit(X)
    labels = pipe.predict(X)
    assert len(np.unique(labels)) == 3
    scaled = StandardScaler().fit_transform(X)
    direct = GaussianMixture(3, random_state=0).fit(scaled)
    assert pipe.score(X) == pytest.approx(direct.score(scaled))
    np.testing.assert_array_equal(pipe.predict_proba(X), direct.predict_proba(scaled))
    assert pipe.fit_predict(X).shape == (len(X),)


def test_factor_analysis_in_a_pipeline_transforms():
    rng = np.random.default_rng(0)
    z = rng.standard_normal((300, 2))
    X = z @ rng.normal(size=(2, 6)) + 0.3 * rng.standard_normal((300, 6))
    pipe = Pipeline([("scale", StandardScaler()), ("fa", FactorAnalysis(2))]).fit(X)
    factors = pipe.transform(X)
    assert factors.shape == (300, 2)
    np.testing.assert_allclose(pipe.fit_transform(X), factors)
    assert np.isfinite(pipe.score(X))


def test_bernoulli_mixture_in_sklearn_tools():
    """What the estimator checks cannot feed BernoulliMixture, on binary data."""
    rng = np.random.default_rng(3)
    truth = np.array([[0.9, 0.9, 0.1, 0.1], [0.1, 0.2, 0.9, 0.8]])
    X = (rng.random((300, 4)) < truth[rng.integers(0, 2, 300)]).astype(int)
    bm = BernoulliMixture(2, random_state=0)
    fitted = clone(bm).fit(X)
    check_is_fitted(fitted)
    again = pickle.loads(pickle.dumps(fitted))
    np.testing.assert_array_equal(again.predict(X), fitted.predict(X))
    weights = rng.integers(0, 3, 300)
    by_weight = BernoulliMixture(2, random_state=0, probabilities_init=fitted.probabilities_).fit(
        X, sample_weight=weights)
    by_repeat = BernoulliMixture(2, random_state=0, probabilities_init=fitted.probabilities_).fit(
        np.repeat(X, weights, axis=0))
    np.testing.assert_allclose(by_weight.probabilities_, by_repeat.probabilities_, rtol=1e-10)
    search = GridSearchCV(bm, {"n_components": [1, 2, 3]}, cv=KFold(3, shuffle=True, random_state=0)).fit(X)
    assert search.best_params_["n_components"] >= 2
    with pytest.raises(ValueError, match=r"X has 3 features, but BernoulliMixture is expecting 4"):
        fitted.predict(X[:, :3])
    with pytest.raises(ValueError, match="Reshape your data"):
        fitted.predict(X[0])


def test_warm_start_continues_from_the_last_fit():
    X = three_blobs()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        gm = GaussianMixture(3, max_iter=3, tol=0, warm_start=True, random_state=0).fit(X)
        first = gm.loglik_history_.copy()
        gm.fit(X)
    assert gm.loglik_history_[0] == pytest.approx(first[-1], rel=1e-12)
    cold = GaussianMixture(3, max_iter=3, tol=0, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        cold.fit(X)
        cold.fit(X)
    np.testing.assert_array_equal(cold.loglik_history_, first)


def test_warm_start_refuses_settings_that_no_longer_describe_the_fit():
    # The warm start went on with the fitted 3 components (or covariances) whatever the new settings said.
    X = three_blobs()
    gm = GaussianMixture(3, max_iter=3, tol=0, warm_start=True, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_components=2, but the fitted model has n_components=3; a warm "
                                         "start continues it. Set warm_start=False to start afresh"):
        gm.set_params(n_components=2).fit(X)
    with pytest.raises(ValueError, match="covariance_type='tied', but the fitted model has covariance_type='full'"):
        gm.set_params(n_components=3, covariance_type="tied").fit(X)
    assert gm.set_params(warm_start=False).fit(X).covariances_.shape == (2, 2)


@pytest.mark.parametrize("covariance_type", ["full", "tied", "diag", "spherical"])
def test_precisions_and_criteria_have_sklearns_shapes_and_meanings(covariance_type):
    from sklearn.mixture import GaussianMixture as SklearnGaussianMixture

    X = three_blobs()
    ours = GaussianMixture(3, covariance_type=covariance_type, random_state=0).fit(X)
    theirs = SklearnGaussianMixture(3, covariance_type=covariance_type)
    theirs.weights_, theirs.means_, theirs.covariances_ = ours.weights_, ours.means_, ours.covariances_
    theirs.precisions_cholesky_ = ours.precisions_cholesky_
    theirs.n_features_in_ = 2
    assert ours.precisions_.shape == ours.covariances_.shape == ours.precisions_cholesky_.shape
    if covariance_type in ("full", "tied"):
        np.testing.assert_allclose(ours.precisions_, np.linalg.inv(ours.covariances_), rtol=1e-10)
    else:
        np.testing.assert_allclose(ours.precisions_, 1.0 / ours.covariances_)
    assert ours.score(X) == pytest.approx(theirs.score(X), rel=1e-12)
    np.testing.assert_allclose(ours.score_samples(X), theirs.score_samples(X), rtol=1e-12)
    assert ours.bic(X) == pytest.approx(theirs.bic(X), rel=1e-12)
    assert ours.aic(X) == pytest.approx(theirs.aic(X), rel=1e-12)
    sample, labels = ours.sample(50, random_state=0)
    assert sample.shape == (50, 2) and labels.shape == (50,)


def test_hmms_keep_their_signatures_and_gain_params():
    model = GaussianHMM(2, covariance_type="diag", random_state=0)
    twin = clone(model).set_params(n_components=3)
    assert twin.n_components == 3 and model.n_components == 2
    X = np.concatenate([np.random.default_rng(0).normal(m, 1, (50, 1)) for m in (-3, 3)])
    model.fit(X, lengths=[60, 40])
    log_prob, path = model.decode(X, lengths=[60, 40])  # hmmlearn's order
    assert isinstance(log_prob, float) and path.shape == (100,)


def test_import_emlib_never_imports_sklearn():
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom emlib import GaussianMixture, FactorAnalysis\n"
            "GaussianMixture(2, random_state=0).fit([[0.0], [1.0], [5.0], [6.0]])\n"
            "print(json.dumps('sklearn' in sys.modules))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) is False
