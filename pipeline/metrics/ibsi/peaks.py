"""IBSI local intensity features: local (VJGA) and global (0F91) intensity peak.

The mean intensity in a sphere of 1 cm³ (radius 6.2035 mm) holding the voxels whose centres lie within the
radius of the centre voxel's centre, taken over the whole image, inside the ROI or not:

- local intensity peak: centred on the ROI voxel of maximum intensity; when several voxels share the
  maximum, the highest of their sphere means;
- global intensity peak: the highest sphere mean over all centres at ROI voxels.

The sphere means come from :func:`pipeline.metrics.peak.sphere_means` (the SUVpeak kernel of the uptake
stage, "centre" inclusion), so ``local_intensity_global_intensity_peak_3D`` equals the uptake table's
global SUVpeak. Near the image border the voxels outside the image are left out and the mean is taken
over those inside, as IBSI's digital-phantom values (2.6 and 3.1 on a 5 x 4 x 4 image) require.
"""

from __future__ import annotations

from ..peak import peak_kernel, sphere_means
from ._common import FeatureValue, IbsiParams, Inputs, feature

__all__ = ["intensity_peaks", "local_intensity"]

FAMILY = "local_intensity"


def intensity_peaks(inputs: Inputs, radius_mm: float) -> tuple[float, float]:
    """Local and global intensity peak (image units) of the ROI."""
    kernel = peak_kernel(tuple(inputs.spacing_zyx[::-1]), radius_mm=radius_mm, method="centre")
    means = sphere_means(inputs.image, kernel)
    roi_means = means[inputs.mask]
    values = inputs.values
    local = float(roi_means[values == values.max()].max())
    return local, float(roi_means.max())


def local_intensity(inputs: Inputs, params: IbsiParams) -> list[FeatureValue]:
    """Local (VJGA) and global (0F91) intensity peak."""
    local, global_ = intensity_peaks(inputs, params.peak_radius_mm)
    return [feature(FAMILY, "local_intensity_peak", local), feature(FAMILY, "global_intensity_peak", global_)]
