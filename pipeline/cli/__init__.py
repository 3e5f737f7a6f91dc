"""Command-line interface: ``petvoi [--debug] [-q] [--strict] [--policy KEY=ACTION] COMMAND ...``.

Each stage package registers its own commands (``pipeline/<package>/cli.py``: ``register(subparsers)``);
this module assembles them, configures logging, builds the run's bad-value policy and maps errors to
one line with exit status 2 (``--debug`` shows the traceback). Only the CLI prints. Start-up is cheap:
the command modules import nothing heavy until their handler runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
import warnings
from collections.abc import Sequence
from importlib import import_module
from typing import Any, NoReturn

from .. import __version__
from ..deid import Deidentifier, activate, active, load_secret
from ..errors import PipelineError
from ..options import policy_from_args

__all__ = ["main", "build_parser", "COMMAND_MODULES"]

#: Modules that register commands, in the order of ``petvoi --help``.
COMMAND_MODULES = ("pipeline.synthetic.cli", "pipeline.dicom.cli", "pipeline.suv.cli", "pipeline.voi.cli",
                   "pipeline.metrics.cli", "pipeline.response.cli", "pipeline.stats.cli", "pipeline.report.cli",
                   "pipeline.kinetics.cli", "pipeline.dicomout.cli", "pipeline.archive.cli", "pipeline.mri.cli",
                   "pipeline.cli.workflow", "pipeline.cli.chain")


class _OneLineParser(argparse.ArgumentParser):
    """An argument parser whose refusals are one line (``petvoi suv: error: ...``) with exit status 2, like every
    other bad input (argparse prints the usage first); subcommand parsers are of the same class."""

    def error(self, message: str) -> NoReturn:
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser: global options and one subcommand per stage."""
    parser = _OneLineParser(
        prog="petvoi", description="Quantitative PET/CT for immuno-PET and peptide-PET trials.",
        epilog="Errors from bad input are printed on one line with exit status 2; --debug shows the traceback.")
    parser.add_argument("--version", action="version", version=f"petvoi {__version__}")
    parser.add_argument("--debug", action="store_true", help="show tracebacks and debug logging")
    parser.add_argument("-q", "--quiet", action="store_true", help="log warnings and errors only")
    parser.add_argument("--strict", action="store_true",
                        help="refuse every bad value a fallback could handle (the policy's checks all raise)")
    parser.add_argument("--policy", action="append", dest="policy_settings", metavar="CHECK=ACTION",
                        help="bad-value policy of one check, e.g. header.half_life_mismatch=warn (warn or raise); "
                             "repeatable; the checks are in pipeline/policy.py")
    parser.add_argument("--deidentify", metavar="SECRET_FILE",
                        help="pseudonymise DICOM UIDs and shift dates per subject in outputs, logs and errors, keyed "
                             "by the secret in this file (or $PETVOI_DEID_SECRET); see pipeline/deid.py")
    parser.add_argument("--as-subject", metavar="SUBJECT",
                        help="the sample sheet's subject id of a per-study command (its dates' shift)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMAND_MODULES:
        import_module(name).register(sub)
    for command_parser in sub.choices.values():
        command_parser.set_defaults(option_flags=_option_flags(command_parser))
    return parser


class _DeidFilter(logging.Filter):
    """Pseudonymises the UIDs in every log line of a de-identified run (dates are shifted where written)."""

    def filter(self, record: logging.LogRecord) -> bool:
        deid = active()
        if deid is not None:
            record.msg, record.args = deid.uids_in(record.getMessage()), None
        return True


def _configure_logging(debug: bool, quiet: bool) -> None:
    level = logging.DEBUG if debug else logging.WARNING if quiet else logging.INFO
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(logging.Formatter("petvoi %(levelname)s: %(message)s"))
    handler.addFilter(_DeidFilter())
    root = logging.getLogger("pipeline")
    root.handlers[:] = [handler]
    root.setLevel(level)
    root.propagate = False


def _option_flags(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Destination -> flag of a command's options: how an error names an option the library named by field."""
    actions = parser._actions  # argparse has no public accessor for a parser's options
    return {a.dest: max(a.option_strings, key=len) for a in actions if a.option_strings}


def _warning_to_log(message: Warning | str, category: type[Warning], filename: str, lineno: int,
                    file: Any = None, line: str | None = None) -> None:
    """A Python warning of a library (pydicom: "Invalid value for VR DS", numpy, pandas) as a debug log record.

    What petvoi makes of a value is its own warning or one-line error; the library's warning about the same value
    printed beside it made a refusal several lines long (issue 17). Shown with ``--debug``.
    """
    logging.getLogger("pipeline.warnings").debug("%s: %s (%s:%d)", category.__name__, message, filename, lineno)


def main(argv: Sequence[str] | None = None) -> int:
    """Run the CLI; return the exit status (0 success, 2 bad input, 1 internal error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    _configure_logging(args.debug, args.quiet)
    deid: Deidentifier | None = None
    try:
        args.policy = policy_from_args(args)
        if args.deidentify:
            deid = Deidentifier(load_secret(args.deidentify), args.as_subject)
        with warnings.catch_warnings(), activate(deid):
            warnings.showwarning = _warning_to_log
            return int(args.func(args) or 0)
    except PipelineError as exc:
        if args.debug:
            raise
        exc.attribute = getattr(args, "option_flags", {}).get(exc.attribute or "", exc.attribute)
        line = exc.one_line()
        if deid is not None:  # raw header values in the message: UIDs pseudonymised, dates shifted if possible
            line = deid.uids_in(line)
            line = deid.dates_in(line) if deid.subject else line
        print(f"petvoi {args.command}: error: {line}", file=sys.stderr)
        return exc.exit_code
    except KeyboardInterrupt:
        print("petvoi: interrupted", file=sys.stderr)
        return 130
