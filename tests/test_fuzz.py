"""Fuzzing the public API: any input either gives finite results or a clear error naming the argument.

Hypothesis draws arrays of every shape, dtype and kind of value a careless or adversarial user might
pass (empty, NaN, inf, huge, tiny, negative, wrong rank, wrong length) and hands each to every
public estimator and function in the argument's place. The call must return results without NaN, or
raise ``ValueError``, ``TypeError`` or ``NotFittedError`` whose message names the argument; never an
exception from numpy, scipy or numba internals, and never a silent NaN. The examples are
derandomised (see conftest.py), so a failure is reproducible; the whole file runs in a few seconds.
"""

import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    FactorAnalysis,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
    hmm,
)
from emlib.distributions import Bernoulli, Categorical, Gaussian, Poisson
from emlib.elbo import mixture_decomposition
from emlib.exceptions import NotFittedError
from emlib.factor_analysis import factor_log_likelihood, factor_posterior

SPECIAL = [0.0, -0.0, 1.0, -1.0, 0.5, 2.0, 3.0, np.nan, np.inf, -np.inf, 1e300, -1e300, 1e-300, 1e154, 1e-160,
           2.0**62, -7.0]


@st.composite
def arrays(draw):
    """An array (or list) of a random rank, shape, dtype and mixture of ordinary and extreme values."""
    ndim = draw(st.sampled_from([0, 1, 1, 2, 2, 2, 3]))
    shape = tuple(draw(st.lists(st.integers(0, 7), min_size=ndim, max_size=ndim)))
    size = int(np.prod(shape)) if shape else 1
    ordinary = draw(st.lists(st.floats(-20, 20, allow_nan=False), min_size=size, max_size=size))
    values = np.array(ordinary, dtype=np.float64)
    if size and draw(st.booleans()):
        where = draw(st.lists(st.integers(0, size - 1), min_size=1, max_size=3))
        values[where] = draw(st.sampled_from(SPECIAL))
    if draw(st.booleans()):
        with np.errstate(invalid="ignore"):
            values = np.round(np.abs(values) % 4)  # small whole numbers: counts, symbols, binary
    kind = draw(st.sampled_from(["float64", "float32", "int64", "bool", "object", "complex", "list", "str"]))
    values = values.reshape(shape)
    with np.errstate(all="ignore"):
        if kind == "float32":
            return values.astype(np.float32)
        if kind == "int64":
            return np.nan_to_num(values, posinf=9, neginf=-9).astype(np.int64)
        if kind == "bool":
            return values > 0
        if kind == "object":
            out = values.astype(object)
            if size and draw(st.booleans()):
                out.flat[0] = {"not": "a number"}
            return out
        if kind == "complex":
            return values + 1j
        if kind == "str":
            return values.astype(str)
    return values.tolist()


def good(name):
    rng = np.random.default_rng(0)
    return {
        "continuous": rng.normal(size=(30, 2)),
        "counts": rng.poisson(3.0, (30, 2)),
        "binary": (rng.random((30, 2)) < 0.5).astype(int),
        "symbols": rng.integers(0, 3, 30),
    }[name]


def fitted(estimator, data):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return estimator.set_params(random_state=0, max_iter=5).fit(good(data))


