"""PoissonMixture: closed forms, a published fit, and bad input."""

import numpy as np
import pytest

from emlib import PoissonMixture
from emlib.datasets import load_earthquakes
from emlib.exceptions import NotFittedError


def test_one_component_is_the_sample_mean():
    counts = np.array([[0, 3], [2, 5], [4, 1], [7, 7]])
    pm = PoissonMixture(1).fit(counts)
    np.testing.assert_allclose(pm.rates_, counts.mean(axis=0, keepdims=True))
    assert pm.weights_ == pytest.approx([1.0])


@pytest.mark.parametrize(("n_components", "published"), [(2, 360.37), (3, 356.85)])
def test_earthquake_mixtures_match_zucchini_macdonald(n_components, published):
    # Zucchini & MacDonald (2009), Section 1.2.4: minus log-likelihoods of Poisson mixtures
    # fitted to the 107 yearly earthquake counts.
    counts = load_earthquakes().data
    pm = PoissonMixture(n_components, n_init=10, tol=1e-10, max_iter=5000, random_state=0)
    pm.fit(counts)
    assert -pm.loglik_history_[-1] == pytest.approx(published, abs=0.005)
    assert np.all(np.diff(pm.loglik_history_) >= -1e-9 * abs(pm.loglik_history_[-1]))


def test_responsibilities_are_bayes_rule():
    from scipy.stats import poisson

    pm = PoissonMixture(2, weights_init=[0.3, 0.7], rates_init=[2.0, 9.0], max_iter=0)
    counts = np.array([0, 3, 6, 12])
    pm.fit(counts)
    joint = np.array([0.3, 0.7]) * poisson.pmf(counts[:, None], [2.0, 9.0])
    np.testing.assert_allclose(pm.predict_proba(counts), joint / joint.sum(axis=1, keepdims=True))
    np.testing.assert_allclose(pm.score_samples(counts), np.log(joint.sum(axis=1)))


def test_recovers_rates_and_sample_weights_act_as_repeats():
    rng = np.random.default_rng(1)
    counts = np.concatenate([rng.poisson(2.0, 3000), rng.poisson(12.0, 2000)])
    pm = PoissonMixture(2, random_state=0).fit(counts)
    order = np.argsort(pm.rates_[:, 0])
    np.testing.assert_allclose(pm.rates_[order, 0], [2.0, 12.0], rtol=0.05)
    np.testing.assert_allclose(pm.weights_[order], [0.6, 0.4], atol=0.03)

    values, repeats = np.unique(counts, return_counts=True)
    start = {"weights_init": [0.5, 0.5], "rates_init": [1.0, 10.0], "tol": 0, "max_iter": 20}
    by_rows = PoissonMixture(2, **start).fit(counts)
    by_weight = PoissonMixture(2, **start).fit(values, sample_weight=repeats)
    np.testing.assert_allclose(by_weight.rates_, by_rows.rates_, rtol=1e-12)
    np.testing.assert_allclose(by_weight.loglik_history_, by_rows.loglik_history_, rtol=1e-12)


def test_sample_shapes_and_labels():
    pm = PoissonMixture(2, rates_init=[[1.0, 50.0], [30.0, 2.0]], max_iter=0).fit([[1, 50], [30, 2]])
    X, labels = pm.sample(200, random_state=0)
    assert X.shape == (200, 2) and labels.shape == (200,)
    assert np.all(X[labels == 0, 1] > X[labels == 0, 0])


@pytest.mark.parametrize(
    ("X", "match"),
    [([1, -2, 3], "counts >= 0"), ([1.5, 2, 3], "whole-number"), ([1, np.nan, 2], "NaN"),
     ([[[1]]], "1-D"), (["a", "b"], "counts")],
)
def test_bad_counts(X, match):
    with pytest.raises(ValueError, match=match):
        PoissonMixture(1).fit(X)


def test_bad_rates_init_and_unfitted():
    with pytest.raises(ValueError, match="rates_init"):
        PoissonMixture(2, rates_init=[1.0, -1.0]).fit([1, 2, 3])
    with pytest.raises(ValueError, match="rates_init"):
        PoissonMixture(2, rates_init=[1.0, 2.0, 3.0]).fit([1, 2, 3])
    with pytest.raises(NotFittedError):
        PoissonMixture(2).predict([1, 2])


def test_counts_that_no_component_can_emit_are_named():
    # A zero rate emits only zeros. Zero rates in rates_init (or fitted to a column of zeros, for a
    # later partial_fit) gave a NaN E-step that failed with "weights contain NaN or infinite
    # values", and predict returned component 0 where predict_proba refused.
    rng = np.random.default_rng(0)
    counts = np.c_[rng.poisson(3.0, 60), rng.poisson(3.0, 60)]
    # One check names the sample (index and values) in the E-step and in predict alike.
    first = int(np.flatnonzero(counts[:, 1] > 0)[0])
    weight = np.ones(60)
    weight[0] = 0.0  # a row of weight zero is absent, and not counted
    for accelerate in (None, "squarem"):
        with pytest.raises(ValueError, match=rf"sample {first} of X \(counting the rows of positive weight, "
                                             rf"within its chunk for a dask array\), \[{counts[first, 0]}, "
                                             rf"{counts[first, 1]}\], has probability zero under every "
                                             "component of the current parameters, and no EM step"):
            PoissonMixture(2, rates_init=[[1.0, 0.0], [2.0, 0.0]], accelerate=accelerate).fit(counts)
    assert first == 0  # with row 0 absent, row 1 is the first counted
    with pytest.raises(ValueError, match=rf"sample 0 of X \(counting .*\), \[{counts[1, 0]}, {counts[1, 1]}\]"):
        PoissonMixture(2, rates_init=[[1.0, 0.0], [2.0, 0.0]]).fit(counts, sample_weight=weight)
    pm = PoissonMixture(2, random_state=0).fit(np.c_[counts[:, 0], np.zeros(60, dtype=int)])
    with pytest.raises(ValueError, match=r"sample 0 of X \(counting .*\), \[1, 3\], has probability zero"):
        pm.partial_fit([[1, 3]])
    for method in (pm.predict, pm.predict_proba):
        with pytest.raises(ValueError, match=r"^sample 1 of X, \[1, 3\], has probability zero under every "
                                             "component of the fitted model$"):
            method([[1, 0], [1, 3]])
    assert np.isneginf(pm.score_samples([[1, 3]])).all()  # a log-likelihood, not a decision
