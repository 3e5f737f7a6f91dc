"""A throwaway Orthanc on loopback for the tests (fixture ``orthanc`` in tests/conftest.py) and the benchmarks.

``start(folder)`` writes a configuration into ``folder`` (storage there, random HTTP and DICOM ports, basic
authentication, the DICOMweb plugin, the AE title PETVOI from 127.0.0.1 the only DICOM peer allowed to find, get,
move and store), starts the ``Orthanc`` executable of the Debian package (tools/ci/orthanc.sh installs it) and
waits until it answers; ``OrthancServer.stop()`` ends it. The system service of the package is never used.
"""

from __future__ import annotations

import base64
import json
import os
import shutil
import socket
import subprocess
import time
import urllib.error
import urllib.request
from pathlib import Path

PLUGIN = "/usr/share/orthanc/plugins/libOrthancDicomWeb.so"


class OrthancServer:
    """A running Orthanc: its ports, DICOMweb root, credentials and REST helpers."""

    USER, PASSWORD, AET = "petvoi", "orthanc-test-password", "ORTHANC"

    def __init__(self, http_port: int, dicom_port: int, folder: Path) -> None:
        self.http_port, self.dicom_port, self.folder = http_port, dicom_port, folder
        self.url = f"http://127.0.0.1:{http_port}"
        self.dicomweb = f"{self.url}/dicom-web"
        self.process: subprocess.Popen[bytes] | None = None

    def rest(self, method: str, path: str, data: bytes | None = None) -> object:
        """One REST call with the test credentials; the decoded JSON answer."""
        request = urllib.request.Request(f"{self.url}{path}", data=data, method=method)
        token = base64.b64encode(f"{self.USER}:{self.PASSWORD}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=60) as answer:
            body = answer.read()
        return json.loads(body) if body else None

    def upload(self, files: list[Path]) -> None:
        """Store DICOM files (REST POST /instances)."""
        for f in files:
            self.rest("POST", "/instances", f.read_bytes())

    def stop(self) -> None:
        """Terminate the process (killed after 30 s)."""
        if self.process is None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
        self.process = None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start(folder: Path, timeout_s: float = 60.0) -> OrthancServer:
    """Start an Orthanc storing into ``folder``; raise RuntimeError (with its log) when it does not answer."""
    folder.mkdir(parents=True, exist_ok=True)
    server = OrthancServer(_free_port(), _free_port(), folder)
    config = {
        "Name": "petvoi-test", "StorageDirectory": str(folder / "db"), "IndexDirectory": str(folder / "db"),
        "HttpPort": server.http_port, "DicomPort": server.dicom_port, "DicomAet": server.AET,
        "RemoteAccessAllowed": False, "AuthenticationEnabled": True,
        "RegisteredUsers": {server.USER: server.PASSWORD}, "Plugins": [PLUGIN],
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
    with (folder / "orthanc.log").open("w") as log:
        # TCP_NODELAY=1: DCMTK (Orthanc's DICOM layer) then disables Nagle; with it each C-GET sub-operation
        # waited for a delayed ACK (measured: 45 ms per instance, 3.3 ms without)
        server.process = subprocess.Popen([shutil.which("Orthanc") or "Orthanc", str(folder / "orthanc.json")],
                                          env={**os.environ, "TCP_NODELAY": "1"}, stdout=log,
                                          stderr=subprocess.STDOUT)
    deadline = time.monotonic() + timeout_s
    while True:
        try:
            server.rest("GET", "/system")
            return server
        except (urllib.error.URLError, ConnectionError, OSError):
            if server.process.poll() is not None or time.monotonic() > deadline:
                server.stop()
                raise RuntimeError(f"Orthanc did not start: {(folder / 'orthanc.log').read_text()[-2000:]}") from None
            time.sleep(0.2)
