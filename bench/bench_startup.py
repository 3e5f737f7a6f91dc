"""Benchmark: start-up cost of the ``petvoi`` command, against a bare interpreter, in one run.

Run:  .venv/bin/python bench/bench_startup.py [--repeat 15]

Every workflow job starts ``petvoi`` once, so its import cost is paid per rule. Printed, each as the
median (and min) over ``--repeat`` runs of a fresh process: wall seconds and CPU seconds (user +
system of the finished child) of

- ``python -c pass`` (the yardstick: the interpreter alone),
- ``petvoi --version``,
- ``petvoi suv --help``,

and the ratios of the two ``petvoi`` commands to the bare interpreter. Target (issue 14): ``petvoi
--version`` <= 0.15 s wall on a 2-core machine and <= 5x the bare interpreter. Finally, the heavy
modules (scipy, pandas, nibabel, ...) that ``petvoi --version`` imported are listed: there should be
none.
"""

from __future__ import annotations

import argparse
import os
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

HEAVY = ("scipy", "pandas", "nibabel", "SimpleITK", "radiomics", "matplotlib", "weasyprint", "statsmodels",
         "lifelines", "pydicom", "numpy", "dask", "sklearn", "highdicom", "jsonschema", "yaml")


def _petvoi() -> list[str]:
    exe = Path(sys.executable).with_name("petvoi")
    return [str(exe)] if exe.exists() else [sys.executable, "-m", "pipeline.cli"]


def time_command(argv: list[str], repeat: int) -> tuple[list[float], list[float]]:
    """Wall and CPU seconds of ``repeat`` runs of ``argv`` (after one warm-up run)."""
    subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
    walls, cpus = [], []
    for _ in range(repeat):
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        start = time.perf_counter()
        subprocess.run(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, check=True)
        walls.append(time.perf_counter() - start)
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        cpus.append((after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime))
    return walls, cpus


def heavy_imports() -> list[str]:
    """Heavy top-level modules present in ``sys.modules`` after the CLI's ``--version``."""
    code = ("import contextlib, io, sys\nfrom pipeline.cli import main\n"
            "with contextlib.redirect_stdout(io.StringIO()):\n    try:\n        main(['--version'])\n"
            "    except SystemExit:\n        pass\n"
            f"print(' '.join(m for m in {HEAVY!r} if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                         env={**os.environ, "PYTHONDONTWRITEBYTECODE": "1"})
    return out.stdout.split()


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=15)
    args = parser.parse_args()
    petvoi = _petvoi()
    commands = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "petvoi --version": [*petvoi, "--version"],
        "petvoi suv --help": [*petvoi, "suv", "--help"],
    }
    print(f"start-up, {args.repeat} runs each, {os.cpu_count()} cores; median (min) seconds")
    medians: dict[str, tuple[float, float]] = {}
    for name, argv in commands.items():
        walls, cpus = time_command(argv, args.repeat)
        medians[name] = (statistics.median(walls), statistics.median(cpus))
        print(f"  {name:<20} wall {medians[name][0]:.3f} ({min(walls):.3f})   cpu {medians[name][1]:.3f} "
              f"({min(cpus):.3f})")
    base_wall, base_cpu = medians["python -c pass"]
    for name in ("petvoi --version", "petvoi suv --help"):
        wall, cpu = medians[name]
        print(f"  {name:<20} / python -c pass: wall {wall / base_wall:.1f}x, cpu {cpu / base_cpu:.1f}x")
    heavy = heavy_imports()
    print(f"  heavy modules imported by `petvoi --version`: {', '.join(heavy) if heavy else 'none'}")
    wall = medians["petvoi --version"][0]
    verdict = "met" if wall <= 0.15 and wall <= 5 * base_wall else "NOT met"
    print(f"  target (<= 0.15 s wall and <= 5x the interpreter): {verdict}")


if __name__ == "__main__":
    main()
