"""One DICOM series folder: headers read in a thread pool, checks, and fast pixel decoding.

:func:`read_series` reads the header of every file of a folder (not recursive,
hidden files ignored) up to, but not including, its Pixel Data: a thread pool
reads the first 64 KiB of each file (I/O, which releases the GIL) while the
calling thread parses them with pydicom (``stop_before_pixels``) as they
arrive; parsing in the pool as well is slower, because pydicom's parser holds
the GIL. It remembers where each file's Pixel Data value starts so that
:func:`decode_frames` can later read native (uncompressed little-endian)
frames with one ``readinto`` each and rescale them with numpy in a thread
pool, without parsing the header again; other transfer syntaxes (JPEG-LS,
JPEG 2000, JPEG lossless, RLE, deflated, big endian) go through pydicom's
``pixel_array`` (pylibjpeg plugins).

Attributes that every frame needs (positions, rescale values, times) are read
from the raw element bytes rather than through pydicom's validating value
conversion, which costs ~20 us per element and dominated the load time.

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

import functools
import io
import os
import struct
from collections import Counter, defaultdict
from collections.abc import Callable, Collection, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import numpy as np
import pydicom
from pydicom.datadict import dictionary_VR, tag_for_keyword
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.errors import InvalidDicomError
from pydicom.uid import (
    DeflatedExplicitVRLittleEndian,
    ExplicitVRBigEndian,
    ExplicitVRLittleEndian,
    ImplicitVRLittleEndian,
)

from ..errors import DicomError, MissingAttributeError
from .datetimes import combine, parse_dt, parse_offset
from .frames import FrameInfo
from .geometry import ORIENTATION_TOL, Geometry, SliceOrder

__all__ = [
    "DicomFile", "SeriesFiles", "PixelFormat", "ImageFrame", "read_series", "pixel_format", "decode_frames",
    "extract_frames", "flatten_multiframe", "check_orientations", "check_gantry_tilt", "check_pixel_spacing",
    "check_pixels_present", "common_pixel_format", "header_value", "volume_geometry", "NATIVE_TRANSFER_SYNTAXES",
    "DIRECTORY_SOP_CLASS",
]

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


# --------------------------------------------------------------------------- header reading


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

    sop_class = _text(ds, "SOPClassUID")
    if force and not sop_class:
        return "skip", None  # bytes that happened to look like a data set
    if sop_class == DIRECTORY_SOP_CLASS or (not sop_class and str(
            getattr(getattr(ds, "file_meta", None), "MediaStorageSOPClassUID", "")) == DIRECTORY_SOP_CLASS):
        return "skip", None
    if not _text(ds, "SeriesInstanceUID"):
        return "bad", "no SeriesInstanceUID (0020,000E): the file is truncated or not an image"
    ts = _transfer_syntax(ds)
    if force:  # a bare data set: give it the meta pydicom needs to decode it later
        meta = FileMetaDataset()
        meta.TransferSyntaxUID = ts
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
        by_series[_text(f.header, "SeriesInstanceUID")].append(f)
    if len(by_series) > 1:
        listing = ", ".join(f"{uid} ({len(members)} files, {members[0].header.get('Modality', '?')})"
                            for uid, members in sorted(by_series.items(), key=lambda kv: -len(kv[1])))
        raise DicomError(f"the folder mixes {len(by_series)} series: {listing}", source=str(folder),
                         attribute="SeriesInstanceUID (0020,000E)",
                         remedy="point at one series folder, or use `petvoi index` to find each series' files")
    series_uid = next(iter(by_series))
    label = f"{folder} [series {series_uid}]"

    for keyword, tag in (("Modality", "(0008,0060)"), ("SOPClassUID", "(0008,0016)")):
        counts = Counter(_text(f.header, keyword) for f in files)
        if len(counts) > 1:
            listing = ", ".join(f"{v or '<empty>'} ({n} files)" for v, n in counts.most_common())
            raise DicomError(f"the series mixes {keyword} values: {listing}", source=label,
                             attribute=f"{keyword} {tag}",
                             remedy="separate the files into one folder per modality and image type")
    modality = _text(files[0].header, "Modality")
    if modalities is not None and modality not in modalities:
        raise DicomError(f"Modality is {modality or '<empty>'}, expected {' or '.join(sorted(modalities))}",
                         source=label, attribute="Modality (0008,0060)",
                         remedy="point at the folder of the right series (`petvoi index` lists them)")
    seen: dict[str, Path] = {}
    for f in files:
        uid = _text(f.header, "SOPInstanceUID")
        if uid in seen:
            raise DicomError(f"the same instance is stored twice ({seen[uid].name} and {f.path.name})",
                             source=label, attribute="SOPInstanceUID (0008,0018)",
                             remedy="remove the duplicate file")
        seen[uid] = f.path
    return SeriesFiles(folder, tuple(files), series_uid, modality, _text(files[0].header, "SOPClassUID"), n_skipped)


# --------------------------------------------------------------------------- geometry helpers


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
    tag, vr = _tag_vr("GantryDetectorTilt")
    for ds in headers:
        value = _fast_value(ds, tag, vr)
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


def _float_pair(value: Any, what: str, source: str) -> tuple[float, float]:
    try:
        a, b = (float(v) for v in value)
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{what} is missing or not two numbers: {value!r}", source=source, attribute=what,
                         remedy="the header is incomplete; re-export the series") from exc
    return a, b


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
    dy, dx = _float_pair(pixel_spacing, "PixelSpacing (0028,0030)", source)
    ori = np.asarray(orientation, dtype=float)
    row, col = ori[:3] / np.linalg.norm(ori[:3]), ori[3:] / np.linalg.norm(ori[3:])
    dz = order.spacing_mm if order.spacing_mm > 0 else float(fallback_dz or 1.0)
    direction = np.column_stack([row, col, order.normal])
    origin = np.asarray(positions, dtype=float).reshape(-1, 3)[order.order[0]]
    return Geometry((len(order.order), int(rows), int(columns)), (dx, dy, dz),
                    tuple(float(v) for v in origin), direction)


# --------------------------------------------------------------------------- pixel decoding


@dataclass(frozen=True)
class PixelFormat:
    """Layout of the stored pixels of a series (one sample per pixel).

    Attributes
    ----------
    rows, columns : int
        Frame size.
    dtype : numpy.dtype
        Little-endian stored type (``<i2``, ``<u2``, ``u1``...).
    bits_stored : int
        BitsStored (0028,0101).
    """

    rows: int
    columns: int
    dtype: np.dtype
    bits_stored: int

    @property
    def frame_bytes(self) -> int:
        """Bytes of one frame."""
        return self.rows * self.columns * self.dtype.itemsize

    @property
    def signed(self) -> bool:
        """PixelRepresentation 1."""
        return self.dtype.kind == "i"


def pixel_format(ds: Dataset, *, source: str) -> PixelFormat:
    """Stored-pixel layout of ``ds``; refuses colour, packed and float pixel data.

    Raises
    ------
    DicomError
        For SamplesPerPixel != 1, BitsAllocated not 8/16/32, or missing Rows/Columns.
    """
    try:
        rows, columns = int(ds.Rows), int(ds.Columns)
        bits_allocated = int(ds.BitsAllocated)
    except (AttributeError, TypeError, ValueError) as exc:
        raise DicomError("Rows, Columns or BitsAllocated missing", source=source,
                         attribute="Rows/Columns/BitsAllocated (0028,0010/0011/0100)",
                         remedy="the header is incomplete; re-export the series") from exc
    samples = int(ds.get("SamplesPerPixel", 1) or 1)
    if samples != 1:
        raise DicomError(f"{samples} samples per pixel (colour image)", source=source,
                         attribute="SamplesPerPixel (0028,0002)",
                         remedy="quantitative images are monochrome; use the original reconstruction")
    if bits_allocated not in (8, 16, 32):
        raise DicomError(f"BitsAllocated {bits_allocated} is not supported", source=source,
                         attribute="BitsAllocated (0028,0100)", remedy="convert to 16-bit pixel data")
    bits_stored = int(ds.get("BitsStored", bits_allocated) or bits_allocated)
    signed = int(ds.get("PixelRepresentation", 0) or 0) == 1
    dtype = np.dtype(f"<{'i' if signed else 'u'}{bits_allocated // 8}")
    return PixelFormat(rows, columns, dtype, min(bits_stored, bits_allocated))


def _fix_unused_bits(raw: np.ndarray, fmt: PixelFormat) -> np.ndarray:
    """Clear (unsigned) or sign-extend (signed) the bits above BitsStored, in place."""
    unused = raw.dtype.itemsize * 8 - fmt.bits_stored
    if unused <= 0:
        return raw
    if fmt.signed:
        np.left_shift(raw, unused, out=raw)
        np.right_shift(raw, unused, out=raw)
    else:
        np.bitwise_and(raw, (1 << fmt.bits_stored) - 1, out=raw)
    return raw


def _read_native_frame(f: DicomFile, fmt: PixelFormat, k: int, buf: np.ndarray) -> np.ndarray:
    nbytes = fmt.frame_bytes
    start = (f.pixel_offset or 0) + k * nbytes
    if f.pixel_length is not None and (k + 1) * nbytes > f.pixel_length:
        raise DicomError(f"Pixel Data holds {f.pixel_length} bytes, frame {k + 1} needs {(k + 1) * nbytes} "
                         f"({fmt.rows}x{fmt.columns}, {fmt.dtype.itemsize * 8} bits)", source=str(f.path),
                         attribute="Pixel Data (7FE0,0010)", remedy="the file is truncated or its header wrong")
    with open(f.path, "rb", buffering=0) as fh:
        fh.seek(start)
        got = fh.readinto(memoryview(buf).cast("B"))
    if got != nbytes:
        raise DicomError(f"read {got} of {nbytes} pixel bytes", source=str(f.path),
                         attribute="Pixel Data (7FE0,0010)", remedy="the file is truncated; re-export the series")
    return _fix_unused_bits(buf, fmt).reshape(fmt.rows, fmt.columns)


def _decode_generic(f: DicomFile, fmt: PixelFormat) -> np.ndarray:
    """All frames of a file via pydicom (compressed or big-endian data): (frames, rows, columns)."""
    try:
        ds = pydicom.dcmread(f.path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = f.transfer_syntax_uid
        arr = ds.pixel_array
    except Exception as exc:  # noqa: BLE001 - decoder failures are reported with the file and syntax
        raise DicomError(f"cannot decode the pixel data ({type(exc).__name__}: {exc})", source=str(f.path),
                         attribute=f"TransferSyntaxUID (0002,0010) {f.transfer_syntax_uid}",
                         remedy="install the decoder plugin named above (pylibjpeg-*, pyjpegls) or "
                                "decompress the series (e.g. dcmdjpeg, gdcmconv --raw)") from exc
    arr = np.asarray(arr)
    if arr.ndim == 2:
        arr = arr[None]
    if arr.shape[1:] != (fmt.rows, fmt.columns):
        raise DicomError(f"decoded frames are {arr.shape[1:]}, header says {(fmt.rows, fmt.columns)}",
                         source=str(f.path), attribute="Rows/Columns (0028,0010/0011)",
                         remedy="the file is corrupt; re-export the series")
    return arr


def decode_frames(files: Sequence[DicomFile], frame_file: np.ndarray, frame_number: np.ndarray,
                  out: np.ndarray, scale: np.ndarray, offset: np.ndarray, *, fmt: PixelFormat,
                  workers: int = 4) -> np.ndarray:
    """Decode frames into ``out`` as ``stored * scale + offset``, in a thread pool.

    Parameters
    ----------
    files : sequence of DicomFile
        The series' files.
    frame_file : numpy.ndarray of int
        For output frame ``i`` (``out[i]``), the index in ``files`` of its file.
    frame_number : numpy.ndarray of int
        For output frame ``i``, its 0-based frame index within that file.
    out : numpy.ndarray
        (n, rows, columns) floating-point array filled in place.
    scale, offset : numpy.ndarray of float
        Per output frame: multiplier and addend of the stored values (e.g. slope x
        factor and intercept x factor).
    fmt : PixelFormat
        Stored layout (shared by every file of the series).
    workers : int
        Threads.

    Returns
    -------
    numpy.ndarray
        ``out``.
    """
    n = len(frame_file)
    if out.shape != (n, fmt.rows, fmt.columns):
        raise ValueError(f"out has shape {out.shape}, expected {(n, fmt.rows, fmt.columns)}")
    by_file: dict[int, list[int]] = defaultdict(list)
    for i, fi in enumerate(np.asarray(frame_file, dtype=int)):
        by_file[int(fi)].append(i)

    def store(i: int, raw: np.ndarray) -> None:
        dst = out[i]
        np.multiply(raw, float(scale[i]), out=dst, casting="same_kind")
        if offset[i]:
            dst += float(offset[i])

    def native(indices: list[int]) -> None:
        buf = np.empty(fmt.rows * fmt.columns, dtype=fmt.dtype)
        for i in indices:
            store(i, _read_native_frame(files[int(frame_file[i])], fmt, int(frame_number[i]), buf))

    def generic(fi: int) -> None:
        arr = _decode_generic(files[fi], fmt)
        for i in by_file[fi]:
            k = int(frame_number[i])
            if k >= arr.shape[0]:
                raise DicomError(f"frame {k + 1} requested, the file decodes to {arr.shape[0]} frame(s)",
                                 source=str(files[fi].path), attribute="NumberOfFrames (0028,0008)",
                                 remedy="the file is corrupt; re-export the series")
            store(i, _fix_unused_bits(np.array(arr[k], dtype=fmt.dtype, copy=True), fmt))

    native_frames = [i for fi, idx in by_file.items() if files[fi].is_native for i in idx]
    generic_files = [fi for fi in by_file if not files[fi].is_native]
    workers = max(1, int(workers))
    n_chunks = min(len(native_frames), workers * 4)
    tasks: list[Callable[[], None]] = []
    if n_chunks:
        for chunk in np.array_split(np.asarray(native_frames), n_chunks):
            tasks.append(functools.partial(native, chunk.tolist()))
    tasks.extend(lambda fi=fi: generic(fi) for fi in generic_files)
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            task()
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(task) for task in tasks]:
                future.result()
    return out


# --------------------------------------------------------------------------- frames of classic and multi-frame objects


@dataclass(frozen=True)
class ImageFrame:
    """One 2D frame of a series and where its pixels are.

    Attributes
    ----------
    info : FrameInfo
        Position, orientation, rescale and timing of the frame.
    file_index : int
        Index of its file in :attr:`SeriesFiles.files`.
    number : int
        0-based frame index within that file (0 for single-frame instances).
    pixel_spacing : tuple of float
        PixelSpacing (row spacing, column spacing), mm.
    temporal_index : int or None
        TemporalPositionIdentifier (0020,0100) or, in a multi-frame object,
        TemporalPositionIndex (0020,9128).
    """

    info: FrameInfo
    file_index: int
    number: int
    pixel_spacing: tuple[float, float]
    temporal_index: int | None = None


def _functional_group_flat(item: Dataset | None) -> Dataset:
    """The attributes of every functional-group macro of ``item`` as one flat data set."""
    flat = Dataset()
    if item is None:
        return flat
    for elem in item:
        if elem.VR == "SQ" and elem.value:
            for sub in elem.value[0]:
                if sub.tag not in flat:
                    flat.add(sub)
    return flat


def _merge_missing(target: Dataset, source: Dataset) -> None:
    """Add to ``target`` the elements of ``source`` it lacks (private blocks only with a matching creator)."""
    for elem in source:
        tag = elem.tag
        if tag in target:
            continue
        if tag.is_private and not tag.is_private_creator:
            creator_tag = (tag.group << 16) | (tag.element >> 8)
            creator = source.get(creator_tag)
            if creator is None or (creator_tag in target and target[creator_tag].value != creator.value):
                continue
        target.add(elem)


def flatten_multiframe(ds: Dataset) -> tuple[Dataset, list[Dataset]]:
    """Flatten a multi-frame (enhanced / legacy converted) header for classic readers, in place.

    The shared functional groups (including the Unassigned Shared Converted
    Attributes) and the per-frame attributes whose value is the same in every
    frame are added to the top level of ``ds`` where it lacks them, so that
    classic attributes (Units, DecayCorrection, CorrectedImage, PixelSpacing,
    FrameReferenceTime of a single-time-point object...) are found there.

    Returns
    -------
    shared : Dataset
        The shared functional groups, flattened.
    per_frame : list of Dataset
        Each frame's functional groups, flattened.
    """
    shared_seq = ds.get("SharedFunctionalGroupsSequence") or [None]
    shared = _functional_group_flat(shared_seq[0])
    per_frame = [_functional_group_flat(item) for item in (ds.get("PerFrameFunctionalGroupsSequence") or [])]
    _merge_missing(ds, shared)
    if per_frame:
        constant = Dataset()
        first = per_frame[0]
        for elem in first:
            if all(elem.tag in pf and pf[elem.tag].value == elem.value for pf in per_frame[1:]):
                constant.add(elem)
        _merge_missing(ds, constant)
    return shared, per_frame


_BINARY_VRS = {"US": "H", "SS": "h", "UL": "I", "SL": "i", "FL": "f", "FD": "d"}
_STRING_VRS = frozenset({"AE", "AS", "CS", "DA", "DS", "DT", "IS", "LO", "LT", "SH", "ST", "TM", "UI", "UT"})


def _fast_value(ds: Dataset, tag: int, vr: str) -> Any:
    """Value of ``tag`` in ``ds`` or None; string VRs are read from the raw bytes (much faster than
    pydicom's validating conversion), giving a str or a list of str for multi-valued elements."""
    elem = ds.get_item(tag)
    if elem is None:
        return None
    if vr in _STRING_VRS and isinstance(elem, RawDataElement) and isinstance(elem.value, bytes):
        text = elem.value.decode("latin-1").strip(" \x00")
        if not text:
            return None
        parts = [p.strip() for p in text.split("\\")]
        return parts if len(parts) > 1 else parts[0]
    if isinstance(elem, RawDataElement):
        fmt = _BINARY_VRS.get(vr)
        if fmt is not None and isinstance(elem.value, bytes) and len(elem.value) == struct.calcsize(fmt):
            return struct.unpack(("<" if elem.is_little_endian else ">") + fmt, elem.value)[0]
        elem = ds[tag]
    value = elem.value
    if value is None or value == "":
        return None
    return value


class _Lookup:
    """Attribute lookup through per-frame groups, then shared groups, then the top level."""

    def __init__(self, *layers: Dataset) -> None:
        self.layers = layers

    def get(self, keyword: str) -> Any:
        tag, vr = _tag_vr(keyword)
        for layer in self.layers:
            value = _fast_value(layer, tag, vr)
            if value is not None:
                return value
        return None


def header_value(ds: Dataset, keyword: str) -> Any:
    """Fast read of one attribute: str (or list of str) for string VRs, a number for US/SS/UL/SL/FL/FD.

    Skips pydicom's validating conversion (~20 us per element), which matters when
    the same attributes are read from hundreds of headers. Returns None when the
    attribute is absent or empty; other VRs (sequences...) come back as pydicom values.
    """
    return _fast_value(ds, *_tag_vr(keyword))


def _text(ds: Dataset, keyword: str) -> str:
    """A single-valued string attribute as str ('' when absent), read fast from the raw bytes."""
    value = _fast_value(ds, *_tag_vr(keyword))
    if value is None:
        return ""
    return "\\".join(str(v) for v in value) if isinstance(value, list) else str(value)


@functools.cache
def _tag_vr(keyword: str) -> tuple[int, str]:
    tag = tag_for_keyword(keyword)
    if tag is None:
        raise KeyError(keyword)
    return int(tag), dictionary_VR(tag)


def _number(value: Any, keyword: str, source: str, cast: Callable[[Any], Any] = float) -> Any:
    if value is None or value == "":
        return None
    try:
        return cast(value)
    except (TypeError, ValueError) as exc:
        raise DicomError(f"{keyword} is not a number: {value!r}", source=source, attribute=keyword,
                         remedy="the header is corrupt; re-export the series") from exc


def _acquisition_datetime(look: _Lookup, tz: timezone | None, source: str) -> datetime | None:
    try:
        for keyword in ("FrameAcquisitionDateTime", "AcquisitionDateTime"):
            value = look.get(keyword)
            if value:
                return parse_dt(value, tz)
        return combine(look.get("AcquisitionDate"), look.get("AcquisitionTime"), tz)
    except ValueError as exc:
        raise DicomError(f"acquisition date/time cannot be parsed ({exc})", source=source,
                         attribute="AcquisitionDateTime (0008,002A) / AcquisitionDate, AcquisitionTime",
                         remedy="fix the header; times must be DICOM DA/TM/DT values") from exc


def _required(look: _Lookup, keyword: str, tag: str, source: str, remedy: str) -> Any:
    value = look.get(keyword)
    if value is None:
        raise MissingAttributeError("missing", source=source, attribute=f"{keyword} {tag}", remedy=remedy)
    return value


def extract_frames(series: SeriesFiles, *, label: str | None = None) -> list[ImageFrame]:
    """One :class:`ImageFrame` per 2D image of the series, in file then frame order.

    Single-frame instances give one frame each; multi-frame (legacy converted or
    enhanced) instances are read through their functional groups and their
    headers are flattened in place (:func:`flatten_multiframe`).

    Raises
    ------
    DicomError
        When a position, orientation, pixel spacing or rescale value is
        missing or unreadable, or NumberOfFrames disagrees with the per-frame
        functional groups.
    """
    label = label or series.label
    frames: list[ImageFrame] = []
    for fi, f in enumerate(series.files):
        ds = f.header
        name = f.path.name
        try:
            tz = parse_offset(_text(ds, "TimezoneOffsetFromUTC"))
        except ValueError:
            tz = None
        sop_instance_uid = _text(ds, "SOPInstanceUID")
        multiframe = "PerFrameFunctionalGroupsSequence" in ds or "SharedFunctionalGroupsSequence" in ds
        if multiframe:
            shared, per_frame = flatten_multiframe(ds)
            if len(per_frame) != f.n_frames:
                raise DicomError(f"{len(per_frame)} per-frame functional groups for NumberOfFrames {f.n_frames}",
                                 source=f"{label} ({name})", attribute="PerFrameFunctionalGroupsSequence (5200,9230)",
                                 remedy="the file is corrupt; re-export the series")
            lookups = [(_Lookup(pf, shared, ds), f"{f.path}#{k + 1}", k + 1) for k, pf in enumerate(per_frame)]
        else:
            if f.n_frames != 1:
                raise DicomError(f"{f.n_frames} frames in a single-frame image object", source=f"{label} ({name})",
                                 attribute="NumberOfFrames (0028,0008)",
                                 remedy="convert the file to one instance per slice")
            lookups = [(_Lookup(ds), str(f.path), None)]
        for k, (look, frame_source, frame_number) in enumerate(lookups):
            where = f"{label} ({name}{'' if frame_number is None else f' frame {frame_number}'})"
            pos = _required(look, "ImagePositionPatient", "(0020,0032)", where, "the image has no position; "
                            "re-export the series from the scanner or PACS")
            ori = _required(look, "ImageOrientationPatient", "(0020,0037)", where, "the image has no orientation; "
                            "re-export the series from the scanner or PACS")
            spacing = _required(look, "PixelSpacing", "(0028,0030)", where, "the image has no pixel spacing; "
                                "re-export the series from the scanner or PACS")
            slope = _required(look, "RescaleSlope", "(0028,1053)", where,
                              "the stored values cannot be rescaled; re-export the series with its rescale values")
            intercept = look.get("RescaleIntercept")
            try:
                position = tuple(float(v) for v in pos)
                orientation = tuple(float(v) for v in ori)
                if len(position) != 3 or len(orientation) != 6:
                    raise ValueError("wrong number of values")
            except (TypeError, ValueError) as exc:
                raise DicomError(f"position {pos!r} or orientation {ori!r} unreadable ({exc})", source=where,
                                 attribute="ImagePositionPatient/ImageOrientationPatient (0020,0032/0037)",
                                 remedy="the header is corrupt; re-export the series") from exc
            duration = look.get("FrameAcquisitionDuration")
            if duration is None:
                duration = look.get("ActualFrameDuration")
            temporal = look.get("TemporalPositionIndex")
            if temporal is None:
                temporal = look.get("TemporalPositionIdentifier")
            info = FrameInfo(
                source=frame_source,
                sop_instance_uid=sop_instance_uid,
                frame_number=frame_number,
                position_lps=position,  # type: ignore[arg-type]
                orientation=orientation,  # type: ignore[arg-type]
                rescale_slope=_number(slope, "RescaleSlope (0028,1053)", where),
                rescale_intercept=_number(intercept, "RescaleIntercept (0028,1052)", where) or 0.0,
                acquisition_datetime=_acquisition_datetime(look, tz, where),
                actual_frame_duration_ms=_number(duration, "ActualFrameDuration (0018,1242)", where),
                frame_reference_time_ms=_number(look.get("FrameReferenceTime"), "FrameReferenceTime (0054,1300)",
                                                where),
                decay_factor=_number(look.get("DecayFactor"), "DecayFactor (0054,1321)", where),
                image_index=_number(look.get("ImageIndex"), "ImageIndex (0054,1330)", where, int),
            )
            frames.append(ImageFrame(info, fi, k, _float_pair(spacing, "PixelSpacing (0028,0030)", where),
                                     _number(temporal, "TemporalPositionIdentifier (0020,0100)", where, int)))
    return frames


def check_pixel_spacing(frames: Sequence[ImageFrame], *, source: str) -> tuple[float, float]:
    """The common PixelSpacing of ``frames``; raises if it differs between frames (tolerance 1e-4 mm)."""
    spacings = np.array([f.pixel_spacing for f in frames], dtype=float)
    bad = np.flatnonzero(np.abs(spacings - spacings[0]).max(axis=1) > 1e-4)
    if bad.size:
        i = int(bad[0])
        raise DicomError(f"pixel spacing {spacings[i].tolist()} differs from {spacings[0].tolist()}",
                         source=f"{source} ({frames[i].info.source})", attribute="PixelSpacing (0028,0030)",
                         remedy="the folder mixes reconstructions; separate them into series")
    if (spacings[0] <= 0).any():
        raise DicomError(f"pixel spacing {spacings[0].tolist()} is not positive", source=source,
                         attribute="PixelSpacing (0028,0030)", remedy="the header is corrupt; re-export the series")
    return float(spacings[0][0]), float(spacings[0][1])


def check_pixels_present(series: SeriesFiles) -> None:
    """Raise naming the first file of ``series`` that has no Pixel Data (a truncated file)."""
    for f in series.files:
        if not f.has_pixels:
            raise DicomError("no Pixel Data: the file is truncated or not an image", source=str(f.path),
                             attribute="Pixel Data (7FE0,0010)", remedy="remove the file or re-export the series")


_LAYOUT_TAGS = (0x00280002, 0x00280010, 0x00280011, 0x00280100, 0x00280101, 0x00280103)


def _layout_key(ds: Dataset) -> tuple[Any, ...]:
    """The (US) pixel-layout attributes as ints, read from the raw bytes when not yet converted."""
    key: list[Any] = []
    for tag in _LAYOUT_TAGS:
        elem = ds.get_item(tag)
        if elem is None:
            key.append(None)
        elif isinstance(elem, RawDataElement) and isinstance(elem.value, bytes) and len(elem.value) == 2:
            key.append(int.from_bytes(elem.value, "little" if elem.is_little_endian else "big"))
        else:
            key.append(ds[tag].value)
    return tuple(key)


def common_pixel_format(headers: Sequence[Dataset], *, source: str) -> PixelFormat:
    """The :class:`PixelFormat` shared by every header; raises naming the first file that differs."""
    fmt = pixel_format(headers[0], source=source)
    key0 = _layout_key(headers[0])
    for h in headers[1:]:
        if _layout_key(h) == key0:
            continue
        other = pixel_format(h, source=source)
        if other != fmt:
            raise DicomError(f"pixel layout {other.rows}x{other.columns} {other.dtype} differs from "
                             f"{fmt.rows}x{fmt.columns} {fmt.dtype}",
                             source=f"{source} ({Path(str(getattr(h, 'filename', '') or '?')).name})",
                             attribute="Rows/Columns/BitsAllocated/PixelRepresentation (0028,0010/0011/0100/0103)",
                             remedy="the folder mixes reconstructions; separate them into series")
    return fmt


@dataclass(frozen=True)
class Stack:
    """A series' frames with checked orientation, pixel spacing and pixel format, before ordering.

    Attributes
    ----------
    series : SeriesFiles
        The files and headers.
    frames : list of ImageFrame
        One per 2D frame, in file order.
    names : list of str
        File name of each frame, for messages.
    positions : numpy.ndarray
        (n, 3) ImagePositionPatient of each frame, LPS mm.
    orientations : numpy.ndarray
        (n, 6) ImageOrientationPatient of each frame (checked equal).
    pixel_spacing : tuple of float
        PixelSpacing (row spacing, column spacing), mm.
    fmt : PixelFormat
        Pixel format common to all frames.
    """

    series: SeriesFiles
    frames: list[ImageFrame]
    names: list[str]
    positions: np.ndarray
    orientations: np.ndarray
    pixel_spacing: tuple[float, float]
    fmt: PixelFormat


def read_stack(folder: str | Path, *, workers: int, modalities: set[str],
               check_sop_class: Callable[[str, str], None]) -> Stack:
    """Read a series folder's headers and run the checks every image volume needs.

    Parameters
    ----------
    folder : path-like
        Folder holding exactly one series.
    workers : int
        Header-reading threads.
    modalities : set of str
        Accepted Modality values.
    check_sop_class : callable
        ``check_sop_class(sop_class_uid, label)`` raises for unsupported SOP classes.

    Raises
    ------
    DicomError
        Mixed series or modalities, unsupported SOP class, missing pixel data, gantry tilt,
        mixed orientations, inconsistent pixel spacing or pixel format.
    """
    series = read_series(folder, workers=workers, modalities=modalities)
    label = series.label
    check_sop_class(series.sop_class_uid, label)
    check_pixels_present(series)
    frames = extract_frames(series)
    check_gantry_tilt(series.headers, source=label)
    names = [Path(f.info.source).name for f in frames]
    positions = np.array([f.info.position_lps for f in frames], dtype=float)
    orientations = np.array([f.info.orientation for f in frames], dtype=float)
    check_orientations(orientations, source=label, names=names)
    pixel_spacing = check_pixel_spacing(frames, source=label)
    fmt = common_pixel_format(series.headers, source=label)
    return Stack(series, frames, names, positions, orientations, pixel_spacing, fmt)
