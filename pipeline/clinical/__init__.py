"""Clinical endpoints: RECIST 1.1 / iRECIST time-point responses and best overall response."""

from __future__ import annotations

from .bor import BOR_COLUMNS, IRECIST_CATEGORIES, RECIST_CATEGORIES, best_overall_response, validate_response_table
from .recist import OUTPUT_COLUMNS, RecistOptions, evaluate_recist

__all__ = [
    "RecistOptions",
    "evaluate_recist",
    "best_overall_response",
    "validate_response_table",
    "OUTPUT_COLUMNS",
    "BOR_COLUMNS",
    "RECIST_CATEGORIES",
    "IRECIST_CATEGORIES",
]
