"""Benchmark: voxel-wise Logan VT map with dask, and the time per VOI of a 2TCM fit.

Run:  .venv/bin/python bench/bench_kinetics.py [--shape 90 128 128] [--chunks 16 64 64] [--repeat 2] [--fits 20]

The 4D volume (28 standard frames × z, y, x, float32) mixes two simulated 1TCM TACs (Feng input) with
random positive per-voxel weights plus 2 % noise. Printed: the wall time (best of ``--repeat``) of
``logan_vt_map`` with the threaded scheduler on 2 workers and on 1 (and the speed-up), the peak memory
allocated during one call (tracemalloc, numpy buffers included) next to the size of the input volume,
the mean wall time of ``fit_compartment("2tcm", ...)`` on one simulated TAC over ``--fits`` fits, and
the time of one input-delay fit (``fit_delay``) on the standard frames.
"""

from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np

from pipeline.kinetics.blood import InputFunction
from pipeline.kinetics.delay import fit_delay
from pipeline.kinetics.fit import fit_compartment
from pipeline.kinetics.models import feng_convolve, feng_input, simulate_frames, standard_frames
from pipeline.kinetics.parametric import logan_vt_map


def volume(shape: tuple[int, int, int], seed: int = 1) -> np.ndarray:
    """A (28, z, y, x) float32 volume of 1TCM-like TACs (kBq/mL)."""
    fs, fe = standard_frames()
    a = simulate_frames("1tcm", {"K1": 0.1, "k2": 0.05, "vB": 0.03}, fs, fe, feng_input)
    b = simulate_frames("1tcm", {"K1": 0.3, "k2": 0.2, "vB": 0.05}, fs, fe, feng_input)
    rng = np.random.default_rng(seed)
    wa = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    wb = rng.uniform(0.2, 1.0, shape).astype(np.float32)
    vol = a.astype(np.float32)[:, None, None, None] * wa + b.astype(np.float32)[:, None, None, None] * wb
    vol *= 1.0 + 0.02 * rng.standard_normal(vol.shape, dtype=np.float32)
    return vol


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--shape", type=int, nargs=3, default=[90, 128, 128], metavar=("Z", "Y", "X"))
    ap.add_argument("--chunks", type=int, nargs=3, default=[16, 64, 64], metavar=("Z", "Y", "X"))
    ap.add_argument("--repeat", type=int, default=2)
    ap.add_argument("--fits", type=int, default=20)
    args = ap.parse_args()

    fs, fe = standard_frames()
    mid = 0.5 * (fs + fe)
    cp, ip = feng_input(mid), feng_convolve(mid, 0.0)
    vol = volume(tuple(args.shape))
    chunks = tuple(args.chunks)
    print(f"volume {vol.shape} float32 = {vol.nbytes / 2**20:.0f} MiB; chunks (z, y, x) = {chunks}")

    times: dict[int, float] = {}
    for workers in (2, 1):
        best = np.inf
        for _ in range(args.repeat):
            t0 = time.perf_counter()
            vt = logan_vt_map(vol, mid, cp, ip, t_star_min=20.0, chunks=chunks, workers=workers)
            best = min(best, time.perf_counter() - t0)
        times[workers] = best
        print(f"logan_vt_map, {workers} worker(s): {best:.2f} s  "
              f"({vol[0].size / best / 1e6:.2f} Mvoxel/s; median VT {np.nanmedian(vt):.3f}, "
              f"NaN {np.isnan(vt).sum()})")
    print(f"speed-up 2 vs 1 worker: {times[1] / times[2]:.2f}x")

    tracemalloc.start()
    tracemalloc.reset_peak()
    logan_vt_map(vol, mid, cp, ip, t_star_min=20.0, chunks=chunks, workers=2)
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    print(f"peak memory allocated during logan_vt_map (2 workers): {peak / 2**20:.0f} MiB "
          f"(input {vol.nbytes / 2**20:.0f} MiB, output {vol[0].size * 8 / 2**20:.0f} MiB)")

    dur = fe - fs
    tac = simulate_frames("2tcm", {"K1": 0.1, "k2": 0.12, "k3": 0.06, "k4": 0.02, "vB": 0.04}, fs, fe, feng_input)
    tac = tac * (1.0 + 0.01 * np.random.default_rng(2).standard_normal(tac.size))
    fit_compartment("2tcm", mid, dur, tac, feng_input)  # warm-up
    t0 = time.perf_counter()
    for _ in range(args.fits):
        res = fit_compartment("2tcm", mid, dur, tac, feng_input, weights=dur)
    per = (time.perf_counter() - t0) / args.fits
    print(f"fit_compartment 2tcm: {per * 1e3:.0f} ms per VOI (mean of {args.fits}; "
          f"VT {res.macro.get('VT', float('nan')):.3f}, true 3.333; converged {res.converged})")

    # input-delay fit: blood sampled 8 s late, 1TCM grid search + Brent refinement on the first 10 min
    t = np.union1d(np.arange(0.0, 600.0, 1.0), np.arange(600.0, 5410.0, 10.0))
    late = feng_input((t - 8.0) / 60.0)
    blood = InputFunction(t, late, late, late, "parent_plasma")
    early = simulate_frames("1tcm", {"K1": 0.3, "k2": 0.3, "vB": 0.05}, fs, fe, feng_input)
    fit_delay(mid, dur, early, blood)  # warm-up
    t0 = time.perf_counter()
    for _ in range(3):
        delay = fit_delay(mid, dur, early, blood, weights=dur)
    print(f"fit_delay: {(time.perf_counter() - t0) / 3 * 1e3:.0f} ms per study (mean of 3; "
          f"delay {delay.delay_s:+.2f} s, true -8 s)")


if __name__ == "__main__":
    main()
