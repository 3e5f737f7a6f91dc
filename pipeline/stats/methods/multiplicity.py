"""Multiple comparisons: Benjamini-Hochberg adjusted p-values."""

from __future__ import annotations

from typing import Any

import numpy as np

from ...errors import InvalidInputError
from .core import _as_float_array

__all__ = ["benjamini_hochberg"]


def benjamini_hochberg(p_values: Any) -> np.ndarray:
    """Benjamini-Hochberg FDR-adjusted p-values (statsmodels ``multipletests(method="fdr_bh")``).

    Parameters
    ----------
    p_values : array-like
        Raw p-values; NaN entries are ignored (not counted among the tests) and stay NaN.

    Returns
    -------
    numpy.ndarray
        Adjusted p-values in the input order.
    """
    from statsmodels.stats.multitest import multipletests

    p = _as_float_array(p_values, "p_values")
    finite = np.isfinite(p)
    if np.any((p[finite] < 0) | (p[finite] > 1)):
        raise InvalidInputError("p-values must lie in [0, 1]", attribute="p_values")
    out = np.full(p.shape, np.nan)
    if finite.any():
        out[finite] = multipletests(p[finite], method="fdr_bh")[1]
    return out
