"""Data in chunks: the E-step as a sum over the chunks of a dask array.

An E-step returns sufficient statistics and a log-likelihood that are sums over the samples. For
data held as a ``dask.array`` chunked along its rows (on one machine, or spread over a cluster),
the E-step is therefore the sum of the E-steps of the chunks: each chunk computes its own
statistics and log-likelihood where it lives, only these (a few numbers per component) travel,
and they are added pairwise in a fixed order, so that every scheduler gives the same sums. The
M-step runs where ``fit`` was called.

Starting values and data-wide constants come from one pass over the data before EM starts
(:func:`survey`): it validates every chunk, counts, takes column ranges (and, when asked, the
moments of the data), and gathers a uniform random sample of at most
:data:`INITIAL_SAMPLE_SIZE` rows, from which the estimator's usual start is computed. When the
data have no more rows than that, the sample is all of them, in order, and the fit is the
in-memory fit's.

Nothing here imports dask until data arrive as a dask array: ``import emlib`` never does.

The estimators use these pieces through their models' E-steps (``sum_over_chunks(function, data,
*parameters)`` with a pure function of in-memory data: :func:`emlib.mixture.mixture_statistics`,
:func:`emlib.hmm.hmm_statistics`, :func:`emlib.factor_analysis.factor_statistics`); a model of
your own whose E-step is written the same way runs on chunked data too.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np

__all__ = ["INITIAL_SAMPLE_SIZE", "ChunkedData", "Survey", "is_dask_array", "local_part", "sum_over_chunks",
           "survey"]

#: The largest number of rows that starting values are computed from, for data given as a dask
#: array: a uniform random sample (without replacement) when there are more.
INITIAL_SAMPLE_SIZE = 100_000


def is_dask_array(X: Any) -> bool:
    """Whether ``X`` is a ``dask.array.Array`` (without importing dask: if it is not imported,
    nothing can be one)."""
    module = sys.modules.get("dask.array")
    return module is not None and isinstance(X, module.Array)


@dataclass(frozen=True, eq=False)
class ChunkedData:
    """Data held as dask arrays with the same row chunks: what an E-step maps over.

    Attributes
    ----------
    arrays : tuple of dask.array.Array
        ``X`` (N, ...) and any per-row arrays (sample weights (N,)), chunked alike along the rows
        and not along any other axis.
    pack : callable
        ``pack(*chunk_arrays, extra)``: the in-memory data of one chunk, in the form the model's
        E-step takes (a ``MixtureData``, say). Runs where the chunk is.
    extras : tuple
        One object per chunk handed to ``pack`` (the chunk's sequence lengths, say), or Nones.
    local : object
        In-memory data of the same kind for what does not grow with ``N``: the random sample the
        starting values come from, and data-wide constants.
    row_chunks : tuple of int
        The number of rows of each chunk (for error messages that say where).
    """

    arrays: tuple
    pack: Callable
    extras: tuple
    local: Any
    row_chunks: tuple

    def map_sum(self, function: Callable, *parameters: Any) -> tuple[Any, float]:
        """``sum`` over the chunks of ``function(pack(chunk), *parameters)``, computed by dask.

        ``function`` returns ``(statistics, loglik)``; both are added pairwise, in chunk order. The
        parameters are sent once per worker, not once per chunk.
        """
        import dask

        blocks = [array.to_delayed().ravel() for array in self.arrays]
        shared = dask.delayed(parameters, traverse=False)
        offsets = np.concatenate([[0], np.cumsum(self.row_chunks)]).tolist()
        parts = [
            dask.delayed(_chunk_call, pure=False)(function, self.pack, shared, extra, offsets[i:i + 2], *chunk)
            for i, (chunk, extra) in enumerate(zip(zip(*blocks), self.extras))
        ]
        while len(parts) > 1:  # a balanced tree of additions: little travels, in a fixed order
            parts = [dask.delayed(_add_pairs, pure=False)(parts[i], parts[i + 1]) if i + 1 < len(parts)
                     else parts[i] for i in range(0, len(parts), 2)]
        (total,) = dask.compute(parts[0])
        return total


def _chunk_call(function, pack, parameters, extra, rows, *arrays):
    try:
        return function(pack(*arrays, extra), *parameters)
    except ValueError as error:  # say where: row numbers in the message are the chunk's own
        raise ValueError(f"{error} (in the chunk of rows {rows[0]} to {rows[1] - 1} of X)") from None


def _add_pairs(a, b):
    return a[0] + b[0], a[1] + b[1]


def sum_over_chunks(function: Callable, data: Any, *parameters: Any) -> tuple[Any, float]:
    """``function(data, *parameters)`` for in-memory data; summed over the chunks of
    :class:`ChunkedData` (see :meth:`ChunkedData.map_sum`)."""
    if isinstance(data, ChunkedData):
        return data.map_sum(function, *parameters)
    return function(data, *parameters)


def local_part(data: Any) -> Any:
    """The in-memory part of the data: ``data`` itself, or the ``local`` data of :class:`ChunkedData`."""
    return data.local if isinstance(data, ChunkedData) else data


# -- one pass before EM: validation, counts, ranges, a sample -------------------------------------
@dataclass
class Survey:
    """What one pass over chunked data found (see :func:`survey`).

    Attributes
    ----------
    X : dask.array.Array of shape (N, ...)
        The data, rechunked so that only the rows are split, without empty chunks.
    sample_weight : dask.array.Array of shape (N,), or None
        The weights, chunked as ``X``.
    row_chunks : tuple of int
        The number of rows of each chunk.
    n_rows : int
    weight_total : float
        The sum of the weights (``n_rows`` without weights).
    n_positive : int
        The number of rows of positive weight.
    minimum, maximum : ndarray of shape (D,)
        Column ranges over the rows of positive weight (NaN ignored; NaN for a column with no value).
    observed : ndarray of shape (D,)
        The weight of the observed (not NaN) entries of each column.
    column_sums : ndarray of shape (D,)
        The weighted sum of the observed entries of each column.
    n_incomplete : int
        The number of rows of positive weight with a missing (NaN) entry.
    moments : WeightedMoments or None
        Weighted first and second moments of all rows (one component), when asked for.
    sample : ndarray
        The sampled rows of positive weight, in row order, validated.
    sample_weight_local : ndarray
        Their weights.
    """

    X: Any
    sample_weight: Any
    row_chunks: tuple
    n_rows: int
    weight_total: float
    n_positive: int
    minimum: np.ndarray
    maximum: np.ndarray
    observed: np.ndarray
    column_sums: np.ndarray
    n_incomplete: int
    moments: Any
    sample: np.ndarray
    sample_weight_local: np.ndarray


def survey(X: Any, sample_weight: Any, check: Callable, rng_source: Any, *, moments: bool = False,
           sample_size: int | None = None, name: str = "X") -> Survey:
    """Validate a dask array chunk by chunk and gather what fitting needs before EM starts.

    Parameters
    ----------
    X : dask.array.Array of shape (N,) or (N, D)
        Chunked along the rows (chunks along the columns are merged).
    sample_weight : None, array-like or dask.array.Array of shape (N,)
    check : callable
        ``check(chunk) -> array``: the estimator's validation of in-memory data (raising a
        ``ValueError`` naming ``X``), applied to every chunk.
    rng_source : None, int or numpy.random.Generator
        The estimator's ``random_state``; a generator is drawn from only when the data have more
        rows than ``sample_size``.
    moments : bool, default False
        Also sum the weighted first and second moments of the rows.
    sample_size : int, optional
        The largest number of rows sampled for the starting values; by default
        :data:`INITIAL_SAMPLE_SIZE`.

    Returns
    -------
    Survey
    """
    import dask
    import dask.array as da

    from emlib._validation import check_random_state

    if X.ndim not in (1, 2):
        raise ValueError(f"{name} must be a 1-D or 2-D dask array, got {X.ndim}-D with shape {X.shape}")
    if any(np.isnan(c) for c in X.chunks[0]):
        raise ValueError(f"{name} is a dask array of unknown chunk sizes; call {name}.compute_chunk_sizes() first")
    if X.ndim == 2 and len(X.chunks[1]) > 1:
        X = X.rechunk({1: -1})  # each chunk holds whole rows
    n_rows = int(X.shape[0])
    if n_rows == 0:
        raise ValueError(f"{name} is empty: 0 sample(s) (shape={X.shape}) while a minimum of 1 is required")
    if sample_weight is not None:
        if not is_dask_array(sample_weight):
            sample_weight = np.asarray(sample_weight)
        if sample_weight.shape != (n_rows,):
            raise ValueError(f"sample_weight must have shape ({n_rows},) to match {name}, got {sample_weight.shape}")
        if is_dask_array(sample_weight):
            sample_weight = sample_weight.rechunk((X.chunks[0],))
        else:
            sample_weight = da.from_array(sample_weight, chunks=(X.chunks[0],))
    row_chunks = tuple(int(c) for c in X.chunks[0])
    if 0 in row_chunks:  # empty chunks carry nothing and only cost a task
        keep = [i for i, c in enumerate(row_chunks) if c > 0]
        edges = np.concatenate([[0], np.cumsum(row_chunks)])
        X = da.concatenate([X[edges[i]:edges[i + 1]] for i in keep])
        if sample_weight is not None:
            sample_weight = da.concatenate([sample_weight[edges[i]:edges[i + 1]] for i in keep])
        row_chunks = tuple(row_chunks[i] for i in keep)

    sample_size = INITIAL_SAMPLE_SIZE if sample_size is None else sample_size
    if n_rows <= sample_size:
        chosen = np.arange(n_rows)
    else:
        chosen = np.sort(check_random_state(rng_source).choice(n_rows, size=sample_size, replace=False))
    edges = np.concatenate([[0], np.cumsum(row_chunks)])
    blocks = X.to_delayed().ravel()
    weight_blocks = sample_weight.to_delayed().ravel() if sample_weight is not None else [None] * len(blocks)
    parts = []
    for i, (block, weights) in enumerate(zip(blocks, weight_blocks)):
        lo, hi = np.searchsorted(chosen, [edges[i], edges[i + 1]])
        parts.append(dask.delayed(_survey_chunk, pure=False)(block, weights, check, int(edges[i]),
                                                            chosen[lo:hi] - edges[i], moments, name))
    summaries = dask.compute(*parts)

    n_positive = sum(s["n_positive"] for s in summaries)
    weight_total = float(sum(s["weight_total"] for s in summaries))
    if sample_weight is not None:
        if not weight_total > 0:
            raise ValueError("sample_weight is zero everywhere; at least one sample needs positive weight")
        # Each chunk checked the upper bound on its weights; the lower one is the whole data's.
        from emlib._validation import _check_weight_scale

        _check_weight_scale(np.array([s["largest_weight"] for s in summaries]), "sample_weight", whole=True)
    combined_moments = None
    if moments:
        combined_moments = summaries[0]["moments"]
        for s in summaries[1:]:
            combined_moments = combined_moments + s["moments"]
    return Survey(
        X=X, sample_weight=sample_weight, row_chunks=row_chunks, n_rows=n_rows, weight_total=weight_total,
        n_positive=n_positive,
        minimum=np.fmin.reduce([s["minimum"] for s in summaries]),
        maximum=np.fmax.reduce([s["maximum"] for s in summaries]),
        observed=np.sum([s["observed"] for s in summaries], axis=0),
        column_sums=np.sum([s["column_sums"] for s in summaries], axis=0),
        n_incomplete=sum(s["n_incomplete"] for s in summaries),
        moments=combined_moments,
        sample=np.concatenate([s["sample"] for s in summaries]),
        sample_weight_local=np.concatenate([s["sample_weight"] for s in summaries]),
    )


def _survey_chunk(X, weights, check, offset: int, rows: np.ndarray, moments: bool, name: str) -> dict:
    """Validate one chunk; its counts, ranges, moments, and its sampled rows of positive weight."""
    from emlib._validation import check_chunk_weights

    n = len(X)
    try:
        X = check(X)
        weights = check_chunk_weights(weights, n)
    except ValueError as error:
        raise ValueError(f"{error} (in the chunk of rows {offset} to {offset + n - 1} of {name})") from None
    positive = weights > 0
    table = X if X.ndim == 2 else X[:, None]
    kept = table[positive]
    observed = ~np.isnan(table) if np.issubdtype(table.dtype, np.floating) else np.ones(table.shape, dtype=bool)
    summary = {
        "n_positive": int(np.count_nonzero(positive)),
        "weight_total": float(weights.sum()),
        "largest_weight": float(weights.max()) if n else 0.0,
        "minimum": np.fmin.reduce(kept, axis=0) if len(kept) else np.full(table.shape[1], np.nan),
        "maximum": np.fmax.reduce(kept, axis=0) if len(kept) else np.full(table.shape[1], np.nan),
        "observed": weights @ observed,
        "column_sums": weights @ np.where(observed, table, 0),
        "n_incomplete": int(np.count_nonzero(positive & ~observed.all(axis=1))),
        "sample": X[rows][positive[rows]],
        "sample_weight": weights[rows][positive[rows]],
        "moments": None,
    }
    if moments:
        from emlib.distributions import WeightedMoments

        total = weights.sum()
        centre = weights @ table / total if total > 0 else np.zeros(table.shape[1])
        deviations = table - centre
        summary["moments"] = WeightedMoments(np.array([total]), centre[None], np.zeros((1, table.shape[1])),
                                             ((deviations * weights[:, None]).T @ deviations)[None])
    return summary
