"""emlib's HMMs against hmmlearn 0.3.3 (test-only dependency), parameter for parameter.

Conventions set for a like-for-like comparison: hmmlearn's ``covars_prior=0`` (its default adds 0.01 to
every covariance's numerator) with emlib's ``reg_covar=0``; ``params`` naming every parameter ("stmc":
start, transitions, means, covariances; "ste" with emissions; "stl" with Poisson rates) and
``init_params=""`` with the same starting values on both sides (hmmlearn's ``min_covar`` only enters its
own initialisation, set to 0 anyway); ``tol=-inf`` in hmmlearn and ``tol=0`` in emlib so that both run exactly ten
iterations. hmmlearn's ``_covars_`` holds covariances in the shape of the covariance type (its
``covars_`` expands them to full matrices) and, for "spherical", repeats the variance over features.
hmmlearn's categorical model takes symbols as a column (n_samples, 1) and needs ``n_features`` (the
number of symbols); its Poisson model has ``lambdas_`` of shape (K, D) and priors switched off with
``lambdas_prior=0, lambdas_weight=0``.
"""

import warnings

import numpy as np
import pytest

hmmlearn_hmm = pytest.importorskip("hmmlearn.hmm")

from emlib import CategoricalHMM, GaussianHMM, PoissonHMM

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning")

RTOL_INFERENCE = 1e-8
RTOL_TRAINING = 1e-6
N_ITER = 10
SEVERAL = [120, 40, 1, 90, 49]  # several sequences, one of length one


def random_hmm_parameters(rng, K):
    transmat = rng.dirichlet(np.ones(K) * 0.5, size=K) * 0.5 + np.eye(K) * 0.5
    return rng.dirichlet(np.ones(K) * 2), transmat


def gaussian_covariances(rng, covariance_type, K, D):
    if covariance_type == "diag":
        return rng.uniform(0.5, 2.0, (K, D))
    if covariance_type == "spherical":
        return rng.uniform(0.5, 2.0, K)
    def spd():
        A = rng.normal(size=(D, D))
        return A @ A.T + D * np.eye(D)
    return np.stack([spd() for _ in range(K)]) if covariance_type == "full" else spd()


def hmmlearn_covariances(model, covariance_type):
    covars = model._covars_
    # spherical: (K,) as set, but (K, D) (the variance repeated) after hmmlearn's M-step
    return covars[:, 0] if covariance_type == "spherical" and covars.ndim == 2 else covars


def gaussian_pair(rng, covariance_type, K=3, D=2):
    startprob, transmat = random_hmm_parameters(rng, K)
    means = rng.normal(0, 3, (K, D))
    covariances = gaussian_covariances(rng, covariance_type, K, D)
    ours = GaussianHMM(K, covariance_type=covariance_type, reg_covar=0.0).set_parameters(
        startprob=startprob, transmat=transmat, means=means, covariances=covariances
    )
    theirs = hmmlearn_hmm.GaussianHMM(K, covariance_type=covariance_type, params="stmc", init_params="",
                                      covars_prior=0.0, min_covar=0.0)
    theirs.startprob_, theirs.transmat_, theirs.means_ = startprob, transmat, means
    theirs.covars_ = covariances
    return ours, theirs


def categorical_pair(rng, K=3, M=5):
    startprob, transmat = random_hmm_parameters(rng, K)
    emissionprob = rng.dirichlet(np.ones(M), size=K)
    ours = CategoricalHMM(K).set_parameters(startprob=startprob, transmat=transmat, emissionprob=emissionprob)
    theirs = hmmlearn_hmm.CategoricalHMM(K, n_features=M, params="ste", init_params="")
    theirs.startprob_, theirs.transmat_, theirs.emissionprob_ = startprob, transmat, emissionprob
    return ours, theirs


def poisson_pair(rng, K=3, D=2):
    startprob, transmat = random_hmm_parameters(rng, K)
    rates = rng.uniform(0.5, 12.0, (K, D))
    ours = PoissonHMM(K).set_parameters(startprob=startprob, transmat=transmat, rates=rates)
    theirs = hmmlearn_hmm.PoissonHMM(K, params="stl", init_params="", lambdas_prior=0.0, lambdas_weight=0.0)
    theirs.startprob_, theirs.transmat_, theirs.lambdas_ = startprob, transmat, rates
    return ours, theirs


def as_hmmlearn_input(X):
    return X[:, None] if X.ndim == 1 else X


MODELS = [("gaussian", c) for c in ("diag", "full", "spherical", "tied")] + [("categorical", None), ("poisson", None)]


def make_pair(kind, covariance_type, seed):
    rng = np.random.default_rng(seed)
    if kind == "gaussian":
        return gaussian_pair(rng, covariance_type)
    return categorical_pair(rng) if kind == "categorical" else poisson_pair(rng)


