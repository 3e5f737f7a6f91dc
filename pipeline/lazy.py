"""Names of a package loaded on first use (PEP 562), so that importing the package stays cheap."""

from __future__ import annotations

from collections.abc import Callable, Mapping, MutableMapping
from importlib import import_module
from typing import Any

__all__ = ["lazy_attributes"]


def lazy_attributes(package: str, home: Mapping[str, str], namespace: MutableMapping[str, Any]
                    ) -> Callable[[str], Any]:
    """The module ``__getattr__`` of ``package``: ``name`` is imported from its submodule ``home[name]`` on first
    use and kept in ``namespace`` (the package's ``globals()``), so later uses cost nothing.

    Usage, in a package's ``__init__.py``::

        _HOME = {"spearman": "correlation", ...}
        __getattr__ = lazy_attributes(__name__, _HOME, globals())
    """

    def __getattr__(name: str) -> Any:
        if name in home:
            value = getattr(import_module(f".{home[name]}", package), name)
            namespace[name] = value
            return value
        raise AttributeError(f"module {package!r} has no attribute {name!r}")

    return __getattr__
