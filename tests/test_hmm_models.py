"""HMM estimators: supervised counting, semi-supervised EM, Baum–Welch's monotone objective, fixed
parameters, structural zeros, priors, sampling, model selection and clear errors."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import emlib
from emlib import CategoricalHMM, GaussianHMM, PoissonHMM, hmm
from emlib.exceptions import (
    ConvergenceWarning,
    DegenerateComponentWarning,
    NotFittedError,
)

STICKY = np.array([[0.9, 0.08, 0.02], [0.05, 0.9, 0.05], [0.02, 0.08, 0.9]])


def gaussian_truth(means=(-2.0, 0.5, 3.0), covariance=0.6):
    K = len(means)
    return GaussianHMM(K).set_parameters(
        startprob=np.full(K, 1.0 / K), transmat=STICKY[:K, :K] / STICKY[:K, :K].sum(axis=1, keepdims=True),
        means=np.array(means)[:, None], covariances=np.full((K, 1, 1), covariance),
    )


def categorical_truth():
    return CategoricalHMM(3).set_parameters(
        startprob=[0.6, 0.3, 0.1], transmat=STICKY,
        emissionprob=[[0.7, 0.2, 0.1, 0.0], [0.1, 0.6, 0.2, 0.1], [0.05, 0.05, 0.2, 0.7]],
    )


def poisson_truth():
    return PoissonHMM(3).set_parameters(startprob=[1 / 3] * 3, transmat=STICKY, rates=[[1.0, 8.0], [5.0, 2.0], [12.0, 12.0]])


def sample_sequences(truth, lengths, seed):
    rng = np.random.default_rng(seed)
    pieces = [truth.sample(n, random_state=rng) for n in lengths]
    return np.concatenate([p[0] for p in pieces]), np.concatenate([p[1] for p in pieces])


def complete_data_loglik(model, X, states, lengths):
    """log p(X, states) written out directly, each log-density with the emission's ``log_penalty``
    (reg_covar's term), as in the objective the fit records."""
    log_emission = model.emission_.log_prob(X) + model.emission_.log_penalty()
    total, start = 0.0, 0
    for n in lengths:
        z = states[start:start + n]
        total += np.log(model.startprob_[z[0]]) + np.log(model.transmat_[z[:-1], z[1:]]).sum()
        total += log_emission[np.arange(start, start + n), z].sum()
        start += n
    return total


# -- supervised: counting --------------------------------------------------------------------------------
def test_supervised_gaussian_equals_empirical_counts():
    lengths = [300, 1, 150, 49]
    X, states = sample_sequences(gaussian_truth(), lengths, seed=0)
    model = GaussianHMM(3, reg_covar=1e-6).fit(X, lengths, states=states)
    starts = np.cumsum([0, *lengths[:-1]])
    np.testing.assert_array_equal(model.startprob_, np.bincount(states[starts], minlength=3) / len(lengths))
    counts = np.zeros((3, 3))
    for first, n in zip(starts, lengths, strict=True):
        for t in range(first, first + n - 1):
            counts[states[t], states[t + 1]] += 1
    np.testing.assert_allclose(model.transmat_, counts / counts.sum(axis=1, keepdims=True), rtol=1e-14)
    for k in range(3):
        x = X[states == k, 0]
        assert model.means_[k, 0] == pytest.approx(x.mean(), rel=1e-12)
        assert model.covariances_[k, 0, 0] == pytest.approx(x.var() + 1e-6, rel=1e-10)
    assert model.n_iter_ == 0 and model.converged_
    assert model.loglik_history_.shape == (1,)
    assert model.loglik_history_[0] == pytest.approx(complete_data_loglik(model, X, states, lengths), rel=1e-12)


def test_supervised_categorical_and_poisson_equal_empirical_counts():
    X, states = sample_sequences(categorical_truth(), [500], seed=1)
    model = CategoricalHMM(3).fit(X, states=states)
    for k in range(3):
        counts = np.bincount(X[states == k], minlength=4)
        np.testing.assert_allclose(model.emissionprob_[k], counts / counts.sum(), rtol=1e-14)
    smoothed = CategoricalHMM(3, emissionprob_prior=1.0).fit(X, states=states)
    counts = np.bincount(X[states == 0], minlength=4) + 1.0
    np.testing.assert_allclose(smoothed.emissionprob_[0], counts / counts.sum(), rtol=1e-14)

    X, states = sample_sequences(poisson_truth(), [400, 100], seed=2)
    model = PoissonHMM(3).fit(X, [400, 100], states=states)
    for k in range(3):
        np.testing.assert_allclose(model.rates_[k], X[states == k].mean(axis=0), rtol=1e-12)


def test_supervised_with_an_unused_state_warns_and_keeps_it():
    X, states = sample_sequences(gaussian_truth(), [200], seed=3)
    states = np.where(states == 2, 1, states)
    with pytest.warns(DegenerateComponentWarning):
        model = GaussianHMM(3).fit(X, states=states)
    assert np.all(np.isfinite(model.means_)) and model.startprob_[2] == 0.0
    np.testing.assert_allclose(model.transmat_[2], 1 / 3)  # kept at the starting row


# -- semi-supervised ---------------------------------------------------------------------------------------
def test_semi_supervised_with_five_percent_labels_beats_unsupervised_and_keeps_the_labels():
    truth = GaussianHMM(3).set_parameters(
        startprob=np.full(3, 1 / 3), transmat=[[0.95, 0.04, 0.01], [0.03, 0.94, 0.03], [0.01, 0.04, 0.95]],
        means=[[0.0], [1.2], [2.4]], covariances=np.ones((3, 1, 1)),
    )
    semi_accuracy, unsupervised_accuracy = [], []
    for seed in range(6):
        X, z = truth.sample(2000, random_state=seed)
        labelled = np.random.default_rng(seed).random(z.size) < 0.05
        states = np.where(labelled, z, -1)
        semi = GaussianHMM(3, max_iter=300, random_state=seed).fit(X, states=states)
        unsupervised = GaussianHMM(3, max_iter=300, random_state=seed).fit(X)
        decoded = semi.predict(X)
        semi_accuracy.append(np.mean(decoded == z))
        unsupervised_accuracy.append(np.mean(unsupervised.predict(X) == z))
        # No label switching: the identity is the best matching of fitted to true states.
        confusion = np.zeros((3, 3))
        np.add.at(confusion, (z, decoded), 1)
        best = max(itertools.permutations(range(3)), key=lambda p: confusion[range(3), p].sum())
        assert best == (0, 1, 2)
        assert np.all(np.diff(semi.means_[:, 0]) > 0)
        assert semi_accuracy[-1] > 0.8
        assert np.all(np.diff(semi.loglik_history_) >= -1e-9 * np.abs(semi.loglik_history_[1:]))
    assert np.mean(semi_accuracy) > np.mean(unsupervised_accuracy) + 0.2


def test_semi_supervised_posteriors_are_clamped_and_objective_is_joint():
    X, z = sample_sequences(gaussian_truth(), [300], seed=4)
    states = np.full(z.size, -1)
    states[::10] = z[::10]
    model = GaussianHMM(3, max_iter=5, tol=0, random_state=0).fit(X, states=states)
    # The recorded objective is log p(X, known states), computed by clamping the emissions.
    log_emission = model.emission_.log_prob(X) + model.emission_.log_penalty()
    clamped = np.full_like(log_emission, -np.inf)
    rows = np.flatnonzero(states >= 0)
    clamped[rows, states[rows]] = log_emission[rows, states[rows]]
    free = states < 0
    clamped[free] = log_emission[free]
    assert model.loglik_history_[-1] == pytest.approx(
        hmm.log_likelihood(clamped, model.startprob_, model.transmat_), rel=1e-12
    )
    assert model.loglik_history_[-1] < model.score(X)


# -- Baum–Welch climbs (property) --------------------------------------------------------------------------
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**31 - 1),
    family=st.sampled_from(["gaussian-full", "gaussian-diag", "gaussian-tied", "gaussian-spherical",
                            "categorical", "poisson"]),
    K=st.integers(1, 4),
    lengths=st.lists(st.integers(1, 60), min_size=1, max_size=3),
    prior=st.sampled_from([0.0, 0.5]),
    labelled=st.sampled_from([0.0, 0.2]),
)
def test_objective_never_decreases(seed, family, K, lengths, prior, labelled):
    truth = {"categorical": categorical_truth, "poisson": poisson_truth}.get(family, gaussian_truth)()
    X, z = sample_sequences(truth, lengths, seed)
    n = X.shape[0]
    if n < K:
        return
    rng = np.random.default_rng(seed)
    states = np.where(rng.random(n) < labelled, np.minimum(z, K - 1), -1)
    common = {"max_iter": 15, "tol": 0, "random_state": seed, "startprob_prior": prior, "transmat_prior": prior}
    if family.startswith("gaussian"):
        # A (nearly) exact M-step: reg_covar adds to the ML covariance, which is then not the maximiser.
        model = GaussianHMM(K, covariance_type=family.split("-")[1], reg_covar=1e-12, **common)
    elif family == "categorical":
        model = CategoricalHMM(K, n_features=4, emissionprob_prior=prior, **common)
    else:
        model = PoissonHMM(K, **common)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            model.fit(X, lengths, states=states)
        except ValueError as error:  # a collapsed diagonal variance with reg_covar ~ 0
            assert "must be positive" in str(error)
            return
    if any(issubclass(w.category, DegenerateComponentWarning) for w in caught):
        return  # a collapsed or empty state: regularised, so not an exact M-step any more
    assert not [w for w in caught if issubclass(w.category, RuntimeWarning)]  # em.fit's decrease alarm
    history = model.loglik_history_
    assert np.all(np.isfinite(history))
    assert np.all(np.diff(history) >= -1e-9 * np.maximum(1.0, np.abs(history[1:])))


