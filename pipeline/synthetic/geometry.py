"""Analytic shapes of the phantom: ellipsoids and elliptic cylinders in LPS millimetres.

Every shape has an axis along patient z (superior) and may be rotated in the axial
plane by ``rotation_deg`` (from +x = patient left towards +y = posterior). A shape is
described by its centre, its semi-axes ``(a, b, c)`` in mm (``a`` along the rotated
x', ``b`` along the rotated y', ``c`` along z; for a cylinder ``c`` is half its
height) and its kind. Points are inside when their *level* is at most 1.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["Shape"]

ShapeKind = Literal["ellipsoid", "elliptic_cylinder"]


@dataclass(frozen=True)
class Shape:
    """An ellipsoid or elliptic cylinder with its axis along z.

    Attributes
    ----------
    kind : {"ellipsoid", "elliptic_cylinder"}
        Shape type.
    centre : tuple of float
        Centre (x, y, z) in LPS mm.
    semi_axes : tuple of float
        Semi-axes (a, b, c) in mm; ``c`` is the half-height of a cylinder.
    rotation_deg : float
        In-plane rotation in degrees, from +x towards +y.
    """

    kind: ShapeKind
    centre: tuple[float, float, float]
    semi_axes: tuple[float, float, float]
    rotation_deg: float = 0.0

    def _local(self, x: ArrayLike, y: ArrayLike) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        theta = math.radians(self.rotation_deg)
        cos_t, sin_t = math.cos(theta), math.sin(theta)
        dx = np.asarray(x, dtype=np.float64) - self.centre[0]
        dy = np.asarray(y, dtype=np.float64) - self.centre[1]
        return cos_t * dx + sin_t * dy, -sin_t * dx + cos_t * dy

    def level(self, x: ArrayLike, y: ArrayLike, z: ArrayLike) -> NDArray[np.float64]:
        """Return the implicit level of points (broadcast): <= 1 inside, 1 on the surface.

        Parameters
        ----------
        x, y, z : array_like
            LPS coordinates in mm; broadcast against each other.
        """
        u, v = self._local(x, y)
        a, b, c = self.semi_axes
        in_plane = (u / a) ** 2 + (v / b) ** 2
        axial = ((np.asarray(z, dtype=np.float64) - self.centre[2]) / c) ** 2
        if self.kind == "ellipsoid":
            return in_plane + axial
        return np.maximum(in_plane, axial)

    def contains(self, x: ArrayLike, y: ArrayLike, z: ArrayLike) -> NDArray[np.bool_]:
        """Return whether points (LPS mm, broadcast) are inside or on the surface."""
        return self.level(x, y, z) <= 1.0

    def section_semi_axes(self, z: float) -> tuple[float, float] | None:
        """Semi-axes (mm) of the axial cross-section at height ``z`` mm, or None if empty."""
        a, b, c = self.semi_axes
        t = (z - self.centre[2]) / c
        if self.kind == "ellipsoid":
            if abs(t) >= 1.0:
                return None
            k = math.sqrt(1.0 - t * t)
            return a * k, b * k
        return (a, b) if abs(t) <= 1.0 else None

    def section_polygon(self, z: float, n_points: int) -> NDArray[np.float64] | None:
        """Vertices of the cross-section at ``z`` (n_points x 3, LPS mm) lying on the surface.

        Returns None where the shape does not intersect the plane.
        """
        axes = self.section_semi_axes(z)
        if axes is None:
            return None
        t = 2.0 * np.pi * np.arange(n_points) / n_points
        u, v = axes[0] * np.cos(t), axes[1] * np.sin(t)
        theta = math.radians(self.rotation_deg)
        x = self.centre[0] + math.cos(theta) * u - math.sin(theta) * v
        y = self.centre[1] + math.sin(theta) * u + math.cos(theta) * v
        return np.column_stack([x, y, np.full(n_points, float(z))])

    def bounds(self) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
        """Axis-aligned bounding box (min xyz, max xyz) in LPS mm."""
        a, b, c = self.semi_axes
        theta = math.radians(self.rotation_deg)
        half_x = math.hypot(a * math.cos(theta), b * math.sin(theta))
        half_y = math.hypot(a * math.sin(theta), b * math.cos(theta))
        half = np.array([half_x, half_y, c])
        centre = np.asarray(self.centre, dtype=np.float64)
        return centre - half, centre + half

    def volume_ml(self) -> float:
        """Analytic volume in mL."""
        a, b, c = self.semi_axes
        factor = 4.0 / 3.0 if self.kind == "ellipsoid" else 2.0
        return factor * math.pi * a * b * c / 1000.0

    def surface_points(self, n_points: int = 256) -> NDArray[np.float64]:
        """Points spread over the surface (n_points x 3, LPS mm), Fibonacci lattice."""
        k = np.arange(n_points) + 0.5
        cos_polar = 1.0 - 2.0 * k / n_points
        sin_polar = np.sqrt(1.0 - cos_polar**2)
        azimuth = np.pi * (1.0 + 5.0**0.5) * k
        a, b, c = self.semi_axes
        u, v, w = a * sin_polar * np.cos(azimuth), b * sin_polar * np.sin(azimuth), c * cos_polar
        if self.kind == "elliptic_cylinder":  # wall points on the cylinder at the same heights
            u, v = a * np.cos(azimuth), b * np.sin(azimuth)
        theta = math.radians(self.rotation_deg)
        x = self.centre[0] + math.cos(theta) * u - math.sin(theta) * v
        y = self.centre[1] + math.sin(theta) * u + math.cos(theta) * v
        return np.column_stack([x, y, self.centre[2] + w])

    def scaled(self, factor: float) -> Shape:
        """The same shape with all semi-axes multiplied by ``factor`` (same centre)."""
        a, b, c = self.semi_axes
        return replace(self, semi_axes=(a * factor, b * factor, c * factor))

    def inflated(self, margin_mm: float) -> Shape:
        """The same shape with ``margin_mm`` added to every semi-axis."""
        a, b, c = self.semi_axes
        return replace(self, semi_axes=(a + margin_mm, b + margin_mm, c + margin_mm))

    def axial_diameters_mm(self) -> tuple[float, float]:
        """Longest and shortest diameter (mm) of the largest axial cross-section."""
        a, b, _ = self.semi_axes
        return 2.0 * max(a, b), 2.0 * min(a, b)

    def to_dict(self) -> dict[str, object]:
        """JSON-ready description (mm, degrees)."""
        return {
            "shape": self.kind,
            "centre_lps_mm": list(self.centre),
            "semi_axes_mm": list(self.semi_axes),
            "rotation_deg": self.rotation_deg,
        }
