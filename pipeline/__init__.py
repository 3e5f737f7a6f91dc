"""petvoi: quantitative PET/CT for immuno-PET and peptide-PET trials.

The version is written here once (``pyproject.toml`` reads it), so that ``petvoi --version`` needs no
package metadata lookup.
"""

__version__ = "0.1.0"

__all__ = ["__version__"]
