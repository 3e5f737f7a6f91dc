"""Exception hierarchy of petvoi.

Every failure caused by bad input is a :class:`PipelineError`. Its message is one
line that names the file or series, the attribute or key, and the remedy; the
CLI prints it and exits with status 2, without a traceback unless ``--debug``.
"""

from __future__ import annotations

__all__ = [
    "PipelineError",
    "ConfigError",
    "SampleSheetError",
    "DicomError",
    "MissingAttributeError",
    "InvalidInputError",
]


class PipelineError(Exception):
    """Base class of every error caused by bad input or configuration.

    Parameters
    ----------
    message : str
        What is wrong.
    source : str, optional
        The file, series or table concerned.
    attribute : str, optional
        The DICOM attribute, config key or column concerned.
    remedy : str, optional
        What the user can do about it.
    """

    exit_code = 2

    def __init__(
        self,
        message: str,
        *,
        source: str | None = None,
        attribute: str | None = None,
        remedy: str | None = None,
    ) -> None:
        self.message = message
        self.source = source
        self.attribute = attribute
        self.remedy = remedy
        super().__init__(self.one_line())

    def one_line(self) -> str:
        """Return the error as a single line: ``source: attribute: message; remedy``."""
        parts = [p for p in (self.source, self.attribute) if p]
        text = ": ".join([*parts, self.message])
        if self.remedy:
            text = f"{text}; {self.remedy}"
        return " ".join(text.split())


class ConfigError(PipelineError):
    """The configuration file is invalid (the attribute is the YAML path)."""


class SampleSheetError(PipelineError):
    """The sample sheet is invalid (the attribute is the row and column)."""


class DicomError(PipelineError):
    """A DICOM file or series cannot be used as it is."""


class MissingAttributeError(DicomError):
    """A required DICOM attribute is missing or empty."""


class InvalidInputError(PipelineError):
    """Any other invalid input file or option."""
