"""petvoi: quantitative PET/CT for immuno-PET and peptide-PET trials."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("petvoi")
except PackageNotFoundError:  # running from a source tree that is not installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
