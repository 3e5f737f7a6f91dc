"""One DICOM series folder: headers read in a thread pool, checks, and fast pixel decoding.

:func:`read_series` reads the header of every file of a folder (not recursive,
hidden files ignored) up to, but not including, its Pixel Data: a thread pool
reads the first 64 KiB of each file (I/O, which releases the GIL) while the
calling thread parses them with pydicom (``stop_before_pixels``) as they
arrive; parsing in the pool as well is slower, because pydicom's parser holds
the GIL. It remembers where each file's Pixel Data value starts so that
:func:`pipeline.dicom.pixels.decode_frames` can later read native (uncompressed
little-endian) frames with one ``readinto`` each and rescale them with numpy in
a thread pool, without parsing the header again; other transfer syntaxes
(JPEG-LS, JPEG 2000, JPEG lossless, RLE, deflated, big endian) go through
pydicom's ``pixel_array`` (pylibjpeg plugins).

The frames of a series are :mod:`pipeline.dicom.image_frames`, their pixels
:mod:`pipeline.dicom.pixels`, the raw-byte attribute readers
:mod:`pipeline.dicom.values`, and :func:`pipeline.dicom.stack.read_stack` runs
every check an image volume needs.

Rules
-----
* Files without the ``DICM`` preamble are skipped, except a bare data set
  (no File Meta Information, first group 0008) which is read with
  ``force=True`` and its transfer syntax inferred from its encoding.
* A file that claims to be DICOM but cannot be parsed, lacks
  SeriesInstanceUID, or whose Pixel Data is cut short is named in a
  :class:`~pipeline.errors.DicomError`.
* A folder holding two series, two modalities or two SOP classes, or the same
  SOPInstanceUID twice, is refused.
"""

from __future__ import annotations

import io
import os
import struct
from collections import Counter, defaultdict
from collections.abc import Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    UID,
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from ..errors import DicomError
from .geometry import ORIENTATION_TOL, Geometry, SliceOrder
from .values import fast_value, float_pair, tag_vr, text_value

__all__ = ["NATIVE_TRANSFER_SYNTAXES", "DIRECTORY_SOP_CLASS", "DicomFile", "SeriesFiles", "read_series",
           "check_orientations", "check_gantry_tilt", "volume_geometry"]

#: Transfer syntaxes whose frames are read straight from the file into numpy (uncompressed little endian).
NATIVE_TRANSFER_SYNTAXES = frozenset({ImplicitVRLittleEndian, ExplicitVRLittleEndian})


#: Media Storage Directory (DICOMDIR): skipped like a non-DICOM file.
DIRECTORY_SOP_CLASS = "1.2.840.10008.1.3.10"


_PREFIX_BYTES = 1 << 16  # headers are parsed from this many leading bytes when they fit


_PIXEL_TAG_LE = b"\xe0\x7f\x10\x00"


_LONG_VRS = frozenset({b"OB", b"OW", b"OF", b"OD", b"OL", b"OV", b"SQ", b"UC", b"UN", b"UR", b"UT", b"SV", b"UV"})


_TILT_TOL_DEG = 1e-3


@dataclass(frozen=True)
class DicomFile:
    """One file of a series.

    Attributes
    ----------
    path : Path
        The file.
    header : pydicom.dataset.Dataset
        Everything before Pixel Data (no pixels).
    transfer_syntax_uid : str
        From the File Meta Information, or inferred for a bare data set.
    pixel_offset : int or None
        Byte offset in the file of the first Pixel Data byte when it is stored
        natively (not encapsulated); None otherwise.
    pixel_length : int or None
        Pixel Data value length in bytes (None when encapsulated or absent).
    has_pixels : bool
        Whether the file has a Pixel Data (7FE0,0010) element.
    """

    path: Path
    header: Dataset
    transfer_syntax_uid: str
    pixel_offset: int | None
    pixel_length: int | None
    has_pixels: bool

    @property
    def is_native(self) -> bool:
        """True when frames can be read straight from the file (uncompressed little endian)."""
        return self.pixel_offset is not None and self.transfer_syntax_uid in NATIVE_TRANSFER_SYNTAXES

    @property
    def n_frames(self) -> int:
        """NumberOfFrames (0028,0008), 1 when absent."""
        try:
            return max(1, int(self.header.get("NumberOfFrames", 1) or 1))
        except (TypeError, ValueError):
            return 1


