"""Online (stepwise) EM: ``partial_fit`` for the mixtures and the HMMs.

The references are exact where the algorithm is: a step of size one is one EM iteration (the
in-memory ``fit`` with ``max_iter=1`` from the same parameters), a weighted batch is the batch with
rows repeated, and the running statistics are a weighted average of the batches' statistics. Where
it is stochastic approximation, the reference is batch EM on the same data.
"""

import itertools
import pickle
import warnings
from functools import partial

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from emlib import (
    BernoulliMixture,
    CategoricalHMM,
    ConvergenceWarning,
    GaussianHMM,
    GaussianMixture,
    PoissonHMM,
    PoissonMixture,
)
from emlib.distributions import COVARIANCE_TYPES


# -- data -------------------------------------------------------------------------------------------
def gaussian_data(n, seed, D=3):
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0] * D, [2.0] * D, [0.0] * (D - 1) + [4.0]])
    labels = rng.integers(0, 3, n)
    return centres[labels] + rng.normal(size=(n, D)) * np.array([1.0, 0.5, 0.8])[labels, None]


def with_missing(X, seed, share=0.2):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < share] = np.nan
    X[np.isnan(X).all(axis=1), 0] = 0.0  # every row keeps an observed entry
    return X


def binary_data(n, seed):
    rng = np.random.default_rng(seed)
    truth = np.array([[0.9, 0.8, 0.1, 0.2, 0.5], [0.1, 0.2, 0.9, 0.7, 0.5]])
    return (rng.random((n, 5)) < truth[rng.integers(0, 2, n)]).astype(int)


def count_data(n, seed):
    rng = np.random.default_rng(seed)
    return rng.poisson(np.array([[2.0, 7.0], [9.0, 1.0]])[rng.integers(0, 2, n)])


def sequences(n_sequences, seed, kind="gaussian"):
    """Sequences of a two-state chain: (X, lengths)."""
    rng = np.random.default_rng(seed)
    lengths = rng.integers(20, 60, n_sequences)
    states = []
    for length in lengths:
        s = [rng.integers(0, 2)]
        for _ in range(length - 1):
            s.append(s[-1] if rng.random() < 0.9 else 1 - s[-1])
        states.extend(s)
    states = np.array(states)
    if kind == "gaussian":
        X = np.array([[0.0, 1.0], [3.0, -1.0]])[states] + rng.normal(size=(len(states), 2))
    elif kind == "poisson":
        X = rng.poisson(np.array([[2.0], [8.0]])[states])
    else:
        X = np.where(rng.random(len(states)) < 0.8, states * 2, rng.integers(0, 4, len(states)))
    return X, lengths


