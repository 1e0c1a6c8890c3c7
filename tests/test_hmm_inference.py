"""HMM inference functions: scaling against log space, both against brute-force enumeration of
every state path, structural zeros, underflow, exact sums over a million steps, the ELBO. Tests that
take the ``tier`` fixture run twice: with the kernels' NumPy twins and with the compiled kernels
(tests/test_hmm_kernels.py compares the two directly)."""

import itertools
import warnings

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from emlib import GaussianHMM, hmm
from emlib.elbo import Decomposition
from emlib.hmm import _inference, _kernels
from emlib.hmm import reference as ref


@pytest.fixture(params=["numpy", "compiled"])
def tier(request):
    """Run the test with the kernels' NumPy twins, then with the compiled kernels."""
    with _kernels.use(request.param):
        yield request.param


def random_model(rng, K, T, zeros=False, impossible_rows=0):
    """Log-emissions (T, K), startprob and transmat; optionally with structural zeros."""
    startprob = rng.dirichlet(np.ones(K))
    transmat = rng.dirichlet(np.ones(K), size=K)
    log_emission = rng.normal(-3.0, 2.0, size=(T, K))
    if zeros and K > 1:
        startprob[rng.integers(K)] = 0.0
        mask = rng.random((K, K)) < 0.3
        mask[np.arange(K), rng.integers(K, size=K)] = False  # every row keeps an entry
        transmat[mask] = 0.0
        log_emission[rng.random((T, K)) < 0.2] = -np.inf
        startprob /= startprob.sum()
        transmat /= transmat.sum(axis=1, keepdims=True)
    return log_emission, startprob, transmat


def brute_force(log_emission, startprob, transmat):
    """Every quantity by enumerating all K**T paths of one sequence."""
    T, K = log_emission.shape
    with np.errstate(divide="ignore"):
        log_pi, log_a = np.log(startprob), np.log(transmat)
    paths = np.array(list(itertools.product(range(K), repeat=T)))
    joint = log_pi[paths[:, 0]] + log_emission[0, paths[:, 0]]
    for t in range(1, T):
        joint = joint + log_a[paths[:, t - 1], paths[:, t]] + log_emission[t, paths[:, t]]
    top = joint.max()
    if top == -np.inf:
        return None, None, -np.inf, None, None
    loglik = top + np.log(np.exp(joint - top).sum())
    weights = np.exp(joint - loglik)
    posteriors = np.zeros((T, K))
    pairwise = np.zeros((K, K))
    for w, path in zip(weights, paths, strict=True):
        posteriors[np.arange(T), path] += w
        np.add.at(pairwise, (path[:-1], path[1:]), w)
    best = int(np.argmax(joint))
    return posteriors, pairwise, loglik, paths[best], joint[best]


# -- against brute force -----------------------------------------------------------------------------
@pytest.mark.parametrize("method", ["scaling", "log"])
@pytest.mark.parametrize("zeros", [False, True])
def test_forward_backward_and_viterbi_match_enumeration(method, zeros, tier):
    rng = np.random.default_rng(1)
    for _ in range(5):
        K, T = int(rng.integers(1, 4)), int(rng.integers(1, 7))
        args = random_model(rng, K, T, zeros=zeros)
        post_bf, pair_bf, ll_bf, path_bf, lp_bf = brute_force(*args)
        if not np.isfinite(ll_bf):
            with pytest.raises(ValueError, match="probability zero"):
                hmm.forward_backward(*args, method=method)
            continue
        posteriors, pairwise, loglik = hmm.forward_backward(*args, method=method)
        np.testing.assert_allclose(posteriors, post_bf, rtol=1e-10, atol=1e-12)
        np.testing.assert_allclose(pairwise, pair_bf, rtol=1e-10, atol=1e-12)
        assert loglik == pytest.approx(ll_bf, rel=1e-12)
        path, logprob = hmm.viterbi(*args)
        assert logprob == pytest.approx(lp_bf, rel=1e-12)
        np.testing.assert_array_equal(path, path_bf)


def test_log_likelihood_and_forward_pieces_match_enumeration(tier):
    rng = np.random.default_rng(2)
    args = random_model(rng, 3, 6)
    _, _, ll_bf, _, _ = brute_force(*args)
    alpha, log_scaling = hmm.forward(*args)
    assert log_scaling.sum() == pytest.approx(ll_bf, rel=1e-12)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    log_alpha, ll = hmm.forward_log(*args)
    assert ll == pytest.approx(ll_bf, rel=1e-12)
    assert hmm.log_likelihood(*args) == pytest.approx(ll_bf, rel=1e-12)
    # alpha (scaled) is log_alpha normalised per step
    expected = np.exp(log_alpha - log_alpha.max(axis=1, keepdims=True))
    np.testing.assert_allclose(alpha, expected / expected.sum(axis=1, keepdims=True), rtol=1e-12)
    # beta (scaled) times alpha is the posterior; log_beta + log_alpha - loglik is its logarithm
    beta = hmm.backward(args[0], args[2], log_scaling)
    log_beta = hmm.backward_log(args[0], args[2])
    np.testing.assert_allclose(alpha * beta, np.exp(log_alpha + log_beta - ll), rtol=1e-12)


