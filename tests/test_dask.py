"""Fitting a dask array where it lives: the same iterates as in memory, on any scheduler.

The reference is the in-memory fit from the same start: after 20 iterations (``tol=0``) every
parameter agrees to a relative 1e-10, whatever the chunks (uneven, single rows, one chunk), on
dask's threaded scheduler and on a ``dask.distributed.LocalCluster`` of worker processes.
"""

import warnings

import numpy as np
import pytest

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
from emlib.distributions import COVARIANCE_TYPES

dask = pytest.importorskip("dask")
da = pytest.importorskip("dask.array")

RTOL = 1e-10
PARAMETERS = ("weights_", "means_", "covariances_", "probabilities_", "rates_", "startprob_", "transmat_",
              "emissionprob_", "loadings_", "noise_variance_", "loglik_history_")


def assert_same_fit(in_memory, chunked, rtol=RTOL):
    compared = 0
    for name in PARAMETERS:
        if hasattr(in_memory, name):
            a, b = getattr(in_memory, name), getattr(chunked, name)
            scale = np.max(np.abs(a))
            assert np.max(np.abs(a - b)) <= rtol * scale, (name, np.max(np.abs(a - b)) / scale)
            compared += 1
    assert compared >= 2
    assert in_memory.n_iter_ == chunked.n_iter_


def fit_quietly(estimator, X, *args, **kwargs):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return estimator.fit(X, *args, **kwargs)


# -- data -------------------------------------------------------------------------------------------
def gaussian_data(n=2400, seed=0):
    rng = np.random.default_rng(seed)
    centres = np.array([[-2.0, 0.0, 1.0], [2.0, 1.0, -1.0], [0.0, 4.0, 0.0]])
    X = centres[rng.integers(0, 3, n)] + rng.normal(size=(n, 3)) * [1.0, 0.7, 0.5]
    return X


def with_missing(X, seed=1):
    rng = np.random.default_rng(seed)
    X = X.copy()
    X[rng.random(X.shape) < 0.2] = np.nan
    X[np.isnan(X).all(axis=1), 1] = 0.0
    return X


