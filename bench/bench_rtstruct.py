"""Benchmark: RTSTRUCT to masks, petvoi vs rt-utils, on the same RTSTRUCT and image grid in one run.

Run:  .venv/bin/python bench/bench_rtstruct.py [--repeat 5]
(`pip install -e ".[bench]"` provides rt-utils.)

rt-utils rasterises on the image series the RTSTRUCT references, so both tools map the
contours onto that series' grid:

* ``synthetic CT``: a generated study (``generate_cohort``, 1 subject, seed 7): 14 ROIs drawn on
  the 256 x 256 x 104 CT.
* ``DRO_0_0``: ``../shared/data/oncoray_suv_dro/DRO_0_0``, one ROI drawn on the 256 x 256 x 20 PET.

Timed (best wall time of ``--repeat`` runs, after one warm-up run of each):

* ``end to end``: read the image series and the RTSTRUCT, then every ROI's mask. petvoi:
  ``load_ct`` (or ``load_pet``) for the grid + :func:`rtstruct_to_voiset`; rt-utils:
  ``RTStructBuilder.create_from`` + ``get_roi_mask_by_name`` for every ROI.
* ``masks only``: the series already in memory. petvoi: :func:`rtstruct_to_voiset` (which still
  reads the RTSTRUCT file); rt-utils: ``get_roi_mask_by_name`` for every ROI.

Target (issue): petvoi <= 0.5x rt-utils' time.

Correctness of the fill rule: a copy of the DRO RTSTRUCT gets extra ROIs on one PET plane,
``ring`` (outer circle radius 30 voxels, inner circle radius 15: a hole), ``pair`` (two
disjoint circles of radius 12) and ``ring_noref`` (the ring without the optional
ContourImageSequence, which rt-utils relies on to find a contour's slice). Each tool's mask
of that plane is compared with the voxel centres of the analytic shapes, away from the
boundaries (1 voxel margin), and the script prints which tool fills the ring's hole or
misses a circle of the pair.
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import io
import json
import sys
import tempfile
import time
import warnings
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pydicom
from pydicom.dataset import Dataset

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from pipeline.dicom.ct import load_ct  # noqa: E402
from pipeline.dicom.pet import load_pet  # noqa: E402
from pipeline.voi.rtstruct import rtstruct_to_voiset  # noqa: E402

DRO = REPO.parent / "shared" / "data" / "oncoray_suv_dro" / "DRO_0_0"


def best_time(fn: Callable[[], object], repeat: int) -> tuple[float, object]:
    """Best wall time (s) of ``repeat`` calls after one warm-up call, and the last result."""
    result = fn()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = fn()
        times.append(time.perf_counter() - start)
    return min(times), result


def quiet(fn: Callable[[], object]) -> Callable[[], object]:
    """rt-utils prints and warns; keep the table readable."""
    def run() -> object:
        with contextlib.redirect_stdout(io.StringIO()), warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return fn()
    return run


def rtutils_masks(series_dir: Path, rtstruct: Path) -> dict[str, np.ndarray]:
    """rt-utils end to end: (z, y, x) masks by ROI name."""
    from rt_utils import RTStructBuilder

    rt = RTStructBuilder.create_from(str(series_dir), str(rtstruct))
    return {name: np.transpose(rt.get_roi_mask_by_name(name), (2, 0, 1)) for name in rt.get_roi_names()}


def analytic_masks(truth_path: Path, geometry: object) -> dict[str, np.ndarray]:
    """Voxel centres of the grid inside each synthetic structure (the exact answer on the CT grid)."""
    from pipeline.synthetic.geometry import Shape

    truth = json.loads(truth_path.read_text("utf-8"))
    nz, ny, nx = geometry.shape
    k, j, i = np.meshgrid(np.arange(nz), np.arange(ny), np.arange(nx), indexing="ij")
    lps = geometry.index_to_lps(np.stack([i, j, k], axis=-1).reshape(-1, 3))
    out = {}
    for voi in truth["vois"]:
        g = voi["geometry"]
        shape = Shape(g["shape"], tuple(g["centre_lps_mm"]), tuple(g["semi_axes_mm"]), g["rotation_deg"])
        out[voi["name"]] = shape.contains(lps[:, 0], lps[:, 1], lps[:, 2]).reshape(nz, ny, nx)
    return out


def dice(a: np.ndarray, b: np.ndarray) -> float:
    """Dice coefficient of two boolean masks."""
    return 2 * np.count_nonzero(a & b) / max(np.count_nonzero(a) + np.count_nonzero(b), 1)


def compare(label: str, series_dir: Path, rtstruct: Path, grid_loader: Callable[[], tuple], repeat: int,
            truth_path: Path | None = None) -> None:
    """Time both tools on one series + RTSTRUCT and print ratios and mask agreement."""
    from rt_utils import RTStructBuilder

    def petvoi_end_to_end() -> object:
        geometry, frame = grid_loader()
        return rtstruct_to_voiset(rtstruct, geometry, frame_of_reference_uid=frame)

    t_pv, voiset = best_time(petvoi_end_to_end, repeat)
    t_rt, rt_masks = best_time(quiet(lambda: rtutils_masks(series_dir, rtstruct)), repeat)
    geometry, frame = grid_loader()
    t_pv_m, _ = best_time(lambda: rtstruct_to_voiset(rtstruct, geometry, frame_of_reference_uid=frame), repeat)
    rt = quiet(lambda: RTStructBuilder.create_from(str(series_dir), str(rtstruct)))()
    names = rt.get_roi_names()
    t_rt_m, _ = best_time(quiet(lambda: [rt.get_roi_mask_by_name(n) for n in names]), repeat)
    print(f"\n{label}: {len(voiset)} ROIs, grid (z, y, x) = {tuple(geometry.shape)}")
    print(f"  {'':12s} {'petvoi s':>9s} {'rt-utils s':>10s} {'ratio':>6s}")
    print(f"  {'end to end':12s} {t_pv:9.3f} {t_rt:10.3f} {t_pv / t_rt:6.2f}x   (target <= 0.5x)")
    print(f"  {'masks only':12s} {t_pv_m:9.3f} {t_rt_m:10.3f} {t_pv_m / t_rt_m:6.2f}x   (petvoi still reads and parses "
          "the RTSTRUCT; rt-utils' contour data is already parsed)")
    truth = analytic_masks(truth_path, geometry) if truth_path else {}
    head = f"  {'ROI':14s} {'petvoi':>9s} {'rt-utils':>9s} {'Dice p/r':>8s}"
    if truth:
        head += f" {'analytic':>9s} {'Dice p/a':>8s} {'Dice r/a':>8s} {'vol p %':>8s} {'vol r %':>8s}"
    print(head)
    for voi, mask in zip(voiset.vois, voiset.masks, strict=True):
        other = rt_masks[voi.name]
        n_p, n_r = np.count_nonzero(mask), np.count_nonzero(other)
        line = f"  {voi.name:14s} {n_p:9d} {n_r:9d} {dice(mask, other):8.4f}"
        if voi.name in truth:
            exact = truth[voi.name]
            n_a = np.count_nonzero(exact)
            line += (f" {n_a:9d} {dice(mask, exact):8.4f} {dice(other, exact):8.4f} {100 * (n_p - n_a) / n_a:+8.2f}"
                     f" {100 * (n_r - n_a) / n_a:+8.2f}")
        print(line)
    if truth:
        print("  (analytic: CT voxel centres inside the analytic shape; the contours lie on the CT slice planes, so a "
              "correct centre-rule rasteriser differs only in the sliver between the inscribed 64-gon and the shape)")


# ------------------------------------------------------------------------------------------- hole / multi-contour
def _circle(cx: float, cy: float, r: float, n: int = 180) -> np.ndarray:
    t = 2 * np.pi * np.arange(n) / n
    return np.column_stack([cx + r * np.cos(t), cy + r * np.sin(t)])


def _add_roi(ds: Dataset, number: int, name: str, polygons_xy_mm: list[np.ndarray], z_mm: float,
             image_uid: str, image_class: str, frame_uid: str, image_refs: bool = True) -> None:
    roi = Dataset()
    roi.ROINumber = number
    roi.ReferencedFrameOfReferenceUID = frame_uid
    roi.ROIName = name
    roi.ROIGenerationAlgorithm = "MANUAL"
    ds.StructureSetROISequence.append(roi)
    items = []
    for polygon in polygons_xy_mm:
        item = Dataset()
        ref = Dataset()
        ref.ReferencedSOPClassUID = image_class
        ref.ReferencedSOPInstanceUID = image_uid
        if image_refs:  # ContourImageSequence (3006,0016) is optional (type 3)
            item.ContourImageSequence = [ref]
        item.ContourGeometricType = "CLOSED_PLANAR"
        item.NumberOfContourPoints = len(polygon)
        item.ContourData = [f"{v:.4f}" for v in np.column_stack([polygon, np.full(len(polygon), z_mm)]).ravel()]
        items.append(item)
    contour = Dataset()
    contour.ReferencedROINumber = number
    contour.ROIDisplayColor = [255, 0, 0]
    contour.ContourSequence = items
    ds.ROIContourSequence.append(contour)
    obs = Dataset()
    obs.ObservationNumber = number
    obs.ReferencedROINumber = number
    obs.RTROIInterpretedType = "ORGAN"
    obs.ROIInterpreter = ""
    ds.RTROIObservationsSequence.append(obs)


def fill_rule_check(workdir: Path) -> None:
    """Ring (hole) and two disjoint contours on one DRO plane: which tool gets them right."""
    series = load_pet(DRO / "PT")
    geometry = series.geometry
    k = 10  # PET slice carrying the test contours
    header = next(h for h in series.headers if abs(float(h.ImagePositionPatient[2]) - geometry.index_to_lps(
        [0, 0, k])[2]) < 1e-3)
    source = next((DRO / "RS").glob("*.dcm"))
    ds = pydicom.dcmread(source)
    ds = copy.deepcopy(ds)
    frame = str(header.FrameOfReferenceUID)
    z_mm = float(geometry.index_to_lps([0, 0, k])[2])
    to_mm = float(geometry.spacing[0])
    origin = np.asarray(geometry.origin[:2])
    ring = [_circle(128 * to_mm + origin[0], 128 * to_mm + origin[1], 30.3 * to_mm),
            _circle(128 * to_mm + origin[0], 128 * to_mm + origin[1], 15.3 * to_mm)]
    pair = [_circle(90 * to_mm + origin[0], 128 * to_mm + origin[1], 12.3 * to_mm),
            _circle(166 * to_mm + origin[0], 128 * to_mm + origin[1], 12.3 * to_mm)]
    _add_roi(ds, 101, "ring", ring, z_mm, str(header.SOPInstanceUID), str(header.SOPClassUID), frame)
    _add_roi(ds, 102, "pair", pair, z_mm, str(header.SOPInstanceUID), str(header.SOPClassUID), frame)
    _add_roi(ds, 103, "ring_noref", ring, z_mm, str(header.SOPInstanceUID), str(header.SOPClassUID), frame,
             image_refs=False)
    edited = workdir / "RS_ring_pair.dcm"
    ds.save_as(edited)

    yy, xx = np.mgrid[0:geometry.shape[1], 0:geometry.shape[2]]
    r = np.hypot(xx - 128, yy - 128)
    r_left, r_right = np.hypot(xx - 90, yy - 128), np.hypot(xx - 166, yy - 128)
    cases = {
        "ring": {"filled": (r <= 29) & (r >= 16.5), "empty": (r <= 14) | (r >= 31.5), "hole": r <= 14},
        "pair": {"filled": (r_left <= 11) | (r_right <= 11),
                 "empty": (r_left >= 13.5) & (r_right >= 13.5), "hole": None},
    }
    names = ["ring", "pair", "ring_noref"]
    petvoi = rtstruct_to_voiset(edited, geometry, frame_of_reference_uid=frame, roi_names=names)
    tools = {"petvoi": {v.name: m[k] for v, m in zip(petvoi.vois, petvoi.masks, strict=True)}}
    from rt_utils import RTStructBuilder

    rt = quiet(lambda: RTStructBuilder.create_from(str(DRO / "PT"), str(edited)))()
    tools["rt-utils"] = {}
    for name in names:
        try:
            tools["rt-utils"][name] = quiet(lambda n=name: rt.get_roi_mask_by_name(n))()[:, :, k]
        except Exception as exc:  # noqa: BLE001  (report whatever rt-utils raises)
            tools["rt-utils"][name] = f"{type(exc).__name__}: {exc}"
    print("\nfill rule on one DRO plane (ring: circle r=30.3 with a hole r=15.3; pair: two disjoint circles r=12.3)")
    for tool, masks in tools.items():
        ring_mask, pair_mask = masks["ring"], masks["pair"]
        ring_hole = int(np.count_nonzero(ring_mask & cases["ring"]["hole"]))
        ring_ok = bool(ring_mask[cases["ring"]["filled"]].all() and not ring_mask[cases["ring"]["empty"]].any())
        left = bool(pair_mask[r_left <= 11].all())
        right = bool(pair_mask[r_right <= 11].all())
        pair_ok = left and right and not pair_mask[cases["pair"]["empty"]].any()
        print(f"  {tool:9s} ring: {'correct' if ring_ok else 'WRONG'} ({ring_hole} voxels filled in the hole, "
              f"{np.count_nonzero(ring_mask)} in total); pair: {'correct' if pair_ok else 'WRONG'} "
              f"(left circle {'filled' if left else 'missing'}, right circle {'filled' if right else 'missing'})")
        noref = masks["ring_noref"]
        if isinstance(noref, str):
            print(f"  {'':9s} ring without ContourImageSequence: FAILS ({noref})")
        else:
            noref_ok = bool(noref[cases["ring"]["filled"]].all() and not noref[cases["ring"]["empty"]].any())
            print(f"  {'':9s} ring without ContourImageSequence: {'correct' if noref_ok else 'WRONG'} "
                  f"({np.count_nonzero(noref)} voxels)")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    try:
        import rt_utils  # noqa: F401
    except ImportError:
        print("rt-utils is not installed: pip install -e '.[bench]' (or pip install rt-utils)")
        return 1
    from pipeline.synthetic import generate_cohort

    with tempfile.TemporaryDirectory() as tmp:
        workdir = Path(tmp)
        generate_cohort(workdir / "cohort", n_subjects=1, seed=7)
        study = next((workdir / "cohort" / "dicom").glob("*/baseline"))
        rtstruct = next((study / "RTSTRUCT").glob("*.dcm"))

        def ct_grid() -> tuple:
            _, geometry, headers = load_ct(study / "CT")
            return geometry, str(headers[0].FrameOfReferenceUID)

        compare("synthetic CT (RTSTRUCT drawn on the CT)", study / "CT", rtstruct, ct_grid, args.repeat,
                truth_path=study / "truth.json")
        if DRO.is_dir():
            def pet_grid() -> tuple:
                series = load_pet(DRO / "PT")
                return series.geometry, str(series.headers[0].FrameOfReferenceUID)

            compare("DRO_0_0 (RTSTRUCT drawn on the PET)", DRO / "PT", next((DRO / "RS").glob("*.dcm")), pet_grid,
                    args.repeat)
            fill_rule_check(workdir)
        else:
            print(f"\n{DRO} missing: DRO and fill-rule cases skipped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
