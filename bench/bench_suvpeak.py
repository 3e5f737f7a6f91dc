"""Benchmark: SUVpeak of 50 VOIs on a whole-body-sized volume, global and local, and the whole uptake table.

Run:  .venv/bin/python bench/bench_suvpeak.py [--shape 400 200 200] [--voxel 4] [--lesions 44] [--no-body]
      [--method centre|fraction] [--repeat 3]

The image is a synthetic whole-body SUV volume (z, y, x) with a body outline, liver, spleen, two
kidneys, an aorta and ``--lesions`` spherical lesions (5-30 mm diameter), plus 5 % noise; the VOI
set is the body (unless ``--no-body``), the organs and the lesions (50 VOIs by default). Printed:
the kernel, the best wall time of ``--repeat`` calls of ``suv_peaks`` (global and local; the masks
are cropped inside the call), of the correlation alone over the whole image for both engines, and of
``uptake_table``; and the peak memory allocated during each call (tracemalloc, numpy buffers
included) next to the size of the float32 image and of the masks. Target (issue): global SUVpeak of
all 50 VOIs < 1 s.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc
from collections.abc import Callable
from typing import Any

import numpy as np

from pipeline.dicom.geometry import Geometry
from pipeline.metrics.peak import peak_kernel, sphere_means, suv_peaks
from pipeline.metrics.uptake import uptake_table
from pipeline.voi.catalogue import Voi, VoiSet


def phantom(shape: tuple[int, int, int], voxel: float, n_lesions: int, body: bool,
            seed: int = 1) -> tuple[np.ndarray, Geometry, VoiSet]:
    """A synthetic whole-body SUV image and its VOI set."""
    rng = np.random.default_rng(seed)
    nz, ny, nx = shape
    geometry = Geometry(shape, (voxel, voxel, voxel), (-(nx - 1) * voxel / 2, -(ny - 1) * voxel / 2, 0.0), np.eye(3))
    z = (np.arange(nz) * voxel)[:, None, None]
    y = ((np.arange(ny) - (ny - 1) / 2) * voxel)[None, :, None]
    x = ((np.arange(nx) - (nx - 1) / 2) * voxel)[None, None, :]
    length = nz * voxel

    def ellipsoid(cx: float, cy: float, cz: float, a: float, b: float, c: float) -> np.ndarray:
        return ((x - cx) / a) ** 2 + ((y - cy) / b) ** 2 + ((z - cz) / c) ** 2 <= 1.0

    outline = np.broadcast_to(((x / (0.45 * nx * voxel)) ** 2 + (y / (0.35 * ny * voxel)) ** 2) <= 1.0, shape).copy()
    outline[: max(1, nz // 40)] = False
    organs = {
        "liver": (ellipsoid(-0.12 * nx * voxel, 0.0, 0.62 * length, 0.16 * nx * voxel, 0.12 * ny * voxel,
                            0.06 * length), 2.0),
        "spleen": (ellipsoid(0.15 * nx * voxel, 0.08 * ny * voxel, 0.64 * length, 0.06 * nx * voxel,
                             0.05 * ny * voxel, 0.04 * length), 1.8),
        "kidney_left": (ellipsoid(0.12 * nx * voxel, 0.15 * ny * voxel, 0.55 * length, 0.04 * nx * voxel,
                                  0.04 * ny * voxel, 0.03 * length), 4.0),
        "kidney_right": (ellipsoid(-0.12 * nx * voxel, 0.15 * ny * voxel, 0.55 * length, 0.04 * nx * voxel,
                                   0.04 * ny * voxel, 0.03 * length), 4.0),
        "aorta": (np.broadcast_to(((x - 0.03 * nx * voxel) ** 2 + (y - 0.1 * ny * voxel) ** 2 <= 12.0 ** 2)
                                  & (z > 0.45 * length) & (z < 0.8 * length), shape).copy(), 1.5),
    }
    suv = np.where(outline, 0.8, 0.0).astype(np.float32)
    items: list[tuple[np.ndarray, Voi]] = []
    if body:
        items.append((outline, Voi(0, "body", "body", organ="body")))
    for name, (mask, value) in organs.items():
        suv[mask] = value
        kind = "reference" if name in ("liver", "aorta") else "organ"
        items.append((mask, Voi(0, name, kind, organ=name)))
    for k in range(n_lesions):
        radius = rng.uniform(2.5, 15.0)
        cx, cy = rng.uniform(-0.3, 0.3) * nx * voxel, rng.uniform(-0.2, 0.2) * ny * voxel
        cz = rng.uniform(0.1, 0.9) * length
        mask = ellipsoid(cx, cy, cz, radius, radius, radius) & outline
        if not mask.any():
            mask = np.zeros(shape, dtype=bool)
            iz, iy, ix = (int(cz / voxel), int((cy / voxel) + (ny - 1) / 2), int((cx / voxel) + (nx - 1) / 2))
            mask[iz, iy, ix] = True
        suv[mask] = rng.uniform(3.0, 15.0)
        items.append((mask, Voi(0, f"lesion_{k + 1:02d}", "tumour", lesion_id=f"lesion_{k + 1:02d}")))
    suv *= (1.0 + 0.05 * rng.standard_normal(shape)).astype(np.float32)
    return suv, geometry, VoiSet.from_masks(geometry, items)


def measure(fn: Callable[[], Any], repeat: int) -> tuple[float, float, Any]:
    """Best wall time (s) of ``repeat`` calls, peak traced allocation (MB) of one call, and its result."""
    best = float("inf")
    result = None
    for _ in range(repeat):
        t0 = time.perf_counter()
        result = fn()
        best = min(best, time.perf_counter() - t0)
    tracemalloc.start()
    tracemalloc.reset_peak()
    fn()
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    return best, peak / 1e6, result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--shape", type=int, nargs=3, default=(400, 200, 200), metavar=("Z", "Y", "X"))
    parser.add_argument("--voxel", type=float, default=4.0, help="isotropic voxel size (mm)")
    parser.add_argument("--lesions", type=int, default=44)
    parser.add_argument("--no-body", action="store_true", help="leave the body outline out of the VOI set")
    parser.add_argument("--method", choices=("centre", "fraction"), default="centre")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()

    shape = tuple(args.shape)
    suv, geometry, voiset = phantom(shape, args.voxel, args.lesions, not args.no_body)  # type: ignore[arg-type]
    kernel = peak_kernel(geometry.spacing, method=args.method)
    print(f"image {shape} (z, y, x) at {args.voxel:g} mm: float32 {suv.nbytes / 1e6:.0f} MB; "
          f"{len(voiset)} VOIs, masks {voiset.masks.nbytes / 1e6:.0f} MB")
    print(f"kernel {args.method}: {kernel.n_voxels} voxels, {kernel.weights.shape} box, "
          f"{kernel.volume_ml:.4f} mL effective")

    rows = []
    for mode in ("global", "local"):
        t, mem, results = measure(lambda m=mode: suv_peaks(suv, geometry, voiset.masks, mode=m, kernel=kernel),
                                  args.repeat)
        rows.append((f"suv_peaks {mode}, {len(voiset)} VOIs", t, mem))
        if mode == "global":
            global_values = [r.value for r in results]
        else:
            assert all(g >= loc - 1e-9 for g, loc in zip(global_values, (r.value for r in results), strict=True))
    for engine in ("direct", "fft"):
        t, mem, _ = measure(lambda e=engine: sphere_means(suv, kernel, engine=e), 1)
        rows.append((f"sphere_means whole image, {engine}", t, mem))
    t, mem, table = measure(lambda: uptake_table(suv, geometry, voiset, kernel=kernel), args.repeat)
    rows.append((f"uptake_table, {len(voiset)} VOIs", t, mem))

    width = max(len(r[0]) for r in rows)
    print(f"{'call':<{width}}  {'best s':>8}  {'peak MB':>8}")
    for name, t, mem in rows:
        print(f"{name:<{width}}  {t:8.3f}  {mem:8.0f}")
    global_t = rows[0][1]
    print(f"target global SUVpeak of {len(voiset)} VOIs < 1 s: {'met' if global_t < 1.0 else 'NOT met'} "
          f"({global_t:.3f} s)")
    print(f"liver reference SUVmean {table.loc[table['name'] == 'liver', 'suv_mean'].item():.3f}, "
          f"largest lesion SUVpeak {table.loc[table['kind'] == 'tumour', 'suv_peak'].max():.3f}")


if __name__ == "__main__":
    main()
