"""Bad input meets a clear error naming the argument, before any work (issue: hardening).

One test per class of input that once fell through to numpy, scipy or numba, or gave a silent
wrong answer.
"""

import copy
import threading
import warnings

import numpy as np
import pytest

from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    ConvergenceWarning,
    DegenerateComponentWarning,
    FactorAnalysis,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
    em,
)
from emlib.distributions import Bernoulli, Categorical, Gaussian, Poisson
from emlib.exceptions import NotFittedError
from emlib.factor_analysis import factor_log_likelihood, factor_posterior

RNG = np.random.default_rng(0)
CONTINUOUS = RNG.normal(size=(120, 2))
COUNTS = RNG.poisson(3.0, (120, 2))
BINARY = (RNG.random((120, 3)) < 0.5).astype(int)
SYMBOLS = RNG.integers(0, 3, 120)


def estimators_and_data():
    return [
        (GaussianMixture(2), CONTINUOUS), (BernoulliMixture(2), BINARY), (PoissonMixture(2), COUNTS),
        (FactorAnalysis(1), CONTINUOUS), (GaussianHMM(2), CONTINUOUS), (CategoricalHMM(2), SYMBOLS),
        (PoissonHMM(2), COUNTS),
    ]


IDS = [type(e).__name__ for e, _ in estimators_and_data()]


# -- extreme magnitudes --------------------------------------------------------------------------
@pytest.mark.parametrize("estimator", [GaussianMixture(2), GaussianHMM(2), FactorAnalysis(1)], ids=lambda e: type(e).__name__)
@pytest.mark.parametrize(("scale", "match"), [(1e154, "as large as .* Rescale"), (1e200, "as large as"),
                                              (1e-300, "varies by only .* Rescale"), (1e-120, "varies by only")])
def test_extreme_scales_are_named_not_crashed_on(estimator, scale, match):
    with pytest.raises(ValueError, match=match):
        estimator.fit(CONTINUOUS * scale)


@pytest.mark.parametrize("estimator", [PoissonMixture(2), PoissonHMM(2)], ids=lambda e: type(e).__name__)
def test_huge_counts_are_named(estimator):
    with pytest.raises(ValueError, match="as large as"):
        estimator.fit(COUNTS * 10.0**160)


@pytest.mark.parametrize("estimator", [GaussianMixture(2, random_state=0), GaussianHMM(2, random_state=0),
                                       FactorAnalysis(1)], ids=lambda e: type(e).__name__)
def test_large_but_representable_scales_fit(estimator):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        for scale in (1e90, 1e-90):
            estimator.fit(CONTINUOUS * scale)
            assert np.all(np.isfinite(estimator.loglik_history_))


# -- units: the stopping rule is per sample ------------------------------------------------------
def test_factor_analysis_does_not_depend_on_the_units():
    rng = np.random.default_rng(1)
    X = rng.normal(size=(400, 2)) @ rng.normal(size=(2, 6)) + rng.normal(size=(400, 6))
    fits = [FactorAnalysis(2).fit(X * s) for s in (1.0, 1e3, 1e-3)]
    assert len({fa.n_iter_ for fa in fits}) == 1
    for fa, s in zip(fits[1:], (1e3, 1e-3), strict=True):
        np.testing.assert_allclose(fa.get_covariance() / s**2, fits[0].get_covariance(), rtol=1e-9)


def test_gaussian_hmm_does_not_depend_on_the_units():
    X = np.concatenate([RNG.normal(0, 1, (100, 1)), RNG.normal(5, 1, (100, 1))])
    fits = [GaussianHMM(2, reg_covar=0.0, random_state=0).fit(X * s) for s in (1.0, 1e4)]
    assert fits[0].n_iter_ == fits[1].n_iter_
    np.testing.assert_allclose(fits[1].means_ / 1e4, fits[0].means_, rtol=1e-8)


