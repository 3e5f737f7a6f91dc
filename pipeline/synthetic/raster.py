"""Axial image grids and rasterisation of analytic shapes onto them.

A voxel belongs to a shape when its *centre* is inside or on the surface. Shapes
are painted in order, so a later shape overrides an earlier one; the phantom orders
them body, organs, lesions, which gives the precedence lesions > organs > body.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from .geometry import Shape

__all__ = ["Grid", "rasterise"]


@dataclass(frozen=True)
class Grid:
    """An axial image grid (orientation [1,0,0,0,1,0]); arrays are (z, y, x).

    Attributes
    ----------
    shape : tuple of int
        (n_z, n_y, n_x).
    spacing : tuple of float
        Voxel size (dz, dy, dx) in mm.
    origin : tuple of float
        LPS position (x, y, z) in mm of the centre of voxel [0, 0, 0].
    """

    shape: tuple[int, int, int]
    spacing: tuple[float, float, float]
    origin: tuple[float, float, float]

    @classmethod
    def centred(cls, shape: tuple[int, int, int], spacing: tuple[float, float, float]) -> Grid:
        """A grid whose centre is the LPS origin."""
        origin = tuple(-(n - 1) * d / 2.0 for n, d in zip(shape[::-1], spacing[::-1], strict=True))
        return cls(shape, spacing, origin)  # type: ignore[arg-type]

    def axis(self, dim: int) -> NDArray[np.float64]:
        """Voxel-centre coordinates (mm) along x (dim 0), y (1) or z (2)."""
        n = self.shape[2 - dim]
        return self.origin[dim] + self.spacing[2 - dim] * np.arange(n, dtype=np.float64)

    @property
    def voxel_volume_ml(self) -> float:
        """Voxel volume in mL."""
        return math.prod(self.spacing) / 1000.0

    def index_range(self, dim: int, low: float, high: float) -> slice:
        """Slice of voxel indices along ``dim`` whose centres may lie in [low, high] mm."""
        step, first, n = self.spacing[2 - dim], self.origin[dim], self.shape[2 - dim]
        start = max(int(math.floor((low - first) / step)), 0)
        stop = min(int(math.ceil((high - first) / step)) + 1, n)
        return slice(start, max(start, stop))

    def to_dict(self) -> dict[str, list[float] | list[int]]:
        """JSON-ready description."""
        return {"shape_zyx": list(self.shape), "spacing_zyx_mm": list(self.spacing),
                "origin_lps_mm": list(self.origin)}


def rasterise(shapes: Sequence[Shape], grid: Grid) -> tuple[NDArray[np.int16], NDArray[np.int64]]:
    """Paint shapes onto ``grid`` with labels 1..N in order (later shapes win).

    Parameters
    ----------
    shapes : sequence of Shape
        Shapes in increasing precedence.
    grid : Grid
        Target grid.

    Returns
    -------
    labels : ndarray of int16, shape (z, y, x)
        0 outside every shape, else the 1-based index of the owning shape.
    whole_counts : ndarray of int64, shape (N,)
        Voxels whose centre lies inside each shape, ignoring precedence.
    """
    labels = np.zeros(grid.shape, dtype=np.int16)
    whole_counts = np.zeros(len(shapes), dtype=np.int64)
    for index, shape in enumerate(shapes):
        low, high = shape.bounds()
        sx, sy, sz = (grid.index_range(d, low[d], high[d]) for d in range(3))
        x = grid.axis(0)[sx][None, None, :]
        y = grid.axis(1)[sy][None, :, None]
        z = grid.axis(2)[sz][:, None, None]
        mask = shape.contains(x, y, z)
        whole_counts[index] = int(np.count_nonzero(mask))
        labels[sz, sy, sx][mask] = index + 1
    return labels, whole_counts