# -- compiled kernels against the NumPy reference ----------------------------------------------------
@pytest.mark.parametrize("zeros", [False, True])
def test_public_functions_equal_the_reference(zeros, tier):
    rng = np.random.default_rng(3)
    lengths = np.array([1, 7, 30, 2])
    for _ in range(5):
        args = random_model(rng, 4, int(lengths.sum()), zeros=zeros)
        try:
            hmm.forward_backward(*args, lengths=lengths)
        except ValueError:
            continue  # drawn zeros made a sequence impossible: covered elsewhere
        alpha, log_scaling = hmm.forward(*args, lengths=lengths)
        alpha_r, log_scaling_r = ref.forward_scaled(*args, lengths)
        np.testing.assert_allclose(alpha, alpha_r, rtol=1e-12, atol=1e-300)
        np.testing.assert_allclose(log_scaling, log_scaling_r, rtol=1e-12)
        beta = hmm.backward(args[0], args[2], log_scaling, lengths=lengths)
        np.testing.assert_allclose(beta, ref.backward_scaled(args[0], args[2], log_scaling, lengths), rtol=1e-12)
        log_alpha, ll = hmm.forward_log(*args, lengths=lengths)
        log_alpha_r, ll_r = ref.forward_log(*args, lengths)
        np.testing.assert_allclose(log_alpha, log_alpha_r, rtol=1e-12)
        assert ll == pytest.approx(ll_r, rel=1e-12)
        np.testing.assert_allclose(
            hmm.backward_log(args[0], args[2], lengths=lengths), ref.backward_log(args[0], args[2], lengths),
            rtol=1e-12, atol=1e-12,
        )
        for method, reference in (("scaling", ref.forward_backward_scaled), ("log", ref.forward_backward_log)):
            posteriors, pairwise, loglik = hmm.forward_backward(*args, lengths=lengths, method=method)
            posteriors_r, pairwise_r, loglik_r = reference(*args, lengths)
            np.testing.assert_allclose(posteriors, posteriors_r, rtol=1e-10, atol=1e-14)
            np.testing.assert_allclose(pairwise, pairwise_r, rtol=1e-10, atol=1e-14)
            assert loglik == pytest.approx(loglik_r, rel=1e-12)
        path, logprob = hmm.viterbi(*args, lengths=lengths)
        path_r, logprob_r = ref.viterbi(*args, lengths)
        np.testing.assert_array_equal(path, path_r)
        assert logprob == pytest.approx(logprob_r, rel=1e-12)


def test_several_sequences_equal_separate_calls(tier):
    rng = np.random.default_rng(4)
    lengths = [5, 1, 12]
    log_emission, startprob, transmat = random_model(rng, 3, sum(lengths))
    posteriors, pairwise, loglik = hmm.forward_backward(log_emission, startprob, transmat, lengths)
    path, logprob = hmm.viterbi(log_emission, startprob, transmat, lengths)
    pieces = np.split(np.arange(sum(lengths)), np.cumsum(lengths)[:-1])
    separate = [hmm.forward_backward(log_emission[rows], startprob, transmat) for rows in pieces]
    np.testing.assert_allclose(posteriors, np.concatenate([s[0] for s in separate]), rtol=1e-13)
    np.testing.assert_allclose(pairwise, sum(s[1] for s in separate), rtol=1e-13)
    assert loglik == pytest.approx(sum(s[2] for s in separate), rel=1e-13)
    assert logprob == pytest.approx(sum(hmm.viterbi(log_emission[r], startprob, transmat)[1] for r in pieces))
    np.testing.assert_array_equal(
        path, np.concatenate([hmm.viterbi(log_emission[r], startprob, transmat)[0] for r in pieces])
    )
    per_sequence = hmm.log_likelihood(log_emission, startprob, transmat, lengths, per_sequence=True)
    np.testing.assert_allclose(per_sequence, [s[2] for s in separate], rtol=1e-13)


# -- scaling and log space agree (property) ----------------------------------------------------------
@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**32 - 1),
    K=st.integers(1, 5),
    lengths=st.lists(st.integers(1, 40), min_size=1, max_size=4),
    zeros=st.booleans(),
    mode=st.sampled_from(["numpy", "compiled"]),
)
def test_properties_of_forward_backward(seed, K, lengths, zeros, mode):
    with _kernels.use(mode):
        check_properties_of_forward_backward(seed, K, lengths, zeros)


