"""IBSI-coded radiomics features of one VOI, with pyradiomics on a petvoi-discretised image.

Pipeline for one VOI (arrays in (z, y, x), spacing in mm as (x, y, z)):

1. optional isotropic resampling (SimpleITK): image linear, mask linear + 0.5 threshold (IBSI); the new grid is
   centre-aligned with the old one (IBSI), i.e. both grids share their geometric centre;
2. IBSI discretisation by petvoi (:mod:`pipeline.metrics.discretise`): fixed bin size from the configured lower bound,
   fixed bin number, or none (the image already holds integer grey levels);
3. minimum VOI size: fewer voxels than ``minimum_voi_voxels`` raises :class:`TextureSkipped`;
4. pyradiomics (``RadiomicsFeatureExtractor``): shape on the mask, first order on the *un-discretised* intensities
   (IBSI intensity statistics), first-order entropy/uniformity and all texture classes on the discretised image;
5. documented fixes: excess kurtosis (-3), PCA axis lengths x sqrt(N/(N-1));
6. optional extra IBSI families from :mod:`pipeline.metrics.ibsi` (if that module exists).

**Bin-index mechanism.** pyradiomics re-bins whatever it is given: bin = floor(X/W) - floor(min(X_ROI)/W) + 1, so a
ROI whose lowest petvoi bin is k > 1 would be shifted down to start at 1, which changes every feature that uses
absolute grey-level indices (joint average, autocorrelation, grey-level emphases, ...). While pyradiomics computes
features on the discretised image, :func:`keep_bin_indices` replaces ``radiomics.imageoperations.getBinEdges`` by a
function returning the edges 0.5, 1.5, ..., max+0.5, so that ``numpy.digitize`` maps integer bin k to k exactly. The
replacement is scoped (a context manager restores the original, also on error) and serialised by a lock; worker
processes (dask) each have their own module state.
"""

from __future__ import annotations

import contextlib
import logging
import math
import threading
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InvalidInputError
from . import ibsi
from .discretise import check_integer_bins, discretise_fbn, discretise_fbs
from .features import FeatureValue
from .ibsi_codes import DIRECTIONAL_FAMILIES, PYRADIOMICS_NON_IBSI, PYRADIOMICS_TO_IBSI

__all__ = [
    "FeatureValue",
    "TextureParams",
    "TextureSkipped",
    "extract_texture",
    "discretise",
    "resample_isotropic",
    "keep_bin_indices",
    "AGGREGATIONS",
]

log = logging.getLogger(__name__)

AGGREGATIONS = ("3D_comb", "3D_avg")
_FAMILIES = ("morphology", "intensity_statistics", "intensity_histogram", "glcm", "glrlm", "glszm", "ngtdm", "ngldm")
_PYRAD_CLASS = {"glcm": "glcm", "glrlm": "glrlm", "glszm": "glszm", "ngtdm": "ngtdm", "ngldm": "gldm"}


class TextureSkipped(Exception):
    """The VOI is not analysed (e.g. too small); ``reason`` is the one-line explanation for the output row."""

    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


# ----------------------------------------------------------------------------------------------- parameters

_SECTIONS: dict[str, dict[str, Any]] = {
    "resampling": {"enabled": False, "spacing_mm": 4.0, "mask_threshold": 0.5},
    "discretisation": {"method": "fbs", "bin_width": 0.25, "lower_bound": 0.0, "n_bins": 64,
                       "clip_below_lower_bound": False},
    "texture": {"aggregation": ["3D_comb"], "ngldm_alpha": 0, "distance": 1},
}
_TOP = {"name", "minimum_voi_voxels", "families", "extra_features", *_SECTIONS}