# -- fixed parameters, structural zeros, priors -----------------------------------------------------------
def test_fixed_parameters_are_not_updated():
    X, _ = sample_sequences(gaussian_truth(), [400], seed=5)
    transmat = np.array([[0.8, 0.1, 0.1], [0.1, 0.8, 0.1], [0.1, 0.1, 0.8]])
    means = np.array([[-1.0], [0.0], [1.0]])
    model = GaussianHMM(3, transmat_init=transmat, means_init=means, fixed={"transmat", "means"}, max_iter=20,
                        random_state=0).fit(X)
    np.testing.assert_array_equal(model.transmat_, transmat)
    np.testing.assert_array_equal(model.means_, means)
    assert not np.allclose(model.covariances_, model.covariances_[0])  # the others are trained
    assert model.n_parameters() == 2 + 3  # startprob (K - 1) and the three variances
    single = GaussianHMM(3, fixed="covariances", covariances_init=np.ones((3, 1, 1)), max_iter=3, tol=0).fit(X)
    np.testing.assert_array_equal(single.covariances_, np.ones((3, 1, 1)))


def test_structural_zeros_stay_zero_and_reduce_the_parameter_count():
    X, _ = sample_sequences(gaussian_truth(), [300], seed=6)
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    model = GaussianHMM(3, startprob_init=startprob, transmat_init=transmat, transmat_prior=1.0,
                        startprob_prior=1.0, means_init=[[-2.0], [0.0], [2.0]], max_iter=500,
                        random_state=0).fit(np.sort(X, axis=0))
    assert np.all(model.transmat_[transmat == 0] == 0.0) and np.all(model.startprob_[1:] == 0.0)
    assert np.all(model.transmat_[transmat > 0] > 0)
    assert model.n_parameters() == 0 + 2 + 3 + 3
    emission_zeros = CategoricalHMM(2, emissionprob_init=[[0.5, 0.5, 0.0], [0.2, 0.3, 0.5]],
                                    emissionprob_prior=1.0, max_iter=5, tol=0, random_state=0)
    symbols, _ = sample_sequences(categorical_truth(), [200], seed=7)
    emission_zeros.fit(np.minimum(symbols, 2))
    assert emission_zeros.emissionprob_[0, 2] == 0.0