def check_properties_of_forward_backward(seed, K, lengths, zeros):
    rng = np.random.default_rng(seed)
    args = random_model(rng, K, sum(lengths), zeros=zeros)
    try:
        posteriors, pairwise, loglik = hmm.forward_backward(*args, lengths=lengths)
    except ValueError as error:
        assert "probability zero" in str(error)
        with pytest.raises(ValueError, match="probability zero"):
            hmm.forward_backward(*args, lengths=lengths, method="log")
        assert hmm.log_likelihood(*args, lengths=lengths) == -np.inf
        return
    log_posteriors, log_pairwise, log_loglik = hmm.forward_backward(*args, lengths=lengths, method="log")
    assert not np.isnan(posteriors).any() and not np.isnan(pairwise).any()
    # scaled and log methods agree to 1e-10
    np.testing.assert_allclose(posteriors, log_posteriors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pairwise, log_pairwise, rtol=1e-10, atol=1e-10)
    assert loglik == pytest.approx(log_loglik, rel=1e-10, abs=1e-10)
    # posteriors sum to one per step; impossible states get exactly zero
    np.testing.assert_allclose(posteriors.sum(axis=1), 1.0, atol=1e-12)
    assert np.all(posteriors[np.isneginf(args[0])] == 0.0)
    # the pairwise posteriors marginalise to the state posteriors
    per_step = hmm.pairwise_posteriors(*args, lengths=lengths)
    first = np.delete(np.arange(sum(lengths)), np.cumsum(lengths) - 1)
    np.testing.assert_allclose(per_step.sum(axis=2), posteriors[first], atol=1e-10)
    np.testing.assert_allclose(per_step.sum(axis=1), posteriors[first + 1], atol=1e-10)
    np.testing.assert_allclose(per_step.sum(axis=0), pairwise, atol=1e-10)
    # structural zeros of transmat carry no pairwise mass
    assert np.all(pairwise[args[2] == 0] == 0.0)
    # Viterbi's path is possible and no more probable than the whole evidence
    path, logprob = hmm.viterbi(*args, lengths=lengths)
    assert np.isfinite(logprob) and logprob <= loglik + 1e-9
    assert np.all(np.isfinite(args[0][np.arange(len(path)), path]))


# -- exact in both methods: sums that must be one stay one ----------------------------------------
def three_state_data(rng, T):
    """Log-emissions (T, 3) of 1-D Gaussian observations, with sticky transitions."""
    means = np.array([-2.0, 0.0, 2.0])
    x = rng.normal(means[rng.integers(3, size=T)], 1.0)
    log_emission = -0.5 * (x[:, None] - means) ** 2 - 0.5 * np.log(2 * np.pi)
    transmat = np.array([[0.9, 0.05, 0.05], [0.1, 0.8, 0.1], [0.05, 0.15, 0.8]])
    return log_emission, np.full(3, 1 / 3), transmat


@pytest.mark.slow
def test_a_million_steps_keep_posteriors_and_counts_exact_in_both_methods():
    rng = np.random.default_rng(13)
    T = 1_000_000
    args = three_state_data(rng, T)
    with _kernels.use("compiled"):
        results = {m: hmm.forward_backward(*args, method=m) for m in ("scaling", "log")}
    for posteriors, pairwise, _ in results.values():
        assert np.abs(posteriors.sum(axis=1) - 1.0).max() <= 1e-12
        assert abs(pairwise.sum() - (T - 1)) <= 1e-8
    (posteriors, pairwise, loglik), (log_posteriors, log_pairwise, log_loglik) = results.values()
    np.testing.assert_allclose(posteriors, log_posteriors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pairwise, log_pairwise, rtol=1e-10)
    assert loglik == pytest.approx(log_loglik, rel=1e-12)


@pytest.mark.parametrize("magnitude", [1e14, 1e18])
@pytest.mark.parametrize("lengths", [None, [20, 30]])
def test_huge_log_emissions_still_give_counts_that_total_the_transitions(magnitude, lengths, tier):
    rng = np.random.default_rng(14)
    log_emission = -np.abs(rng.normal(size=(50, 3))) * magnitude
    startprob, transmat = np.full(3, 1 / 3), np.array([[0.8, 0.1, 0.1], [0.2, 0.7, 0.1], [0.3, 0.3, 0.4]])
    transitions = 50 - (1 if lengths is None else len(lengths))
    outputs = [hmm.forward_backward(log_emission, startprob, transmat, lengths, method=m) for m in ("scaling", "log")]
    outputs.append(ref.forward_backward_log(log_emission, startprob, transmat, lengths))
    for posteriors, pairwise, loglik in outputs:
        assert np.all(np.isfinite(posteriors)) and np.all(np.isfinite(pairwise)) and np.isfinite(loglik)
        assert np.abs(posteriors.sum(axis=1) - 1.0).max() <= 1e-12
        assert pairwise.sum() == pytest.approx(transitions, abs=1e-8)