# -- small holes ---------------------------------------------------------------------------------
@pytest.mark.parametrize(("estimator", "X"), estimators_and_data(), ids=IDS)
def test_negative_random_state_names_the_argument(estimator, X):
    with pytest.raises(ValueError, match="random_state must be None, an int >= 0"):
        estimator.set_params(random_state=-1).fit(X)


@pytest.mark.parametrize(("estimator", "X"), estimators_and_data(), ids=IDS)
def test_criteria_before_fit_raise_not_fitted(estimator, X):
    for method in ("bic", "aic", "score", "predict"):
        if hasattr(estimator, method):
            with pytest.raises(NotFittedError, match="not fitted yet"):
                getattr(estimator, method)(X)


def test_float32_probabilities_that_sum_to_one_in_float32_are_accepted():
    startprob = np.array([0.1, 0.2, 0.3, 0.4], dtype=np.float32)
    rng = np.random.default_rng(2)
    transmat = rng.dirichlet(np.ones(4), size=4).astype(np.float32)
    model = GaussianHMM(4).set_parameters(startprob=startprob, transmat=transmat, means=np.arange(4.0)[:, None],
                                          covariances=np.ones((4, 1, 1)))
    np.testing.assert_allclose(model.startprob_.sum(), 1.0, rtol=1e-15)
    with pytest.raises(ValueError, match="startprob must sum to one"):
        GaussianHMM(4).set_parameters(startprob=[0.1, 0.2, 0.3, 0.41], transmat=transmat,
                                      means=np.arange(4.0)[:, None], covariances=np.ones((4, 1, 1)))


# -- building blocks validate ----------------------------------------------------------------------
def test_distributions_refuse_bad_data_and_weights():
    g = Gaussian(np.zeros((2, 2)), np.stack([np.eye(2)] * 2))
    X = RNG.normal(size=(10, 2))
    with pytest.raises(ValueError, match="X contains NaN"):
        g.fit(np.where(np.eye(10, 2) > 0, np.nan, X), np.ones((10, 2)))
    with pytest.raises(ValueError, match="weights must be non-negative"):
        g.fit(X, -np.ones((10, 2)))
    with pytest.raises(ValueError, match=r"weights must have shape \(10, 2\)"):
        g.fit(X, np.ones((10, 3)))
    with pytest.raises(ValueError, match=r"X must have shape \(n_samples, 2\)"):
        g.log_prob(np.ones((3, 5)))
    with pytest.raises(ValueError, match="X contains NaN"):
        g.log_prob([[np.nan, 0.0]])
    with pytest.raises(ValueError, match=r"X must be binary .* X\[0, 0\] = 2"):
        Bernoulli([[0.5]]).log_prob([[2]])
    with pytest.raises(ValueError, match=r"X must contain counts .* X\[0, 0\] is 0.5"):
        Poisson([[1.0]]).log_prob([[0.5]])
    with pytest.raises(ValueError, match="weights contain NaN"):
        Poisson([[1.0]]).fit([[1.0]], [[np.nan]])
    with pytest.raises(ValueError, match="symbol"):
        Categorical([[0.5, 0.5]]).log_prob([0, 7])
    with pytest.raises(ValueError, match="integer symbols"):
        Categorical([[0.5, 0.5]]).log_prob([0.5])


def test_factor_functions_refuse_bad_arguments():
    W, psi, R = np.ones((3, 1)), np.ones(3), RNG.normal(size=(5, 3))
    with pytest.raises(ValueError, match="noise_variance must be finite and positive"):
        factor_log_likelihood(R, W, np.zeros(3))
    with pytest.raises(ValueError, match="noise_variance must be finite and positive"):
        factor_posterior(R, W, -np.ones(3))
    with pytest.raises(ValueError, match=r"noise_variance must have shape \(3,\)"):
        factor_posterior(R, W, np.ones(2))
    with pytest.raises(ValueError, match=r"X_centred must have shape \(n_samples, 3\)"):
        factor_log_likelihood(R[:, :2], W, psi)
    with pytest.raises(ValueError, match="loadings must have shape"):
        factor_log_likelihood(R, np.ones(3), psi)
    assert np.all(np.isfinite(factor_log_likelihood(R, W, psi)))


