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


class OrthancServer:
    """A running test Orthanc: its ports, DICOMweb root, credentials and REST helpers."""

    USER, PASSWORD, AET = "petvoi", "orthanc-test-password", "ORTHANC"

    def __init__(self, http_port: int, dicom_port: int, folder: Path) -> None:
        self.http_port, self.dicom_port, self.folder = http_port, dicom_port, folder
        self.url = f"http://127.0.0.1:{http_port}"
        self.dicomweb = f"{self.url}/dicom-web"

    def rest(self, method: str, path: str, data: bytes | None = None) -> object:
        """One REST call with the test credentials; the decoded JSON answer."""
        import base64
        import json
        import urllib.request

        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        token = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=30) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def upload(self, files: list[Path]) -> None:
        """Store DICOM files (REST POST /instances)."""
        for f in files:
            self.rest("POST", "/instances", f.read_bytes())


def _free_port() -> int:
    import socket

    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="session")
def orthanc(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OrthancServer]:
    """An Orthanc (Debian packages orthanc and orthanc-dicomweb, installed by tools/ci/orthanc.sh when missing)
    on loopback: HTTP with basic authentication and the DICOMweb plugin, DICOM with C-FIND/C-GET/C-STORE for the
    AE title PETVOI from 127.0.0.1 only, a temporary storage folder, random ports; stopped at the end of the
    session. Skipped only where Orthanc cannot be installed (not root, no apt-get)."""
    import json
    import os
    import subprocess
    import time
    import urllib.error

    script = Path(__file__).resolve().parents[1] / "tools" / "ci" / "orthanc.sh"
    if subprocess.run(["bash", str(script), "status"], capture_output=True, check=False).returncode != 0:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            pytest.skip("Orthanc is not installed and cannot be installed here (tools/ci/orthanc.sh needs root and "
                        "apt-get)")
        done = subprocess.run(["bash", str(script), "install"], capture_output=True, text=True, timeout=900,
                              check=False)
        if done.returncode != 0:
            pytest.fail(f"tools/ci/orthanc.sh install failed: {done.stderr.strip()}")
    folder = tmp_path_factory.mktemp("orthanc")
    server = OrthancServer(_free_port(), _free_port(), folder)
    config = {
        "Name": "petvoi-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": server.http_port, "DicomPort": server.dicom_port, "DicomAet": server.AET,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
        "RegisteredUsers": {server.USER: server.PASSWORD},
        "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
        "DicomWeb": {"Enable": True, "Root": "/dicom-web/", "EnableWado": True, "StudiesMetadata": "Full"},
        "DicomCheckCalledAet": False, "DicomCheckModalityHost": True,
        "DicomAlwaysAllowStore": False, "DicomAlwaysAllowFind": False, "DicomAlwaysAllowGet": False,
        "DicomAlwaysAllowMove": False, "DicomAlwaysAllowEcho": True,
        "DicomModalities": {"petvoi": {"AET": "PETVOI", "Host": "127.0.0.1", "Port": _free_port(),
                                       "AllowStore": True, "AllowFind": True, "AllowGet": True,
                                       "AllowMove": True, "AllowEcho": True}},
        "StableAge": 1, "StorageCompression": False, "HttpTimeout": 60, "ConcurrentJobs": 1,
    }
    (folder / "orthanc.json").write_text(json.dumps(config, indent=1))
    log = (folder / "orthanc.log").open("w")
    process = subprocess.Popen([shutil.which("Orthanc") or "Orthanc", str(folder / "orthanc.json")], stdout=log,
                               stderr=subprocess.STDOUT)
    deadline = time.monotonic() + 60
    while True:
        try:
            server.rest("GET", "/system")
            break
        except (urllib.error.URLError, ConnectionError, OSError):
            if process.poll() is not None or time.monotonic() > deadline:
                process.kill()
                pytest.fail(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()[-2000:]}")
            time.sleep(0.2)
    yield server
    process.terminate()
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        process.kill()
    log.close()
