"""Where the archive is and how to authenticate: the configuration's ``archive:`` section.

Credentials are never in the configuration itself: a password or token comes from an environment variable
named there (``password_env``, ``token_env``) or from a file (``token_file``), and no message or log line
prints them.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import ConfigError

__all__ = ["ArchiveSettings", "PROTOCOLS"]

PROTOCOLS = ("dicomweb", "dimse")


@dataclass(frozen=True)
class ArchiveSettings:
    """One archive.

    Attributes
    ----------
    protocol : {"dicomweb", "dimse"}
    url : str or None
        DICOMweb service root (``http://host:8042/dicom-web``).
    host, port, called_ae, calling_ae : DIMSE peer and our AE title.
    username : str or None
        HTTP basic authentication user (DICOMweb), with the password from ``password_env``.
    password_env, token_env, token_file : where a password or bearer token is.
    timeout_s : float
        Per-request timeout.
    """

    protocol: str
    url: str | None = None
    host: str | None = None
    port: int | None = None
    called_ae: str = "ANY-SCP"
    calling_ae: str = "PETVOI"
    username: str | None = None
    password_env: str | None = None
    token_env: str | None = None
    token_file: str | None = None
    timeout_s: float = 60.0

    @classmethod
    def from_config(cls, section: Mapping[str, Any] | None) -> ArchiveSettings:
        """Settings of the configuration's ``archive`` section (validated by the schema first).

        Raises
        ------
        ConfigError
            No protocol, or a protocol without its address.
        """
        section = dict(section or {})
        protocol = str(section.get("protocol") or "none")
        if protocol not in PROTOCOLS:
            raise ConfigError(f"no archive configured (protocol {protocol!r})", source="config",
                              attribute="archive.protocol", remedy="set archive.protocol to dicomweb or dimse")
        settings = cls(protocol=protocol, url=section.get("url"), host=section.get("host"),
                       port=section.get("port"), called_ae=section.get("called_ae") or "ANY-SCP",
                       calling_ae=section.get("calling_ae") or "PETVOI", username=section.get("username"),
                       password_env=section.get("password_env"), token_env=section.get("token_env"),
                       token_file=section.get("token_file"), timeout_s=float(section.get("timeout_s") or 60.0))
        if protocol == "dicomweb" and not settings.url:
            raise ConfigError("DICOMweb needs the service root", source="config", attribute="archive.url",
                              remedy="set archive.url, e.g. http://127.0.0.1:8042/dicom-web")
        if protocol == "dimse" and not (settings.host and settings.port):
            raise ConfigError("DIMSE needs the peer's host and port", source="config",
                              attribute="archive.host/archive.port", remedy="set archive.host and archive.port")
        return settings

    @property
    def server(self) -> str:
        """The server as messages name it (never with credentials)."""
        if self.protocol == "dicomweb":
            return str(self.url)
        return f"{self.called_ae}@{self.host}:{self.port}"

    def password(self) -> str | None:
        """The password of ``username`` (from its environment variable)."""
        if not self.password_env:
            return None
        value = os.environ.get(self.password_env)
        if value is None:
            raise ConfigError(f"the environment variable {self.password_env} (the archive password) is not set",
                              source="environment", attribute="archive.password_env",
                              remedy=f"export {self.password_env}=... before the run")
        return value

    def token(self) -> str | None:
        """A bearer token, from ``token_env`` or ``token_file``."""
        if self.token_env:
            value = os.environ.get(self.token_env)
            if value is None:
                raise ConfigError(f"the environment variable {self.token_env} (the archive token) is not set",
                                  source="environment", attribute="archive.token_env",
                                  remedy=f"export {self.token_env}=... before the run")
            return value.strip()
        if self.token_file:
            try:
                return Path(self.token_file).expanduser().read_text(encoding="utf-8").strip()
            except OSError as exc:
                raise ConfigError(f"cannot read the archive token file ({type(exc).__name__})",
                                  source=str(self.token_file), attribute="archive.token_file",
                                  remedy="give a readable file holding the token") from None
        return None
