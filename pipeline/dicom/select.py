"""Choose the series of a study from the index (``series.csv``) for a workflow stage."""

from __future__ import annotations

import re

import pandas as pd

from ..errors import InvalidInputError

__all__ = ["select_series"]


def select_series(index: pd.DataFrame, subject_id: str, timepoint: str, modality: str,
                  description_pattern: str = "", *, source: str = "series.csv") -> str:
    """Return the folder of the one series of ``modality`` in a study.

    Parameters
    ----------
    index : pandas.DataFrame
        The table written by ``petvoi index`` (with subject_id and timepoint from the sample sheet).
    subject_id, timepoint : str
        The study, as named in the sample sheet.
    modality : str
        DICOM Modality (``PT``, ``CT``, ``RTSTRUCT``, ``SEG``).
    description_pattern : str
        Regular expression searched in SeriesDescription when the study holds several
        series of the modality (e.g. ``"WB|Whole"`` to skip a non-attenuation-corrected series).
    source : str
        Name of the index file, for messages.

    Returns
    -------
    str
        The series folder (``path`` column).

    Raises
    ------
    InvalidInputError
        When no series, or more than one, matches.
    """
    missing = [c for c in ("subject_id", "timepoint", "modality", "series_description", "path") if c not in index]
    if missing:
        raise InvalidInputError(f"column {missing[0]!r} missing", source=source, attribute=missing[0],
                                remedy="rebuild the index with `petvoi index --samples samples.tsv`")
    rows = index[(index["subject_id"] == subject_id) & (index["timepoint"] == timepoint)
                 & (index["modality"] == modality)]
    if description_pattern:
        pattern = re.compile(description_pattern)
        rows = rows[[bool(pattern.search(str(d))) for d in rows["series_description"]]]
    where = f"subject {subject_id} timepoint {timepoint}"
    if rows.empty:
        raise InvalidInputError(f"no {modality} series for {where}" +
                                (f" matching {description_pattern!r}" if description_pattern else ""),
                                source=source, attribute="Modality (0008,0060) / SeriesDescription (0008,103E)",
                                remedy="check the sample sheet's dicom folder and the series patterns in the config")
    if len(rows) > 1:
        names = "; ".join(f"{d!r} ({n} files)"
                          for d, n in zip(rows["series_description"], rows["n_instances"], strict=True))
        raise InvalidInputError(f"{len(rows)} {modality} series for {where}: {names}", source=source,
                                attribute="SeriesDescription (0008,103E)",
                                remedy=f"set series.{modality.lower()}_description in the config to pick one")
    return str(rows.iloc[0]["path"])
