"""The two kinds of archive petvoi talks to, behind one interface: :class:`DicomWebArchive` (QIDO-RS, WADO-RS,
STOW-RS through dicomweb-client) and :class:`DimseArchive` (C-FIND, C-GET, C-STORE through pynetdicom).

Every network or protocol failure becomes one :class:`~pipeline.errors.ArchiveError` naming the server, what
was asked and the fix (exit 2); credentials never appear in messages.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import pydicom

from ..errors import InvalidInputError
from .settings import ArchiveSettings

__all__ = ["SeriesInfo", "Archive", "ArchiveError", "DicomWebArchive", "DimseArchive", "open_archive"]


class ArchiveError(InvalidInputError):
    """The archive could not do what was asked (unreachable, refused, not found): bad input, exit 2."""


@dataclass(frozen=True)
class SeriesInfo:
    """A series of a study on the archive: its UID, modality and number of instances."""

    study_uid: str
    series_uid: str
    modality: str
    n_instances: int


class Archive(Protocol):
    """What the fetch and push stages need of an archive."""

    settings: ArchiveSettings

    def find_study(self, *, study_uid: str | None = None, patient_id: str | None = None,
                   study_date: str | None = None) -> list[SeriesInfo]:
        """The series of one study, by StudyInstanceUID or by PatientID and StudyDate."""
        ...

    def retrieve_series(self, series: SeriesInfo, folder: Path) -> int:
        """Write every instance of ``series`` into ``folder``; return how many."""
        ...

    def store(self, files: Sequence[Path]) -> int:
        """Store DICOM files on the archive; return how many it accepted."""
        ...


def _name(ds: pydicom.Dataset, n: int) -> str:
    return f"{str(ds.get('Modality', 'OT'))}_{int(ds.get('InstanceNumber', 0) or 0):05d}_{n:05d}.dcm"


def _save(ds: pydicom.Dataset, folder: Path, n: int) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    ds.save_as(folder / _name(ds, n), enforce_file_format=True)


def _study_query(study_uid: str | None, patient_id: str | None, study_date: str | None) -> str:
    if study_uid:
        return f"StudyInstanceUID {study_uid}"
    return f"PatientID {patient_id} StudyDate {study_date}"


def _json_value(item: dict[str, Any], tag: str, default: Any = "") -> Any:
    """The first value of ``tag`` in a DICOM JSON object."""
    return (item.get(tag, {}).get("Value") or [default])[0]


# --------------------------------------------------------------------------------------------------- DICOMweb
class DicomWebArchive:
    """A DICOMweb server (QIDO-RS search, WADO-RS retrieve, STOW-RS store) through dicomweb-client."""

    def __init__(self, settings: ArchiveSettings) -> None:
        import requests
        from dicomweb_client.api import DICOMwebClient

        self.settings = settings
        session = requests.Session()
        if settings.username:
            session.auth = (settings.username, settings.password() or "")
        token = settings.token()
        if token:
            session.headers["Authorization"] = f"Bearer {token}"
        self._client = DICOMwebClient(url=str(settings.url), session=session)
        self._client.set_http_retry_params(retry=False)

    @contextmanager
    def _asking(self, what: str) -> Iterator[None]:
        import requests

        try:
            yield
        except requests.exceptions.HTTPError as exc:
            status = exc.response.status_code if exc.response is not None else 0
            if status in (401, 403):
                raise ArchiveError(f"refused {what}: HTTP {status} (wrong credentials)", source=self.settings.server,
                                   attribute="archive.username/password_env/token",
                                   remedy="check the user and the password or token the configuration names") from None
            if status == 404:
                raise ArchiveError(f"not found: {what} (HTTP 404)", source=self.settings.server,
                                   remedy="check the study's identifiers in the sample sheet, and archive.url "
                                          "(the DICOMweb root)") from None
            raise ArchiveError(f"{what} failed: HTTP {status}", source=self.settings.server,
                               remedy="see the server's log") from None
        except requests.exceptions.RequestException as exc:
            raise ArchiveError(f"unreachable while asking {what} ({type(exc).__name__})", source=self.settings.server,
                               attribute="archive.url", remedy="check the URL, the network and that the server "
                                                                "runs") from None

    def find_study(self, *, study_uid: str | None = None, patient_id: str | None = None,
                   study_date: str | None = None) -> list[SeriesInfo]:
        """QIDO-RS: the study (by UID, or the one study of PatientID and StudyDate) and its series."""
        what = _study_query(study_uid, patient_id, study_date)
        with self._asking(f"the study {what}"):
            if not study_uid:
                studies = self._client.search_for_studies(search_filters={"PatientID": patient_id,
                                                                          "StudyDate": study_date})
                uids = sorted({str(s.get("0020000D", {}).get("Value", [""])[0]) for s in studies})
                if len(uids) != 1:
                    raise ArchiveError(f"{len(uids)} studies match {what}", source=self.settings.server,
                                       remedy="give the StudyInstanceUID in the sample sheet (column study_uid)")
                study_uid = uids[0]
            found = self._client.search_for_series(
                study_instance_uid=study_uid, fields=["NumberOfSeriesRelatedInstances", "Modality"])
        series = []
        for item in found:
            series.append(SeriesInfo(str(study_uid), str(_json_value(item, "0020000E")),
                                     str(_json_value(item, "00080060")), int(_json_value(item, "00201209", 0) or 0)))
        return sorted(series, key=lambda s: s.series_uid)

    def retrieve_series(self, series: SeriesInfo, folder: Path) -> int:
        """WADO-RS: every instance of the series, saved as Part 10 files."""
        n = 0
        with self._asking(f"the series {series.series_uid} of study {series.study_uid}"):
            for ds in self._client.iter_series(study_instance_uid=series.study_uid,
                                               series_instance_uid=series.series_uid):
                n += 1
                _save(ds, folder, n)
        return n

    def store(self, files: Sequence[Path]) -> int:
        """STOW-RS: the files, in one request per file (a failure names the file)."""
        stored = 0
        for f in files:
            ds = pydicom.dcmread(f)
            with self._asking(f"to store {f.name}"):
                response = self._client.store_instances(datasets=[ds])
            stored_uids = {str(item.get("ReferencedSOPInstanceUID", ""))
                           for item in response.get("ReferencedSOPSequence") or []}
            if response.get("FailedSOPSequence") or str(ds.SOPInstanceUID) not in stored_uids:
                raise ArchiveError(f"refused to store {f.name} (not in the STOW-RS response's ReferencedSOPSequence)",
                                   source=self.settings.server, remedy="see the server's log")
            stored += 1
        return stored


# -------------------------------------------------------------------------------------------------------- DIMSE
#: Storage SOP classes petvoi retrieves with C-GET (SCP role) and stores with C-STORE.
_STORAGE = ("1.2.840.10008.5.1.4.1.1.128", "1.2.840.10008.5.1.4.1.1.130", "1.2.840.10008.5.1.4.1.1.128.1",
            "1.2.840.10008.5.1.4.1.1.2", "1.2.840.10008.5.1.4.1.1.2.1", "1.2.840.10008.5.1.4.1.1.4",
            "1.2.840.10008.5.1.4.1.1.4.1", "1.2.840.10008.5.1.4.1.1.481.3", "1.2.840.10008.5.1.4.1.1.66.4",
            "1.2.840.10008.5.1.4.1.1.88.34", "1.2.840.10008.5.1.4.1.1.88.22", "1.2.840.10008.5.1.4.1.1.30",
            "1.2.840.10008.5.1.4.1.1.7", "1.2.840.10008.5.1.4.1.1.20")


class DimseArchive:
    """A DIMSE peer: C-FIND (study root) and C-GET at series level, C-STORE, through pynetdicom."""

    def __init__(self, settings: ArchiveSettings) -> None:
        self.settings = settings

    @contextmanager
    def _association(self, contexts: Sequence[str], what: str, *, get_roles: bool = False,
                     handlers: list[Any] | None = None) -> Iterator[Any]:
        from pynetdicom import AE, build_role

        ae = AE(ae_title=self.settings.calling_ae)
        ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = self.settings.timeout_s
        ae.maximum_pdu_size = 0  # no limit: the peer sends an instance in a few PDUs, not 16 kB ones
        for uid in contexts:
            ae.add_requested_context(uid)
        roles: list[Any] = [build_role(uid, scp_role=True) for uid in _STORAGE] if get_roles else []
        if get_roles:
            for uid in _STORAGE:
                ae.add_requested_context(uid)
        assoc = ae.associate(str(self.settings.host), int(self.settings.port or 0), ae_title=self.settings.called_ae,
                             ext_neg=roles or None, evt_handlers=handlers)
        if not assoc.is_established:
            why = "rejected (calling or called AE title?)" if assoc.is_rejected else "no association (unreachable?)"
            raise ArchiveError(f"{why} while asking {what}", source=self.settings.server,
                               attribute="archive.host/port/called_ae/calling_ae",
                               remedy="check the peer's address and that it knows our AE title")
        _no_delay(assoc)
        try:
            yield assoc
        finally:
            assoc.release()

    def find_study(self, *, study_uid: str | None = None, patient_id: str | None = None,
                   study_date: str | None = None) -> list[SeriesInfo]:
        """C-FIND: the study (by UID, or PatientID and StudyDate), then its series with their instance counts."""
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as Find  # type: ignore[attr-defined]

        what = _study_query(study_uid, patient_id, study_date)
        with self._association([Find], f"the study {what}") as assoc:
            if not study_uid:
                query = pydicom.Dataset()
                query.QueryRetrieveLevel, query.PatientID, query.StudyDate = "STUDY", patient_id, study_date
                query.StudyInstanceUID = ""
                uids = sorted({str(ds.StudyInstanceUID) for ds in self._find(assoc, query, what)})
                if len(uids) != 1:
                    raise ArchiveError(f"{len(uids)} studies match {what}", source=self.settings.server,
                                       remedy="give the StudyInstanceUID in the sample sheet (column study_uid)")
                study_uid = uids[0]
            query = pydicom.Dataset()
            query.QueryRetrieveLevel, query.StudyInstanceUID = "SERIES", study_uid
            query.SeriesInstanceUID = query.Modality = query.NumberOfSeriesRelatedInstances = ""
            found = self._find(assoc, query, what)
        return sorted((SeriesInfo(str(study_uid), str(ds.SeriesInstanceUID), str(ds.get("Modality", "")),
                                  int(ds.get("NumberOfSeriesRelatedInstances") or 0)) for ds in found),
                      key=lambda s: s.series_uid)

    def _find(self, assoc: Any, query: pydicom.Dataset, what: str) -> list[pydicom.Dataset]:
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelFind as Find  # type: ignore[attr-defined]

        out = []
        for status, identifier in assoc.send_c_find(query, Find):
            code = int(getattr(status, "Status", 0xC000)) if status else 0xC000
            if code in (0xFF00, 0xFF01) and identifier is not None:
                out.append(identifier)
            elif code != 0x0000:
                raise ArchiveError(f"C-FIND of {what} failed (status 0x{code:04X})", source=self.settings.server,
                                   remedy="see the peer's log")
        return out

    def retrieve_series(self, series: SeriesInfo, folder: Path) -> int:
        """C-GET of one series on the same association (the peer sends the instances back to us)."""
        from pynetdicom import evt
        from pynetdicom.sop_class import StudyRootQueryRetrieveInformationModelGet as Get  # type: ignore[attr-defined]

        received = []

        def on_store(event: Any) -> int:
            ds = event.dataset
            ds.file_meta = event.file_meta
            received.append(ds)
            _save(ds, folder, len(received))
            return 0x0000

        what = f"the series {series.series_uid} of study {series.study_uid}"
        with self._association([Get], what, get_roles=True, handlers=[(evt.EVT_C_STORE, on_store)]) as assoc:
            query = pydicom.Dataset()
            query.QueryRetrieveLevel = "SERIES"
            query.StudyInstanceUID, query.SeriesInstanceUID = series.study_uid, series.series_uid
            for status, _ in assoc.send_c_get(query, Get):
                code = int(getattr(status, "Status", 0xC000)) if status else 0xC000
                if code not in (0x0000, 0xFF00, 0xFF01, 0xB000):
                    raise ArchiveError(f"C-GET of {what} failed (status 0x{code:04X})",
                                       source=self.settings.server, remedy="see the peer's log")
        return len(received)

    def store(self, files: Sequence[Path]) -> int:
        """C-STORE of each file (its SOP class negotiated)."""
        datasets = [pydicom.dcmread(f) for f in files]
        classes = sorted({str(ds.SOPClassUID) for ds in datasets})
        stored = 0
        with self._association(classes, "to store the DICOM outputs") as assoc:
            for f, ds in zip(files, datasets, strict=True):
                status = assoc.send_c_store(ds)
                code = int(getattr(status, "Status", 0xC000)) if status else 0xC000
                if code not in (0x0000, 0xB000, 0xB007, 0xB006):
                    raise ArchiveError(f"refused to store {f.name} (C-STORE status 0x{code:04X})",
                                       source=self.settings.server, remedy="see the peer's log")
                stored += 1
        return stored


def _no_delay(assoc: Any) -> None:
    """TCP_NODELAY on the association's socket, so that our small DIMSE responses are not held back by Nagle's
    algorithm. (The 45 ms per C-GET instance measured against a loopback Orthanc came from the peer's side: DCMTK
    disables Nagle only with TCP_NODELAY=1 in its environment, which tools/orthanc_local.py sets.)"""
    import socket

    raw = getattr(getattr(getattr(assoc, "dul", None), "socket", None), "socket", None)
    if raw is not None:
        try:
            raw.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass


def open_archive(settings: ArchiveSettings) -> Archive:
    """The client of ``settings.protocol``."""
    return DicomWebArchive(settings) if settings.protocol == "dicomweb" else DimseArchive(settings)