@pytest.mark.parametrize("lengths", [[20_000], [100] * 200])
def test_both_methods_agree_to_1e10_on_long_and_on_many_sequences(lengths, tier):
    if tier == "numpy":  # the twins are slower: a tenth of the steps
        lengths = [2_000] if len(lengths) == 1 else [100] * 20
    rng = np.random.default_rng(15)
    args = three_state_data(rng, sum(lengths))
    posteriors, pairwise, loglik = hmm.forward_backward(*args, lengths=lengths)
    log_posteriors, log_pairwise, log_loglik = hmm.forward_backward(*args, lengths=lengths, method="log")
    np.testing.assert_allclose(posteriors, log_posteriors, rtol=0, atol=1e-10)
    np.testing.assert_allclose(pairwise, log_pairwise, rtol=1e-10)
    assert loglik == pytest.approx(log_loglik, rel=1e-12)


# -- structural zeros and impossible observations ----------------------------------------------------
def test_left_to_right_model_has_no_nan_in_either_method(tier):
    transmat = np.array([[0.8, 0.2, 0.0], [0.0, 0.7, 0.3], [0.0, 0.0, 1.0]])
    startprob = np.array([1.0, 0.0, 0.0])
    log_emission = np.log(np.array([[0.9, 0.1, 0.1]] * 4 + [[0.1, 0.9, 0.1]] * 4 + [[0.1, 0.1, 0.9]] * 4))
    log_emission[0, 1:] = -np.inf  # the first observation can only come from state 0
    results = [hmm.forward_backward(log_emission, startprob, transmat, method=m) for m in ("scaling", "log")]
    for posteriors, pairwise, loglik in results:
        assert np.isfinite(loglik) and np.all(np.isfinite(posteriors)) and np.all(np.isfinite(pairwise))
        np.testing.assert_allclose(posteriors[0], [1.0, 0.0, 0.0])
        assert pairwise[1, 0] == 0.0 and pairwise[2, 1] == 0.0 and pairwise[0, 2] == 0.0
    np.testing.assert_allclose(results[0][0], results[1][0], atol=1e-12)
    path, _ = hmm.viterbi(log_emission, startprob, transmat)
    assert np.all(np.diff(path) >= 0)  # never moves left


def past_and_future_disagree(n):
    """A left-to-right model started in state 0 on ``n`` steps that state 0 explains, then ``n``
    that only state 2 explains, each other state being e^-740 times less likely: the scaled
    backward variables need numbers beyond 1e308."""
    log_emission = np.concatenate([np.tile([0.0, -740.0, -740.0], (n, 1)), np.tile([-740.0, -740.0, 0.0], (n, 1))])
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    return log_emission, startprob, transmat


def test_scaling_falls_back_to_log_space_when_numbers_leave_the_double_range(tier):
    log_emission, startprob, transmat = past_and_future_disagree(10)
    buffers = _inference.EStepBuffers(*log_emission.shape)
    _, status = _kernels.forward_backward_scaled(
        log_emission.copy(), startprob, transmat, np.array([0]), np.array([20]), buffers.posteriors,
        buffers.log_scaling, buffers.pairwise, buffers.start_counts, buffers.scratch, True,
    )
    assert status == _kernels.OUT_OF_RANGE
    with np.errstate(all="ignore"):  # the textbook recursion really does break here
        assert not np.all(np.isfinite(ref.forward_backward_scaled(log_emission, startprob, transmat)[0]))
    posteriors, pairwise, loglik = hmm.forward_backward(log_emission, startprob, transmat)
    log_posteriors, log_pairwise, log_loglik = hmm.forward_backward(log_emission, startprob, transmat, method="log")
    assert np.all(np.isfinite(posteriors)) and np.all(np.isfinite(pairwise))
    assert np.abs(posteriors.sum(axis=1) - 1.0).max() <= 1e-12
    assert pairwise.sum() == pytest.approx(19, abs=1e-12)
    np.testing.assert_allclose(posteriors, log_posteriors, atol=1e-10)
    np.testing.assert_allclose(pairwise, log_pairwise, rtol=1e-10, atol=1e-10)
    assert loglik == pytest.approx(log_loglik, rel=1e-12)
    alpha, log_scaling = hmm.forward(log_emission, startprob, transmat)
    assert log_scaling.sum() == pytest.approx(log_loglik, rel=1e-12)
    np.testing.assert_allclose(alpha.sum(axis=1), 1.0)
    assert hmm.log_likelihood(log_emission, startprob, transmat) == pytest.approx(log_loglik, rel=1e-12)