def test_badly_started_left_to_right_model_gives_finite_posteriors():
    x = np.linspace(-4, 4, 300)
    model = GaussianHMM(3, covariance_type="spherical").set_parameters(
        startprob=[1.0, 0.0, 0.0], transmat=[[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]],
        means=[[3.0], [-2.0], [0.5]], covariances=[0.02, 0.02, 0.02],
    )
    posteriors = model.predict_proba(x)
    log_emission = model.emission_.log_prob(x[:, None])
    expected, _, loglik = hmm.forward_backward(log_emission, model.startprob_, model.transmat_, method="log")
    np.testing.assert_allclose(posteriors, expected, atol=1e-10)
    assert model.score(x) == pytest.approx(loglik, rel=1e-12)
    fitted = GaussianHMM(3, covariance_type="spherical", startprob_init=model.startprob_,
                         transmat_init=model.transmat_, means_init=model.means_, covariances_init=[0.02] * 3,
                         fixed={"means", "covariances"}, max_iter=3, tol=0).fit(x)
    assert np.all(np.isfinite(fitted.transmat_)) and np.all(np.diff(fitted.loglik_history_) >= 0)


def test_map_step_adds_pseudo_counts_and_the_objective_includes_the_prior():
    X, _ = sample_sequences(gaussian_truth(), [60, 40], seed=8)
    lengths = [60, 40]
    start = {"startprob_init": [0.2, 0.3, 0.5], "transmat_init": STICKY, "means_init": [[-2.0], [0.0], [3.0]],
             "covariances_init": np.ones((3, 1, 1))}
    prior_start, prior_trans = np.array([1.0, 2.0, 3.0]), np.full((3, 3), 0.5)
    model = GaussianHMM(3, startprob_prior=prior_start, transmat_prior=prior_trans, max_iter=1, tol=0,
                        reg_covar=0.0, **start)
    model.fit(X, lengths)
    log_emission = GaussianHMM(3, max_iter=0, **start).fit(X, lengths).emission_.log_prob(X)
    posteriors, pairwise, loglik = hmm.forward_backward(log_emission, start["startprob_init"], STICKY, lengths)
    expected_start = posteriors[[0, 60]].sum(axis=0) + prior_start
    np.testing.assert_allclose(model.startprob_, expected_start / expected_start.sum(), rtol=1e-12)
    expected_trans = pairwise + prior_trans
    np.testing.assert_allclose(model.transmat_, expected_trans / expected_trans.sum(axis=1, keepdims=True), rtol=1e-12)
    log_prior = (prior_start * np.log(start["startprob_init"])).sum() + (prior_trans * np.log(STICKY)).sum()
    assert model.loglik_history_[0] == pytest.approx(loglik + log_prior, rel=1e-12)


