"""Series selection from the index for the workflow stages."""

from __future__ import annotations

import pandas as pd
import pytest

from pipeline.dicom.select import select_series
from pipeline.errors import InvalidInputError

INDEX = pd.DataFrame({
    "subject_id": ["P01", "P01", "P01", "P01"],
    "timepoint": ["baseline"] * 4,
    "modality": ["PT", "PT", "CT", "RTSTRUCT"],
    "series_description": ["PET WB AC", "PET WB NAC", "CT WB", "RTSTRUCT"],
    "n_instances": [80, 80, 104, 1],
    "path": ["d/pt_ac", "d/pt_nac", "d/ct", "d/rs"],
})


def test_single_series_is_chosen() -> None:
    assert select_series(INDEX, "P01", "baseline", "CT") == "d/ct"


def test_pattern_picks_one_of_several() -> None:
    assert select_series(INDEX, "P01", "baseline", "PT", r"\bAC$") == "d/pt_ac"


def test_several_series_is_an_error_naming_them() -> None:
    with pytest.raises(InvalidInputError) as info:
        select_series(INDEX, "P01", "baseline", "PT")
    assert "2 PT series for subject P01 timepoint baseline: 'PET WB AC' (80 files); 'PET WB NAC'" in str(info.value)
    assert "series.pt_description" in str(info.value)


def test_missing_series_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="no SEG series for subject P01 timepoint baseline"):
        select_series(INDEX, "P01", "baseline", "SEG")


def test_index_without_timepoint_column_is_an_error() -> None:
    with pytest.raises(InvalidInputError, match="column 'timepoint' missing"):
        select_series(INDEX.drop(columns="timepoint"), "P01", "baseline", "CT")