def test_the_estimators_log_space_fallback_is_exact_on_many_long_sequences(tier):
    # The E-step the estimators run (run_e_step) redoes the work in log space when scaling leaves
    # the range of doubles; that path must keep every sum exact too.
    n, copies = (1000, 100) if tier == "compiled" else (20, 20)
    one, startprob, transmat = past_and_future_disagree(n)
    log_emission = np.tile(one, (copies, 1))
    lengths = np.full(copies, 2 * n)
    starts = _inference.sequence_starts(lengths)
    buffers = _inference.EStepBuffers(*log_emission.shape)
    calls = []

    def fresh_log_emission():
        calls.append(1)
        return log_emission.copy()

    loglik, status = _inference.run_e_step(fresh_log_emission, startprob, transmat, starts, lengths, buffers)
    assert status == -1 and len(calls) == 2  # the scaled pass gave up, log space finished
    assert np.abs(buffers.posteriors.sum(axis=1) - 1.0).max() <= 1e-12
    assert buffers.pairwise.sum() == pytest.approx(log_emission.shape[0] - copies, abs=1e-8)
    assert buffers.start_counts.sum() == pytest.approx(copies, abs=1e-10)
    single = hmm.forward_backward(one, startprob, transmat, method="log")
    np.testing.assert_allclose(buffers.posteriors[:2 * n], single[0], atol=1e-12)
    np.testing.assert_allclose(buffers.pairwise, copies * single[1], rtol=1e-10)
    assert loglik == pytest.approx(copies * single[2], rel=1e-12)