@dataclass(frozen=True)
class SeriesFiles:
    """The files of one series folder, in file-name order.

    Attributes
    ----------
    folder : Path
        The series folder.
    files : tuple of DicomFile
        DICOM files of the series, sorted by name.
    series_uid : str
        SeriesInstanceUID (0020,000E).
    modality : str
        Modality (0008,0060).
    sop_class_uid : str
        SOPClassUID (0008,0016), the same for every file.
    n_skipped : int
        Non-DICOM files (and DICOMDIR) ignored.
    """

    folder: Path
    files: tuple[DicomFile, ...]
    series_uid: str
    modality: str
    sop_class_uid: str
    n_skipped: int

    @property
    def headers(self) -> list[Dataset]:
        """Headers (without pixels) in file order."""
        return [f.header for f in self.files]

    @property
    def label(self) -> str:
        """``<folder> [series <uid>]`` for error messages."""
        return f"{self.folder} [series {self.series_uid}]"


def _looks_like_bare_dataset(head: bytes) -> bool:
    """A data set without preamble and meta: first tag (group 0002/0008) little endian."""
    if len(head) < 8:
        return False
    group, element = struct.unpack_from("<HH", head)
    return group in (0x0002, 0x0008) and element <= 0x0020


def _transfer_syntax(ds: Dataset) -> str:
    meta = getattr(ds, "file_meta", None)
    uid = str(meta.get("TransferSyntaxUID", "")) if meta is not None else ""
    if uid:
        return uid
    implicit, little = getattr(ds, "original_encoding", (None, None))
    if little is False:
        return str(ExplicitVRBigEndian)
    return str(ImplicitVRLittleEndian if implicit in (True, None) else ExplicitVRLittleEndian)


def _parse(stream: Any, force: bool) -> Dataset:
    return pydicom.dcmread(stream, stop_before_pixels=True, force=force)


def _pixel_element(head: bytes, implicit: bool) -> tuple[int, int | None] | None:
    """(header length, value length or None if undefined) of a Pixel Data element at ``head[0]``."""
    if len(head) < 8 or head[:4] != _PIXEL_TAG_LE:
        return None
    if implicit:
        (length,) = struct.unpack_from("<I", head, 4)
        return 8, None if length == 0xFFFFFFFF else length
    vr = head[4:6]
    if vr in _LONG_VRS:
        if len(head) < 12:
            return None
        (length,) = struct.unpack_from("<I", head, 8)
        return 12, None if length == 0xFFFFFFFF else length
    (length,) = struct.unpack_from("<H", head, 6)
    return 8, length


def _prefetch(path: Path) -> tuple[int, bytes] | OSError:
    """File size and leading bytes (run in the I/O thread pool)."""
    try:
        with open(path, "rb") as fh:
            return os.fstat(fh.fileno()).st_size, fh.read(_PREFIX_BYTES)
    except OSError as exc:
        return exc


def _read_one(path: Path, prefetched: tuple[int, bytes] | OSError | None = None) -> tuple[str, Any]:
    """Parse one file's header. Returns ("ok", DicomFile), ("skip", None) or ("bad", reason)."""
    if prefetched is None:
        prefetched = _prefetch(path)
    if isinstance(prefetched, OSError):
        return "bad", f"unreadable ({type(prefetched).__name__}: {prefetched})"
    size, head = prefetched
    has_meta = len(head) >= 132 and head[128:132] == b"DICM"
    if not has_meta and not _looks_like_bare_dataset(head):
        return "skip", None
    force = not has_meta
    try:
        ds: Dataset | None = None
        pos = -1
        stream = io.BytesIO(head)
        if len(head) < size:  # parse the prefix; if the header is longer, parse the file itself
            try:
                ds = _parse(stream, force)
                pos = stream.tell()
                if pos >= len(head) - 12:
                    ds = None
            except Exception:  # noqa: BLE001 - header longer than the prefix
                ds = None
        else:
            ds = _parse(stream, force)
            pos = stream.tell()
        if ds is not None and pos + 12 <= len(head):
            tail = head[pos:pos + 12]
        else:
            with open(path, "rb") as fh:
                if ds is None:
                    ds = _parse(fh, force)
                    pos = fh.tell()
                fh.seek(pos)
                tail = fh.read(12)
    except InvalidDicomError:
        return "skip", None
    except Exception as exc:  # noqa: BLE001 - any parse failure is reported with its path
        if force:  # bytes that only looked like a bare data set
            return "skip", None
        return "bad", f"unreadable ({type(exc).__name__}: {exc})"

    sop_class = text_value(ds, "SOPClassUID")
    if force and not sop_class:
        return "skip", None  # bytes that happened to look like a data set
    if sop_class == DIRECTORY_SOP_CLASS or (not sop_class and str(
            getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "")) == DIRECTORY_SOP_CLASS):
        return "skip", None
    if not text_value(ds, "SeriesInstanceUID"):
        return "bad", "no SeriesInstanceUID (0020,000E): the file is truncated or not an image"
    ts = _transfer_syntax(ds)
    if force:  # a bare data set: give it the meta pydicom needs to decode it later
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = cast(UID, ts)  # pydicom converts str to UID
        ds.file_meta = meta
    ds.filename = str(path)
    if getattr(ds, "buffer", None) is not None:  # do not keep the prefix bytes alive with the header
        ds.buffer = None
        ds.fileobj_type = open
    if ts == DeflatedExplicitVRLittleEndian:  # stream positions are those of the inflated data set
        return "ok", DicomFile(path, ds, ts, None, None, True)  # decoded by pydicom; it reports a missing one
    implicit = ts == ImplicitVRLittleEndian
    element = _pixel_element(tail, implicit) if ts != ExplicitVRBigEndian else None
    has_pixels = element is not None or (len(tail) >= 4 and tail[:4] == b"\x7f\xe0\x00\x10")
    offset = length = None
    if element is not None:
        header_len, length = element
        if length is not None:
            offset = pos + header_len
            if offset + length > size:
                return "bad", (f"truncated: Pixel Data (7FE0,0010) declares {length} bytes but only "
                               f"{max(size - offset, 0)} are present")
    return "ok", DicomFile(path, ds, ts, offset, length, has_pixels)