# -- inference with the same parameters ---------------------------------------------------------------
@pytest.mark.parametrize(("kind", "covariance_type"), MODELS)
@pytest.mark.parametrize("sequences", ["one", "several"])
def test_inference_equals_hmmlearn(kind, covariance_type, sequences):
    ours, theirs = make_pair(kind, covariance_type, seed=1)
    X, _ = ours.sample(sum(SEVERAL), random_state=2)
    lengths = None if sequences == "one" else SEVERAL
    Xh = as_hmmlearn_input(X)

    assert ours.score(X, lengths) == pytest.approx(theirs.score(Xh, lengths), rel=RTOL_INFERENCE)
    np.testing.assert_allclose(
        ours.predict_proba(X, lengths), theirs.predict_proba(Xh, lengths), rtol=RTOL_INFERENCE, atol=1e-12
    )
    logprob, path = ours.decode(X, lengths)
    their_logprob, their_path = theirs.decode(Xh, lengths, algorithm="viterbi")
    np.testing.assert_array_equal(path, their_path)
    assert logprob == pytest.approx(their_logprob, rel=RTOL_INFERENCE)
    np.testing.assert_array_equal(
        ours.predict(X, lengths, algorithm="map"), theirs.decode(Xh, lengths, algorithm="map")[1]
    )


# -- ten Baum–Welch iterations from the same starting values ------------------------------------------
def fit_both(kind, covariance_type, sequences, seed):
    truth, _ = make_pair(kind, covariance_type, seed)
    X, _ = truth.sample(sum(SEVERAL), random_state=seed + 1)
    lengths = None if sequences == "one" else SEVERAL
    _, theirs = make_pair(kind, covariance_type, seed + 2)  # a different model: the common start
    theirs.n_iter, theirs.tol = N_ITER, -np.inf
    start = {"startprob_init": theirs.startprob_.copy(), "transmat_init": theirs.transmat_.copy()}
    common = {"max_iter": N_ITER, "tol": 0.0, **start}
    if kind == "gaussian":
        ours = GaussianHMM(
            3, covariance_type=covariance_type, means_init=theirs.means_.copy(),
            covariances_init=hmmlearn_covariances(theirs, covariance_type).copy(), reg_covar=0.0, **common,
        )
    elif kind == "categorical":
        ours = CategoricalHMM(3, emissionprob_init=theirs.emissionprob_.copy(), **common)
    else:
        ours = PoissonHMM(3, rates_init=theirs.lambdas_.copy(), **common)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # hmmlearn's logging of non-convergence
        ours.fit(X, lengths)
        theirs.fit(as_hmmlearn_input(X), lengths)
    return ours, theirs, X, lengths


@pytest.mark.parametrize(("kind", "covariance_type"), MODELS)
@pytest.mark.parametrize("sequences", ["one", "several"])
def test_ten_baum_welch_iterations_equal_hmmlearn(kind, covariance_type, sequences):
    ours, theirs, X, lengths = fit_both(kind, covariance_type, sequences, seed=10)
    assert ours.n_iter_ == N_ITER and theirs.monitor_.iter == N_ITER
    np.testing.assert_allclose(ours.startprob_, theirs.startprob_, rtol=RTOL_TRAINING, atol=1e-10)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, rtol=RTOL_TRAINING, atol=1e-10)
    if kind == "gaussian":
        np.testing.assert_allclose(ours.means_, theirs.means_, rtol=RTOL_TRAINING)
        np.testing.assert_allclose(
            ours.covariances_, hmmlearn_covariances(theirs, covariance_type), rtol=RTOL_TRAINING
        )
    elif kind == "categorical":
        np.testing.assert_allclose(ours.emissionprob_, theirs.emissionprob_, rtol=RTOL_TRAINING, atol=1e-10)
    else:
        np.testing.assert_allclose(ours.rates_, theirs.lambdas_, rtol=RTOL_TRAINING)
    # Our recorded objective after the last iteration is the likelihood of the fitted parameters.
    assert ours.loglik_history_[-1] == pytest.approx(theirs.score(as_hmmlearn_input(X), lengths), rel=1e-10)
    assert np.all(np.diff(ours.loglik_history_) >= -1e-9 * np.abs(ours.loglik_history_[1:]))


def test_structural_zeros_train_like_hmmlearn():
    """A left-to-right model: zeros of the starting transition matrix stay zero in both."""
    rng = np.random.default_rng(3)
    X = np.concatenate([rng.normal(0, 1, 60), rng.normal(4, 1, 60), rng.normal(8, 1, 60)])[:, None]
    startprob = np.array([1.0, 0.0, 0.0])
    transmat = np.array([[0.9, 0.1, 0.0], [0.0, 0.9, 0.1], [0.0, 0.0, 1.0]])
    means, covariances = np.array([[1.0], [3.0], [6.0]]), np.ones((3, 1))
    ours = GaussianHMM(3, covariance_type="diag", startprob_init=startprob, transmat_init=transmat,
                       means_init=means, covariances_init=covariances, reg_covar=0.0, max_iter=N_ITER, tol=0.0)
    ours.fit(X)
    theirs = hmmlearn_hmm.GaussianHMM(3, init_params="", covars_prior=0.0, n_iter=N_ITER, tol=-np.inf)
    theirs.startprob_, theirs.transmat_, theirs.means_, theirs.covars_ = startprob, transmat, means, covariances
    theirs.fit(X)
    np.testing.assert_allclose(ours.transmat_, theirs.transmat_, rtol=RTOL_TRAINING, atol=1e-12)
    assert np.all(ours.transmat_[transmat == 0] == 0.0)
    np.testing.assert_allclose(ours.means_, theirs.means_, rtol=RTOL_TRAINING)