@dataclass(frozen=True)
class TextureParams:
    """Validated extraction settings; see ``configs/radiomics_pet.yaml`` for every key."""

    name: str = "pet"
    resampling_enabled: bool = False
    resampling_spacing_mm: float = 4.0
    mask_threshold: float = 0.5
    discretisation_method: str = "fbs"
    bin_width: float = 0.25
    lower_bound: float = 0.0
    n_bins: int = 64
    clip_below_lower_bound: bool = False
    minimum_voi_voxels: int = 64
    aggregation: tuple[str, ...] = ("3D_comb",)
    families: tuple[str, ...] = _FAMILIES
    ngldm_alpha: int = 0
    distance: int = 1
    extra_features: bool = True
    source_file: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        src = self.source_file or None
        if self.discretisation_method not in ("fbs", "fbn", "none"):
            raise InvalidInputError(f"unknown method {self.discretisation_method!r}; use fbs, fbn or none",
                                    source=src, attribute="discretisation.method")
        if not self.bin_width > 0:
            raise InvalidInputError(f"must be > 0, got {self.bin_width}", source=src,
                                    attribute="discretisation.bin_width")
        if int(self.n_bins) != self.n_bins or self.n_bins < 1:
            raise InvalidInputError(f"must be a positive integer, got {self.n_bins}", source=src,
                                    attribute="discretisation.n_bins")
        if not self.resampling_spacing_mm > 0:
            raise InvalidInputError(f"must be > 0, got {self.resampling_spacing_mm}", source=src,
                                    attribute="resampling.spacing_mm")
        if not 0 < self.mask_threshold < 1:
            raise InvalidInputError(f"must be in (0, 1), got {self.mask_threshold}", source=src,
                                    attribute="resampling.mask_threshold")
        if int(self.minimum_voi_voxels) != self.minimum_voi_voxels or self.minimum_voi_voxels < 1:
            raise InvalidInputError(f"must be a positive integer, got {self.minimum_voi_voxels}", source=src,
                                    attribute="minimum_voi_voxels")
        bad = [a for a in self.aggregation if a not in AGGREGATIONS]
        if bad or not self.aggregation:
            raise InvalidInputError(f"aggregation must be a non-empty list of {list(AGGREGATIONS)}, got "
                                    f"{list(self.aggregation)}", source=src, attribute="texture.aggregation")
        bad = [f for f in self.families if f not in _FAMILIES]
        if bad:
            raise InvalidInputError(f"unknown families {bad}; known: {list(_FAMILIES)}", source=src,
                                    attribute="families")
        if self.ngldm_alpha != 0 or self.distance != 1:
            raise InvalidInputError("only the IBSI defaults ngldm_alpha 0 and distance 1 are supported", source=src,
                                    attribute="texture")

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any], source: str = "") -> TextureParams:
        """Build from a parsed YAML mapping; unknown keys raise :class:`InvalidInputError` naming key and file."""
        src = source or "<parameters>"
        if not isinstance(data, Mapping):
            raise InvalidInputError("must be a YAML mapping", source=src)
        unknown = sorted(set(data) - _TOP)
        if unknown:
            raise InvalidInputError(f"unknown key {unknown[0]!r} (allowed: {sorted(_TOP)})", source=src,
                                    attribute=str(unknown[0]), remedy="remove or correct the key")
        merged: dict[str, dict[str, Any]] = {}
        for section, defaults in _SECTIONS.items():
            given = data.get(section) or {}
            if not isinstance(given, Mapping):
                raise InvalidInputError("must be a mapping", source=src, attribute=section)
            bad = sorted(set(given) - set(defaults))
            if bad:
                raise InvalidInputError(f"unknown key {bad[0]!r} (allowed: {sorted(defaults)})", source=src,
                                        attribute=f"{section}.{bad[0]}", remedy="remove or correct the key")
            merged[section] = {**defaults, **given}
        res, dis, tex = merged["resampling"], merged["discretisation"], merged["texture"]
        agg = tex["aggregation"]
        agg = (agg,) if isinstance(agg, str) else tuple(agg)
        fams = data.get("families", list(_FAMILIES))
        try:
            return cls(
                name=str(data.get("name", "pet")),
                resampling_enabled=bool(res["enabled"]), resampling_spacing_mm=float(res["spacing_mm"]),
                mask_threshold=float(res["mask_threshold"]),
                discretisation_method=str(dis["method"]).lower(), bin_width=float(dis["bin_width"]),
                lower_bound=float(dis["lower_bound"]), n_bins=int(dis["n_bins"]),
                clip_below_lower_bound=bool(dis["clip_below_lower_bound"]),
                minimum_voi_voxels=int(data.get("minimum_voi_voxels", 64)),
                aggregation=agg, families=tuple(fams),
                ngldm_alpha=int(tex["ngldm_alpha"]), distance=int(tex["distance"]),
                extra_features=bool(data.get("extra_features", True)), source_file=source)
        except (TypeError, ValueError) as exc:
            raise InvalidInputError(f"invalid value: {exc}", source=src) from exc

    @classmethod
    def from_yaml(cls, path: str | Path) -> TextureParams:
        """Read and validate a parameters file (``configs/radiomics_pet.yaml``, ``configs/radiomics_ibsi.yaml``)."""
        import yaml

        path = Path(path)
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        except OSError as exc:
            raise InvalidInputError(f"cannot read: {exc.strerror}", source=str(path)) from exc
        except yaml.YAMLError as exc:
            raise InvalidInputError(f"not valid YAML: {exc}", source=str(path)) from exc
        return cls.from_mapping(data, source=str(path))

    def as_dict(self) -> dict[str, Any]:
        """Settings as a JSON-serialisable dict (for sidecars)."""
        out = asdict(self)
        out["aggregation"] = list(self.aggregation)
        out["families"] = list(self.families)
        return out


