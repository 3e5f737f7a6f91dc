"""Atomic writes and byte-stable tables."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from pipeline.io import atomic_path, sanitise_name, write_csv, write_json


def test_atomic_path_leaves_nothing_on_failure(tmp_path: Path) -> None:
    target = tmp_path / "out.nii.gz"
    with pytest.raises(RuntimeError):
        with atomic_path(target) as tmp:
            tmp.write_bytes(b"partial")
            assert tmp.name.endswith(".nii.gz")
            raise RuntimeError("boom")
    assert not target.exists()
    assert list(tmp_path.iterdir()) == []


def test_tables_are_byte_identical(tmp_path: Path) -> None:
    table = pd.DataFrame({"a": [0.1 + 0.2, 1e-12], "b": ["x", "y"]})
    write_csv(tmp_path / "1.csv", table)
    write_csv(tmp_path / "2.csv", table.copy())
    assert (tmp_path / "1.csv").read_bytes() == (tmp_path / "2.csv").read_bytes()
    assert (tmp_path / "1.csv").read_text().splitlines()[1] == "0.3,x"


def test_json_is_sorted(tmp_path: Path) -> None:
    write_json(tmp_path / "a.json", {"b": 1, "a": 2})
    assert (tmp_path / "a.json").read_text() == '{\n  "a": 2,\n  "b": 1\n}\n'


def test_sanitise_name() -> None:
    assert sanitise_name("Müller, Hans/../x") == "M_ller__Hans_.._x"
    assert sanitise_name("...") == "unnamed"


def test_write_json_records_non_finite_numbers_as_null(tmp_path: Path) -> None:
    """A header's NaN or Inf weight recorded in a sidecar made it unwritable after the image was written (a
    suv.nii.gz without suv.json, issue 17); now such values are null."""
    import json

    path = write_json(tmp_path / "s.json", {"weight_kg": float("nan"), "overrides": {"dose": [1.0, float("inf")]}})
    assert json.loads(path.read_text()) == {"overrides": {"dose": [1.0, None]}, "weight_kg": None}
