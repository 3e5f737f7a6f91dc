"""Shared fixtures: paths to the repository, the shared reference data and a small synthetic cohort."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
SHARED_DATA = SHARED / "data"


@pytest.fixture(scope="session")
def repo() -> Path:
    """Root of the repository."""
    return REPO


@pytest.fixture(scope="session")
def shared_data() -> Path:
    """``../shared/data`` beside the repository (CI provides it)."""
    if not SHARED_DATA.is_dir():
        pytest.fail(f"reference data folder {SHARED_DATA} is missing; CI clones the repo with ../shared beside it")
    return SHARED_DATA


@pytest.fixture(scope="session")
def cohort_1(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A one-subject synthetic cohort (baseline + on-treatment), generated once per session."""
    from pipeline.synthetic import generate_cohort

    out = tmp_path_factory.mktemp("cohort1")
    generate_cohort(out, n_subjects=1, seed=7)
    return out


@pytest.fixture(scope="session")
def cohort_3(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A three-subject synthetic cohort: one subject per tracer and vendor flavour."""
    from pipeline.synthetic import generate_cohort

    out = tmp_path_factory.mktemp("cohort3")
    generate_cohort(out, n_subjects=3, seed=11)
    return out


def copy_tree(src: Path, dst: Path) -> Path:
    """Copy a folder tree (tests that must modify generated data work on a copy)."""
    shutil.copytree(src, dst)
    return dst
