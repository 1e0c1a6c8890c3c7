"""Categorical and Poisson components: log-probabilities against scipy, weighted fits in closed form,
structural zeros, sampling, and clear errors for bad data."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats

from emlib.distributions import Categorical, Poisson
from emlib.exceptions import DegenerateComponentWarning

# -- Categorical ---------------------------------------------------------------------------------------


def test_categorical_log_prob_matches_the_table():
    probabilities = np.array([[0.5, 0.3, 0.2], [0.1, 0.1, 0.8]])
    X = np.array([0, 2, 1, 2])
    expected = np.log(probabilities[:, X].T)
    np.testing.assert_allclose(Categorical(probabilities).log_prob(X), expected)
    np.testing.assert_allclose(Categorical(probabilities).log_prob(X[:, None]), expected)


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 4), M=st.integers(1, 6), N=st.integers(1, 50))
def test_categorical_fit_is_normalised_weighted_counts(seed, K, M, N):
    rng = np.random.default_rng(seed)
    X = rng.integers(M, size=N)
    weights = rng.random((N, K))
    dist = Categorical(rng.dirichlet(np.ones(M), size=K)).fit(X, weights)
    counts = np.zeros((K, M))
    for n in range(N):
        counts[:, X[n]] += weights[n]
    np.testing.assert_allclose(dist.probabilities, counts / counts.sum(axis=1, keepdims=True), rtol=1e-12)
    np.testing.assert_allclose(dist.probabilities.sum(axis=1), 1.0)


def test_categorical_pseudo_count_and_its_log_prior():
    X = np.array([0, 0, 1])
    weights = np.ones((3, 1))
    dist = Categorical([[0.2, 0.3, 0.5]], pseudo_count=1.0).fit(X, weights)
    np.testing.assert_allclose(dist.probabilities, [[3 / 6, 2 / 6, 1 / 6]])
    assert dist.log_prior() == pytest.approx(np.log(dist.probabilities).sum())
    assert Categorical([[0.5, 0.5]]).log_prior() == 0.0


def test_categorical_structural_zeros_stay_zero():
    dist = Categorical([[0.5, 0.0, 0.5], [0.2, 0.4, 0.4]], pseudo_count=1.0)
    dist.fit(np.array([0, 1, 2, 1]), np.ones((4, 2)))
    assert dist.probabilities[0, 1] == 0.0 and dist.probabilities[1, 1] > 0
    assert np.all(np.isneginf(dist.log_prob(np.array([1]))[:, 0]))
    assert dist.n_parameters == 1 + 2
    assert np.isfinite(dist.log_prior())


def test_categorical_fixed_and_empty_component():
    dist = Categorical([[0.5, 0.5], [0.9, 0.1]])
    dist.fit(np.array([0, 0]), np.ones((2, 2)), fixed={"probabilities"})
    np.testing.assert_allclose(dist.probabilities, [[0.5, 0.5], [0.9, 0.1]])
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[1\] received no weight"):
        dist.fit(np.array([0, 0]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(dist.probabilities, [[1.0, 0.0], [0.9, 0.1]])


def test_categorical_sampling_frequencies():
    probabilities = np.array([[0.7, 0.0, 0.3], [0.1, 0.6, 0.3]])
    dist = Categorical(probabilities)
    rng = np.random.default_rng(0)
    components = np.repeat([0, 1], 20000)
    symbols = dist.sample(components, rng)
    assert symbols.dtype == np.int64 and symbols.shape == (40000,)
    for k in range(2):
        frequencies = np.bincount(symbols[components == k], minlength=3) / 20000
        np.testing.assert_allclose(frequencies, probabilities[k], atol=0.015)
    assert not np.any(symbols[components == 0] == 1)  # a structural zero is never drawn


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ([0, 1.5, 2], r"integer symbols 0, 1, ..., M - 1, but X\[1\] is 1.5"),
        ([0, -1, 2], r"symbols >= 0, but X\[1\] is -1"),
        ([0, 1, 7], r"X\[2\] is symbol 7, but the model knows only n_symbols=3"),
        ([0, np.nan], "NaN or infinite"),
        (["a", "b"], "integer symbols"),
        (np.zeros((3, 2)), r"single column \(n_samples, 1\)"),
        ([], "X is empty"),
    ],
)
def test_categorical_bad_data_is_explained(X, message):
    with pytest.raises(ValueError, match=message):
        Categorical.check_data(X, n_symbols=3)


def test_categorical_accepts_whole_floats_and_columns():
    np.testing.assert_array_equal(Categorical.check_data([[0.0], [2.0]]), [0, 2])


@pytest.mark.parametrize(
    ("probabilities", "message"),
    [([[0.5, 0.6]], "row 0 sums to 1.1"), ([[1.5, -0.5]], "negative"), ([[np.nan, 1]], "NaN")],
)
def test_categorical_bad_parameters(probabilities, message):
    with pytest.raises(ValueError, match=message):
        Categorical(probabilities)
    with pytest.raises(ValueError, match="pseudo_count must be a non-negative number"):
        Categorical([[1.0]], pseudo_count=-1)


# -- Poisson -------------------------------------------------------------------------------------------


def test_poisson_log_prob_matches_scipy():
    rates = np.array([[0.5, 3.0], [4.0, 0.1], [2.0, 2.0]])
    X = np.array([[0, 1], [3, 0], [7, 2], [1, 5]])
    expected = np.stack(
        [stats.poisson.logpmf(X, rate).sum(axis=1) for rate in rates], axis=1
    )
    np.testing.assert_allclose(Poisson(rates).log_prob(X), expected, rtol=1e-12)
    one_feature = Poisson([1.5, 4.0])
    np.testing.assert_allclose(
        one_feature.log_prob(np.array([0, 3])), stats.poisson.logpmf(np.array([[0], [3]]), [1.5, 4.0])
    )


def test_poisson_zero_rate_only_emits_zero():
    dist = Poisson([[0.0], [2.0]])
    log_prob = dist.log_prob(np.array([[0.0], [3.0]]))
    assert log_prob[0, 0] == 0.0 and log_prob[1, 0] == -np.inf
    assert np.all(np.isfinite(log_prob[:, 1]))


@settings(max_examples=30, deadline=None)
@given(seed=st.integers(0, 2**32 - 1), K=st.integers(1, 4), D=st.integers(1, 3), N=st.integers(1, 40))
def test_poisson_fit_is_the_weighted_mean(seed, K, D, N):
    rng = np.random.default_rng(seed)
    X = rng.poisson(3.0, size=(N, D)).astype(float)
    weights = rng.random((N, K)) + 1e-3
    dist = Poisson(np.ones((K, D))).fit(X, weights)
    np.testing.assert_allclose(dist.rates, (weights.T @ X) / weights.sum(axis=0)[:, None], rtol=1e-12)
    # weighted ML: the gradient of the expected log-likelihood vanishes at the fitted rates
    log_prob_gradient = weights.T @ X / np.maximum(dist.rates, 1e-300) - weights.sum(axis=0)[:, None]
    assert np.allclose(log_prob_gradient[dist.rates > 0], 0.0, atol=1e-9)


def test_poisson_fixed_empty_and_sampling():
    dist = Poisson([[1.0], [5.0]])
    dist.fit(np.array([[2.0]]), np.ones((1, 2)), fixed=("rates",))
    np.testing.assert_allclose(dist.rates, [[1.0], [5.0]])
    with pytest.warns(DegenerateComponentWarning, match="received no weight"):
        dist.fit(np.array([[2.0], [4.0]]), np.array([[1.0, 0.0], [1.0, 0.0]]))
    np.testing.assert_allclose(dist.rates, [[3.0], [5.0]])
    draws = dist.sample(np.repeat([0, 1], 20000), np.random.default_rng(1))
    assert draws.shape == (40000, 1) and draws.dtype == np.int64
    assert draws[:20000].mean() == pytest.approx(3.0, abs=0.05)
    assert draws[20000:].mean() == pytest.approx(5.0, abs=0.07)
    assert dist.n_parameters == 2 and dist.n_features == 1 and dist.n_components == 2


@pytest.mark.parametrize(
    ("X", "message"),
    [
        ([1, -2, 3], r"counts >= 0, but X\[1, 0\] is -2"),
        ([1, 2.5], r"whole-number counts, but X\[1, 0\] is 2.5"),
        ([1, np.inf], "X contains infinite values"),
        ([1, np.nan], "X contains NaN"),
        ([["a"]], "counts"),
        (np.zeros((2, 2, 2)), "1-D"),
    ],
)
def test_poisson_bad_counts_are_explained(X, message):
    with pytest.raises(ValueError, match=message):
        Poisson.check_data(X)


def test_poisson_bad_rates():
    with pytest.raises(ValueError, match="rates must be >= 0"):
        Poisson([-1.0, 2.0])
    with pytest.raises(ValueError, match="NaN or infinite"):
        Poisson([np.nan])


def test_fit_warns_nothing_for_healthy_data():
    rng = np.random.default_rng(2)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        Poisson([[1.0], [2.0]]).fit(rng.poisson(2.0, (50, 1)).astype(float), rng.random((50, 2)))
        Categorical([[0.5, 0.5], [0.5, 0.5]]).fit(rng.integers(2, size=50), rng.random((50, 2)))


@pytest.mark.parametrize("family", ["gaussian", "poisson", "bernoulli", "categorical"])
def test_sample_takes_integer_labels_and_any_random_state(family):
    # Float labels were truncated to components, and an int seed (or None) for rng failed inside
    # numpy with an AttributeError: every family's sample now checks both as the rest of emlib does.
    from emlib.distributions import Bernoulli, Categorical, Gaussian, Poisson

    distribution = {
        "gaussian": lambda: Gaussian(np.array([[0.0], [5.0]]), np.ones((2, 1, 1))),
        "poisson": lambda: Poisson([[1.0], [6.0]]),
        "bernoulli": lambda: Bernoulli([[0.2, 0.7], [0.9, 0.1]]),
        "categorical": lambda: Categorical([[0.5, 0.5, 0.0], [0.1, 0.2, 0.7]]),
    }[family]()
    labels = np.array([0, 1, 1, 0])
    np.testing.assert_array_equal(distribution.sample(labels, 3),
                                  distribution.sample(labels, np.random.default_rng(3)))
    assert len(distribution.sample(labels, None)) == 4
    assert len(distribution.sample(np.array([], dtype=int), 0)) == 0
    with pytest.raises(TypeError, match="components must hold integer component labels, got an array of dtype float64"):
        distribution.sample(labels.astype(float), 0)
    with pytest.raises(TypeError, match="components must hold integer component labels"):
        distribution.sample(labels.astype(bool), 0)
    with pytest.raises(ValueError, match=r"components must be integers in \[0, 2\), got labels from 0 to 2"):
        distribution.sample([0, 2], 0)
    with pytest.raises(TypeError, match="rng must be None, an int >= 0 or a numpy.random.Generator"):
        distribution.sample(labels, 1.5)