# -- inference methods ------------------------------------------------------------------------------------
def test_inference_methods_agree_with_the_functions():
    truth = gaussian_truth()
    X, z = sample_sequences(truth, [120, 80], seed=9)
    lengths = [120, 80]
    log_emission = truth.emission_.log_prob(X)
    posteriors, _, loglik = hmm.forward_backward(log_emission, truth.startprob_, truth.transmat_, lengths)
    np.testing.assert_allclose(truth.predict_proba(X, lengths), posteriors, rtol=1e-13)
    assert truth.score(X, lengths) == pytest.approx(loglik, rel=1e-13)
    path, logprob = hmm.viterbi(log_emission, truth.startprob_, truth.transmat_, lengths)
    decoded_logprob, decoded = truth.decode(X, lengths)
    np.testing.assert_array_equal(decoded, path)
    np.testing.assert_array_equal(truth.predict(X, lengths), path)
    np.testing.assert_array_equal(truth.predict(X, lengths, algorithm="map"), posteriors.argmax(axis=1))
    assert decoded_logprob == pytest.approx(logprob)
    assert np.mean(path == z) > 0.9
    pairs = hmm.pairwise_posteriors(log_emission, truth.startprob_, truth.transmat_, lengths)
    bound, kl = truth.evidence_lower_bound(X, posteriors, pairs, lengths)
    assert kl == pytest.approx(0.0, abs=1e-10) and bound == pytest.approx(loglik, rel=1e-10)
    uniform = np.full_like(posteriors, 1 / 3)
    bound, kl = truth.evidence_lower_bound(X, uniform, np.full((pairs.shape[0], 3, 3), 1 / 9), lengths)
    assert kl > 0 and bound + kl == pytest.approx(loglik, rel=1e-10)


def test_sampling_reproduces_the_chain():
    truth = categorical_truth()
    X, states = truth.sample(30000, random_state=0)
    assert X.shape == (30000,) and states.shape == (30000,)
    counts = np.zeros((3, 3))
    np.add.at(counts, (states[:-1], states[1:]), 1)
    np.testing.assert_allclose(counts / counts.sum(axis=1, keepdims=True), truth.transmat_, atol=0.015)
    assert not np.any(X[states == 0] == 3)  # a zero emission probability is never drawn
    again, _ = truth.sample(30000, random_state=0)
    np.testing.assert_array_equal(X, again)
    Xg, _ = gaussian_truth().sample(10, random_state=1)
    Xp, _ = poisson_truth().sample(10, random_state=1)
    assert Xg.shape == (10, 1) and Xp.shape == (10, 2) and Xp.dtype == np.int64


