"""Per-patient and cohort reports (HTML and PDF) and their figures.

The names below are loaded on first use, so that importing the package (the CLI does) stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import Any

__all__ = ["build_patient_report", "write_patient_report", "mip_images", "suv_window"]

_HOME = {"build_patient_report": "patient", "write_patient_report": "patient", "mip_images": "mip",
         "suv_window": "mip"}


def __getattr__(name: str) -> Any:
    if name in _HOME:
        return getattr(import_module(f".{_HOME[name]}", __name__), name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
