"""Benchmark: voxel-wise extended Tofts (DCE) and IVIM maps of petvoi against dcmri's and dipy's own voxel-wise fits.

Run:  .venv/bin/python bench/bench_mri.py [--voxels 600] [--shape 20 256 256] [--seed 3]

Volumes (issue 19): a 256 x 256 x 20 x 60 DCE series (SPGR signal, TR 4.5 ms, FA 15, T10 1.4 s, r1 4.5 /mM/s, a
phase every 5 s, Parker AIF at 20 s; per voxel one of 4096 random ETM curves, Ktrans 0.05-0.5 /min, ve 0.1-0.5,
vp 0.01-0.1; 1 % noise per voxel) and a
256 x 256 x 20 x 8-b DWI (b 0-800; f 0.05-0.3, D 0.6-1.6e-3, D* 0.01-0.05 mm2/s; 1 % noise), built in memory.

A voxel-wise nonlinear fit costs milliseconds per voxel in every tool, so the 1.3 M voxels of either volume take
hours: each tool fits the same random sample of ``--voxels`` voxels of the volume and the full-volume time is that
time scaled to 1,310,720 voxels (the per-voxel work does not depend on where a voxel is). Printed per tool: the
seconds for the sample, ms per voxel, the extrapolated hours for the whole volume, and the ratios:

* DCE: petvoi ``fit_maps`` (signal -> concentration, then ETM with dcmri's forward model, least squares) with 1
  and 2 worker processes, against ``dcmri.TissueArray(kinetics='HF', sequence='SS')`` trained on the same voxels'
  signals (dcmri's pixel-by-pixel fit, one process);
* IVIM: petvoi's segmented IVIM (the DWI stage's voxel path) with 1 and 2 workers, against dipy's
  ``IviMModel(fit_method='trr')`` on the same voxels.
"""

from __future__ import annotations

import argparse
import time

import numpy as np

N_FULL = 256 * 256 * 20


def dce_volume(shape: tuple[int, int, int], rng: np.random.Generator, n_curves: int = 4096) -> dict[str, np.ndarray]:
    """The DCE signal volume: ``n_curves`` random ETM parameter sets (dcmri's forward model), one per voxel at
    random, with independent noise per voxel."""
    import dcmri

    from pipeline.mri.dce import model_curve
    from pipeline.mri.relaxometry import spgr_signal

    t = np.arange(60) * 5.0
    cb = np.asarray(dcmri.aif_parker(t, BAT=20.0)) * 1000.0
    cp = cb / 0.55
    table = np.array([model_curve("etm", cp, t, np.array([rng.uniform(0.05, 0.5) / 60, rng.uniform(0.1, 0.5),
                                                          rng.uniform(0.01, 0.1)])) for _ in range(n_curves)])
    conc = table[rng.integers(0, n_curves, int(np.prod(shape)))].T.astype(np.float32)  # (t, n)
    signal = spgr_signal(1000.0, 1.0 / (1.0 / 1.4 + 4.5 * conc), 0.0045, 15.0).astype(np.float32)
    signal *= 1.0 + 0.01 * rng.standard_normal(signal.shape, dtype=np.float32)
    aif_signal = spgr_signal(1000.0, 1.0 / (1.0 / 1.8 + 4.5 * cb), 0.0045, 15.0)
    return {"t": t, "cb": cb, "signal": signal.reshape((t.size, *shape)), "aif_signal": aif_signal}


def dwi_volume(shape: tuple[int, int, int], rng: np.random.Generator) -> dict[str, np.ndarray]:
    b = np.array([0.0, 10, 20, 50, 100, 200, 400, 800])
    n = int(np.prod(shape))
    f, d, dstar = rng.uniform(0.05, 0.3, n), rng.uniform(0.6e-3, 1.6e-3, n), rng.uniform(0.01, 0.05, n)
    s = 1000.0 * (f * np.exp(-np.outer(b, dstar)) + (1 - f) * np.exp(-np.outer(b, d)))
    s = (s * (1.0 + 0.01 * rng.standard_normal(s.shape))).astype(np.float32)
    return {"b": b, "signal": s.reshape((b.size, *shape))}


def _timed(fn, *args, **kwargs):  # type: ignore[no-untyped-def]
    start = time.perf_counter()
    out = fn(*args, **kwargs)
    return time.perf_counter() - start, out