# -- em.fit misuse ---------------------------------------------------------------------------------
class Coin:
    def __init__(self):
        self.p = 0.5

    def initialize(self, data, rng):
        pass

    def e_step(self, data):
        return np.mean(data), float(np.sum(data * np.log(self.p) + (1 - data) * np.log(1 - self.p)))

    def m_step(self, data, mean):
        self.p = mean


def test_em_fit_says_what_the_protocol_needs():
    data = np.array([1.0, 0.0, 1.0, 1.0])
    assert em.fit(Coin(), data, max_iter=3).model.p == 0.75
    with pytest.raises(TypeError, match="model must be an instance, got the class Coin"):
        em.fit(Coin, data)

    class OneValue(Coin):
        def e_step(self, data):
            return np.mean(data)

    with pytest.raises(TypeError, match=r"e_step must return a pair \(expected_statistics, loglik\)"):
        em.fit(OneValue(), data)
    not_callable = Coin()
    not_callable.m_step = 3
    with pytest.raises(TypeError, match="model.m_step must be a method.*initialize"):
        em.fit(not_callable, data)

    class NoInitialize:
        def e_step(self, data):
            return 0, 0.0

        def m_step(self, data, stats):
            pass

    with pytest.raises(TypeError, match="has no method initialize"):
        em.fit(NoInitialize(), data)
    uncopyable = Coin()
    uncopyable.lock = threading.Lock()
    with pytest.raises(TypeError, match="n_init > 1 .* copy.deepcopy failed"):
        em.fit(uncopyable, data, n_init=2)
    assert em.fit(uncopyable, data, n_init=1).model.p == 0.75  # without restarts, no copy is needed
    with pytest.raises(TypeError, match="callback must be callable"):
        em.fit(Coin(), data, callback=3)
    copy.deepcopy(Coin())


# -- semi-supervised decoding ----------------------------------------------------------------------
def test_decoding_keeps_the_known_states():
    truth = GaussianHMM(2).set_parameters(startprob=[0.5, 0.5], transmat=[[0.9, 0.1], [0.1, 0.9]],
                                          means=[[0.0], [1.0]], covariances=np.ones((2, 1, 1)))
    X, z = truth.sample(400, random_state=3)
    states = np.full(400, -1)
    known = np.arange(0, 400, 5)
    states[known] = z[known]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = GaussianHMM(2, random_state=0, max_iter=50)
        path = model.fit_predict(X, states=states)
    np.testing.assert_array_equal(path[known], z[known])
    np.testing.assert_array_equal(model.predict(X, states=states)[known], z[known])
    np.testing.assert_array_equal(model.predict(X, algorithm="map", states=states)[known], z[known])
    proba = model.predict_proba(X, states=states)
    np.testing.assert_array_equal(proba[known, z[known]], 1.0)
    log_prob, decoded = model.decode(X, states=states)
    np.testing.assert_array_equal(decoded, path)
    assert log_prob <= model.decode(X)[0]  # the free path is at least as probable
    impossible = states.copy()
    impossible[1] = 5
    with pytest.raises(ValueError, match=r"states\[1\] is 5"):
        model.predict(X, states=impossible)


# -- messages --------------------------------------------------------------------------------------
def test_set_parameters_with_the_wrong_number_of_means_names_the_means():
    with pytest.raises(ValueError, match="means must have n_components=2 rows"):
        GaussianHMM(2).set_parameters(startprob=[0.5, 0.5], transmat=[[0.5, 0.5], [0.5, 0.5]],
                                      means=[[0.0], [1.0], [2.0]], covariances=np.ones((2, 1, 1)))


def test_a_state_absent_from_the_labels_is_reported_once():
    X = RNG.normal(size=(60, 1))
    states = np.where(np.arange(60) < 30, 0, 1)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        GaussianHMM(3, reg_covar=1e-3).fit(X, states=states)
    messages = [str(w.message) for w in caught if issubclass(w.category, DegenerateComponentWarning)]
    assert len(messages) == 1 and "state(s) [2] never occur in the given states" in messages[0], messages


