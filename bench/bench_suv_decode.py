"""Benchmark: decode + SUV of a 400-slice 200x200 PET series, petvoi vs SimpleITK and dcm2niix.

Run:  .venv/bin/python bench/bench_suv_decode.py [--slices 400] [--size 200] [--repeat 3]
(`pip install -e ".[bench]"` provides dcm2niix.)

Every tool reads the same files in its own subprocess; the script prints the best wall time of
``--repeat`` runs, the ratio to petvoi, and the peak resident-memory increase of the run over the
process's memory after its imports (VmHWM reset through /proc/self/clear_refs), next to the size of
the float32 volume. Targets (issue 3): petvoi <= 1.0x SimpleITK's time, <= 2x dcm2niix's, peak
memory <= 3x the float32 volume.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pydicom

RUNNER = r'''
import json, sys, time
from pathlib import Path

def rss_kb(field):
    for line in open("/proc/self/status"):
        if line.startswith(field):
            return int(line.split()[1])

tool, folder, out, repeat = sys.argv[1], Path(sys.argv[2]), Path(sys.argv[3]), int(sys.argv[4])
if tool.startswith("petvoi"):
    import numpy as np
    from pipeline.dicom.pet import load_pet, read_volume
    from pipeline.dicom.geometry import write_nifti
    from pipeline.suv.factors import SuvOptions, compute_suv
    def run():
        series = load_pet(folder, workers=4)
        result = compute_suv(series.headers, series.frames, SuvOptions(), source=str(folder))
        volume = read_volume(series, np.asarray(result.factors))
        if tool == "petvoi+nifti":
            write_nifti(out / "suv.nii", volume, series.geometry)
        return volume.shape
elif tool == "simpleitk":
    import SimpleITK as sitk
    def run():
        reader = sitk.ImageSeriesReader()
        reader.SetFileNames(reader.GetGDCMSeriesFileNames(str(folder)))
        reader.SetOutputPixelType(sitk.sitkFloat32)
        image = reader.Execute()
        return image.GetSize()
elif tool == "dcm2niix":
    import subprocess, shutil
    exe = shutil.which("dcm2niix") or str(Path(sys.executable).with_name("dcm2niix"))
    def run():
        subprocess.run([exe, "-z", "n", "-b", "n", "-o", str(out), "-f", "pet", str(folder)],
                       check=True, capture_output=True)
        return None
else:
    raise SystemExit(f"unknown tool {tool}")

open("/proc/self/clear_refs", "w").write("5")  # reset the peak-RSS mark after imports
base = rss_kb("VmRSS:")
times = []
for _ in range(repeat):
    t0 = time.perf_counter()
    run()
    times.append(time.perf_counter() - t0)
peak = rss_kb("VmHWM:") - base
if tool == "dcm2niix":  # the work happens in a child process: its own peak RSS
    import resource
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps({"tool": tool, "best_s": min(times), "peak_increase_mb": peak / 1024.0}))
'''


def make_series(folder: Path, n_slices: int, size: int, seed: int = 0) -> None:
    """Write an ``n_slices`` x ``size`` x ``size`` PET series (per-slice slopes) from a synthetic template."""
    from pipeline.synthetic import generate_cohort

    with tempfile.TemporaryDirectory() as tmp:
        generate_cohort(Path(tmp), n_subjects=1, seed=seed)
        template = pydicom.dcmread(sorted((Path(tmp) / "dicom/P01/baseline/PT").glob("*.dcm"))[40])
    rng = np.random.default_rng(seed)
    yy, xx = np.mgrid[:size, :size]
    body = ((xx - size / 2) / (0.45 * size)) ** 2 + ((yy - size / 2) / (0.3 * size)) ** 2 < 1.0
    folder.mkdir(parents=True, exist_ok=True)
    uid_root = pydicom.uid.generate_uid(entropy_srcs=[str(seed), "bench"])[:40]
    for i in range(n_slices):
        ds = template.copy()
        activity = body * (5000.0 + 2000.0 * np.sin(i / 25.0)) * (1.0 + 0.1 * rng.standard_normal((size, size)))
        slope = float(activity.max()) / 30000.0
        ds.Rows = ds.Columns = size
        ds.ImagePositionPatient = [-size * 2.0, -size * 2.0, i * 2.0]
        ds.PixelSpacing = [4.0, 4.0]
        ds.SliceThickness = 2.0
        ds.InstanceNumber = i + 1
        ds.ImageIndex = i + 1
        ds.SOPInstanceUID = f"{uid_root}.{i + 1}"
        ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        ds.RescaleSlope = f"{slope:.8g}"
        ds.PixelData = np.rint(activity / float(ds.RescaleSlope)).astype(np.int16).tobytes()
        ds.save_as(folder / f"PT_{i + 1:04d}.dcm", enforce_file_format=True)


def run_tool(tool: str, folder: Path, repeat: int) -> dict:
    with tempfile.TemporaryDirectory() as out:
        proc = subprocess.run([sys.executable, "-c", RUNNER, tool, str(folder), out, str(repeat)],
                              capture_output=True, text=True, check=False)
    if proc.returncode != 0:
        return {"tool": tool, "error": proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed"}
    return json.loads(proc.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=400)
    parser.add_argument("--size", type=int, default=200)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--keep", type=Path, help="write the series here and keep it")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="petvoi-bench-"))
    folder = root / "PT"
    if not folder.exists():
        make_series(folder, args.slices, args.size)
    volume_mb = args.slices * args.size * args.size * 4 / 2**20
    try:
        results = {t: run_tool(t, folder, args.repeat) for t in ("petvoi", "petvoi+nifti", "simpleitk", "dcm2niix")}
    finally:
        if args.keep is None:
            shutil.rmtree(root, ignore_errors=True)
    ours = results["petvoi"].get("best_s")
    print(f"series: {args.slices} slices of {args.size}x{args.size}, float32 volume {volume_mb:.1f} MB; "
          f"best of {args.repeat}")
    print(f"{'tool':<14}{'time s':>9}{'petvoi/tool':>13}{'peak MB':>10}{'peak/volume':>13}")
    for tool, r in results.items():
        if "error" in r:
            print(f"{tool:<14} error: {r['error']}")
            continue
        ratio = ours / r["best_s"] if ours else float("nan")
        print(f"{tool:<14}{r['best_s']:>9.3f}{ratio:>13.2f}{r['peak_increase_mb']:>10.1f}"
              f"{r['peak_increase_mb'] / volume_mb:>13.2f}")
    print("targets: petvoi/simpleitk <= 1.0, petvoi/dcm2niix <= 2.0, petvoi peak/volume <= 3.0")


if __name__ == "__main__":
    t0 = time.perf_counter()
    main()
    print(f"(benchmark wall time {time.perf_counter() - t0:.1f} s)")