@pytest.mark.parametrize("family", ["gaussian", "categorical", "poisson"])
def test_unsupervised_fit_recovers_the_parameters(family):
    truth = {"gaussian": gaussian_truth, "categorical": categorical_truth, "poisson": poisson_truth}[family]()
    X, _ = truth.sample(6000, random_state=10)
    estimator = {"gaussian": GaussianHMM, "categorical": CategoricalHMM, "poisson": PoissonHMM}[family]
    model = estimator(3, n_init=3, max_iter=300, random_state=0).fit(X)
    assert model.converged_ and model.restart_logliks_.shape == (3,)
    assert model.loglik_history_[-1] == pytest.approx(model.restart_logliks_.max())
    if family == "gaussian":
        order = np.argsort(model.means_[:, 0])
        np.testing.assert_allclose(model.means_[order, 0], truth.means_[:, 0], atol=0.1)
    elif family == "categorical":
        order = [int(np.argmax(model.emissionprob_[:, m])) for m in (0, 1, 3)]
        np.testing.assert_allclose(model.emissionprob_[order], truth.emissionprob_, atol=0.05)
    else:
        order = np.empty(3, dtype=int)  # order[k]: the fitted state playing true state k
        order[np.argsort(truth.rates_.sum(axis=1))] = np.argsort(model.rates_.sum(axis=1))
        np.testing.assert_allclose(model.rates_[order], truth.rates_, rtol=0.1)
    np.testing.assert_allclose(model.transmat_[np.ix_(order, order)], truth.transmat_, atol=0.03)


def test_information_criteria():
    X, _ = sample_sequences(gaussian_truth(), [500], seed=11)
    model = GaussianHMM(3, covariance_type="diag", random_state=0).fit(X)
    p = 2 + 6 + 3 + 3
    assert model.n_parameters() == p
    assert model.bic(X) == pytest.approx(-2 * model.score(X) + p * np.log(500))
    assert model.aic(X) == pytest.approx(-2 * model.score(X) + 2 * p)
    two = GaussianHMM(2, covariance_type="diag", random_state=0).fit(X)
    assert model.bic(X) < two.bic(X)


def test_lazy_top_level_names_and_verbose(capsys):
    assert emlib.GaussianHMM is GaussianHMM and emlib.PoissonHMM is PoissonHMM
    assert emlib.CategoricalHMM is CategoricalHMM
    X, _ = sample_sequences(gaussian_truth(), [50], seed=12)
    GaussianHMM(2, max_iter=2, tol=0, verbose=True, random_state=0).fit(X)
    assert "iteration    2" in capsys.readouterr().out


def test_not_converging_warns():
    X, _ = sample_sequences(gaussian_truth(), [300], seed=13)
    with pytest.warns(ConvergenceWarning, match="max_iter=2"):
        GaussianHMM(3, max_iter=2, random_state=0).fit(X)


def test_categorical_symbols_and_smoothing():
    X = np.array([0, 1, 1, 0, 2, 2, 1])
    model = CategoricalHMM(2, n_features=5, random_state=0, max_iter=10, tol=0).fit(X)
    assert model.n_features_ == 5 and model.emissionprob_.shape == (2, 5)
    assert model.score(np.array([4])) == -np.inf  # never seen, maximum likelihood gives it zero
    with pytest.raises(ValueError, match="knows only n_features=5"):
        model.predict(np.array([0, 5]))
    smoothed = CategoricalHMM(2, n_features=5, emissionprob_prior=1.0, random_state=0, max_iter=10,
                              tol=0).fit(X)
    assert np.isfinite(smoothed.score(np.array([4])))


# -- errors -----------------------------------------------------------------------------------------------
def test_impossible_observations_under_fixed_parameters_name_sequence_and_step():
    model = CategoricalHMM(2, emissionprob_init=[[1.0, 0.0], [0.5, 0.5]], transmat_init=[[1.0, 0.0], [0.0, 1.0]],
                           startprob_init=[1.0, 0.0], fixed={"startprob", "transmat", "emissionprob"})
    X = np.array([0, 0, 0, 0, 0, 1, 0])
    with pytest.raises(ValueError, match=r"^X: observation 2 of sequence 1 \(row 5 of X\) has probability zero "
                       r"under every state reachable there .* under the fixed parameters\. Check") as error:
        model.fit(X, lengths=[3, 4])
    assert "given states" not in str(error.value)  # none were given
    assert "no state can emit" not in str(error.value)  # state 1 can, but cannot be reached


