"""De-identification of what petvoi writes: DICOM UIDs pseudonymised, dates shifted per subject (issue 17).

With the configuration's ``deidentify: true`` the workflow gives every command ``petvoi --deidentify SECRET_FILE``
(and per-study commands ``--as-subject SUBJECT``). Then, where raw identifying values enter an output:

* every DICOM UID (StudyInstanceUID, SeriesInstanceUID, SOPInstanceUID, FrameOfReferenceUID...; not the standard
  class UIDs under ``1.2.840.10008.``) becomes ``2.25.<integer>``, the first 120 bits of HMAC-SHA256(secret, UID):
  stable, so that outputs written by different commands still refer to each other (the index parts merge, the VOIs
  match the PET's frame of reference), and not reversible without the secret;
* every date and datetime from the DICOM headers, the dosing table and the RECIST table moves back by the
  subject's offset: a whole number of days (30-395) from HMAC-SHA256(secret, subject_id), the same for every study
  of the subject, so uptake times, intervals between scans and RECIST confirmations are unchanged;
* names, IDs, birth dates, accession numbers and institution names are never written (petvoi reads none of them
  into its outputs; the reports name subjects by their sample-sheet IDs);
* log lines and one-line errors carry pseudonymised UIDs too.

The values are transformed once, where they are first written (``suv.json``, ``ct.json``, ``vois.json``, the series
index, the RECIST tables, the cohort's sample sheet); everything computed from those outputs inherits them.
The secret (a file, or the environment variable ``PETVOI_DEID_SECRET``) stays outside the results.
"""

from __future__ import annotations

import contextvars
import datetime as dt
import hashlib
import hmac
import os
import re
import secrets
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from .errors import InvalidInputError

__all__ = ["Deidentifier", "active", "activate", "load_secret", "ensure_secret_file", "SECRET_ENV"]

#: Environment variable that holds the secret (wins over the file).
SECRET_ENV = "PETVOI_DEID_SECRET"
#: Standard UIDs (SOP classes, transfer syntaxes, coding schemes): not identifying, kept.
_STANDARD_UID = "1.2.840.10008."
_UID = re.compile(r"(?<![\w.])[0-2](?:\.(?:0|[1-9]\d*)){4,}(?![\w.])")
_ISO = re.compile(r"(?<!\d)(\d{4})-(\d{2})-(\d{2})((?:[T ]\d{2}:\d{2}(?::\d{2}(?:\.\d{1,6})?)?)?"
                  r"(?:Z|[+-]\d{2}:?\d{2})?)?(?![\d:])")
_DICOM_DT = re.compile(r"^((?:19|20)\d{2}(?:0[1-9]|1[0-2])(?:0[1-9]|[12]\d|3[01]))(\d{0,6}(?:\.\d{1,6})?)$")
_MIN_DAYS, _SPAN_DAYS = 30, 366


def _digest(secret: bytes, kind: str, value: str) -> bytes:
    return hmac.new(secret, f"{kind}:{value}".encode(), hashlib.sha256).digest()