def bench_dce(vol: dict[str, np.ndarray], sample: np.ndarray) -> dict[str, float]:
    import dcmri

    from pipeline.mri.dce import plasma_input
    from pipeline.mri.maps import fit_maps
    from pipeline.mri.relaxometry import concentration

    t, signal = vol["t"], vol["signal"]
    mask = np.zeros(signal.shape[1:], bool)
    mask.reshape(-1)[sample] = True
    cp = plasma_input(vol["cb"], kind="blood", hct=0.45)
    conversion, conc = _timed(concentration, signal, tr_s=0.0045, flip_deg=15.0, t10_s=1.4, r1_per_mm_s=4.5,
                              n_baseline=3)
    print(f"  petvoi signal -> concentration of the whole volume: {conversion:.1f} s (once per series)")
    seconds = {}
    for workers in (1, 2):
        seconds[f"petvoi_{workers}"], result = _timed(fit_maps, conc, t, cp, mask, model="etm", workers=workers)
        print(f"  petvoi ETM, {workers} worker(s): {seconds[f'petvoi_{workers}']:.1f} s, "
              f"{result.n_not_converged} of {result.n_voxels} not converged")
    curves = signal.reshape(signal.shape[0], -1)[:, sample].T.astype(float)
    array = dcmri.TissueArray((len(sample),), kinetics="HF", sequence="SS", aif=vol["aif_signal"], t=t,
                              r1=4500.0, TR=0.0045, FA=15.0, R10=1 / 1.4, R10a=1 / 1.8, n0=3, H=0.45)
    seconds["dcmri"], _ = _timed(array.train, t, curves)
    print(f"  dcmri TissueArray (HF, SS): {seconds['dcmri']:.1f} s")
    return seconds


def bench_ivim(vol: dict[str, np.ndarray], sample: np.ndarray) -> dict[str, float]:
    from dipy.core.gradients import gradient_table
    from dipy.reconst.ivim import IvimModel

    from pipeline.mri.dwi import _map_chunk
    from pipeline.mri.maps import voxel_chunks
    from pipeline.parallel import executor

    b, signal = vol["b"], vol["signal"]
    curves = signal.reshape(b.size, -1)[:, sample].T.astype(float)
    names = ("adc", "ivim_f", "ivim_d", "ivim_dstar")
    options = {"ivim_method": "segmented", "b_threshold": 200.0, "adc_range": (0.0, 1000.0), "dki_b": None}
    seconds = {}
    for workers in (1, 2):
        def run(w: int = workers) -> object:
            items = [(b, np.ascontiguousarray(curves[c]), names, options) for c in voxel_chunks(len(curves), w)]
            with executor(workers=w, local="processes") as ex:
                return ex.map(_map_chunk, items, label="IVIM voxels", unit="chunks")

        seconds[f"petvoi_{workers}"], _ = _timed(run)
        print(f"  petvoi IVIM segmented, {workers} worker(s): {seconds[f'petvoi_{workers}']:.1f} s")
    bvecs = np.tile([1.0, 0.0, 0.0], (b.size, 1))
    bvecs[b == 0] = 0.0
    model = IvimModel(gradient_table(b, bvecs=bvecs, b0_threshold=0), fit_method="trr")
    seconds["dipy"], _ = _timed(model.fit, curves)
    print(f"  dipy IvimModel (trr): {seconds['dipy']:.1f} s")
    return seconds


def report(name: str, seconds: dict[str, float], reference: str, n: int) -> None:
    for key, value in seconds.items():
        print(f"  {name} {key:10s} {value:7.2f} s  {1000 * value / n:6.2f} ms/voxel  full volume "
              f"{value / n * N_FULL / 3600:6.2f} h  speed vs {reference}: {seconds[reference] / value:5.2f}x")
    print(f"  {name} petvoi 2 workers vs 1: {seconds['petvoi_1'] / seconds['petvoi_2']:.2f}x")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--voxels", type=int, default=600, help="voxels each tool fits (default 600)")
    ap.add_argument("--shape", type=int, nargs=3, default=[20, 256, 256], metavar=("Z", "Y", "X"))
    ap.add_argument("--seed", type=int, default=3)
    args = ap.parse_args()
    rng = np.random.default_rng(args.seed)
    shape = tuple(args.shape)
    n_vox = int(np.prod(shape))
    sample = np.sort(rng.choice(n_vox, size=min(args.voxels, n_vox), replace=False))
    print(f"DCE {shape} x 60 phases ({n_vox:,} voxels), fits on {len(sample)} of them")
    dce = bench_dce(dce_volume(shape, rng), sample)
    report("DCE", dce, "dcmri", len(sample))
    print(f"DWI {shape} x 8 b-values, fits on {len(sample)} voxels")
    ivim = bench_ivim(dwi_volume(shape, rng), sample)
    report("IVIM", ivim, "dipy", len(sample))


if __name__ == "__main__":
    main()
