"""Deterministic synthetic PET/CT trial cohort with exact truth (``petvoi synth``).

Public entry point: :func:`generate_cohort`. See :mod:`.cohort` for the layout, :mod:`.truth` for the
meaning of every truth number, :mod:`.clinical` for the tables. The names below are loaded on first
use, so that importing the package (the CLI does) stays cheap.
"""

from __future__ import annotations

from typing import Any

__all__ = ["CohortSummary", "cohort_tables", "ensure_sheets", "ensure_workflow_sheets", "generate_cohort"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        from . import cohort

        return getattr(cohort, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