def test_an_estimators_fit_and_posteriors_take_the_exact_log_space_path(tier):
    # A left-to-right GaussianHMM whose sequences jump from state 0's mean to state 2's: state 1
    # explains neither, and the scaled E-step leaves the range of doubles. HMMEM.e_step (the fit)
    # and predict_proba must then give the log-space numbers, sums exact.
    rng = np.random.default_rng(11)
    n, copies = (500, 20) if tier == "compiled" else (20, 5)
    X = np.concatenate([np.concatenate([rng.normal(0.0, 1.0, (n, 1)), rng.normal(120.0, 1.0, (n, 1))])
                        for _ in range(copies)])
    lengths = np.full(copies, 2 * n)
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    means, covariances = np.array([[0.0], [60.0], [120.0]]), np.ones((3, 1))
    model = GaussianHMM(3, covariance_type="diag", startprob_init=startprob, transmat_init=transmat,
                        means_init=means, covariances_init=covariances, fixed=("covariances",),
                        reg_covar=0.0, max_iter=1, tol=0.0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # one iteration does not converge
        model.fit(X, lengths)
    starting = GaussianHMM(3, covariance_type="diag").set_parameters(
        startprob=startprob, transmat=transmat, means=means, covariances=covariances)
    log_emission = starting.emission_.log_prob(X)
    starts = _inference.sequence_starts(lengths)
    buffers = _inference.EStepBuffers(*log_emission.shape)
    _, status = _kernels.forward_backward_scaled(
        log_emission.copy(), startprob, transmat, starts, lengths, buffers.posteriors, buffers.log_scaling,
        buffers.pairwise, buffers.start_counts, buffers.scratch, True,
    )
    assert status == _kernels.OUT_OF_RANGE  # the fallback is what runs
    posteriors, pairwise, _ = hmm.forward_backward(log_emission, startprob, transmat, lengths, method="log")
    assert pairwise.sum() == pytest.approx(X.shape[0] - copies, abs=1e-8)
    # one M-step from the log-space statistics
    np.testing.assert_allclose(model.transmat_, pairwise / pairwise.sum(axis=1, keepdims=True), rtol=1e-10,
                               atol=1e-14)
    np.testing.assert_allclose(model.means_, (posteriors.T @ X) / posteriors.sum(axis=0)[:, None], rtol=1e-10)
    fitted_log_emission = model.emission_.log_prob(X)
    expected, _, loglik = hmm.forward_backward(fitted_log_emission, model.startprob_, model.transmat_, lengths,
                                               method="log")
    proba = model.predict_proba(X, lengths)
    assert np.abs(proba.sum(axis=1) - 1.0).max() <= 1e-12
    np.testing.assert_allclose(proba, expected, atol=1e-12)
    assert model.score(X, lengths) == pytest.approx(loglik, rel=1e-12)


def test_impossible_observation_names_sequence_and_step(tier):
    rng = np.random.default_rng(5)
    log_emission, startprob, transmat = random_model(rng, 3, 10)
    log_emission[7] = -np.inf  # row 7 = step 3 of the second sequence
    lengths = [4, 6]
    for call in (
        lambda: hmm.forward(log_emission, startprob, transmat, lengths),
        lambda: hmm.forward_log(log_emission, startprob, transmat, lengths),
        lambda: hmm.forward_backward(log_emission, startprob, transmat, lengths),
        lambda: hmm.forward_backward(log_emission, startprob, transmat, lengths, method="log"),
        lambda: hmm.viterbi(log_emission, startprob, transmat, lengths),
        lambda: hmm.pairwise_posteriors(log_emission, startprob, transmat, lengths),
    ):
        with pytest.raises(ValueError, match=r"^observation 3 of sequence 1 \(row 7 of log_emission\) has "
                           r"probability zero under every state reachable there \(from the start probabilities "
                           r"through nonzero transitions\)$"):
            call()
    per_sequence = hmm.log_likelihood(log_emission, startprob, transmat, lengths, per_sequence=True)
    assert np.isfinite(per_sequence[0]) and per_sequence[1] == -np.inf


def test_impossible_through_a_forbidden_transition(tier):
    # State 0 emits only symbol-like row A, state 1 only B; 1 -> 0 is forbidden; data go B then A.
    log_emission = np.array([[-np.inf, 0.0], [0.0, -np.inf]])
    startprob, transmat = np.array([0.5, 0.5]), np.array([[0.5, 0.5], [0.0, 1.0]])
    with pytest.raises(ValueError, match="observation 1 of sequence 0 .* has probability zero"):
        hmm.forward_backward(log_emission, startprob, transmat)
    with pytest.raises(ValueError, match="observation 1 of sequence 0 .* has probability zero"):
        hmm.viterbi(log_emission, startprob, transmat)


def test_huge_emission_densities_and_tiny_ones_do_not_overflow(tier):
    rng = np.random.default_rng(6)
    log_emission, startprob, transmat = random_model(rng, 3, 50)
    for shift in (-5000.0, 5000.0):
        shifted = log_emission + shift
        posteriors, _, loglik = hmm.forward_backward(shifted, startprob, transmat)
        base_posteriors, _, base = hmm.forward_backward(log_emission, startprob, transmat)
        np.testing.assert_allclose(posteriors, base_posteriors, atol=1e-12)
        assert loglik == pytest.approx(base + 50 * shift, rel=1e-12)


# -- backward's scaling constants must be forward's ---------------------------------------------------
@pytest.mark.parametrize(
    ("forward_lengths", "backward_lengths"),
    [([50, 50], None), ([30, 70], [70, 30]), ([10] * 10, [50, 50]), ([25, 25, 50], [50, 50])],
)
@pytest.mark.parametrize("separation", [1.0, 4.0])
def test_backward_refuses_log_scaling_computed_for_other_lengths(forward_lengths, backward_lengths, separation,
                                                                 tier):
    # Two well-separated states and data that switch between them: the scaling constant of a step
    # that starts a sequence under one split and not the other differs by far more than round-off.
    rng = np.random.default_rng(21)
    states = np.repeat(rng.integers(2, size=20), 5)
    x = rng.normal(separation * states, 1.0)
    log_emission = -0.5 * (x[:, None] - separation * np.arange(2)) ** 2
    startprob, transmat = np.array([0.9, 0.1]), np.array([[0.8, 0.2], [0.2, 0.8]])
    _, log_scaling = hmm.forward(log_emission, startprob, transmat, forward_lengths)
    beta = hmm.backward(log_emission, transmat, log_scaling, forward_lengths)  # the matching lengths pass
    with pytest.raises(ValueError, match=r"^log_scaling does not match lengths: at observation \d+ of sequence "):
        hmm.backward(log_emission, transmat, log_scaling, backward_lengths)
    # ... and so does a pass over the same data in log space: beta is the same up to a constant per step
    alpha, _ = hmm.forward(log_emission, startprob, transmat, forward_lengths)
    np.testing.assert_allclose((alpha * beta).sum(axis=1), 1.0, rtol=1e-12)


def test_backward_says_when_its_scaled_variables_leave_the_range_of_doubles(tier):
    log_emission, startprob, transmat = past_and_future_disagree(10)
    _, log_scaling = hmm.forward(log_emission, startprob, transmat)
    with pytest.raises(ValueError, match="leave the range of doubles at observation 9 of sequence 0 .*backward_log"):
        hmm.backward(log_emission, transmat, log_scaling)
    assert np.all(np.isfinite(np.exp(hmm.backward_log(log_emission, transmat)[:, 0])))


@pytest.mark.parametrize(
    ("log_scaling", "message"),
    [("abc", "log_scaling must contain numbers, got an array of dtype <U3"), (np.zeros(4), r"log_scaling must be the finite \(T,\)"),
     (np.full(5, np.nan), "log_scaling must be the finite")],
)
def test_backward_names_a_bad_log_scaling(log_scaling, message):
    with pytest.raises(ValueError, match=message):
        hmm.backward(np.zeros((5, 2)), [[0.9, 0.1], [0.2, 0.8]], log_scaling)


def test_inference_refuses_numbers_written_as_strings():
    # np.asarray(..., dtype=float) reads "0.5" as 0.5: every function took numeric strings (a column
    # read from a text file, say) for numbers. They go through the estimators' check now.
    log_emission = np.log([[0.9, 0.2], [0.1, 0.8], [0.9, 0.2]])
    startprob, transmat = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.2, 0.8]])
    arrays = {"log_emission": log_emission, "startprob": startprob, "transmat": transmat,
              "log_scaling": hmm.forward(log_emission, startprob, transmat)[1],
              "state_posteriors": hmm.forward_backward(log_emission, startprob, transmat)[0],
              "pairwise_posteriors": hmm.pairwise_posteriors(log_emission, startprob, transmat)}
    forward_like = ("log_emission", "startprob", "transmat")
    signatures = {name: forward_like for name in ("forward", "forward_log", "forward_backward", "viterbi",
                                                  "log_likelihood", "forward_unscaled", "pairwise_posteriors")}
    signatures.update(backward=("log_emission", "transmat", "log_scaling"), backward_log=("log_emission", "transmat"),
                      evidence_lower_bound=(*forward_like, "state_posteriors", "pairwise_posteriors"))
    for function, names in signatures.items():
        getattr(hmm, function)(*(arrays[name] for name in names))  # numbers pass
        for bad in names:
            given = [arrays[name].astype(str) if name == bad else arrays[name] for name in names]
            with pytest.raises(ValueError, match=f"^{bad} must contain .*, got an array of dtype <U"):
                getattr(hmm, function)(*given)


