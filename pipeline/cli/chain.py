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
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

__all__ = ["register", "run_chain", "Study"]


def _cpu_seconds() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def _command(argv: list[str]) -> str:
    """The petvoi command of a step's command line (after the global options ``--strict``, ``--policy K=V``,
    ``--deidentify FILE``, ``--as-subject S``)."""
    i = 0
    while i < len(argv) and argv[i].startswith("-"):
        i += 2 if argv[i] in ("--policy", "--deidentify", "--as-subject") else 1
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


def _error_line(log_path: Path, status: int) -> str:
    """The step's one-line error from its log, or its exit status."""
    last = [line for line in log_path.read_text(encoding="utf-8").splitlines()
            if line.startswith("petvoi ") and "error" in line]
    return last[-1] if last else f"exit status {status} (see the log)"


@dataclass(frozen=True)
class Study:
    """A step-list marker: the steps after it (up to the next marker) are this study's."""

    subject: str
    timepoint: str


def run_chain(steps: Sequence[tuple[Path, str] | Study | None], *, keep_going: bool = False,
              append: dict[str, str] | None = None, failures: Path | None = None) -> int:
    """Run ``(log file, command line)`` steps in order in this process.

    Parameters
    ----------
    steps : sequence of (Path, str), Study or None
        Each step's log file and petvoi command line (without ``petvoi``); None starts a new group (e.g. the
        next study of a batch), a :class:`Study` a new group that is that study.
    keep_going : bool
        After a failure, skip the rest of the failing step's group and go on with the next group; default:
        stop at the first failure. Within a group a failure always skips the steps after it (each stage of a
        study needs the one before).
    append : dict of str to str, optional
        Arguments appended to every step of a command (``{"texture": "--scheduler auto"}``).
    failures : Path, optional
        Folder of failure records (:mod:`pipeline.failures`): a study group whose step fails gets one (the
        stage and its one-line error); one that succeeds loses a stale one.

    Returns
    -------
    int
        0, or the exit status of the first step that failed (2 for bad input).
    """
    from ..failures import clear_failure, write_failure

    first_failure = 0
    skipping = False
    study: Study | None = None
    for step in [*steps, None]:
        if step is None or isinstance(step, Study):
            if study is not None and failures is not None and not skipping:
                clear_failure(failures, study.subject, study.timepoint)
            if step is None and not keep_going and first_failure:
                break
            skipping, study = False, step
            continue
        if skipping:
            continue
        log_path, command = step
        argv = shlex.split(command)
        argv += shlex.split((append or {}).get(_command(argv), ""))
        status = _run_step(argv, Path(log_path))
        if status != 0:
            detail = _error_line(Path(log_path), status)
            print(f"petvoi chain: step {_command(argv)} failed ({detail}); log: {log_path}",
                  file=sys.stderr)
            if study is not None and failures is not None:
                write_failure(failures, study.subject, study.timepoint, rule=_command(argv), reason=detail,
                              log=log_path)
            first_failure = first_failure or status
            skipping = True
            if not keep_going:
                break
    return first_failure


class _StudyMarker(argparse.Action):
    """``--study SUBJECT TIMEPOINT``: a :class:`Study` in the step list (a new group, that study's)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        steps = getattr(namespace, "step", None) or []
        steps.append(Study(str(values[0]), str(values[1])))
        namespace.step = steps


class _Group(argparse.Action):
    """``--group``: a None in the step list (a new group starts)."""

    def __call__(self, parser: argparse.ArgumentParser, namespace: argparse.Namespace, values: Any,
                 option_string: str | None = None) -> None:
        steps = getattr(namespace, "step", None) or []
        steps.append(None)
        namespace.step = steps


def _handle(args: Any) -> int:
    steps: list[tuple[Path, str] | Study | None] = [
        step if step is None or isinstance(step, Study) else (Path(step[0]), step[1]) for step in args.step or []]
    if not any(step is not None and not isinstance(step, Study) for step in steps):
        from ..errors import InvalidInputError

        raise InvalidInputError("no --step given", attribute="--step", remedy="give at least one --step LOG COMMAND")
    append = dict((text.split(None, 1) + [""])[:2] for text in args.append or [] if text.strip())
    return run_chain(steps, keep_going=args.keep_going, append=append,
                     failures=Path(args.failures) if args.failures else None)


def register(sub: Any) -> None:
    """Register ``petvoi chain``."""
    parser: argparse.ArgumentParser = sub.add_parser(
        "chain", help="run several petvoi commands in one process (a study per job on a cluster)",
        description="Run petvoi commands in order in one process (libraries imported once); each step's output "
                    "goes to its log file; the chain stops at the first failure with that step's exit status.")
    parser.add_argument("--step", nargs=2, action="append", metavar=("LOG", "COMMAND"),
                        help="a log file and one petvoi command line (quoted, without 'petvoi'); repeatable, "
                             "run in order")
    parser.add_argument("--group", nargs=0, action=_Group,
                        help="start a new group of steps (e.g. the next study of a batch); with --keep-going a "
                             "failure skips only the rest of its group")
    parser.add_argument("--study", nargs=2, action=_StudyMarker, metavar=("SUBJECT", "TIMEPOINT"),
                        help="start a new group of steps that is this study's (named in its failure record)")
    parser.add_argument("--failures", metavar="DIR",
                        help="folder of failure records: a study whose step fails gets DIR/SUBJECT_TIMEPOINT.json "
                             "(stage, one-line reason), one that succeeds loses a stale one")
    parser.add_argument("--keep-going", action="store_true",
                        help="after a failure go on with the next group; exit with the first failure's status")
    parser.add_argument("--append", action="append", metavar="'COMMAND ARGS'",
                        help="append ARGS to every step of COMMAND, e.g. --append 'texture --scheduler auto'")
    parser.set_defaults(func=_handle)