def sequence_data(kind, seed=2):
    rng = np.random.default_rng(seed)
    lengths = rng.integers(10, 80, 40)
    n = lengths.sum()
    states = (np.arange(n) // 23 + rng.integers(0, 2, n) * (rng.random(n) < 0.1)) % 2
    if kind == "gaussian":
        X = np.array([[0.0, 1.0], [2.5, -1.0]])[states] + rng.normal(size=(n, 2))
    elif kind == "poisson":
        X = rng.poisson(np.array([[2.0, 5.0], [7.0, 1.0]])[states])
    else:
        X = np.where(rng.random(n) < 0.7, states * 2 + rng.integers(0, 2, n), rng.integers(0, 5, n))
    return X, lengths


def chunked(X, chunks):
    return da.from_array(X, chunks=(chunks,) + X.shape[1:])


CHUNKINGS = {"uneven": 611, "irregular": (5, 1000, 1, 394, 1000), "one": -1}


def _mixture_cases():
    X = gaussian_data()
    weights = np.random.default_rng(3).uniform(0.0, 2.0, len(X))
    weights[::17] = 0.0
    rng = np.random.default_rng(4)
    cases = [(f"gaussian-{ct}", GaussianMixture(3, covariance_type=ct), X, None) for ct in COVARIANCE_TYPES]
    cases.append(("gaussian-weights", GaussianMixture(3, covariance_type="full"), X, weights))
    cases += [(f"gaussian-missing-{ct}", GaussianMixture(3, covariance_type=ct, missing="em"), with_missing(X),
               weights if ct == "diag" else None) for ct in ("full", "diag", "tied")]
    cases.append(("bernoulli", BernoulliMixture(2),
                  (rng.random((2400, 6)) < np.where(np.arange(2400)[:, None] % 2, 0.8, 0.3)).astype(int), None))
    cases.append(("poisson", PoissonMixture(2), rng.poisson(np.where(np.arange(2400)[:, None] % 2, 2.0, 9.0),
                                                            (2400, 2)), weights))
    return cases


@pytest.mark.parametrize("chunking", CHUNKINGS, ids=list(CHUNKINGS))
@pytest.mark.parametrize(("label", "estimator", "X", "weights"), _mixture_cases(), ids=[c[0] for c in _mixture_cases()])
def test_mixtures_on_dask_arrays_repeat_the_in_memory_iterates(label, estimator, X, weights, chunking):
    estimator.set_params(random_state=0, max_iter=20, tol=0)
    in_memory = fit_quietly(estimator.__class__(**estimator.get_params()), X, sample_weight=weights)
    dask_weights = None if weights is None else da.from_array(weights, chunks=700)  # other chunks than X's
    with dask.config.set(scheduler="threads"):
        fitted = fit_quietly(estimator, chunked(X, CHUNKINGS[chunking]), sample_weight=dask_weights)
    assert_same_fit(in_memory, fitted)
    # The stream's running statistics too: partial_fit continues a dask fit as an in-memory one.
    assert fitted.n_samples_seen_ == pytest.approx(in_memory.n_samples_seen_, rel=1e-12)
    np.testing.assert_allclose(fitted.statistics_.totals, in_memory.statistics_.totals, rtol=1e-10)


@pytest.mark.parametrize("kind, estimator", [("gaussian", GaussianHMM(2, covariance_type="full")),
                                             ("gaussian", GaussianHMM(2, covariance_type="diag", transmat_prior=2.0)),
                                             ("categorical", CategoricalHMM(2, emissionprob_prior=0.5)),
                                             ("poisson", PoissonHMM(2))],
                         ids=["gaussian-full", "gaussian-diag-prior", "categorical", "poisson"])
def test_hmms_on_sequences_spread_over_chunks(kind, estimator):
    X, lengths = sequence_data(kind)
    estimator.set_params(random_state=0, max_iter=20, tol=0)
    in_memory = fit_quietly(estimator.__class__(**estimator.get_params()), X, lengths)
    ends = np.cumsum(lengths)
    for group in (1, 3, 7):  # sequences per chunk
        chunk_ends = np.append(ends[group - 1::group], ends[-1])
        chunks = tuple(np.diff(np.unique(np.concatenate([[0], chunk_ends]))))
        with dask.config.set(scheduler="threads"):
            fitted = fit_quietly(estimator.__class__(**estimator.get_params()), chunked(X, chunks), lengths)
        assert_same_fit(in_memory, fitted)


def test_factor_analysis_on_a_dask_array():
    rng = np.random.default_rng(5)
    X = rng.normal(size=(3000, 2)) @ rng.normal(size=(2, 7)) + rng.normal(size=(3000, 7)) * 0.5 + 10.0
    for init in ("pca", "random"):
        estimator = FactorAnalysis(2, init=init, random_state=0, max_iter=20, tol=0)
        in_memory = fit_quietly(FactorAnalysis(**estimator.get_params()), X)
        with dask.config.set(scheduler="threads"):
            fitted = fit_quietly(estimator, chunked(X, 437))
        assert_same_fit(in_memory, fitted)
        np.testing.assert_allclose(fitted.mean_, in_memory.mean_, rtol=1e-13)


def test_factor_statistics_add_up_and_scale():
    from emlib.factor_analysis import FactorData, FactorStatistics, factor_statistics

    rng = np.random.default_rng(6)
    R = rng.normal(size=(500, 4))
    W, psi = rng.normal(size=(4, 2)), rng.uniform(0.5, 1.5, 4)

    def stats(rows):
        return factor_statistics(FactorData(rows, np.sum(rows**2, axis=0), None, len(rows)), W, psi)

    (whole, loglik), (a, la), (b, lb) = stats(R), stats(R[:123]), stats(R[123:])
    total = a + b
    assert isinstance(total, FactorStatistics) and total.n_samples == 500
    np.testing.assert_allclose(total.cross, whole.cross, rtol=1e-12)
    np.testing.assert_allclose(total.second_moment, whole.second_moment, rtol=1e-12)
    assert la + lb == pytest.approx(loglik, rel=1e-12)
    half = 0.5 * whole
    np.testing.assert_allclose(half.cross, whole.cross / 2)
    assert half.n_samples == 250
    with pytest.raises(ValueError, match="scaled by a finite number"):
        whole * -1.0


# -- starting values on huge data: a random sample -------------------------------------------------
def test_starting_values_come_from_a_random_sample_of_rows(monkeypatch):
    import emlib.chunked

    X = gaussian_data(6000, 7)
    monkeypatch.setattr(emlib.chunked, "INITIAL_SAMPLE_SIZE", 500)
    starts = []

    def record(X_start, rng, *args, **kwargs):
        starts.append(X_start.copy())
        return original(X_start, rng, *args, **kwargs)

    from emlib.mixture import _gaussian

    original = _gaussian.gaussian_start
    monkeypatch.setattr(_gaussian, "gaussian_start", record)
    with dask.config.set(scheduler="threads"):
        first = GaussianMixture(3, random_state=1).fit(chunked(X, 1000))
        again = GaussianMixture(3, random_state=1).fit(chunked(X, 1500))
    assert starts[0].shape == (500, 3)
    np.testing.assert_array_equal(starts[0], starts[1])  # the sample depends on the seed, not the chunks
    rows = {tuple(row) for row in X}
    assert all(tuple(row) in rows for row in starts[0])
    assert len({tuple(row) for row in starts[0]}) == 500  # without replacement
    np.testing.assert_allclose(first.means_, again.means_, rtol=1e-10)
    reference = GaussianMixture(3, random_state=1).fit(X)
    assert first.score(X) == pytest.approx(reference.score(X), rel=1e-6)  # the same maximum


# -- bad input --------------------------------------------------------------------------------------
def test_bad_chunks_are_named_with_their_rows():
    X = gaussian_data()
    X[1500, 2] = np.inf
    with dask.config.set(scheduler="threads"), pytest.raises(
            ValueError, match=r"X contains infinite values \(inf\) \(in the chunk of rows 1000 to 1999 of X\)"):
        GaussianMixture(2).fit(chunked(X, 1000))
    counts = np.ones((100, 2))
    counts[70, 0] = -1
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match="chunk of rows 50 to 99"):
        PoissonMixture(2).fit(chunked(counts, 50))
    with pytest.raises(ValueError, match="sample_weight must have shape \\(2400,\\)"):
        GaussianMixture(2).fit(chunked(gaussian_data(), 1000), sample_weight=np.ones(5))
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match="sample_weight is zero everywhere"):
        GaussianMixture(2).fit(chunked(gaussian_data(), 1000), sample_weight=np.zeros(2400))


