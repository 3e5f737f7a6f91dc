"""Maximum-intensity projections (MIP) for the per-patient report.

Coronal (anterior view) and sagittal (left-lateral view) MIPs of an SUV volume on a
common SUV window, with tumour VOI outlines and lesion labels, rendered with the
matplotlib Agg backend into deterministic PNG bytes.

Display conventions (nuclear-medicine reading): inverted grey scale (high uptake
dark); coronal MIP seen from the front, so the patient's right is on the viewer's
left (R left, L right, S top, I bottom); sagittal MIP with anterior on the left
(A left, P right, S top, I bottom).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

import numpy as np
from matplotlib.figure import Figure

from ..dicom.geometry import Geometry

if TYPE_CHECKING:
    from ..voi.catalogue import VoiSet

__all__ = ["mip_images", "suv_window", "canonical_lps", "WINDOW_PERCENTILE"]

#: Percentile of the finite voxels of each SUV volume used for the default common window.
WINDOW_PERCENTILE = 99.5

#: Render resolution of the MIP figures (dots per inch). 100 dpi gives about 3 px per mm on A4 prints of
#: 85 mm wide panels; higher adds cost without visible gain for 2-4 mm PET voxels.
MIP_DPI = 100

_PNG_METADATA = {"Software": None, "Date": None}


def suv_window(volumes: Iterable[np.ndarray], configured: float | None = None) -> tuple[float, str]:
    """Common upper SUV of the MIP window over the timepoints of one patient.

    Parameters
    ----------
    volumes : iterable of numpy.ndarray
        SUV volumes (g/mL, unitless in reports), one per timepoint.
    configured : float, optional
        Fixed upper SUV (e.g. 10 for peptides); when given and > 0 it is used as is.

    Returns
    -------
    (float, str)
        The upper SUV ``vmax`` (the lower bound is 0) and the rule that gave it.
    """
    if configured is not None and float(configured) > 0:
        return float(configured), f"configured upper SUV {float(configured):g} (report.mip_suv_max)"
    values = []
    for volume in volumes:
        finite = np.asarray(volume)[np.isfinite(volume)]
        if finite.size:
            values.append(float(np.percentile(finite, WINDOW_PERCENTILE)))
    vmax = max(values) if values else 1.0
    if not vmax > 0:
        vmax = 1.0
    return vmax, (f"maximum over timepoints of the {WINDOW_PERCENTILE:g}th percentile of all finite voxels "
                  f"of the SUV volume")


def canonical_lps(array_zyx: np.ndarray, geometry: Geometry) -> tuple[np.ndarray, tuple[float, float, float]]:
    """Reorder a (z, y, x) array so its axes run (S, P, L): axis 0 to superior, 1 to posterior, 2 to left.

    Oblique grids are assigned to the nearest patient axis (for display only).

    Returns
    -------
    (numpy.ndarray, (float, float, float))
        The reordered view (axes ordered superior, posterior, left; increasing index towards S, P and L)
        and the voxel size in mm along (L, P, S).
    """
    direction = np.asarray(geometry.direction, dtype=float).reshape(3, 3)
    lps_of_index = [int(np.argmax(np.abs(direction[:, k]))) for k in range(3)]  # index axis k = x, y, z
    if sorted(lps_of_index) != [0, 1, 2]:
        raise ValueError(f"cannot map the grid direction {direction.tolist()} onto patient axes")
    order = []
    flips = []
    spacing_lps = [0.0, 0.0, 0.0]
    for lps_axis in (2, 1, 0):  # S, P, L
        k = lps_of_index.index(lps_axis)
        order.append(2 - k)  # array axis of index axis k in a (z, y, x) array
        flips.append(direction[lps_axis, k] < 0)
        spacing_lps[lps_axis] = float(geometry.spacing[k])
    out = np.transpose(array_zyx, order + list(range(3, array_zyx.ndim)))
    for axis, flip in enumerate(flips):
        if flip:
            out = np.flip(out, axis=axis)
    return out, (spacing_lps[0], spacing_lps[1], spacing_lps[2])


def _render(image: np.ndarray, outlines: Sequence[tuple[str, np.ndarray]], *, width_mm: float, height_mm: float,
            vmax: float, labels: bool, left: str, right: str, title: str) -> bytes:
    """One projection: rows bottom (inferior) to top (superior), columns left to right as displayed."""
    extent = (0.0, width_mm, 0.0, height_mm)
    fig_w = 3.4
    fig_h = min(max(fig_w * height_mm / max(width_mm, 1e-6) * 0.82 + 0.5, 2.0), 6.0)
    fig = Figure(figsize=(fig_w, fig_h), dpi=MIP_DPI)
    ax = fig.add_axes((0.06, 0.06, 0.7, 0.86))
    cax = fig.add_axes((0.82, 0.15, 0.04, 0.68))
    shown = ax.imshow(image, cmap="gray_r", vmin=0.0, vmax=vmax, origin="lower", extent=extent, aspect="equal",
                      interpolation="nearest")
    for name, mask in outlines:
        if not mask.any():
            continue
        ax.contour(mask.astype(np.float32), levels=[0.5], colors=["#d62728"], linewidths=0.8, origin="lower",
                   extent=extent)
        if labels:
            rows, cols = np.nonzero(mask)
            y = (rows.mean() + 0.5) * height_mm / mask.shape[0]
            x = (cols.mean() + 0.5) * width_mm / mask.shape[1]
            ax.text(x, y, name, color="#d62728", fontsize=6, ha="left", va="bottom",
                    bbox={"boxstyle": "round,pad=0.1", "fc": "white", "ec": "none", "alpha": 0.6})
    ax.set_xticks([])
    ax.set_yticks([])
    style: dict[str, Any] = {"fontsize": 8, "fontweight": "bold", "color": "#1f4e79"}
    ax.text(0.02, 0.5, left, transform=ax.transAxes, ha="left", va="center", **style)
    ax.text(0.98, 0.5, right, transform=ax.transAxes, ha="right", va="center", **style)
    ax.text(0.5, 0.98, "S", transform=ax.transAxes, ha="center", va="top", **style)
    ax.text(0.5, 0.02, "I", transform=ax.transAxes, ha="center", va="bottom", **style)
    ax.set_title(title, fontsize=8)
    bar = fig.colorbar(shown, cax=cax)
    ticks = np.linspace(0.0, vmax, 5)
    bar.set_ticks(ticks)  # type: ignore[arg-type]  # the stub wants a Sequence; an array works
    bar.set_ticklabels([f"{t:.3g}" for t in ticks])
    bar.ax.tick_params(labelsize=6)
    bar.set_label(f"SUV, window 0-{vmax:.3g}", fontsize=7)
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=MIP_DPI, metadata=_PNG_METADATA)
    return buffer.getvalue()


def mip_images(suv: np.ndarray, geometry: Geometry, voiset: VoiSet | None, *, vmax: float, labels: bool = True,
               title: str = "") -> dict[str, bytes]:
    """Coronal and sagittal MIPs of an SUV volume as PNG bytes.

    Parameters
    ----------
    suv : numpy.ndarray
        SUV volume (z, y, x), g/mL (unitless in reports), on ``geometry``.
    geometry : Geometry
        Grid of ``suv`` (LPS); the display is reoriented to the patient axes and the pixel
        aspect follows the voxel spacing.
    voiset : VoiSet or None
        VOIs on the same grid; tumour VOIs (``kind == "tumour"``) are outlined (contour of the
        projected mask) and labelled with their ``lesion_id`` (else the VOI name) at the
        centroid of the projected mask.
    vmax : float
        Upper SUV of the common window (the lower bound is 0); shown on the colour bar.
    labels : bool
        Draw the lesion labels.
    title : str
        Prefix of the panel titles (e.g. the timepoint).

    Returns
    -------
    dict
        ``{"coronal": png_bytes, "sagittal": png_bytes}``; identical inputs give identical bytes.
    """
    if not vmax > 0:
        raise ValueError(f"vmax must be > 0, got {vmax!r}")
    volume = np.nan_to_num(np.asarray(suv, dtype=np.float32), nan=0.0, posinf=0.0, neginf=0.0)
    canon, (s_l, s_p, s_s) = canonical_lps(volume, geometry)  # (S, P, L)
    n_s, n_p, n_l = canon.shape
    coronal = canon.max(axis=1)  # (S, L): rows inferior->superior, columns right->left as displayed (R on left)
    sagittal = canon.max(axis=2)  # (S, P): columns anterior->posterior (A on left)
    outlines_cor: list[tuple[str, np.ndarray]] = []
    outlines_sag: list[tuple[str, np.ndarray]] = []
    if voiset is not None:
        masks = np.asarray(voiset.masks, dtype=bool)
        for index, voi in enumerate(voiset.vois):
            if voi.kind != "tumour":
                continue
            mask, _ = canonical_lps(masks[index], geometry)
            name = voi.lesion_id or voi.name
            outlines_cor.append((name, np.any(mask, axis=1)))
            outlines_sag.append((name, np.any(mask, axis=2)))
    prefix = f"{title} " if title else ""
    return {
        "coronal": _render(coronal, outlines_cor, width_mm=n_l * s_l, height_mm=n_s * s_s, vmax=vmax, labels=labels,
                           left="R", right="L", title=f"{prefix}coronal MIP (anterior view)"),
        "sagittal": _render(sagittal, outlines_sag, width_mm=n_p * s_p, height_mm=n_s * s_s, vmax=vmax,
                            labels=labels, left="A", right="P", title=f"{prefix}sagittal MIP (left view)"),
    }
