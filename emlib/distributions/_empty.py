"""The one degenerate case every family meets in its M-step: a component that receives no weight."""

from __future__ import annotations

import warnings

import numpy as np

from emlib.exceptions import DegenerateComponentWarning


def empty_components(totals: np.ndarray, kept: str = "parameters",
                     advice: str = "fewer components") -> np.ndarray:
    """Components whose total weight is zero (or underflowed), with a warning naming them: (K,) bool.

    Such a component has nothing to be fitted to; the caller leaves its ``kept`` unchanged. The
    warning points at the caller of the distribution's ``fit``.
    """
    empty = ~(totals > 1e3 * np.finfo(np.float64).tiny)
    if empty.any():
        warnings.warn(
            f"component(s) {np.flatnonzero(empty).tolist()} received no weight; their {kept} are "
            f"left unchanged. Consider {advice}.",
            DegenerateComponentWarning,
            stacklevel=3,
        )
    return empty