def test_dask_weights_get_the_whole_datas_bounds():
    # Each chunk checked only the upper bound of its weights: weights all below 1e-100, which the
    # in-memory fit refuses (the reciprocal of their sum overflows), passed. The lower bound is the
    # largest weight of all the chunks: one chunk of tiny weights beside ordinary ones is fine.
    X = gaussian_data()
    tiny = np.full(2400, 1e-200)
    tiny[1500] = 1e-150
    message = r"sample_weight has a largest weight of 1e-150; only the ratios of the weights matter"
    with pytest.raises(ValueError, match=message):
        GaussianMixture(2, max_iter=2).fit(X, sample_weight=tiny)
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match=message):
        GaussianMixture(2, max_iter=2).fit(chunked(X, 1000), sample_weight=tiny)
    mixed = tiny.copy()
    mixed[2000:] = 1.0  # the last chunk's
    with dask.config.set(scheduler="threads"), warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        GaussianMixture(2, max_iter=2, random_state=0).fit(chunked(X, 1000), sample_weight=mixed)


def test_hmm_chunks_must_hold_whole_sequences():
    X, lengths = sequence_data("gaussian")
    with dask.config.set(scheduler="threads"), pytest.raises(
            ValueError, match=r"the chunks of X must hold whole sequences, but a chunk ends at row 500, inside "
                              r"sequence \d+ .*X.rechunk"):
        GaussianHMM(2).fit(chunked(X, 500), lengths)
    with pytest.raises(ValueError, match="states cannot be given with a dask array"):
        GaussianHMM(2).fit(chunked(X, -1), lengths, states=np.zeros(len(X), dtype=int))
    with dask.config.set(scheduler="threads"), pytest.raises(ValueError, match="lengths must sum"):
        GaussianHMM(2).fit(chunked(X, -1), lengths[:-1])


def test_unknown_chunk_sizes_are_refused():
    X = chunked(gaussian_data(), 1000)
    unknown = X[X[:, 0] > 0]
    with pytest.raises(ValueError, match="unknown chunk sizes.*compute_chunk_sizes"):
        GaussianMixture(2).fit(unknown)


