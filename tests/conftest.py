"""Shared fixtures: paths to the repository, the shared reference data and a small synthetic cohort."""

from __future__ import annotations

import shutil
from collections.abc import Iterator
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
def p01_baseline(cohort_1: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A folder with cohort_1's P01 baseline as ``suv.nii.gz`` and ``vois.nii.gz`` (petvoi suv and vois), made once
    per session for the texture and scheduler tests; tests may add files of other names."""
    from pipeline.cli import main

    work = tmp_path_factory.mktemp("p01_baseline")
    dicom = cohort_1 / "dicom" / "P01" / "baseline"
    assert main(["suv", str(dicom / "PT"), "-o", str(work / "suv.nii.gz")]) == 0
    assert main(["vois", "--pet", str(work / "suv.nii.gz"), "--rtstruct", str(dicom / "RTSTRUCT"),
                 "-o", str(work / "vois.nii.gz")]) == 0
    return work


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


@pytest.fixture(scope="session")
def slurm_cluster() -> Iterator[None]:
    """A SLURM cluster answering sbatch: the running one, or a single-node loopback cluster started by
    tools/ci/slurm.sh up (root; Debian packages slurm-wlm and munge, installed when missing) and stopped with
    tools/ci/slurm.sh down at the end of the session. Skipped only where SLURM cannot be had here."""
    import os
    import shutil
    import subprocess

    script = Path(__file__).resolve().parents[1] / "tools" / "ci" / "slurm.sh"
    answers = bool(shutil.which("sinfo")) and subprocess.run(["sinfo", "-h"], capture_output=True, timeout=30,
                                                             check=False).returncode == 0
    if answers and subprocess.run(["bash", str(script), "status"], capture_output=True, check=False).returncode:
        yield  # a cluster this session did not start (the machine's own, or one left up by hand)
        return
    if os.geteuid() != 0:
        if answers:
            yield
            return
        pytest.skip("no SLURM cluster answers and this is not root: tools/ci/slurm.sh up needs root")
    if shutil.which("sbatch") is None and shutil.which("apt-get") is None:
        pytest.skip("SLURM is not installed and there is no apt-get to install it (tools/ci/slurm.sh is Debian-only)")
    was_up = subprocess.run(["bash", str(script), "status"], capture_output=True, check=False).returncode == 0
    done = subprocess.run(["bash", str(script), "up"], capture_output=True, text=True, timeout=900, check=False)
    if done.returncode != 0:
        pytest.fail(f"tools/ci/slurm.sh up failed (exit {done.returncode}): {done.stderr.strip()}")
    yield
    if not was_up:
        subprocess.run(["bash", str(script), "down"], capture_output=True, timeout=120, check=False)


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[object]:
    """An Orthanc (Debian packages orthanc and orthanc-dicomweb, installed by tools/ci/orthanc.sh when missing)
    on loopback (tools/orthanc_local.py): HTTP with basic authentication and the DICOMweb plugin, DICOM with
    C-FIND/C-GET/C-STORE for the AE title PETVOI from 127.0.0.1 only, a temporary storage folder, random ports;
    stopped at the end of the session. Skipped only where Orthanc cannot be installed (not root, no apt-get)."""
    import importlib.util
    import os
    import subprocess

    tools = Path(__file__).resolve().parents[1] / "tools"
    script = tools / "ci" / "orthanc.sh"
    if subprocess.run(["bash", str(script), "status"], capture_output=True, check=False).returncode != 0:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("Orthanc is not installed and cannot be installed here (tools/ci/orthanc.sh needs root and "
                        "apt-get)")
        done = subprocess.run(["bash", str(script), "install"], capture_output=True, text=True, timeout=900,
                              check=False)
        if done.returncode != 0:
            pytest.fail(f"tools/ci/orthanc.sh install failed: {done.stderr.strip()}")
    spec = importlib.util.spec_from_file_location("orthanc_local", tools / "orthanc_local.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    try:
        server = module.start(tmp_path_factory.mktemp("orthanc"))
    except RuntimeError as exc:
        pytest.fail(str(exc))
    yield server
    server.stop()


@pytest.fixture(scope="session")
def dciodvfy() -> str:
    """dicom3tools' dciodvfy: on the PATH, or installed from the Debian package (root); skipped only where
    neither is possible."""
    import os
    import subprocess

    path = shutil.which("dciodvfy")
    if path is None and os.geteuid() == 0 and shutil.which("apt-get"):
        subprocess.run(["apt-get", "install", "-y", "-q", "dicom3tools"], capture_output=True, timeout=600,
                       check=False, env={**os.environ, "DEBIAN_FRONTEND": "noninteractive"})
        path = shutil.which("dciodvfy")
    if path is None:
        pytest.skip("dciodvfy (Debian package dicom3tools) is not installed and cannot be installed here")
    return path