def test_an_observation_no_state_can_emit_is_said_to_be_one():
    # symbol 2 has probability zero in both rows of emissionprob_init (zeros stay zero)
    model = CategoricalHMM(2, emissionprob_init=[[0.5, 0.5, 0.0], [0.2, 0.8, 0.0]])
    with pytest.raises(ValueError, match=r"^X: observation 2 of sequence 0 \(row 2 of X\) has probability zero .* "
                       r"under the current parameters; no state can emit it \(its emission probability is zero in "
                       r"every state\)\. Check"):
        model.fit(np.array([0, 1, 2, 0]))
    rates = PoissonHMM(2).set_parameters(startprob=[0.5, 0.5], transmat=[[0.9, 0.1], [0.1, 0.9]],
                                         rates=[[0.0], [0.0]])
    with pytest.raises(ValueError, match=r"observation 1 of sequence 0 .* under the fitted model; no state can emit "
                       r"it \(its emission probability is zero in every state\)$"):
        rates.predict([[0], [1]])


def test_a_symbol_never_seen_in_training_is_named_with_the_prior_that_keeps_it_possible():
    X = np.array([0, 1, 3, 0, 1, 3, 3, 1, 0, 0, 1, 3] * 5)  # symbol 2 never occurs: n_features_ = 4
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model = CategoricalHMM(2, random_state=0, max_iter=20).fit(X)
    assert np.all(model.emissionprob_[:, 2] == 0)
    unseen = r"symbol 2 has emission probability zero in every state, .* emissionprob_prior > 0"
    for call in (lambda: model.predict([0, 1, 1, 2], lengths=[2, 2]), lambda: model.predict_proba([0, 2, 1]),
                 lambda: model.decode([0, 2, 1]), lambda: model.filter_proba([0, 2, 1])):
        with pytest.raises(ValueError, match=r"^X: observation 1 of sequence [01] \(row [13] of X\) .*under the "
                           r"fitted model: " + unseen):
            call()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        smoothed = CategoricalHMM(2, emissionprob_prior=1.0, random_state=0, max_iter=20).fit(X)
    assert smoothed.predict([0, 2, 1]).shape == (3,)
    # an impossible observation that some state can emit (only unreachable ones) gets no such advice
    blocked = CategoricalHMM(2).set_parameters(startprob=[1.0, 0.0], transmat=[[1.0, 0.0], [0.0, 1.0]],
                                               emissionprob=[[1.0, 0.0, 0.0, 0.0], [0.0, 1.0, 0.0, 0.0]])
    with pytest.raises(ValueError, match="under the fitted model$") as error:
        blocked.predict([0, 1])
    assert "emissionprob_prior" not in str(error.value)


def test_impossible_labels_are_reported():
    X = np.array([0.0, 0.1, 5.0, 5.1])
    with pytest.raises(ValueError, match="observation 1 of sequence 0 .* has probability zero"), \
            warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)  # two points per state to start from
        GaussianHMM(2, transmat_init=[[1.0, 0.0], [0.0, 1.0]]).fit(X, states=[0, 1, -1, -1])
    with pytest.raises(ValueError, match="and the given states"), warnings.catch_warnings():
        warnings.simplefilter("ignore", DegenerateComponentWarning)
        GaussianHMM(2, transmat_init=[[1.0, 0.0], [0.0, 1.0]]).fit(X, states=[0, 1, -1, -1])