def _list_files(folder: Path) -> list[Path]:
    return sorted(p for p in folder.iterdir() if not p.name.startswith(".") and p.is_file())


def read_series(folder: str | Path, *, workers: int = 4,
                modalities: Collection[str] | None = None) -> SeriesFiles:
    """Read the headers of the one series stored in ``folder``.

    Parameters
    ----------
    folder : path-like
        Folder holding the files of exactly one series (sub-folders are ignored).
    workers : int
        Header-reading threads.
    modalities : collection of str, optional
        Accepted Modality values (e.g. ``{"PT"}``); any when None.

    Returns
    -------
    SeriesFiles

    Raises
    ------
    DicomError
        If the folder is missing or has no DICOM file, a file is corrupt or
        truncated, the folder mixes series, modalities or SOP classes, an
        instance is duplicated, or the modality is not accepted.
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise DicomError("not a folder", source=str(folder),
                         remedy="give the folder of one DICOM series (see `petvoi index`)")
    paths = _list_files(folder)
    # Threads read the files (I/O releases the GIL); this thread parses each header as soon as its
    # bytes arrive. Parsing in the threads too is ~30% slower: pydicom's parser holds the GIL.
    with ThreadPoolExecutor(max_workers=max(1, int(workers))) as pool:
        results = [_read_one(path, pre) for path, pre in zip(paths, pool.map(_prefetch, paths), strict=True)]
    bad = [(p, reason) for p, (status, reason) in zip(paths, results, strict=True) if status == "bad"]
    if bad:
        more = f" (and {len(bad) - 1} more file(s))" if len(bad) > 1 else ""
        raise DicomError(f"{bad[0][1]}{more}", source=str(bad[0][0]),
                         remedy="remove the file or re-export the series")
    files = [payload for status, payload in results if status == "ok"]
    n_skipped = sum(status == "skip" for status, _ in results)
    if not files:
        raise DicomError(f"no DICOM file among {len(paths)} entries", source=str(folder),
                         remedy="point at a folder holding the files of one series (`petvoi index` lists them)")

    by_series: dict[str, list[DicomFile]] = defaultdict(list)
    for f in files:
        by_series[text_value(f.header, "SeriesInstanceUID")].append(f)
    if len(by_series) > 1:
        listing = ", ".join(f"{uid} ({len(members)} files, {members[0].header.get('Modality', '?')})"
                            for uid, members in sorted(by_series.items(), key=lambda kv: -len(kv[1])))
        raise DicomError(f"the folder mixes {len(by_series)} series: {listing}", source=str(folder),
                         attribute="SeriesInstanceUID (0020,000E)",
                         remedy="point at one series folder, or use `petvoi index` to find each series' files")
    series_uid = next(iter(by_series))
    label = f"{folder} [series {series_uid}]"

    for keyword, tag in (("Modality", "(0008,0060)"), ("SOPClassUID", "(0008,0016)")):
        counts = Counter(text_value(f.header, keyword) for f in files)
        if len(counts) > 1:
            listing = ", ".join(f"{v or '<empty>'} ({n} files)" for v, n in counts.most_common())
            raise DicomError(f"the series mixes {keyword} values: {listing}", source=label,
                             attribute=f"{keyword} {tag}",
                             remedy="separate the files into one folder per modality and image type")
    modality = text_value(files[0].header, "Modality")
    if modalities is not None and modality not in modalities:
        raise DicomError(f"Modality is {modality or '<empty>'}, expected {' or '.join(sorted(modalities))}",
                         source=label, attribute="Modality (0008,0060)",
                         remedy="point at the folder of the right series (`petvoi index` lists them)")
    seen: dict[str, Path] = {}
    for f in files:
        uid = text_value(f.header, "SOPInstanceUID")
        if uid in seen:
            raise DicomError(f"the same instance is stored twice ({seen[uid].name} and {f.path.name})",
                             source=label, attribute="SOPInstanceUID (0008,0018)",
                             remedy="remove the duplicate file")
        seen[uid] = f.path
    sop_class = text_value(files[0].header, "SOPClassUID")
    return SeriesFiles(folder, tuple(files), series_uid, modality, sop_class, n_skipped)


def check_orientations(orientations: np.ndarray, *, source: str, names: Sequence[str]) -> None:
    """Raise if any ImageOrientationPatient differs from the first (same rule as :func:`sort_slices`)."""
    orientations = np.asarray(orientations, dtype=float).reshape(-1, 6)
    bad = np.flatnonzero(np.abs(orientations - orientations[0]).max(axis=1) > ORIENTATION_TOL)
    if bad.size:
        i = int(bad[0])
        raise DicomError(f"orientation {np.round(orientations[i], 5).tolist()} differs from "
                         f"{np.round(orientations[0], 5).tolist()}", source=f"{source} ({names[i]})",
                         attribute="ImageOrientationPatient (0020,0037)",
                         remedy="the folder mixes differently oriented images; separate them into series")


def check_gantry_tilt(headers: Sequence[Dataset], *, source: str) -> None:
    """Raise if any header has GantryDetectorTilt (0018,1120) different from 0."""
    tag, vr = tag_vr("GantryDetectorTilt")
    for ds in headers:
        value = fast_value(ds, tag, vr)
        if value is None:
            continue
        try:
            tilt = float(value)
        except (TypeError, ValueError):
            continue
        if abs(tilt) > _TILT_TOL_DEG:
            raise DicomError(f"gantry tilt of {tilt:g} degrees", source=f"{source} ({Path(str(ds.filename)).name})"
                             if getattr(ds, "filename", None) else source,
                             attribute="GantryDetectorTilt (0018,1120)",
                             remedy="resample the series to an orthogonal grid before analysis")


def volume_geometry(positions: np.ndarray, orientation: Sequence[float], order: SliceOrder,
                    pixel_spacing: Any, rows: int, columns: int, *, source: str,
                    fallback_dz: float | None = None) -> Geometry:
    """Geometry of the stack whose slices, sorted by ``order``, are at ``positions``.

    Parameters
    ----------
    positions : numpy.ndarray
        (n, 3) ImagePositionPatient of the slices (unsorted), LPS mm.
    orientation : sequence of float
        ImageOrientationPatient (row cosines, then column cosines).
    order : SliceOrder
        From :func:`~pipeline.dicom.geometry.sort_slices`.
    pixel_spacing : sequence of 2 numbers
        PixelSpacing (0028,0030): row spacing (along y), column spacing (along x), mm.
    rows, columns : int
        Rows and Columns.
    source : str
        For error messages.
    fallback_dz : float, optional
        Slice spacing (mm) for a single-slice stack (SpacingBetweenSlices or SliceThickness).
    """
    dy, dx = float_pair(pixel_spacing, "PixelSpacing (0028,0030)", source)
    ori = np.asarray(orientation, dtype=float)
    row, col = ori[:3] / np.linalg.norm(ori[:3]), ori[3:] / np.linalg.norm(ori[3:])
    dz = order.spacing_mm if order.spacing_mm > 0 else float(fallback_dz or 1.0)
    direction = np.column_stack([row, col, order.normal])
    origin = np.asarray(positions, dtype=float).reshape(-1, 3)[order.order[0]]
    return Geometry((len(order.order), int(rows), int(columns)), (dx, dy, dz),
                    (float(origin[0]), float(origin[1]), float(origin[2])), direction)
