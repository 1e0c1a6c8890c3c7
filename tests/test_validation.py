"""emlib._validation: every check names the argument and what was expected."""

import numpy as np
import pytest

from emlib._validation import (
    check_choice,
    check_data,
    check_flag,
    check_lengths,
    check_n_features,
    check_nonnegative_float,
    check_positive_int,
    check_probability_vector,
    check_random_state,
    check_stochastic_matrix,
)


def test_check_data_shapes_and_types():
    np.testing.assert_array_equal(check_data([1, 2, 3]), [[1.0], [2.0], [3.0]])
    X = check_data(np.asfortranarray(np.arange(6).reshape(3, 2)))
    assert X.dtype == np.float64 and X.flags.c_contiguous and X.shape == (3, 2)
    assert check_data([[True, False]]).dtype == np.float64
    assert check_data([[1.0, np.nan]], allow_nan=True).shape == (1, 2)


@pytest.mark.parametrize(
    ("X", "match"),
    [
        (np.zeros((2, 2, 2)), r"data must be 1-D \(n_samples,\) or 2-D .* got 3-D"),
        (np.float64(3.0), "data must be 1-D .* got 0-D"),
        ([["a"]], "data must contain numbers, got an array of dtype <U1"),
        (np.arange(3).astype("timedelta64[s]"), r"data must contain numbers, got an array of dtype timedelta64\[s\]"),
        (np.array([object(), 1.0], dtype=object), "data must contain numbers: float"),
        ([[1, 2], [3]], "data must be a rectangular array of numbers"),
        ([1j], "data must contain real numbers"),
        (np.empty((3, 0)), r"data is empty: 0 feature\(s\) \(shape=\(3, 0\)\)"),
        ([[np.inf]], "data contains infinite values"),
        ([[np.nan]], "data contains NaN"),
    ],
)
def test_check_data_errors(X, match):
    with pytest.raises((ValueError, TypeError), match=match):
        check_data(X, "data")


def test_check_random_state():
    generator = np.random.default_rng(0)
    assert check_random_state(generator) is generator
    assert check_random_state(3).random() == np.random.default_rng(3).random()
    assert isinstance(check_random_state(None), np.random.Generator)
    assert isinstance(check_random_state(np.random.RandomState(0)), np.random.Generator)
    for bad in (1.5, "0", True):
        with pytest.raises(TypeError, match="random_state must be None, an int >= 0 or a numpy.random.Generator"):
            check_random_state(bad)


def test_scalar_checks():
    assert check_positive_int(np.int64(3), "n") == 3 and type(check_positive_int(3, "n")) is int
    assert check_positive_int(0, "n", minimum=0) == 0
    for bad in (0, -1, 2.0, True, "2", None):
        with pytest.raises(ValueError, match="n must be an integer >= 1"):
            check_positive_int(bad, "n")
    assert check_nonnegative_float(0, "tol") == 0.0
    for bad in (-1e-9, np.nan, np.inf, "1", True, None):
        with pytest.raises(ValueError, match="tol must be a non-negative number"):
            check_nonnegative_float(bad, "tol")
    assert check_flag(np.True_, "flag") is True and check_flag(False, "flag") is False
    for bad in ("no", None, 0, 1.0):
        with pytest.raises(TypeError, match="flag must be True or False"):
            check_flag(bad, "flag")
    assert check_flag(np.int64(2), "verbose", levels=True) is True and check_flag(0, "verbose", levels=True) is False
    for bad in ("yes", None, 1.0):
        with pytest.raises(TypeError, match=r"verbose must be True or False \(or an integer level\)"):
            check_flag(bad, "verbose", levels=True)
    assert check_choice("a", "kind", ("a", "b")) == "a"
    with pytest.raises(ValueError, match="kind must be one of 'a', 'b'; got 'c'"):
        check_choice("c", "kind", ("a", "b"))
    check_n_features(np.zeros((2, 3)), 3)
    with pytest.raises(ValueError, match="Y has 2 features, but Model is expecting 3 features as input"):
        check_n_features(np.zeros((2, 2)), 3, "Model", name="Y")