# ----------------------------------------------------------------------------------------------- resampling

def resample_isotropic(image: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float], spacing_mm: float,
                       mask_threshold: float = 0.5) -> tuple[np.ndarray, np.ndarray, tuple[float, float, float]]:
    """Resample image (linear) and mask (linear, then >= threshold) to an isotropic grid.

    Grid alignment (IBSI "grid centre" alignment): the new grid has ``ceil(n * s / s_new)`` voxels per axis and is
    placed so that its centre coincides with the centre of the original grid. Points beyond the outermost original
    voxel centres take the nearest original value (no zero padding of the image).

    Returns
    -------
    image, mask, spacing_xyz
        Resampled float64 image, bool mask (z, y, x) and the new spacing (mm).
    """
    import SimpleITK as sitk

    spacing_xyz = tuple(float(s) for s in spacing_xyz)
    size_xyz = image.shape[::-1]
    new_size = [max(1, math.ceil(n * s / spacing_mm - 1e-9)) for n, s in zip(size_xyz, spacing_xyz, strict=True)]
    # origin 0 for the input; the new origin keeps the grid centres aligned
    new_origin = [(s * (n - 1) - spacing_mm * (m - 1)) / 2.0
                  for n, s, m in zip(size_xyz, spacing_xyz, new_size, strict=True)]

    def _run(arr: np.ndarray) -> np.ndarray:
        img = sitk.GetImageFromArray(np.asarray(arr, dtype=np.float64))
        img.SetSpacing(spacing_xyz)
        res = sitk.Resample(img, new_size, sitk.Transform(), sitk.sitkLinear, new_origin, (spacing_mm,) * 3,
                            img.GetDirection(), 0.0, sitk.sitkFloat64, True)
        return sitk.GetArrayFromImage(res)

    new_image = _run(image)
    new_mask = _run(np.asarray(mask, dtype=np.float64)) >= mask_threshold
    return new_image, new_mask, (spacing_mm,) * 3


# ----------------------------------------------------------------------------------------------- discretisation

def discretise(image: np.ndarray, mask: np.ndarray, params: TextureParams) -> np.ndarray:
    """Discretise the ROI as configured (fbs from the lower bound, fbn, or none); 0 outside the mask."""
    if params.discretisation_method == "fbs":
        return discretise_fbs(image, mask, params.bin_width, params.lower_bound,
                              clip_below=params.clip_below_lower_bound)
    if params.discretisation_method == "fbn":
        return discretise_fbn(image, mask, params.n_bins)
    return check_integer_bins(image, mask)


_BIN_LOCK = threading.RLock()


def _identity_bin_edges(parameter_values: np.ndarray, **_: Any) -> np.ndarray:
    """Bin edges 0.5, 1.5, ..., max+0.5: ``numpy.digitize`` maps each integer bin k >= 1 to k."""
    top = int(np.max(parameter_values))
    return np.arange(0.5, top + 1.0, 1.0)


@contextlib.contextmanager
def keep_bin_indices() -> Iterator[None]:
    """Within the block, pyradiomics keeps the integer bin numbers of the image unchanged (see module docstring)."""
    from radiomics import imageoperations

    with _BIN_LOCK:
        original = imageoperations.getBinEdges
        imageoperations.getBinEdges = _identity_bin_edges
        try:
            yield
        finally:
            imageoperations.getBinEdges = original


# ----------------------------------------------------------------------------------------------- pyradiomics

_BASE_SETTINGS: dict[str, Any] = {
    "binWidth": 1,              # irrelevant under keep_bin_indices for the discretised image
    "voxelArrayShift": 0,       # IBSI energy / RMS
    "symmetricalGLCM": True,    # IBSI GLCM is symmetric
    "distances": [1],           # Chebyshev distance 1 (26-connectivity)
    "gldm_a": 0,                # NGLDM coarseness alpha 0
    "force2D": False,           # 3D
    "minimumROIDimensions": 1,  # petvoi applies its own minimum size
    "minimumROISize": None,
    "additionalInfo": False,
    "label": 1,
    "correctMask": False,
}


