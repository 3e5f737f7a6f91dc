"""Benchmark: petvoi texture vs bare pyradiomics on the same VOIs, and the speed-up with 2 workers.

Run:  .venv/bin/python bench/bench_texture.py [--vois 16] [--repeat 2]

Workload: a noisy 4 mm SUV volume with ``--vois`` spherical lesions (about 500-4000 voxels each).
- bare pyradiomics: RadiomicsFeatureExtractor on each VOI's crop, discretised beforehand (fixed bin
  width 0.25 from 0) as petvoi does, the same feature classes, no resampling;
- petvoi, the same families only (``extra_features: false``), serial: the overhead ratio
  (target <= 1.1x);
- petvoi with every IBSI family (pyradiomics + pipeline.metrics.ibsi), 1 and 2 workers: the
  speed-up (target >= 1.7x on 2 cores).
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import numpy as np
import SimpleITK as sitk
import yaml

from pipeline.dicom.geometry import Geometry
from pipeline.metrics.texture import TextureParams
from pipeline.metrics.texture_stage import texture_rows
from pipeline.voi.catalogue import Voi, VoiSet

REPO = Path(__file__).resolve().parents[1]


def workload(n_vois: int, seed: int = 0) -> tuple[np.ndarray, VoiSet]:
    rng = np.random.default_rng(seed)
    shape = (120, 128, 128)
    geometry = Geometry(shape, (4.0, 4.0, 4.0), (0.0, 0.0, 0.0), np.eye(3))
    suv = rng.gamma(4.0, 0.25, size=shape)
    zz, yy, xx = np.indices(shape)
    items = []
    for i in range(n_vois):
        r = rng.uniform(5, 10)  # voxels: ~520 to ~4200 voxels
        c = rng.uniform(r + 2, np.array(shape) - r - 2)
        mask = (zz - c[0]) ** 2 + (yy - c[1]) ** 2 + (xx - c[2]) ** 2 <= r * r
        suv[mask] = rng.gamma(9.0, 0.6, size=int(mask.sum()))
        items.append((mask, Voi(0, f"lesion_{i + 1:02d}", "tumour", lesion_id=f"lesion_{i + 1:02d}")))
    return suv, VoiSet.from_masks(geometry, items)


def bare_pyradiomics(suv: np.ndarray, voiset: VoiSet) -> float:
    """pyradiomics on the same cropped VOIs petvoi sends to its workers (pre-discretised, bin width 1)."""
    from radiomics import featureextractor

    from pipeline.metrics.discretise import discretise_fbs
    from pipeline.metrics.texture_stage import _crop

    extractor = featureextractor.RadiomicsFeatureExtractor(binWidth=1, voxelArrayShift=0, symmetricalGLCM=True,
                                                           weightingNorm="no_weighting", gldm_a=0,
                                                           additionalInfo=False)
    extractor.disableAllFeatures()
    for cls in ("shape", "firstorder", "glcm", "glrlm", "glszm", "ngtdm", "gldm"):
        extractor.enableFeatureClassByName(cls)
    t0 = time.perf_counter()
    for mask in voiset.masks:
        crop_image, crop_mask = _crop(suv, mask, (4.0, 4.0, 4.0))
        binned = discretise_fbs(crop_image, crop_mask, 0.25, 0.0)
        image = sitk.GetImageFromArray(binned.astype(np.float64))
        image.SetSpacing((4.0, 4.0, 4.0))
        m = sitk.GetImageFromArray(crop_mask.astype(np.uint8))
        m.CopyInformation(image)
        extractor.execute(image, m)
    return time.perf_counter() - t0


def petvoi(suv: np.ndarray, voiset: VoiSet, extra: bool, workers: int) -> float:
    settings = yaml.safe_load((REPO / "configs" / "radiomics_pet.yaml").read_text())
    settings["resampling"]["enabled"] = False
    settings["extra_features"] = extra
    with tempfile.NamedTemporaryFile("w", suffix=".yaml", delete=False) as f:
        yaml.safe_dump(settings, f)
    params = TextureParams.from_yaml(Path(f.name))
    t0 = time.perf_counter()
    texture_rows(suv, voiset, (4.0, 4.0, 4.0), params, workers=workers)
    return time.perf_counter() - t0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--vois", type=int, default=16)
    parser.add_argument("--repeat", type=int, default=2)
    args = parser.parse_args()
    logging.getLogger("radiomics").setLevel(logging.ERROR)
    suv, voiset = workload(args.vois)
    sizes = [v.n_voxels for v in voiset.vois]
    print(f"{args.vois} VOIs of {min(sizes)}-{max(sizes)} voxels on a 4 mm grid; best of {args.repeat}")
    best = {}
    for name, run in (("bare pyradiomics", lambda: bare_pyradiomics(suv, voiset)),
                      ("petvoi, same families, 1 worker", lambda: petvoi(suv, voiset, False, 1)),
                      ("petvoi, all IBSI families, 1 worker", lambda: petvoi(suv, voiset, True, 1)),
                      ("petvoi, all IBSI families, 2 workers", lambda: petvoi(suv, voiset, True, 2))):
        best[name] = min(run() for _ in range(args.repeat))
        print(f"  {name:<40}{best[name]:8.2f} s")
    overhead = best["petvoi, same families, 1 worker"] / best["bare pyradiomics"]
    speedup = best["petvoi, all IBSI families, 1 worker"] / best["petvoi, all IBSI families, 2 workers"]
    print(f"overhead over bare pyradiomics: {overhead:.2f}x (target <= 1.1x)")
    print(f"speed-up with 2 workers: {speedup:.2f}x (target >= 1.7x)")


if __name__ == "__main__":
    main()
