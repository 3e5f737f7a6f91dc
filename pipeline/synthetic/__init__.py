"""Deterministic synthetic PET/CT trial cohort with exact truth (``petvoi synth``).

Public entry point: :func:`generate_cohort`. See :mod:`.cohort` for the layout,
:mod:`.truth` for the meaning of every truth number, :mod:`.clinical` for the tables.
"""

from .cohort import CohortSummary, cohort_tables, generate_cohort

__all__ = ["CohortSummary", "cohort_tables", "generate_cohort"]