def _sitk_pair(array: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float]) -> tuple[Any, Any]:
    import SimpleITK as sitk

    img = sitk.GetImageFromArray(np.asarray(array, dtype=np.float64))
    img.SetSpacing(tuple(float(s) for s in spacing_xyz))
    msk = sitk.GetImageFromArray(np.asarray(mask, dtype=np.uint8))
    msk.CopyInformation(img)
    return img, msk


#: pyradiomics warnings that describe its intended behaviour on every VOI, not a problem of the input: the GLCM is
#: symmetrical by design (so Sum Average = 2 x Joint Average). Dropped from the logs; every other warning is kept.
_BENIGN_PYRADIOMICS_WARNINGS = ("GLCM is symmetrical, therefore Sum Average = 2 * Joint Average",)


class _DropBenign(logging.Filter):
    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        return not any(message.startswith(text) for text in _BENIGN_PYRADIOMICS_WARNINGS)


def quiet_pyradiomics() -> None:
    """pyradiomics logs warnings and errors only (its per-VOI info and debug messages are not produced), without
    :data:`_BENIGN_PYRADIOMICS_WARNINGS`."""
    logger = logging.getLogger("radiomics")
    logger.setLevel(logging.WARNING)
    for handler in logger.handlers:
        if not any(isinstance(f, _DropBenign) for f in handler.filters):
            handler.addFilter(_DropBenign())


def _run_pyradiomics(array: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float], classes: Mapping[str, Any],
                     extra_settings: Mapping[str, Any] | None = None) -> dict[str, float]:
    """Run the extractor with only ``classes`` enabled; returns ``{"class_Feature": value}``."""
    from radiomics.featureextractor import RadiomicsFeatureExtractor

    quiet_pyradiomics()
    settings = {**_BASE_SETTINGS, **(extra_settings or {})}
    extractor = RadiomicsFeatureExtractor(**settings)
    extractor.disableAllFeatures()
    extractor.enableFeaturesByName(**{c: list(f) for c, f in classes.items()})
    img, msk = _sitk_pair(array, mask, spacing_xyz)
    result = extractor.execute(img, msk)
    out = {}
    for key, value in result.items():
        if key.startswith("original_"):
            out[key[len("original_"):]] = float(value)
    return out


def _values_for(name: str, value: float, aggregation: str) -> list[FeatureValue]:
    targets = PYRADIOMICS_TO_IBSI.get(name)
    if targets:
        return [FeatureValue(f"{t.family}_{t.feature}_{aggregation}", t.family, t.code, value, "pyradiomics")
                for t in targets]
    if name in PYRADIOMICS_NON_IBSI:
        family, feature = PYRADIOMICS_NON_IBSI[name]
        return [FeatureValue(f"{family}_{feature}_{aggregation}", family, "", value, "pyradiomics")]
    log.debug("pyradiomics feature %s is not mapped; dropped", name)
    return []


def _pyradiomics_features(image: np.ndarray, bins: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float],
                          params: TextureParams) -> list[FeatureValue]:
    fams = set(params.families)
    values: list[FeatureValue] = []
    n_voxels = int(mask.sum())

    # two extractor runs per aggregation at most: the raw intensities (shape on the mask, first order), then the
    # discretised bins (histogram entropy/uniformity and every texture class)
    raw_classes: dict[str, list[str]] = {
        c: [] for c, fam in (("shape", "morphology"), ("firstorder", "intensity_statistics")) if fam in fams}
    raw = _run_pyradiomics(image, mask, spacing_xyz, raw_classes) if raw_classes else {}
    factor = math.sqrt(n_voxels / (n_voxels - 1)) if n_voxels > 1 else 1.0
    for name, value in raw.items():
        if name in ("shape_MajorAxisLength", "shape_MinorAxisLength", "shape_LeastAxisLength"):
            value *= factor  # IBSI PCA uses the N-1 covariance
        elif name in ("firstorder_Entropy", "firstorder_Uniformity"):
            continue  # pyradiomics' own binning of raw intensities; the IBSI versions come from `bins`
        elif name == "firstorder_Kurtosis":
            value -= 3.0  # IBSI excess kurtosis
        values += _values_for(name, value, "3D")

    texture = {fam: _PYRAD_CLASS[fam] for fam in ("glcm", "glrlm", "glszm", "ngtdm", "ngldm") if fam in fams}
    single: dict[str, list[str]] = {c: [] for f, c in texture.items() if f not in DIRECTIONAL_FAMILIES}
    if "intensity_histogram" in fams:
        single["firstorder"] = ["Entropy", "Uniformity"]
    directional: dict[str, list[str]] = {c: [] for f, c in texture.items() if f in DIRECTIONAL_FAMILIES}
    runs = [(agg, directional) for agg in params.aggregation] if directional else []
    if single:  # the non-directional classes ride along with the first run (they ignore weightingNorm)
        runs = [(runs[0][0], {**single, **runs[0][1]}), *runs[1:]] if runs else [("3D", single)]
    with keep_bin_indices():
        for agg, classes in runs:
            extra = {"weightingNorm": "no_weighting"} if agg == "3D_comb" else {"weightingNorm": None}
            for name, value in _run_pyradiomics(bins, mask, spacing_xyz, classes, extra).items():
                cls = name.split("_", 1)[0]
                values += _values_for(name, value, agg if cls in ("glcm", "glrlm") else "3D")
    return values