@pytest.mark.parametrize(
    ("estimator", "kwargs", "fit_kwargs", "message"),
    [
        (GaussianHMM, {}, {"lengths": [5, 4]}, "lengths must sum to the number of samples 10"),
        (GaussianHMM, {}, {"lengths": [10, 0]}, "lengths must be positive"),
        (GaussianHMM, {}, {"states": [0] * 9 + [3]}, r"states\[9\] is 3"),
        (GaussianHMM, {}, {"states": [-2] + [0] * 9}, r"states must contain -1 \(unknown\) or a state 0..2"),
        (GaussianHMM, {}, {"states": [0.5] * 10}, "states must contain integers"),
        (GaussianHMM, {}, {"states": [0] * 4}, "states must be a 1-D array as long as X"),
        (GaussianHMM, {"startprob_init": [0.5, 0.5, 0.5]}, {}, "startprob_init must sum to one"),
        (GaussianHMM, {"startprob_init": [1.5, -0.5, 0.0]}, {}, "startprob_init has negative entries"),
        (GaussianHMM, {"transmat_init": np.eye(3) * 0.5}, {}, "each row of transmat_init must sum to one"),
        (GaussianHMM, {"transmat_init": np.eye(2)}, {}, r"transmat_init must have shape \(3, 3\)"),
        (GaussianHMM, {"means_init": np.zeros((2, 1))}, {}, r"means_init must have shape \(3, 1\), got \(2, 1\)"),
        (GaussianHMM, {"means_init": "x"}, {}, r"means_init must be an array of numbers of shape \(n_components"),
        (GaussianHMM, {"means_init": [[0.0], [np.inf], [1.0]]}, {}, "means_init contains NaN or infinite values"),
        (GaussianHMM, {"covariances_init": -np.ones((3, 1, 1))}, {}, "covariances_init"),
        (GaussianHMM, {"fixed": {"transitions"}}, {}, r"unknown parameter name\(s\) \['transitions'\]"),
        (GaussianHMM, {"transmat_prior": -1.0}, {}, "transmat_prior must contain finite pseudo-counts >= 0"),
        (GaussianHMM, {"startprob_prior": np.ones(2)}, {}, r"startprob_prior must be a number or have shape \(3,\)"),
        (GaussianHMM, {"n_components": 0}, {}, "n_components must be an integer >= 1"),
        (GaussianHMM, {"covariance_type": "round"}, {}, "covariance_type must be one of"),
        (GaussianHMM, {"init": "kmeans"}, {}, "init must be one of"),
        (CategoricalHMM, {"emissionprob_init": [[0.5, 0.6]] * 3}, {}, "emissionprob_init: each row"),
        (CategoricalHMM, {"n_features": 2}, {}, "knows only n_features=2"),
        (PoissonHMM, {"rates_init": [1.0, 2.0]}, {}, r"rates_init must have shape \(3, 1\)"),
    ],
)
def test_bad_parameters_and_data_are_named(estimator, kwargs, fit_kwargs, message):
    X = np.arange(10) % 3
    kwargs = {"n_components": 3, **kwargs}
    with pytest.raises(ValueError, match=message):
        estimator(**kwargs).fit(X, **fit_kwargs)


@pytest.mark.parametrize(
    ("estimator", "X", "message"),
    [
        (CategoricalHMM, [0, 1, 2.5], r"integer symbols 0, 1, ..., M - 1, but X\[2\] is 2.5"),
        (CategoricalHMM, [0, -1, 2], r"symbols >= 0, but X\[1\] is -1"),
        (PoissonHMM, [0, 3, -1], r"counts >= 0, but X\[2, 0\] is -1"),
        (PoissonHMM, [0, 3, 1.5], "whole-number counts"),
        # GaussianHMM has no missing="em", so its message must not suggest one
        (GaussianHMM, [0.0, np.nan, 1.0], "X contains NaN; remove or impute the missing values$"),
        (GaussianHMM, [0.0, np.inf, 1.0], "X contains infinite values"),
    ],
)
def test_bad_observations_are_explained(estimator, X, message):
    with pytest.raises(ValueError, match=message):
        estimator(2).fit(X)


def test_unfitted_and_mismatched_use():
    with pytest.raises(NotFittedError, match="not fitted yet"):
        GaussianHMM(2).predict(np.zeros(3))
    with pytest.raises(NotFittedError, match="not fitted yet"):
        _ = PoissonHMM(2).rates_
    assert not hasattr(CategoricalHMM(2), "emissionprob_")
    model = GaussianHMM(2, random_state=0).fit(np.random.default_rng(0).normal(size=(50, 2)))
    with pytest.raises(ValueError, match=r"X has 3 features, but \w+ is expecting 2 features"):
        model.score(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="algorithm must be one of"):
        model.predict(np.zeros((4, 2)), algorithm="greedy")
    with pytest.raises(ValueError, match="needs at least as many samples"):
        GaussianHMM(5).fit(np.zeros((3, 1)))


def test_filtered_probabilities_use_only_the_past():
    rng = np.random.default_rng(31)
    X = np.concatenate([rng.normal(0, 1, 40), rng.normal(3, 1, 40)])
    model = GaussianHMM(2, random_state=0).fit(X, lengths=[50, 30])
    filtered = model.filter_proba(X, lengths=[50, 30])
    assert filtered.shape == (80, 2)
    np.testing.assert_allclose(filtered.sum(axis=1), 1.0, rtol=1e-12)
    # Filtering at step t is smoothing on the sequence cut after t.
    for t in (0, 7, 49):
        np.testing.assert_allclose(filtered[t], model.predict_proba(X[: t + 1])[-1], rtol=1e-10)
    for t in (50, 61, 79):
        np.testing.assert_allclose(filtered[t], model.predict_proba(X[50 : t + 1])[-1], rtol=1e-10)
    # ... so the last step of each sequence agrees with the smoothed posterior, and others differ.
    smoothed = model.predict_proba(X, lengths=[50, 30])
    np.testing.assert_allclose(filtered[[49, 79]], smoothed[[49, 79]], rtol=1e-10)
    assert np.abs(filtered - smoothed).max() > 1e-3