# (name of the fuzzed argument, function of it)
TARGETS = [
    ("X", lambda X: GaussianMixture(2, random_state=0, max_iter=5).fit(X).means_),
    ("X", lambda X: GaussianMixture(2, missing="em", random_state=0, max_iter=5).fit(X).means_),
    ("sample_weight", lambda w: GaussianMixture(2, random_state=0, max_iter=5).fit(good("continuous"),
                                                                                  sample_weight=w).means_),
    ("X", lambda X: fitted(GaussianMixture(2), "continuous").predict_proba(X)),
    ("X", lambda X: fitted(GaussianMixture(2), "continuous").score_samples(X)),
    ("X", lambda X: BernoulliMixture(2, random_state=0, max_iter=5).fit(X).probabilities_),
    ("X", lambda X: PoissonMixture(2, random_state=0, max_iter=5).fit(X).rates_),
    ("X", lambda X: fitted(PoissonMixture(2), "counts").score_samples(X)),
    ("X", lambda X: FactorAnalysis(1, max_iter=5).fit(X).loadings_),
    ("X", lambda X: fitted(FactorAnalysis(1), "continuous").transform(X)),
    ("X", lambda X: GaussianHMM(2, random_state=0, max_iter=5).fit(X).means_),
    ("X", lambda X: PoissonHMM(2, random_state=0, max_iter=5).fit(X).rates_),
    ("X", lambda X: CategoricalHMM(2, random_state=0, max_iter=5).fit(X).emissionprob_),
    ("X", lambda X: fitted(CategoricalHMM(2), "symbols").predict_proba(X)),
    ("lengths", lambda lengths: GaussianHMM(2, random_state=0, max_iter=5).fit(good("continuous"), lengths)
     .means_),
    ("states", lambda states: GaussianHMM(2, random_state=0, max_iter=5).fit(good("continuous"),
                                                                            states=states).means_),
    ("X", lambda X: fitted(GaussianHMM(2), "continuous").decode(X)[0]),
    ("log_emission", lambda a: hmm.forward_backward(a, [0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]])[0]),
    ("log_emission", lambda a: hmm.forward_backward(a, [0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]], method="log")[0]),
    ("startprob", lambda p: hmm.forward(np.zeros((4, 2)), p, [[0.9, 0.1], [0.2, 0.8]])[0]),
    ("transmat", lambda a: hmm.viterbi(np.zeros((4, 2)), [0.5, 0.5], a)[1]),
    ("lengths", lambda lengths: hmm.log_likelihood(np.zeros((6, 2)), [0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]],
                                                   lengths)),
    ("X", lambda X: Gaussian([[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)]).log_prob(X)),
    ("weights", lambda w: Gaussian([[0.0, 0.0], [1.0, 1.0]], [np.eye(2), np.eye(2)]).fit(
        good("continuous"), w).means),
    ("X", lambda X: Bernoulli([[0.5, 0.5]]).log_prob(X)),
    ("X", lambda X: Poisson([[1.0, 2.0]]).log_prob(X)),
    ("X", lambda X: Categorical([[0.2, 0.3, 0.5]]).log_prob(X)),
    ("means", lambda m: Gaussian(m, [np.eye(2), np.eye(2)]).means),
    ("covariances", lambda c: Gaussian([[0.0, 0.0], [1.0, 1.0]], c).covariances),
    ("probabilities", lambda p: Categorical(p).probabilities),
    ("rates", lambda r: Poisson(r).rates),
    ("X_centred", lambda X: factor_log_likelihood(X, np.ones((2, 1)), np.ones(2))),
    ("noise_variance", lambda psi: factor_posterior(np.zeros((3, 2)), np.ones((2, 1)), psi)[0]),
    ("q", lambda q: mixture_decomposition(np.log(np.full((3, 2), 0.5)), q).bound),
    ("log_joint", lambda a: mixture_decomposition(a, np.full((3, 2), 0.5)).bound),
    ("means_init", lambda m: GaussianMixture(2, means_init=m, max_iter=2).fit(good("continuous")).means_),
    ("transmat_init", lambda a: GaussianHMM(2, transmat_init=a, max_iter=2).fit(good("continuous")).means_),
]


def no_nan(result):
    if isinstance(result, (float, int, np.floating, np.integer)):
        return not np.isnan(result)
    array = np.asarray(result, dtype=np.float64)
    return not np.isnan(array).any()


@pytest.mark.parametrize(("argument", "call"), TARGETS, ids=[f"{i}-{t[0]}" for i, t in enumerate(TARGETS)])
@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(value=arrays())
def test_any_input_gives_finite_results_or_a_clear_error(argument, call, value):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # convergence and degeneracy warnings are fine here
        with np.errstate(over="raise", invalid="raise", divide="raise"):  # no numpy RuntimeWarning either
            try:
                result = call(value)
            except (ValueError, TypeError, NotFittedError) as error:
                message = str(error)
                assert argument in message or _names_a_derived_argument(message), (
                    f"{type(error).__name__} does not name {argument!r}: {message}"
                )
                return
    assert no_nan(result), f"silent NaN for {argument}={value!r}"


def _names_a_derived_argument(message):
    # Some inputs are checked as a whole (X with its lengths or states; a model's parameters).
    return any(name in message for name in ("X", "lengths", "states", "n_components", "sample_weight",
                                            "log_emission", "transmat", "startprob"))
