"""Pixel data of a series: the pixel format, and decoding frames (native ones read straight into numpy, others
through pydicom and its pylibjpeg plugins) with rescale slope and intercept."""

from __future__ import annotations

import functools
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any, cast

import numpy as np
import pydicom
from pydicom.dataelem import RawDataElement
from pydicom.dataset import Dataset
from pydicom.uid import UID

from ..errors import DicomError
from .series import DicomFile, SeriesFiles

__all__ = ["PixelFormat", "pixel_format", "decode_frames", "check_pixels_present", "check_pixel_lengths",
           "common_pixel_format"]


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
    if not (1 <= rows <= 65535 and 1 <= columns <= 65535):
        raise DicomError(f"Rows {rows}, Columns {columns}: an image needs 1 to 65535 of each", source=source,
                         attribute="Rows/Columns (0028,0010/0011)",
                         remedy="the header is corrupt; re-export the series")
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
        got = fh.readinto(buf.data.cast("B"))
    if got != nbytes:
        raise DicomError(f"read {got} of {nbytes} pixel bytes", source=str(f.path),
                         attribute="Pixel Data (7FE0,0010)", remedy="the file is truncated; re-export the series")
    return _fix_unused_bits(buf, fmt).reshape(fmt.rows, fmt.columns)


def _decode_generic(f: DicomFile, fmt: PixelFormat) -> np.ndarray:
    """All frames of a file via pydicom (compressed or big-endian data): (frames, rows, columns)."""
    try:
        ds = pydicom.dcmread(f.path, force=True)
        if "TransferSyntaxUID" not in ds.file_meta:
            ds.file_meta.TransferSyntaxUID = cast(UID, f.transfer_syntax_uid)  # pydicom converts str to UID
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
    tasks.extend(functools.partial(generic, fi) for fi in generic_files)
    if workers == 1 or len(tasks) == 1:
        for task in tasks:
            task()
    else:
        with ThreadPoolExecutor(max_workers=workers) as pool:
            for future in [pool.submit(task) for task in tasks]:
                future.result()
    return out


def check_pixel_lengths(series: SeriesFiles, fmt: PixelFormat) -> None:
    """Raise naming the first natively stored file whose Pixel Data length is not Rows x Columns x
    BitsAllocated / 8 x NumberOfFrames (plus one pad byte at most).

    A header that disagrees with its pixel data (BitsAllocated 8 on 16-bit data, Rows or Columns halved) would
    otherwise be read as a plausible image of the wrong values.
    """
    for f in series.files:
        if not f.is_native or f.pixel_length is None:
            continue  # encapsulated: the decoder checks the frame size
        expected = f.n_frames * fmt.frame_bytes
        if f.pixel_length not in (expected, expected + 1):
            raise DicomError(
                f"Pixel Data holds {f.pixel_length} bytes, the header describes {expected} (Rows {fmt.rows} x "
                f"Columns {fmt.columns} x BitsAllocated {fmt.dtype.itemsize * 8} / 8 x {f.n_frames} frame(s))",
                source=str(f.path), attribute="Rows/Columns/BitsAllocated/NumberOfFrames (0028,0010/0011/0100/0008)",
                remedy="the header does not describe its pixel data; re-export the series")


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
