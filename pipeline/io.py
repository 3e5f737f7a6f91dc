"""Output helpers: atomic writes and deterministic serialisation."""

from __future__ import annotations

import json
import math
import os
import tempfile
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

__all__ = ["atomic_path", "output_set", "write_json", "write_text", "write_csv", "write_table", "sanitise_name"]


@contextmanager
def atomic_path(path: str | os.PathLike[str]) -> Iterator[Path]:
    """Yield a temporary path beside ``path`` and rename it onto ``path`` on success.

    The temporary file keeps the final suffix(es) so that writers which choose
    the format from the extension (nibabel, SimpleITK) still work. On any
    exception the temporary file is removed and ``path`` is left untouched.

    Parameters
    ----------
    path : path-like
        The final output path; its parent directory is created if missing.
    """
    final = Path(path)
    final.parent.mkdir(parents=True, exist_ok=True)
    suffix = "".join(final.suffixes)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{final.stem}.", suffix=f".tmp{suffix}", dir=final.parent)
    os.close(fd)
    tmp = Path(tmp_name)
    try:
        yield tmp
        if tmp.exists():  # mkstemp creates 0600; give the file the permissions a plain open() would
            umask = os.umask(0)
            os.umask(umask)
            tmp.chmod(0o666 & ~umask)
        os.replace(tmp, final)
    finally:
        if tmp.exists():
            tmp.unlink()


@contextmanager
def output_set(*paths: str | os.PathLike[str]) -> Iterator[None]:
    """The outputs of one stage, written together: on any exception in the block every one of ``paths`` is
    removed (old or new) and the exception propagates, so that no exit leaves an image without its sidecar or a
    table without its JSON (each file is still written atomically).

    Parameters
    ----------
    *paths : path-like
        Every file the block writes.
    """
    try:
        yield
    except BaseException:
        for p in paths:
            Path(p).unlink(missing_ok=True)
        raise


def _write_with(path: str | os.PathLike[str], writer: Callable[[Path], object]) -> Path:
    with atomic_path(path) as tmp:
        writer(tmp)
    return Path(path)


def _json_safe(value: Any) -> Any:
    """``value`` with every NaN or infinite float as None (JSON null): a header value that is not a number is
    recorded as null, and never makes a sidecar unwritable after its image was written."""
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, dict):
        return {k: _json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_json_safe(v) for v in value]
    return value


def write_json(path: str | os.PathLike[str], data: Any) -> Path:
    """Write ``data`` as indented, key-sorted JSON atomically (byte-stable); NaN and infinities as null."""
    text = json.dumps(_json_safe(data), indent=2, sort_keys=True, default=str, allow_nan=False) + "\n"
    return _write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_text(path: str | os.PathLike[str], text: str) -> Path:
    """Write ``text`` (UTF-8) atomically."""
    return _write_with(path, lambda p: p.write_text(text, encoding="utf-8"))


def write_csv(path: str | os.PathLike[str], table: pd.DataFrame, **kwargs: Any) -> Path:
    """Write a table as CSV atomically with a fixed float format (byte-stable)."""
    kwargs.setdefault("index", False)
    kwargs.setdefault("float_format", "%.10g")
    kwargs.setdefault("lineterminator", "\n")
    return _write_with(path, lambda p: table.to_csv(p, **kwargs))


def write_table(path: str | os.PathLike[str], table: pd.DataFrame) -> Path:
    """Write a table as CSV, TSV or Parquet chosen by the extension, atomically."""
    suffix = Path(path).suffix.lower()
    if suffix == ".parquet":
        return _write_with(path, lambda p: table.to_parquet(p, index=False))
    if suffix in (".tsv", ".txt"):
        return write_csv(path, table, sep="\t")
    return write_csv(path, table)


def sanitise_name(name: str) -> str:
    """Return ``name`` reduced to ``[A-Za-z0-9._-]`` for use in file names."""
    cleaned = "".join(c if (c.isalnum() and c.isascii()) or c in "._-" else "_" for c in name)
    cleaned = cleaned.strip("._") or "unnamed"
    return cleaned[:128]
