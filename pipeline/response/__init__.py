"""Response: RECIST 1.1 / iRECIST time-point responses and best overall response (:mod:`.recist`,
:mod:`.irecist`, :mod:`.bor`), and PET response: changes from baseline, PERCIST 1.0 and EORTC 1999
(:mod:`.deltas`, :mod:`.percist`, :mod:`.comparability`). Stage entry points in :mod:`.stage`.

The names below are loaded on first use, so that importing the package (the CLI does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["RecistOptions", "PercistOptions", "DeltaOptions", "evaluate_recist", "best_overall_response",
           "validate_response_table", "compute_deltas", "OUTPUT_COLUMNS", "BOR_COLUMNS", "RECIST_CATEGORIES",
           "IRECIST_CATEGORIES"]

_HOME = {"RecistOptions": "options", "PercistOptions": "options", "DeltaOptions": "options",
         "evaluate_recist": "recist", "OUTPUT_COLUMNS": "recist", "best_overall_response": "bor",
         "validate_response_table": "bor", "BOR_COLUMNS": "bor", "RECIST_CATEGORIES": "bor",
         "IRECIST_CATEGORIES": "bor", "compute_deltas": "deltas"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