@dataclass(frozen=True)
class Deidentifier:
    """Pseudonymises UIDs and shifts dates with one secret.

    Parameters
    ----------
    secret : bytes
        The key of the HMACs (at least 16 bytes).
    subject : str, optional
        The subject whose offset applies where no subject is given (a per-study command's ``--as-subject``).
    """

    secret: bytes
    subject: str | None = None

    def offset(self, subject: str | None = None) -> dt.timedelta:
        """The date shift of ``subject`` (default: this command's subject): 30-395 whole days back.

        Raises
        ------
        InvalidInputError
            When no subject is known (dates cannot be shifted consistently).
        """
        who = subject if subject is not None else self.subject
        if not who:
            raise InvalidInputError("dates cannot be shifted without the subject", attribute="--as-subject",
                                    remedy="give petvoi --as-subject SUBJECT (the sample sheet's id) with "
                                           "--deidentify")
        days = _MIN_DAYS + int.from_bytes(_digest(self.secret, "days", who)[:8], "big") % _SPAN_DAYS
        return dt.timedelta(days=days)

    def uid(self, value: str) -> str:
        """The pseudonym of a DICOM UID (standard UIDs and empty values unchanged)."""
        text = str(value).strip()
        if not text or text.startswith(_STANDARD_UID):
            return text
        return "2.25." + str(int.from_bytes(_digest(self.secret, "uid", text)[:15], "big"))

    def uids_in(self, text: str) -> str:
        """``text`` with every UID in it pseudonymised."""
        return _UID.sub(lambda m: self.uid(m.group(0)), text)

    def match_uid(self, recorded: str | None, candidates: Iterator[str] | list[str]) -> str | None:
        """The raw UID among ``candidates`` whose pseudonym is ``recorded`` (a UID read from an output), else
        ``recorded``: lets a stage compare raw DICOM with its own de-identified outputs."""
        if recorded is None:
            return None
        for raw in candidates:
            if raw == recorded or self.uid(raw) == recorded:
                return raw
        return recorded

    def shift(self, value: dt.datetime | dt.date, subject: str | None = None) -> dt.datetime | dt.date:
        """A date or datetime moved back by the subject's offset."""
        return value - self.offset(subject)

    def dates_in(self, text: str, subject: str | None = None) -> str:
        """``text`` with every ISO 8601 date and datetime in it shifted (format kept)."""
        def moved(m: re.Match[str]) -> str:
            whole = m.group(0)
            try:
                if not m.group(4):
                    return (dt.date.fromisoformat(whole) - self.offset(subject)).isoformat()
                parsed = dt.datetime.fromisoformat(whole.replace("Z", "+00:00"))
            except ValueError:
                return whole
            spec = "microseconds" if "." in whole else "seconds" if whole[11:].count(":") >= 2 else "minutes"
            return (parsed - self.offset(subject)).isoformat(sep="T" if "T" in whole else " ", timespec=spec)

        return _ISO.sub(moved, text)

    def dicom_datetime(self, text: str, subject: str | None = None) -> str:
        """A DICOM DA or DT value (``20250313`` or ``20250313094137.5``) shifted, the same precision."""
        m = _DICOM_DT.match(str(text).strip())
        if not m:
            return text
        day = dt.datetime.strptime(m.group(1), "%Y%m%d") - self.offset(subject)
        return day.strftime("%Y%m%d") + m.group(2)

    def scrub(self, obj: Any, subject: str | None = None) -> Any:
        """``obj`` (JSON-like: dicts, lists, strings, datetimes) with UIDs pseudonymised and dates shifted."""
        if isinstance(obj, dt.datetime | dt.date):
            return self.shift(obj, subject)
        if isinstance(obj, str):
            return self.dates_in(self.uids_in(obj), subject)
        if isinstance(obj, dict):
            return {k: self.scrub(v, subject) for k, v in obj.items()}
        if isinstance(obj, list | tuple):
            return [self.scrub(v, subject) for v in obj]
        return obj


_ACTIVE: contextvars.ContextVar[Deidentifier | None] = contextvars.ContextVar("petvoi_deid", default=None)


def active() -> Deidentifier | None:
    """The de-identification of the running command (``petvoi --deidentify``), or None."""
    return _ACTIVE.get()


@contextmanager
def activate(deid: Deidentifier | None) -> Iterator[Deidentifier | None]:
    """Make ``deid`` the running command's de-identification within the block."""
    token = _ACTIVE.set(deid)
    try:
        yield deid
    finally:
        _ACTIVE.reset(token)


def load_secret(path: str | Path | None) -> bytes:
    """The secret: ``$PETVOI_DEID_SECRET`` if set, else the file's content (whitespace stripped).

    Raises
    ------
    InvalidInputError
        No secret, or one shorter than 16 characters.
    """
    text = os.environ.get(SECRET_ENV, "")
    where = SECRET_ENV
    if not text and path is not None:
        try:
            text = Path(path).read_text(encoding="utf-8").strip()
        except OSError as exc:
            raise InvalidInputError(f"cannot read the de-identification secret ({type(exc).__name__})",
                                    source=str(path), attribute="--deidentify",
                                    remedy=f"give a readable file holding the secret, or set {SECRET_ENV}") from None
        where = str(path)
    if len(text) < 16:
        raise InvalidInputError("the de-identification secret is missing or shorter than 16 characters",
                                source=where, attribute="--deidentify",
                                remedy=f"put a long random string in the file or in {SECRET_ENV}")
    return text.encode("utf-8")


def ensure_secret_file(path: str | Path) -> Path:
    """Create ``path`` with a random secret (mode 0600) unless it exists; return it."""
    target = Path(path)
    if not target.exists():
        target.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(secrets.token_hex(32) + "\n")
    return target