# -- symbols: never allocate first and fail later ----------------------------------------------------
@pytest.mark.parametrize("stray", [10**9, 2**63 - 1, np.uint64(2**64 - 1)])
def test_a_stray_symbol_is_refused_before_anything_is_allocated(stray):
    X = np.array([0, 1, 2, 1, 0] * 20, dtype=np.uint64 if isinstance(stray, np.uint64) else np.int64)
    X[17] = stray
    with pytest.raises(ValueError, match=r"X\[17\] is symbol \d+"):
        CategoricalHMM(2, random_state=0).fit(X)
    with pytest.raises(ValueError, match="n_features"):
        CategoricalHMM(2, n_features=10**12).fit(np.array([0, 1, 2] * 10))


def test_n_features_names_the_symbols_and_inference_still_works():
    X = np.array([0, 1, 2, 1, 0, 4] * 10)
    model = CategoricalHMM(2, random_state=0, max_iter=5, tol=0).fit(X)  # five iterations, no warning
    assert model.n_features_ == 5
    with pytest.raises(ValueError, match="knows only n_features=5"):
        model.score(np.array([0, 5]))
    assert CategoricalHMM(2, n_features=8, random_state=0, max_iter=5, tol=0).fit(X).emissionprob_.shape == (2, 8)


# -- settings: numpy's scalars pass, infinite or non-boolean values are named -------------------------
@pytest.mark.parametrize(("estimator", "X"), estimators_and_data(), ids=IDS)
def test_numpy_booleans_are_booleans(estimator, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        estimator.set_params(verbose=np.False_, max_iter=2, random_state=0).fit(X)


@pytest.mark.parametrize("warm_start", ["no", None, 2, [True]])
def test_warm_start_must_be_a_boolean(warm_start):
    # bool("no") is True: a string would silently turn warm starts on.
    with pytest.raises(TypeError, match="warm_start must be True or False"):
        GaussianMixture(2, warm_start=warm_start).fit(CONTINUOUS)
    GaussianMixture(2, warm_start=np.True_, max_iter=2, tol=0).fit(CONTINUOUS).fit(CONTINUOUS)


@pytest.mark.parametrize(("estimator", "X", "name"), [
    (GaussianMixture(2, reg_covar=np.inf), CONTINUOUS, "reg_covar"),
    (GaussianHMM(2, reg_covar=np.inf), CONTINUOUS, "reg_covar"),
    (CategoricalHMM(2, emissionprob_prior=np.inf), SYMBOLS, "emissionprob_prior"),
    (PoissonMixture(2, tol=np.inf), COUNTS, "tol"),
], ids=["GaussianMixture", "GaussianHMM", "CategoricalHMM", "PoissonMixture"])
def test_infinite_settings_are_named(estimator, X, name):
    with pytest.raises(ValueError, match=f"{name} must be a non-negative number \\(finite\\), got inf"):
        estimator.fit(X)
    with pytest.raises(ValueError, match="reg_covar must be a non-negative number"):
        Gaussian(np.zeros((1, 1)), np.ones((1, 1, 1)), reg_covar=np.inf)


# -- states: a transition matrix is sized by n_components -------------------------------------------
@pytest.mark.parametrize("estimator", [GaussianHMM, CategoricalHMM, PoissonHMM], ids=lambda e: e.__name__)
@pytest.mark.parametrize("n_components", [10**5, 10**9, 10**18])
def test_too_many_states_are_refused_before_anything_is_allocated(estimator, n_components):
    # n_components**2 transition probabilities (and as many prior pseudo-counts) were allocated
    # before the data were looked at: a MemoryError, or minutes of paging.
    X = {GaussianHMM: CONTINUOUS, CategoricalHMM: SYMBOLS, PoissonHMM: COUNTS}[estimator]
    with pytest.raises(ValueError, match=f"n_components={n_components} asks for a transition matrix"):
        estimator(n_components).fit(X)
    with pytest.raises(ValueError, match=f"n_components={n_components} asks for a transition matrix"):
        estimator(n_components).fit(X, states=np.zeros(len(X), dtype=int))


# -- starting values: one check, and magnitudes the data may have ------------------------------------
@pytest.mark.parametrize("estimator", [GaussianMixture, GaussianHMM], ids=lambda e: e.__name__)
@pytest.mark.parametrize("value", [1e101, -1e155, 1e300])
def test_means_init_beyond_the_datas_magnitudes_is_named(estimator, value):
    # Squared distances to such a mean overflow: the fit failed later with "weights contain NaN or
    # infinite values", after numpy's overflow warnings.
    with pytest.raises(ValueError, match="means_init has values as large as"):
        estimator(2, means_init=[[value, 0.0], [0.0, 0.0]]).fit(CONTINUOUS)


# -- dtypes ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(("estimator", "X"), estimators_and_data(), ids=IDS)
def test_durations_are_not_numbers(estimator, X):
    # numpy counts timedelta64 as a number (datetime64 it does not): durations were fitted in
    # whatever unit their dtype had.
    with pytest.raises(ValueError, match=r"X must contain .*, got an array of dtype timedelta64\[s\]"):
        estimator.fit(np.abs(X).astype("timedelta64[s]"))


def test_float16_symbols_pass_without_numpy_warnings():
    # Comparing float16 symbols with 2**62 overflowed in numpy's cast: a RuntimeWarning.
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CategoricalHMM(2, random_state=0, max_iter=5).fit(SYMBOLS.astype(np.float16))
        assert model.n_features_ == 3
        model.predict(SYMBOLS.astype(np.float16))
        Categorical([[0.5, 0.5]]).log_prob(np.array([0.0, 1.0], dtype=np.float16))


def _strings(values):
    return np.array(values).astype(str)


@pytest.mark.parametrize(("make", "name"), [
    (lambda: Gaussian(_strings([[0.0], [1.0]]), np.ones((2, 1, 1))), "means"),
    (lambda: Poisson(_strings([1.0, 2.0])), "rates"),
    (lambda: Bernoulli(_strings([[0.2, 0.3]])), "probabilities"),
    (lambda: Categorical(_strings([[0.5, 0.5]])), "probabilities"),
    (lambda: GaussianMixture(2, means_init=_strings([[0.0], [1.0]])).fit(np.arange(20.0)), "means_init"),
    (lambda: PoissonMixture(2, rates_init=_strings([1.0, 2.0])).fit(np.arange(20)), "rates_init"),
    (lambda: BernoulliMixture(2, probabilities_init=_strings([[0.2], [0.6]])).fit(np.arange(20) % 2),
     "probabilities_init"),
    (lambda: PoissonHMM(2, rates_init=_strings([1.0, 2.0])).fit(np.arange(20)), "rates_init"),
    (lambda: CategoricalHMM(2, emissionprob_init=_strings([[0.5, 0.5], [0.5, 0.5]])).fit([0, 1, 1]),
     "emissionprob_init"),
    (lambda: CategoricalHMM(2, transmat_prior=_strings([[1.0, 1.0], [1.0, 1.0]])).fit([0, 1, 1]),
     "transmat_prior"),
    (lambda: GaussianHMM(2).set_parameters(startprob=[0.5, 0.5], transmat=np.eye(2),
                                                 means=_strings([[0.0], [1.0]]), covariances=np.ones((2, 1, 1))),
     "means"),
])
def test_parameters_written_as_strings_are_refused(make, name):
    # np.array(x, dtype=float) reads "0.5" as 0.5, so these took numbers written as strings (a column
    # read from a text file, say); they go through as_numeric_array now, as the data do.
    with pytest.raises(ValueError, match=rf"{name}(: \w+)? must (contain numbers|be an array of numbers|be a non-negative number or an array)"):
        make()