# -- underflow of the naive recursion ----------------------------------------------------------------
def test_unscaled_forward_underflows_where_scaled_does_not():
    rng = np.random.default_rng(7)
    log_emission, startprob, transmat = random_model(rng, 2, 2000)
    short_alpha, short_likelihood = hmm.forward_unscaled(log_emission[:20], startprob, transmat)
    assert short_likelihood == pytest.approx(np.exp(hmm.log_likelihood(log_emission[:20], startprob, transmat)))
    alpha, likelihood = hmm.forward_unscaled(log_emission, startprob, transmat)
    assert likelihood == 0.0 and np.all(alpha[-1] == 0.0)
    assert np.isfinite(hmm.log_likelihood(log_emission, startprob, transmat))
    np.testing.assert_allclose(alpha[:20], short_alpha)


def test_million_steps_give_a_finite_log_likelihood():
    rng = np.random.default_rng(8)
    T = 1_000_000
    states = (rng.random(T) < 0.5).astype(int)
    x = rng.normal(2.0 * states, 1.0)
    log_emission = -0.5 * (x[:, None] - np.array([0.0, 2.0])) ** 2 - 0.5 * np.log(2 * np.pi)
    startprob, transmat = np.array([0.5, 0.5]), np.array([[0.9, 0.1], [0.1, 0.9]])
    posteriors, _, loglik = hmm.forward_backward(log_emission, startprob, transmat)
    assert np.isfinite(loglik) and -3e6 < loglik < -1e6
    assert np.all(np.isfinite(posteriors))
    assert hmm.forward_log(log_emission, startprob, transmat)[1] == pytest.approx(loglik, rel=1e-10)
    assert hmm.forward_unscaled(log_emission[:5000], startprob, transmat)[1] == 0.0


# -- input checks ------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"startprob": [0.5, 0.6]}, "startprob must sum to one"),
        ({"startprob": [1.2, -0.2]}, "startprob has negative entries"),
        ({"startprob": [1.0]}, "startprob must have length 2"),
        ({"transmat": [[0.5, 0.5], [0.5, 0.4]]}, "row 1 sums to 0.9"),
        ({"transmat": [[1.0, 0.0]]}, r"transmat must have shape \(2, 2\)"),
        ({"transmat": [[np.nan, 1.0], [0.5, 0.5]]}, "transmat contains NaN"),
        ({"lengths": [3, 3]}, "lengths must sum to the number of samples 5"),
        ({"lengths": [5, 0]}, "lengths must be positive"),
        ({"log_emission": np.full((5, 2), np.nan)}, "log_emission contains NaN"),
        ({"log_emission": np.full((5, 2), np.inf)}, r"log_emission contains \+inf"),
        ({"log_emission": np.zeros(5)}, r"shape \(T, K\)"),
    ],
)
def test_bad_arguments_are_named(kwargs, message):
    arguments = {
        "log_emission": np.zeros((5, 2)), "startprob": [0.5, 0.5], "transmat": [[0.9, 0.1], [0.2, 0.8]],
        "lengths": None,
    }
    arguments.update(kwargs)
    with pytest.raises(ValueError, match=message):
        hmm.forward_backward(**arguments)


def test_method_must_be_known():
    with pytest.raises(ValueError, match="method must be 'scaling' or 'log'"):
        hmm.forward_backward(np.zeros((3, 2)), [0.5, 0.5], np.eye(2), method="fast")


def test_inputs_are_not_modified(tier):
    rng = np.random.default_rng(9)
    log_emission, startprob, transmat = random_model(rng, 3, 20)
    before = log_emission.copy()
    hmm.forward_backward(log_emission, startprob, transmat)
    hmm.forward_backward(log_emission, startprob, transmat, method="log")
    np.testing.assert_array_equal(log_emission, before)


