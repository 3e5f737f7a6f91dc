"""The result of every statistical method, and the input checks and resampling helpers they share."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ...errors import InvalidInputError
from ...progress import track

__all__ = ["NAN", "StatResult"]


NAN = float("nan")


@dataclass(frozen=True)
class StatResult:
    """Result of one estimate or test.

    Attributes
    ----------
    estimate : float
        Point estimate (see each function for what it is).
    ci_low, ci_high : float
        Two-sided confidence interval of ``estimate`` (NaN when not available).
    p_value : float
        P-value of the test (NaN when not available).
    n : int
        Number of observations used.
    method : str
        Human-readable name of the method, including the CI method.
    statistic : float
        Test statistic (NaN when not applicable).
    notes : str
        Why something is NaN, counts, caveats.
    """

    estimate: float
    ci_low: float
    ci_high: float
    p_value: float
    n: int
    method: str
    statistic: float = NAN
    notes: str = ""

    def as_dict(self) -> dict[str, Any]:
        """Return the fields as a plain dict (for tables)."""
        return {
            "estimate": self.estimate, "ci_low": self.ci_low, "ci_high": self.ci_high, "p_value": self.p_value,
            "n": self.n, "method": self.method, "statistic": self.statistic, "notes": self.notes,
        }


def _nan_result(n: int, method: str, notes: str, statistic: float = NAN) -> StatResult:
    return StatResult(NAN, NAN, NAN, NAN, int(n), method, statistic, notes)


def _join(*parts: str) -> str:
    return "; ".join(p for p in parts if p)


def _as_float_array(values: Any, name: str) -> np.ndarray:
    try:
        arr = np.asarray(values, dtype=float)
    except (TypeError, ValueError) as exc:
        raise InvalidInputError(f"{name} must be numeric", attribute=name) from exc
    if arr.ndim != 1:
        arr = arr.reshape(-1) if arr.ndim == 0 else arr
        if arr.ndim != 1:
            raise InvalidInputError(f"{name} must be one-dimensional", attribute=name)
    return arr


def _check_alpha(alpha: float) -> float:
    if not 0.0 < alpha < 1.0:
        raise InvalidInputError(f"alpha must be in (0, 1), got {alpha!r}", attribute="alpha")
    return float(alpha)


def _check_same_length(**arrays: Sequence[Any] | np.ndarray | None) -> None:
    lengths = {name: len(a) for name, a in arrays.items() if a is not None}
    if len(set(lengths.values())) > 1:
        text = ", ".join(f"{k}={v}" for k, v in lengths.items())
        raise InvalidInputError(f"inputs must have the same length ({text})")


def _dropped_note(n_dropped: int) -> str:
    return f"{n_dropped} observation(s) with missing values dropped" if n_dropped else ""


def _binary(values: Any, name: str) -> np.ndarray:
    arr = np.asarray(values)
    if arr.dtype == bool:
        return arr.astype(int)
    arr = _as_float_array(arr, name)
    if not np.all(np.isin(arr, (0.0, 1.0))):
        raise InvalidInputError(f"{name} must contain only 0/1 (or booleans)", attribute=name)
    return arr.astype(int)


def _groups_list(groups: Sequence[Any] | Mapping[Any, Any], name: str = "groups") -> tuple[list[np.ndarray], str]:
    """Convert groups to a list of finite float arrays (empty groups dropped); return (arrays, note)."""
    items = list(groups.values()) if isinstance(groups, Mapping) else list(groups)
    if not items:
        raise InvalidInputError(f"{name} is empty", attribute=name)
    arrays, dropped, empty = [], 0, 0
    for item in items:
        arr = _as_float_array(item, name)
        keep = np.isfinite(arr)
        dropped += int((~keep).sum())
        arr = arr[keep]
        if arr.size:
            arrays.append(arr)
        else:
            empty += 1
    note = _join(_dropped_note(dropped), f"{empty} empty group(s) ignored" if empty else "")
    return arrays, note


def _percentile_ci(values: np.ndarray, alpha: float) -> tuple[float, float]:
    values = values[np.isfinite(values)]
    if values.size < 2:
        return NAN, NAN
    low, high = np.quantile(values, [alpha / 2.0, 1.0 - alpha / 2.0])
    return float(low), float(high)


def _cluster_resamples(clusters: np.ndarray, n_boot: int, seed: int) -> Iterator[np.ndarray]:
    """Yield index arrays of cluster-bootstrap resamples (patients drawn with replacement)."""
    rng = np.random.default_rng(seed)
    labels, codes = np.unique(clusters, return_inverse=True)
    members = [np.flatnonzero(codes == k) for k in range(labels.size)]
    for _ in track(range(n_boot), "bootstrap", unit="resamples"):
        chosen = rng.integers(0, labels.size, size=labels.size)
        yield np.concatenate([members[k] for k in chosen])