def test_check_probability_vector():
    np.testing.assert_allclose(check_probability_vector([0.25, 0.75], "w"), [0.25, 0.75])
    assert check_probability_vector([0.5, 0.5 + 1e-10], "w").sum() == pytest.approx(1.0, abs=1e-15)
    cases = [
        ([[0.5, 0.5]], "w must be 1-D"),
        ([0.5, 0.5], "w must have length 3"),
        ([1.2, -0.2, 0.0], "w has negative entries"),
        ([0.2, 0.2, 0.2], "w must sum to one, but sums to 0.6"),
        ([np.nan, 0.5, 0.5], "w contains NaN"),
        (["a", "b", "c"], "w must contain probabilities, got an array of dtype <U1"),
        (np.array(["0.5", "0.25", "0.25"]), "w must contain probabilities, got an array of dtype"),
    ]
    for p, match in cases:
        with pytest.raises(ValueError, match=match):
            check_probability_vector(p, "w", size=3)


def test_check_stochastic_matrix():
    A = check_stochastic_matrix([[0.9, 0.1], [0.2, 0.8]], "A", shape=(2, 2))
    np.testing.assert_allclose(A.sum(axis=1), 1.0)
    cases = [
        ([0.5, 0.5], "A must be 2-D"),
        ([[1.0]], r"A must have shape \(2, 2\)"),
        ([[0.5, 0.5], [0.7, 0.7]], "each row of A must sum to one, but row 1 sums to 1.4"),
        ([[1.5, -0.5], [0.5, 0.5]], "A has negative entries"),
        (np.array([["0.5", "0.5"], ["1", "0"]]), "A must contain probabilities, got an array of dtype <U3"),
    ]
    for value, match in cases:
        with pytest.raises(ValueError, match=match):
            check_stochastic_matrix(value, "A", shape=(2, 2))


def test_check_lengths():
    np.testing.assert_array_equal(check_lengths(None, 5), [5])
    np.testing.assert_array_equal(check_lengths([2, 3], 5), [2, 3])
    np.testing.assert_array_equal(check_lengths(np.array([2.0, 3.0]), 5), [2, 3])
    assert check_lengths(5, 5).tolist() == [5]
    cases = [
        ([], "lengths must be a non-empty 1-D sequence"),
        ([[5]], "lengths must be a non-empty 1-D sequence"),
        ([2.5, 2.5], "lengths must contain whole numbers"),
        ([0, 5], "lengths must be positive and at most the number of samples 5, but entry 0 is 0"),
        ([2, 2], "lengths must sum to the number of samples 5, but sums to 4"),
    ]
    for value, match in cases:
        with pytest.raises(ValueError, match=match):
            check_lengths(value, 5)


def test_derived_constants_are_computed_once_per_known_block():
    """Inside a known block a constant of the data is computed once (and read-only); outside, or for
    another array, at every call."""
    from emlib._validation import FINITE, derived, known

    X = np.arange(6.0).reshape(3, 2)
    calls = []

    def row_sums(data):
        calls.append(1)
        return data.sum(axis=1)

    with known(X, FINITE):
        first, again = derived(X, "sums", row_sums), derived(X, "sums", row_sums)
        assert first is again and len(calls) == 1
        assert not first.flags.writeable
        derived(X.copy(), "sums", row_sums)  # a copy is another array
        assert len(calls) == 2
    derived(X, "sums", row_sums)  # outside the block
    assert len(calls) == 3
    np.testing.assert_array_equal(first, [1.0, 5.0, 9.0])


def test_poisson_hmm_fit_computes_the_log_factorials_once(monkeypatch):
    """The log-factorials of the counts, a constant of every E-step, are computed once per fit."""
    from emlib import PoissonHMM
    from emlib.distributions import poisson

    calls = []
    original = poisson._log_factorials
    monkeypatch.setattr(poisson, "_log_factorials", lambda X: calls.append(1) or original(X))
    X = np.random.default_rng(0).poisson(np.repeat([2.0, 9.0], 50)[:, None], (100, 1))
    model = PoissonHMM(2, random_state=0, max_iter=5, tol=0).fit(X)
    assert len(calls) == 1
    model.score(X)  # outside the fit: computed for the call
    assert len(calls) == 2
