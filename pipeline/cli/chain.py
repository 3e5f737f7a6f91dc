"""``petvoi chain``: several petvoi commands in one process, one log file each.

A study's static chain (suv, ct, vois, uptake, texture, heterogeneity) costs about 1 CPU-second per command
in interpreter and import start-up, more than most stages' own work; run as one process, the libraries are
imported once. Each step is an ordinary petvoi command line (the same one a single-stage rule runs), so every
stage stays a command of its own; the chain adds nothing but the loop::

    petvoi chain --step results/logs/suv/P01_baseline.log "suv sample_data/dicom/P01/baseline/PT -o ..." \\
                 --step results/logs/ct/P01_baseline.log "ct ..."

Each step's log lines (and anything it prints) go to its log file, followed by a line with the step's CPU
and wall seconds. The chain stops at the first step that fails and exits with that step's status; its error
line (in the step's log, and on stderr) names the step.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import resource
import shlex
import sys
import time
from pathlib import Path
from typing import Any

__all__ = ["register", "run_chain"]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _command(argv: list[str]) -> str:
    """The petvoi command of a step's command line (after the global options ``--strict``, ``--policy K=V``)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] == "--policy" else 1
    return argv[i] if i < len(argv) else "?"


def _run_step(argv: list[str], log_path: Path) -> int:
    """One petvoi command line, its stdout, stderr and log records written to ``log_path``."""
    from . import main

    log_path.parent.mkdir(parents=True, exist_ok=True)
    root = logging.getLogger("pipeline")
    saved_handlers, saved_level, saved_propagate = root.handlers[:], root.level, root.propagate
    cpu0, wall0 = _cpu_seconds(), time.perf_counter()
    with open(log_path, "w", encoding="utf-8") as log, contextlib.redirect_stdout(log), \
            contextlib.redirect_stderr(log):
        try:
            status = main(argv)  # main() points the "pipeline" logger at sys.stderr: the log file here
        except SystemExit as exc:  # argparse refuses the command line
            status = int(exc.code) if isinstance(exc.code, int) else 2
        finally:
            root.handlers[:], root.level, root.propagate = saved_handlers, saved_level, saved_propagate
        print(f"petvoi chain: {_command(argv)} took {_cpu_seconds() - cpu0:.2f} CPU-s, "
              f"{time.perf_counter() - wall0:.2f} s", file=log)
    return status


def run_chain(steps: list[tuple[Path, str]], *, keep_going: bool = False) -> int:
    """Run ``(log file, command line)`` steps in order in this process.

    Parameters
    ----------
    steps : list of (Path, str)
        Each step's log file and petvoi command line (without ``petvoi``).
    keep_going : bool
        Run every step even after a failure (independent steps, e.g. the reports of several subjects);
        default: stop at the first failure (a study's stages, each needing the one before).

    Returns
    -------
    int
        0, or the exit status of the first step that failed (2 for bad input).
    """
    first_failure = 0
    for log_path, command in steps:
        argv = shlex.split(command)
        status = _run_step(argv, Path(log_path))
        if status != 0:
            last = [line for line in Path(log_path).read_text(encoding="utf-8").splitlines()
                    if line.startswith("petvoi ") and "error" in line]
            detail = last[-1] if last else f"exit status {status}"
            print(f"petvoi chain: step {_command(argv)} failed ({detail}); log: {log_path}",
                  file=sys.stderr)
            first_failure = first_failure or status
            if not keep_going:
                break
    return first_failure


def _handle(args: Any) -> int:
    return run_chain([(Path(log), command) for log, command in args.step], keep_going=args.keep_going)


def register(sub: Any) -> None:
    """Register ``petvoi chain``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "chain", help="run several petvoi commands in one process (a study per job on a cluster)",
        description="Run petvoi commands in order in one process (libraries imported once); each step's output "
                    "goes to its log file; the chain stops at the first failure with that step's exit status.")
    parser.add_argument("--step", nargs=2, action="append", metavar=("LOG", "COMMAND"), required=True,
                        help="a log file and one petvoi command line (quoted, without 'petvoi'); repeatable, "
                             "run in order")
    parser.add_argument("--keep-going", action="store_true",
                        help="run every step even after a failure (independent steps); exit with the first "
                             "failure's status")
    parser.set_defaults(func=_handle)