def quiet_fit(estimator, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(*args, **kwargs)


# -- a step of size one is one EM iteration ---------------------------------------------------------
def _mixture_cases():
    X1, X2 = gaussian_data(400, 1), gaussian_data(300, 2)
    cases = []
    for ctype in COVARIANCE_TYPES:
        cases.append((f"gaussian-{ctype}", GaussianMixture(3, covariance_type=ctype), X1, X2, {}))
    weights = np.random.default_rng(3).uniform(0.0, 2.0, 300)
    cases.append(("gaussian-weights", GaussianMixture(3), X1, X2, {"sample_weight": weights}))
    for ctype in ("full", "diag", "tied"):
        cases.append((f"gaussian-missing-{ctype}", GaussianMixture(3, covariance_type=ctype, missing="em"),
                      with_missing(X1, 4), with_missing(X2, 5), {}))
    cases.append(("bernoulli", BernoulliMixture(2), binary_data(400, 6), binary_data(300, 7), {}))
    cases.append(("poisson", PoissonMixture(2), count_data(400, 8), count_data(300, 9), {}))
    return cases


def _started_like(estimator):
    """An estimator whose fit starts from ``estimator``'s fitted parameters."""
    params = {"weights_init": estimator.weights_}
    if isinstance(estimator, GaussianMixture):
        params.update(means_init=estimator.means_, covariances_init=estimator.covariances_)
    elif isinstance(estimator, BernoulliMixture):
        params.update(probabilities_init=estimator.probabilities_)
    else:
        params.update(rates_init=estimator.rates_)
    return type(estimator)(**{**estimator.get_params(), **params, "max_iter": 1, "tol": 0})


@pytest.mark.parametrize(("label", "estimator", "first", "second", "kwargs"), _mixture_cases(),
                         ids=[c[0] for c in _mixture_cases()])
def test_a_step_of_one_is_one_em_iteration_for_mixtures(label, estimator, first, second, kwargs):
    estimator.set_params(random_state=0, learning_offset=0.0)
    estimator.partial_fit(first)
    reference = quiet_fit(_started_like(estimator), second, **kwargs)
    estimator.partial_fit(second, **kwargs)
    assert estimator.n_steps_ == 1
    np.testing.assert_allclose(estimator.weights_, reference.weights_, rtol=1e-12, atol=1e-15)
    for name in ("means_", "covariances_", "probabilities_", "rates_"):
        if hasattr(reference, name):
            np.testing.assert_allclose(getattr(estimator, name), getattr(reference, name), rtol=1e-11, atol=1e-14)


def _hmm_cases():
    cases = []
    for ctype in COVARIANCE_TYPES:
        cases.append((f"gaussian-{ctype}", GaussianHMM(2, covariance_type=ctype), "gaussian"))
    cases.append(("categorical", CategoricalHMM(2), "categorical"))
    cases.append(("poisson", PoissonHMM(2), "poisson"))
    return cases


def _hmm_started_like(model, **changes):
    params = {"startprob_init": model.startprob_, "transmat_init": model.transmat_, "max_iter": 1, "tol": 0}
    if isinstance(model, GaussianHMM):
        params.update(means_init=model.means_, covariances_init=model.covariances_)
    elif isinstance(model, CategoricalHMM):
        params.update(emissionprob_init=model.emissionprob_)
    else:
        params.update(rates_init=model.rates_)
    return type(model)(**{**model.get_params(), **params, **changes})


@pytest.mark.parametrize(("label", "model", "kind"), _hmm_cases(), ids=[c[0] for c in _hmm_cases()])
def test_a_step_of_one_is_one_baum_welch_iteration(label, model, kind):
    X1, lengths1 = sequences(8, 1, kind)
    X2, lengths2 = sequences(5, 2, kind)
    model.set_params(random_state=0, learning_offset=0.0).partial_fit(X1, lengths1)
    reference = quiet_fit(_hmm_started_like(model), X2, lengths2)
    model.partial_fit(X2, lengths2)
    np.testing.assert_allclose(model.startprob_, reference.startprob_, rtol=1e-11, atol=1e-14)
    np.testing.assert_allclose(model.transmat_, reference.transmat_, rtol=1e-11, atol=1e-14)
    for name in ("means_", "covariances_", "emissionprob_", "rates_"):
        if hasattr(reference, name):
            np.testing.assert_allclose(getattr(model, name), getattr(reference, name), rtol=1e-11, atol=1e-14)


def test_priors_weigh_as_in_a_batch_fit_of_everything_seen():
    """The M-step sees the running statistics scaled to the steps seen: a step of one after a
    first batch of n1 steps is one Baum-Welch iteration on the second batch (n2 steps) with the
    pseudo-counts scaled by n2 / (n1 + n2)."""
    X1, lengths1 = sequences(6, 3, "categorical")
    X2, lengths2 = sequences(4, 4, "categorical")
    n1, n2 = len(X1), len(X2)
    model = CategoricalHMM(2, transmat_prior=3.0, startprob_prior=1.0, emissionprob_prior=2.0,
                           learning_offset=0.0, random_state=0).partial_fit(X1, lengths1)
    share = n2 / (n1 + n2)
    reference = quiet_fit(_hmm_started_like(model, transmat_prior=3.0 * share, startprob_prior=share,
                                            emissionprob_prior=2.0 * share), X2, lengths2)
    model.partial_fit(X2, lengths2)
    np.testing.assert_allclose(model.transmat_, reference.transmat_, rtol=1e-11)
    np.testing.assert_allclose(model.startprob_, reference.startprob_, rtol=1e-11)
    np.testing.assert_allclose(model.emissionprob_, reference.emissionprob_, rtol=1e-11)


# -- the running statistics -------------------------------------------------------------------------
def test_the_first_call_is_fit_on_its_batch_with_restarts():
    X = gaussian_data(500, 10)
    streamed = GaussianMixture(3, n_init=3, random_state=5).partial_fit(X)
    fitted = GaussianMixture(3, n_init=3, random_state=5).fit(X)
    np.testing.assert_array_equal(streamed.means_, fitted.means_)
    np.testing.assert_array_equal(streamed.restart_logliks_, fitted.restart_logliks_)
    assert streamed.n_steps_ == 0 and streamed.n_samples_seen_ == 500
    # The running statistics are the fit's final E-step, per sample.
    np.testing.assert_allclose(streamed.statistics_.totals.sum(), 1.0, rtol=1e-12)
    np.testing.assert_allclose(streamed.statistics_.totals, fitted.predict_proba(X).mean(axis=0), rtol=1e-6)


def test_running_statistics_are_the_weighted_average_of_the_batches():
    X = gaussian_data(900, 11)
    # reg_covar=0: the E-step's responsibilities are then predict_proba's (no penalty term).
    model = GaussianMixture(3, covariance_type="diag", reg_covar=0.0, random_state=0, learning_decay=0.8,
                            learning_offset=1.5)
    model.partial_fit(X[:300])
    totals = model.statistics_.totals.copy()
    for t, batch in enumerate((X[300:500], X[500:900]), start=1):
        before = GaussianMixture(3, covariance_type="diag", weights_init=model.weights_,
                                 means_init=model.means_, covariances_init=model.covariances_, max_iter=0)
        responsibilities = quiet_fit(before, batch[:3]).predict_proba(batch)  # the current parameters
        step = (t + 1.5) ** -0.8
        totals = (1 - step) * totals + step * responsibilities.mean(axis=0)
        model.partial_fit(batch)
        np.testing.assert_allclose(model.statistics_.totals, totals, rtol=1e-12)
        np.testing.assert_allclose(model.weights_, totals / totals.sum(), rtol=1e-12)
    assert model.n_steps_ == 2 and model.n_samples_seen_ == 900


@pytest.mark.parametrize("make", [lambda: GaussianMixture(3, random_state=0),
                                  lambda: GaussianMixture(3, covariance_type="diag", missing="em", random_state=0),
                                  lambda: GaussianHMM(2, random_state=0)],
                         ids=["gaussian", "gaussian-missing", "gaussian-hmm"])
def test_memory_does_not_grow_with_the_stream(make):
    """What the estimator keeps after 5 batches and after 60 has the same size: the statistics,
    O(K D^2), whatever the stream's length and the batches' sizes."""
    is_hmm = isinstance(make(), GaussianHMM)
    sizes = {}
    for n_batches in (5, 60):
        model = make()
        for b in range(n_batches):
            if is_hmm:
                X, lengths = sequences(1 + b % 3, 100 + b)
                model.partial_fit(X, lengths)
            else:
                X = gaussian_data(50 + 37 * (b % 4), 100 + b)
                model.partial_fit(with_missing(X, b) if model.missing == "em" else X)
        assert model.n_steps_ == n_batches - 1
        sizes[n_batches] = len(pickle.dumps(model))
        stored = [a for a in vars(model.statistics_).values() if isinstance(a, np.ndarray)]
        if is_hmm:
            stored += [a for a in vars(model.statistics_.emission).values() if isinstance(a, np.ndarray)]
        assert max(a.size for a in stored) <= 3 * 3 * 3  # K D^2, nothing per sample
    assert abs(sizes[60] - sizes[5]) < 64, sizes  # a few bytes of counters, never per-sample data


def test_sample_weight_counts_as_repeated_rows():
    X1, X2 = gaussian_data(300, 12), gaussian_data(200, 13)
    weights = np.random.default_rng(0).integers(0, 4, 200)
    start = GaussianMixture(3, random_state=0).fit(X1)
    init = {"weights_init": start.weights_, "means_init": start.means_, "covariances_init": start.covariances_}
    by_weight = GaussianMixture(3, **init, max_iter=2, tol=0)
    by_repeat = GaussianMixture(3, **init, max_iter=2, tol=0)
    quiet_fit(by_weight, X1)
    quiet_fit(by_repeat, X1)
    by_weight.partial_fit(X2, sample_weight=weights)
    by_repeat.partial_fit(np.repeat(X2, weights, axis=0))
    np.testing.assert_allclose(by_weight.means_, by_repeat.means_, rtol=1e-10)
    np.testing.assert_allclose(by_weight.covariances_, by_repeat.covariances_, rtol=1e-10)
    assert by_weight.n_samples_seen_ == by_repeat.n_samples_seen_ == 300 + weights.sum()


def test_batches_with_and_without_missing_entries_mix():
    """A stream with missing="em" whose batches are sometimes complete (the fast path) and
    sometimes not: the statistics of both kinds add up, for every covariance type."""
    X = gaussian_data(3000, 14)
    for ctype in COVARIANCE_TYPES:
        model = GaussianMixture(3, covariance_type=ctype, missing="em", random_state=0)
        for i, start in enumerate(range(0, 3000, 250)):
            batch = X[start:start + 250]
            model.partial_fit(with_missing(batch, i) if i % 2 else batch)
        batch_em = GaussianMixture(3, covariance_type=ctype, random_state=0).fit(X)
        assert model.score(X) == pytest.approx(batch_em.score(X), rel=2e-3), ctype


def test_batches_of_any_size_even_one_sample():
    X = gaussian_data(2000, 15)
    model = GaussianMixture(3, n_init=3, random_state=0).partial_fit(X[:200])
    for row in X[200:800]:
        model.partial_fit(row[None])
    reference = GaussianMixture(3, random_state=0).fit(X)
    assert model.n_steps_ == 600 and model.n_samples_seen_ == 800
    # Steps of one sample are noisy (the last ones still move 1% of the way to a single point):
    # close to batch EM, not as close as with batches.
    assert model.score(X) == pytest.approx(reference.score(X), rel=0.05)
    np.testing.assert_allclose(np.sort(model.weights_), np.sort(reference.weights_), atol=0.05)


@settings(max_examples=8, deadline=None)
@given(st.lists(st.integers(min_value=20, max_value=200), min_size=15, max_size=40), st.integers(0, 3))
def test_streams_of_other_batch_sizes_reach_batch_em(sizes, seed):
    """Whatever the batch sizes, one pass over 4,000 points in 15 or more batches ends close to
    batch EM from the same start (stepwise EM, like EM, climbs the hill it starts on; with only a
    few steps, the decaying steps would stop it short)."""
    X = gaussian_data(4000, 20 + seed)
    model = quiet_fit(GaussianMixture(3, covariance_type="diag", random_state=seed), X[:300])
    reference = quiet_fit(GaussianMixture(3, covariance_type="diag", weights_init=model.weights_,
                                         means_init=model.means_, covariances_init=model.covariances_), X)
    edges = np.unique(np.concatenate([[300], 300 + np.cumsum(sizes) * 3700 // sum(sizes)]))
    for a, b in itertools.pairwise(edges):
        model.partial_fit(X[a:b])
    assert model.n_samples_seen_ == 4000
    assert model.score(X) == pytest.approx(reference.score(X), rel=2e-3)


def test_hmm_stream_of_single_sequences_reaches_baum_welch():
    X, lengths = sequences(200, 21)
    ends = np.cumsum(lengths)
    model = GaussianHMM(2, random_state=0).partial_fit(X[:ends[4]], lengths[:5])
    for s in range(5, 200):
        model.partial_fit(X[ends[s - 1]:ends[s]])
    reference = GaussianHMM(2, random_state=0).fit(X, lengths)
    assert model.score(X, lengths) == pytest.approx(reference.score(X, lengths), rel=2e-3)
    order = np.argsort(model.means_[:, 0])
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], [[0.9, 0.1], [0.1, 0.9]], atol=0.03)


def test_hmm_stream_with_known_states():
    X, lengths = sequences(30, 22, "poisson")
    ends = np.cumsum(lengths)
    states = np.full(len(X), -1)
    states[::7] = (X[::7, 0] > 5).astype(int)
    model = PoissonHMM(2, random_state=0).partial_fit(X[:ends[9]], lengths[:10], states[:ends[9]])
    model.partial_fit(X[ends[9]:], lengths[10:], states[ends[9]:])
    assert model.n_steps_ == 1
    assert model.rates_[0, 0] < model.rates_[1, 0]  # the known states name the states


def test_a_stream_continues_from_fit_and_from_set_parameters():
    X, lengths = sequences(10, 23)
    fitted = GaussianHMM(2, random_state=0).fit(X, lengths)
    assert fitted.n_steps_ == 0 and fitted.n_samples_seen_ == len(X)
    fitted.partial_fit(X[:lengths[0]])
    assert fitted.n_steps_ == 1 and fitted.n_samples_seen_ == len(X) + lengths[0]
    by_hand = GaussianHMM(2).set_parameters(startprob=[0.5, 0.5], transmat=[[0.9, 0.1], [0.1, 0.9]],
                                            means=[[0.0, 1.0], [3.0, -1.0]], covariances=np.stack([np.eye(2)] * 2))
    assert not hasattr(by_hand, "statistics_")
    reference = quiet_fit(_hmm_started_like(by_hand), X, lengths)
    by_hand.partial_fit(X, lengths)  # starts the stream from the given parameters: a step of one
    assert by_hand.n_steps_ == 0 and by_hand.n_samples_seen_ == len(X)
    np.testing.assert_allclose(by_hand.means_, reference.means_, rtol=1e-11)
    np.testing.assert_allclose(by_hand.transmat_, reference.transmat_, rtol=1e-11)


@pytest.mark.parametrize("kind", ["mixture", "hmm"])
def test_accelerate_acts_on_the_fit_that_starts_the_stream_alone(kind):
    """The first call is ``fit`` on its batch, accelerated as ``fit`` is; an update is one E-step
    and one M-step, with nothing to extrapolate: the same with or without acceleration."""
    if kind == "mixture":
        X = gaussian_data(3000, 31)
        batches = [(X[:600],), (X[600:1400],), (X[1400:],)]
        make = partial(GaussianMixture, 3, random_state=0)
    else:
        X, lengths = sequences(12, 32)
        ends = np.cumsum(lengths)
        batches = [(X[:ends[3]], lengths[:4]), (X[ends[3]:ends[7]], lengths[4:8]), (X[ends[7]:], lengths[8:])]
        make = partial(GaussianHMM, 2, random_state=0)
    accelerated = make(accelerate="squarem").partial_fit(*batches[0])
    fitted = quiet_fit(make(accelerate="squarem"), *batches[0])
    assert accelerated.n_e_steps_ == fitted.n_e_steps_ > fitted.n_iter_ + 1  # SQUAREM ran
    np.testing.assert_array_equal(accelerated.means_, fitted.means_)
    plain = pickle.loads(pickle.dumps(accelerated)).set_params(accelerate=None)
    for batch in batches[1:]:
        accelerated.partial_fit(*batch)
        plain.partial_fit(*batch)
    assert accelerated.n_steps_ == plain.n_steps_ == 2
    np.testing.assert_array_equal(accelerated.means_, plain.means_)
    np.testing.assert_array_equal(accelerated.covariances_, plain.covariances_)


# -- the target -----------------------------------------------------------------------------
def five_gaussians():
    """A known 2-D mixture of five full-covariance Gaussians: weights, means, covariances."""
    rng = np.random.default_rng(1)
    factors = rng.normal(size=(5, 2, 2)) * 0.6
    covariances = factors @ np.swapaxes(factors, 1, 2) + 0.3 * np.eye(2)
    means = np.array([[0.0, 0.0], [4.0, 0.0], [0.0, 4.0], [4.0, 4.0], [2.0, 2.0]])
    return np.array([0.3, 0.2, 0.2, 0.15, 0.15]), means, covariances


def draw(weights, means, covariances, n, seed):
    rng = np.random.default_rng(seed)
    labels = rng.choice(len(weights), size=n, p=weights)
    factors = np.linalg.cholesky(covariances)
    return means[labels] + np.einsum("nij,nj->ni", factors[labels], rng.standard_normal((n, 2)))


@pytest.mark.slow
def test_a_million_points_in_batches_of_a_thousand_reach_batch_em():
    """The issue's target, with the default learning schedule: one pass over 1,000,000 points in
    batches of 1,000 ends with a held-out mean log-likelihood within 0.5% of batch EM's."""
    truth = five_gaussians()
    X, held_out = draw(*truth, 1_000_000, 2), draw(*truth, 100_000, 3)
    stream = GaussianMixture(5, random_state=0)
    for start in range(0, len(X), 1000):
        stream.partial_fit(X[start:start + 1000])
    assert stream.n_steps_ == 999 and stream.n_samples_seen_ == len(X)
    # Batch EM on all of it, from the truth (where it converges fastest; it ends at the MLE).
    batch = GaussianMixture(5, weights_init=truth[0], means_init=truth[1], covariances_init=truth[2]).fit(X)
    gap = abs(stream.score(held_out) - batch.score(held_out)) / abs(batch.score(held_out))
    assert gap < 0.005, gap


# -- bad input --------------------------------------------------------------------------------------
@pytest.mark.parametrize("make", [GaussianMixture, PoissonMixture, GaussianHMM, CategoricalHMM])
def test_learning_schedule_is_checked_before_any_work(make):
    for bad in (0.5, 1.2, "0.7", True, np.nan):
        with pytest.raises(ValueError, match="learning_decay must be a number in \\(0.5, 1\\]"):
            make(learning_decay=bad).partial_fit(np.zeros((5, 1), dtype=int) + np.arange(5)[:, None])
    for bad in (-1.0, np.inf, "2"):
        with pytest.raises(ValueError, match="learning_offset must be"):
            make(learning_offset=bad).partial_fit(np.arange(5)[:, None])


def test_partial_fit_refuses_another_number_of_features_and_dask_arrays():
    model = GaussianMixture(2, random_state=0).partial_fit(gaussian_data(100, 30))
    with pytest.raises(ValueError, match="X has 2 features, but GaussianMixture is expecting 3 features"):
        model.partial_fit(gaussian_data(100, 31)[:, :2])
    hmm = GaussianHMM(2, random_state=0).partial_fit(*sequences(3, 32))
    with pytest.raises(ValueError, match="X has 1 features, but GaussianHMM is expecting 2 features"):
        hmm.partial_fit(np.zeros((10, 1)))
    with pytest.raises(ValueError, match="lengths must sum"):
        hmm.partial_fit(np.zeros((10, 2)), [4, 4])
    da = pytest.importorskip("dask.array")
    with pytest.raises(TypeError, match="partial_fit takes a batch in memory"):
        model.partial_fit(da.from_array(gaussian_data(100, 33), chunks=50))


@pytest.mark.parametrize(("make", "data"), [
    (partial(GaussianMixture, 2), gaussian_data(100, 34)), (partial(PoissonMixture, 2), count_data(100, 35)),
    (partial(GaussianHMM, 2), sequences(3, 36)[0]), (partial(CategoricalHMM, 2), sequences(3, 37, "symbols")[0]),
], ids=["GaussianMixture", "PoissonMixture", "GaussianHMM", "CategoricalHMM"])
def test_partial_fit_refuses_settings_that_no_longer_describe_the_fit(make, data):
    # The HMMs failed inside numpy ("operands could not be broadcast together"); the mixtures went on
    # with the fitted number of components, whatever n_components said.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = make(random_state=0, max_iter=5).fit(data)
    with pytest.raises(ValueError, match="n_components=3, but the fitted model has n_components=2; "
                                         "partial_fit continues it. Call fit to start afresh"):
        model.set_params(n_components=3).partial_fit(data)
    if "covariance_type" in model.get_params():
        with pytest.raises(ValueError, match="covariance_type='diag', but the fitted model has covariance_type='full'"):
            model.set_params(n_components=2, covariance_type="diag").partial_fit(data)


def test_sklearn_partial_fit_check():
    """scikit-learn runs its partial_fit check only for classifiers, regressors and clusterers;
    it applies to a density estimator as well."""
    pytest.importorskip("sklearn")
    from sklearn.utils.estimator_checks import check_estimators_partial_fit_n_features

    for estimator in (GaussianMixture(), PoissonMixture()):
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            check_estimators_partial_fit_n_features(type(estimator).__name__, estimator)