# -- evidence lower bound ----------------------------------------------------------------------------
def random_markov_q(rng, K, lengths):
    """Marginals of a random non-homogeneous Markov chain over the states of each sequence."""
    states, pairs = [], []
    for n in lengths:
        q = rng.dirichlet(np.ones(K))
        states.append(q)
        for _ in range(n - 1):
            step = rng.dirichlet(np.ones(K), size=K)
            pairs.append(q[:, None] * step)
            q = pairs[-1].sum(axis=0)
            states.append(q)
    return np.array(states), np.array(pairs).reshape(-1, K, K)


@pytest.mark.parametrize("lengths", [[6], [3, 1, 4]])
def test_elbo_plus_kl_is_the_log_likelihood(lengths, tier):
    rng = np.random.default_rng(10)
    args = random_model(rng, 3, sum(lengths))
    posteriors, _, loglik = hmm.forward_backward(*args, lengths=lengths)
    exact_pairs = hmm.pairwise_posteriors(*args, lengths=lengths)
    bound, kl = hmm.evidence_lower_bound(*args, posteriors, exact_pairs, lengths=lengths)
    assert kl == pytest.approx(0.0, abs=1e-10)
    assert bound == pytest.approx(loglik, rel=1e-10)
    for _ in range(5):
        q, qq = random_markov_q(rng, 3, lengths)
        result = hmm.evidence_lower_bound(*args, q, qq, lengths=lengths)
        bound, kl = result
        assert kl > 1e-3 and bound < loglik
        assert bound + kl == pytest.approx(loglik, rel=1e-10)
        assert isinstance(result, Decomposition) and result.loglik == pytest.approx(loglik, rel=1e-10)


def test_elbo_matches_enumeration_over_paths():
    rng = np.random.default_rng(11)
    K, T = 2, 5
    args = random_model(rng, K, T)
    q0 = rng.dirichlet(np.ones(K))
    steps = rng.dirichlet(np.ones(K), size=(T - 1, K))
    with np.errstate(divide="ignore"):
        log_pi, log_a = np.log(args[1]), np.log(args[2])
    _, _, loglik, _, _ = brute_force(*args)
    bound_bf = kl_bf = 0.0
    for path in itertools.product(range(K), repeat=T):
        q = q0[path[0]] * np.prod([steps[t, path[t], path[t + 1]] for t in range(T - 1)])
        joint = log_pi[path[0]] + args[0][0, path[0]] + sum(
            log_a[path[t], path[t + 1]] + args[0][t + 1, path[t + 1]] for t in range(T - 1)
        )
        bound_bf += q * (joint - np.log(q))
        kl_bf += q * (np.log(q) - (joint - loglik))
    states, pairs = [q0], []
    for t in range(T - 1):
        pairs.append(states[-1][:, None] * steps[t])
        states.append(pairs[-1].sum(axis=0))
    bound, kl = hmm.evidence_lower_bound(*args, np.array(states), np.array(pairs))
    assert bound == pytest.approx(bound_bf, rel=1e-12)
    assert kl == pytest.approx(kl_bf, rel=1e-10)


def test_elbo_of_q_on_an_impossible_path_is_minus_infinity():
    log_emission = np.log(np.full((3, 2), 0.5))
    startprob, transmat = np.array([0.5, 0.5]), np.array([[1.0, 0.0], [0.5, 0.5]])
    q = np.array([[1.0, 0.0], [0.0, 1.0], [0.0, 1.0]])  # goes 0 -> 1, which is forbidden
    qq = np.array([[[0.0, 1.0], [0.0, 0.0]], [[0.0, 0.0], [0.0, 1.0]]])
    bound, kl = hmm.evidence_lower_bound(log_emission, startprob, transmat, q, qq)
    assert bound == -np.inf and kl == np.inf


def test_elbo_checks_the_marginals():
    args = (np.zeros((3, 2)), [0.5, 0.5], [[0.9, 0.1], [0.2, 0.8]])
    q = np.full((3, 2), 0.5)
    qq = np.full((2, 2, 2), 0.25)
    assert hmm.evidence_lower_bound(*args, q, qq)[1] >= 0
    with pytest.raises(ValueError, match=r"pairwise_posteriors must have shape \(2, 2, 2\)"):
        hmm.evidence_lower_bound(*args, q, qq[:1])
    skewed = qq.copy()
    skewed[0] = [[0.5, 0.0], [0.0, 0.5]]
    skewed[1] = [[0.5, 0.5], [0.0, 0.0]]
    with pytest.raises(ValueError, match="must marginalise to state_posteriors"):
        hmm.evidence_lower_bound(*args, q, skewed)
    with pytest.raises(ValueError, match="each row of state_posteriors must sum to one"):
        hmm.evidence_lower_bound(*args, q * 2, qq)
