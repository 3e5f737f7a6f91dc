"""The DICOM folders of a sample sheet's studies: what the workflow indexes (no pydicom import: the workflow
reads them when it parses)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pandas as pd

__all__ = ["outermost", "study_folders"]


def outermost(roots: Sequence[Path]) -> list[Path]:
    """The folders of ``roots`` not inside another of them and not repeated, in the order given (each file below
    them is then read once)."""
    resolved = [r.resolve() for r in roots]
    kept: list[Path] = []
    for i, r in enumerate(resolved):
        inside = any((o == r and j < i) or (o != r and o in r.parents) for j, o in enumerate(resolved))
        if not inside:
            kept.append(roots[i])
    return kept


def study_folders(sheet: pd.DataFrame, data_root: Path) -> list[str]:
    """The DICOM folders of a sample sheet's studies, in sheet order, each once, none inside another.

    Parameters
    ----------
    sheet : pandas.DataFrame
        A sample sheet as :func:`pipeline.config.load_sample_sheet` returns it (column ``dicom``).
    data_root : Path
        The folder the sheet's ``dicom`` paths are relative to.

    Returns
    -------
    list of str
        What the workflow's index reads (in parts of ``jobs.index_studies_per_job`` folders, merged by
        :func:`pipeline.dicom.index.merge_index`); series outside them belong to no study of the sheet.
    """
    folders = [Path(f) for f in dict.fromkeys(str(data_root / d) for d in sheet["dicom"])]
    return [str(f) for f in outermost(folders)]