def _extra_features(image: np.ndarray, bins: np.ndarray, mask: np.ndarray, spacing_xyz: tuple[float, float, float],
                    params: TextureParams) -> list[FeatureValue]:
    """The families pyradiomics lacks, computed by :mod:`pipeline.metrics.ibsi`."""
    return list(ibsi.extra_features(image, bins, mask, spacing_xyz, _ibsi_settings(params)))


def _ibsi_settings(params: TextureParams) -> dict[str, Any]:
    """Settings for :func:`pipeline.metrics.ibsi.extra_features` derived from the texture parameters.

    Fixed bin size (PET SUV): IBSI "continuous calibrated intensities" IVH, binned with the texture bin width from
    the same lower bound. Fixed bin number or an already discretised image: IVH on the discretised values.
    """
    if params.discretisation_method == "fbs":
        return {"ivh_mode": "continuous", "ivh_bin_width": params.bin_width, "ivh_lower": params.lower_bound}
    return {"ivh_mode": "discretised"}


def extract_texture(image: np.ndarray, mask: np.ndarray, spacing_xyz: Sequence[float],
                    params: TextureParams) -> list[FeatureValue]:
    """IBSI-coded features of one VOI.

    Parameters
    ----------
    image : numpy.ndarray
        Image (z, y, x), e.g. SUV (unitless) or HU.
    mask : numpy.ndarray of bool
        VOI on the image grid.
    spacing_xyz : tuple of float
        Voxel size (x, y, z) in mm.
    params : TextureParams
        Validated settings.

    Returns
    -------
    list of FeatureValue
        pyradiomics features (IBSI-mapped, plus the documented non-IBSI ones with an empty code) followed by the
        features of :mod:`pipeline.metrics.ibsi` if present; names are unique (a later duplicate is dropped).

    Raises
    ------
    TextureSkipped
        The VOI has fewer voxels than ``params.minimum_voi_voxels`` (after resampling).
    InvalidInputError
        Shape mismatch, non-finite values, values below the FBS lower bound, non-integer levels with method none.
    """
    image = np.asarray(image, dtype=np.float64)
    mask = np.asarray(mask, dtype=bool)
    if image.ndim != 3 or image.shape != mask.shape:
        raise InvalidInputError(f"image {image.shape} and mask {mask.shape} must be 3D arrays of the same shape")
    spacing = tuple(float(s) for s in spacing_xyz)
    if len(spacing) != 3 or min(spacing) <= 0:
        raise InvalidInputError(f"spacing must be three positive values (mm), got {spacing_xyz}")
    if params.resampling_enabled:
        image, mask, spacing = resample_isotropic(image, mask, spacing, params.resampling_spacing_mm,
                                                  params.mask_threshold)
    n_voxels = int(mask.sum())
    if n_voxels < params.minimum_voi_voxels:
        grid = f"{spacing[0]:g} mm grid" if params.resampling_enabled else "image grid"
        raise TextureSkipped(f"VOI has {n_voxels} voxels on the {grid}, fewer than minimum_voi_voxels "
                             f"{params.minimum_voi_voxels}")
    bins = discretise(image, mask, params)
    values = _pyradiomics_features(image, bins, mask, spacing, params)
    if params.extra_features:
        values += _extra_features(image, bins, mask, spacing, params)
    seen: set[str] = set()
    unique = []
    for v in values:
        if v.feature in seen:
            log.debug("duplicate feature %s dropped", v.feature)
            continue
        seen.add(v.feature)
        unique.append(v)
    return unique
