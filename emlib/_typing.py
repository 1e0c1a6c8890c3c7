"""Names used in type hints (imported only under ``typing.TYPE_CHECKING``, so they cost nothing at run time)."""

from __future__ import annotations

from collections.abc import Collection

import numpy as np
from numpy.typing import ArrayLike

#: What ``random_state`` accepts: a seed, a generator, a legacy ``RandomState`` or None.
RandomState = int | np.integer | np.random.Generator | np.random.RandomState | None
#: Names of parameters that an M-step keeps fixed, e.g. ``("startprob", "means")``.
FixedNames = Collection[str]

__all__ = ["ArrayLike", "FixedNames", "RandomState"]