def test_squarem_on_a_dask_array_repeats_the_in_memory_run():
    """Acceleration needs nothing of the data but E-steps: extrapolated points are scored by the
    same sum over chunks, and the run ends at the in-memory run's objective (to 1e-12). The
    parameters agree to 1e-6, not 1e-10: an extrapolation ``x0 + 2 s r + s^2 v`` multiplies the
    round-off of the chunked sums by up to ``s^2``, and once a run sits at its maximum (where the
    objective is flat to second order, so a change of 1e-16 in it allows one of 1e-8 in the
    parameters) extrapolated points are kept or refused on round-off alone."""
    rng = np.random.default_rng(6)
    overlapping = np.concatenate([rng.normal(0.0, 1.0, (1500, 2)), rng.normal(2.0, 1.0, (900, 2))])
    Z = rng.normal(size=(2000, 2)) @ rng.normal(size=(2, 6)) + rng.normal(size=(2000, 6))
    S, lengths = sequence_data("gaussian")
    chunks = tuple(np.diff(np.concatenate([[0], np.cumsum(lengths)[4::5]])))
    cases = [(GaussianMixture(2, covariance_type="full"), overlapping, 611, ()),
             (PoissonMixture(2), np.random.default_rng(7).poisson([[2.0, 9.0]] * 2400), 500, ()),
             (FactorAnalysis(2), Z, 437, ()),
             (GaussianHMM(2), S, chunks, (lengths,))]
    for estimator, data, chunking, extra in cases:
        estimator.set_params(random_state=0, max_iter=20, tol=0, accelerate="squarem")
        in_memory = fit_quietly(estimator.__class__(**estimator.get_params()), data, *extra)
        with dask.config.set(scheduler="threads"):
            fitted = fit_quietly(estimator, chunked(data, chunking), *extra)
        assert_same_fit(in_memory, fitted, rtol=1e-6)
        assert fitted.loglik_history_[-1] == pytest.approx(in_memory.loglik_history_[-1], rel=1e-12)
        assert fitted.n_e_steps_ > fitted.n_iter_ + 1  # SQUAREM ran: two or three E-steps an iteration


# -- a real cluster ---------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def cluster_client():
    distributed = pytest.importorskip("distributed")
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        cluster = distributed.LocalCluster(n_workers=2, threads_per_worker=1, processes=True,
                                           dashboard_address=None, memory_limit="1GiB")
        client = distributed.Client(cluster)
    yield client
    client.close()
    cluster.close()


@pytest.mark.slow
def test_same_iterates_on_a_local_cluster(cluster_client):
    """Worker processes: the data go to the workers once, the parameters every iteration, the
    statistics come back."""
    X = gaussian_data(3000, 8)
    data = cluster_client.persist(chunked(X, 700))  # the chunks live on the workers
    for estimator in (GaussianMixture(3, covariance_type="full"), GaussianMixture(3, covariance_type="diag")):
        estimator.set_params(random_state=0, max_iter=20, tol=0)
        in_memory = fit_quietly(estimator.__class__(**estimator.get_params()), X)
        assert_same_fit(in_memory, fit_quietly(estimator, data))
    rng = np.random.default_rng(9)
    Z = rng.normal(size=(2000, 2)) @ rng.normal(size=(2, 6)) + rng.normal(size=(2000, 6))
    fa = FactorAnalysis(2, max_iter=20, tol=0)
    assert_same_fit(fit_quietly(FactorAnalysis(2, max_iter=20, tol=0), Z), fit_quietly(fa, chunked(Z, 500)))
    S, lengths = sequence_data("gaussian")
    ends = np.cumsum(lengths)
    chunks = tuple(np.diff(np.concatenate([[0], ends[9::10]])))
    hmm = GaussianHMM(2, random_state=0, max_iter=20, tol=0)
    assert_same_fit(fit_quietly(GaussianHMM(2, random_state=0, max_iter=20, tol=0), S, lengths),
                    fit_quietly(hmm, chunked(S, chunks), lengths))
    accelerated = GaussianMixture(3, random_state=0, max_iter=20, tol=0, accelerate="squarem")
    assert_same_fit(fit_quietly(accelerated.__class__(**accelerated.get_params()), X),
                    fit_quietly(accelerated, data), rtol=1e-6)


# -- the package stays light ------------------------------------------------------------------------
def test_fitting_in_memory_never_imports_dask():
    import json
    import subprocess
    import sys

    code = ("import json, sys\nfrom emlib import GaussianMixture, GaussianHMM, FactorAnalysis\n"
            "import numpy as np\nX = np.random.default_rng(0).normal(size=(60, 2))\n"
            "GaussianMixture(2, random_state=0).fit(X).partial_fit(X)\nGaussianHMM(2, random_state=0).fit(X)\n"
            "FactorAnalysis(1).fit(X)\nprint(json.dumps(sorted(m for m in ('dask', 'distributed') if m in sys.modules)))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert json.loads(result.stdout) == []
