"""The one degenerate case every family meets in its M-step: a component that receives no weight."""

from __future__ import annotations

import warnings

import numpy as np

from emlib.exceptions import DegenerateComponentWarning

# A total weight at or below this is none at all (zero, or underflowed).
_NO_WEIGHT = 1e3 * float(np.finfo(np.float64).tiny)


def empty_components(totals: np.ndarray, kept: str = "parameters",
                     advice: str = "fewer components") -> np.ndarray:
    """Components whose total weight is zero (or underflowed), with a warning naming them: (K,) bool.

    Such a component has nothing to be fitted to; the caller leaves its ``kept`` unchanged. The
    warning points at the caller of the distribution's ``fit``.
    """
    empty = ~(totals > _NO_WEIGHT)
    if empty.any():
        warnings.warn(
            f"component(s) {np.flatnonzero(empty).tolist()} received no weight; their {kept} are "
            f"left unchanged. Consider {advice}.",
            DegenerateComponentWarning,
            stacklevel=3,
        )
    return empty