def test_filtered_probabilities_explain_an_impossible_observation():
    model = CategoricalHMM(2, transmat_init=[[1.0, 0.0], [0.0, 1.0]], startprob_init=[1.0, 0.0],
                           emissionprob_init=[[1.0, 0.0], [0.0, 1.0]], fixed={"startprob", "transmat", "emissionprob"})
    model.fit([0, 0, 0])
    with pytest.raises(ValueError, match=r"X: observation 2 of sequence 0 .*under the fitted model$"):
        model.filter_proba([0, 0, 1])


def test_a_state_collapsed_in_the_final_fit_is_reported():
    # A run of identical readings (a stuck sensor): the state that explains it has variance reg_covar.
    rng = np.random.default_rng(40)
    X = np.concatenate([rng.normal(0.0, 1.0, 100), np.full(30, 5.0), rng.normal(0.0, 1.0, 100)])
    with pytest.warns(DegenerateComponentWarning, match=r"component\(s\) \[\d\] collapsed") as record:
        model = GaussianHMM(2, random_state=0).fit(X)
    assert record[0].filename == __file__  # points at the user's call
    stuck = model.predict(X)[110]
    assert model.covariances_.ravel()[stuck] < 2e-6
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # healthy data: no warning at all
        GaussianHMM(2, random_state=0).fit(np.concatenate([X[:100], X[130:] + 5.0]))


def test_fit_validates_the_starting_probabilities_once(monkeypatch):
    """fit checks startprob_init and transmat_init once each (before any work, naming them) and starts
    from the arrays that check returned."""
    from emlib.hmm import _base

    X, _ = gaussian_truth().sample(200, random_state=0)
    calls = {"check_probability_vector": 0, "check_stochastic_matrix": 0}

    def counting(name):
        check = getattr(_base, name)

        def counted(*args, **kwargs):
            calls[name] += 1
            return check(*args, **kwargs)

        return counted

    for name in calls:
        monkeypatch.setattr(_base, name, counting(name))
    model = GaussianHMM(3, startprob_init=[0.5, 0.3, 0.2], transmat_init=STICKY, random_state=0, max_iter=0)
    model.fit(X)
    assert calls == {"check_probability_vector": 1, "check_stochastic_matrix": 1}
    np.testing.assert_array_equal(model.startprob_, [0.5, 0.3, 0.2])
    np.testing.assert_array_equal(model.transmat_, STICKY / STICKY.sum(axis=1, keepdims=True))


def test_fit_validates_the_emission_starting_values_once(count_calls):
    """emissionprob_init, covariances_init and rates_init are checked once per fit (emissionprob_init by
    the settings check, before the data are read), however many runs start from them; the starts are
    the values given."""
    from emlib.distributions import Gaussian
    from emlib.hmm import models

    symbols, _ = categorical_truth().sample(200, random_state=0)
    emissionprob = categorical_truth().emissionprob_
    X, _ = gaussian_truth().sample(200, random_state=0)
    covariances = np.array([[[0.5]], [[0.6]], [[0.7]]])
    counts, _ = poisson_truth().sample(200, random_state=0)
    rates = poisson_truth().rates_
    count_calls(models, "_checked_categorical", "categorical")
    count_calls(Gaussian, "check_covariances", "covariances")
    count_calls(models, "Poisson", "poisson")
    model = CategoricalHMM(3, emissionprob_init=emissionprob, n_init=3, max_iter=0, random_state=0).fit(symbols)
    np.testing.assert_allclose(model.emissionprob_, emissionprob, rtol=1e-15)  # renormalised rows
    model = GaussianHMM(3, covariances_init=covariances, n_init=3, max_iter=0, random_state=0).fit(X)
    np.testing.assert_array_equal(model.covariances_, covariances)
    model = PoissonHMM(3, rates_init=rates, n_init=3, max_iter=0, random_state=0).fit(counts)
    np.testing.assert_array_equal(model.rates_, rates)
    assert count_calls.calls == {"categorical": 1, "covariances": 1, "poisson": 1}
