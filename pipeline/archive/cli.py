"""``petvoi fetch`` and ``petvoi push``: studies from an archive into the data root, DICOM outputs back."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from typing import Any

__all__ = ["register"]

log = logging.getLogger(__name__)


def register(sub: Any) -> None:
    """Add the ``fetch`` and ``push`` commands."""
    p = sub.add_parser("fetch", help="retrieve the sample sheet's studies from a DICOMweb or DIMSE archive",
                       description="Finds each study of the sample sheet on the archive of the configuration's "
                                   "archive section (by study_uid, or patient_id and study_date) and retrieves it "
                                   "into DATA_ROOT/<dicom>, series by series, verified against the archive's "
                                   "instance counts; resumable, and nothing half-written in the data root.")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml", help="its archive: section says where")
    p.add_argument("--samples", metavar="samples.tsv", help="default: the configuration's samples")
    p.add_argument("--data-root", metavar="DIR", help="default: the configuration's data_root")
    p.add_argument("--record", metavar="fetched.json", help="write what was fetched (studies, series, instances)")
    p.set_defaults(func=_fetch)

    p = sub.add_parser("push", help="store DICOM outputs (SEG, SR, Parametric Map) on the archive",
                       description="Stores the files (STOW-RS or C-STORE) on the archive of the configuration's "
                                   "archive section.")
    p.add_argument("files", nargs="+", metavar="FILE.dcm")
    p.add_argument("--config", required=True, metavar="CONFIG.yaml")
    p.add_argument("--record", metavar="pushed.json", help="write what was stored where")
    p.set_defaults(func=_push)


def _settings(config_path: str) -> tuple[Any, Any]:
    from ..workflow import load_workflow_config
    from .settings import ArchiveSettings

    config = load_workflow_config(Path(config_path), source=config_path)
    return config, ArchiveSettings.from_config(config.get("archive"))


def _fetch(args: argparse.Namespace) -> None:
    from .stage import run_fetch

    config, settings = _settings(args.config)
    studies = run_fetch(Path(args.samples or config["samples"]), Path(args.data_root or config["data_root"]),
                        settings)
    fetched = [s for s in studies if s.fetched]
    if args.record:
        from ..io import write_json

        write_json(Path(args.record), {"server": settings.server, "studies": [
            {"subject_id": s.subject_id, "timepoint": s.timepoint, "n_series": s.n_series,
             "n_instances": s.n_instances} for s in studies]})
    log.info("%d studies from %s: %d fetched now (%d instances), %d already there", len(studies), settings.server,
             len(fetched), sum(s.n_instances for s in fetched), len(studies) - len(fetched))


def _push(args: argparse.Namespace) -> None:
    from .stage import run_push

    _, settings = _settings(args.config)
    n = run_push([Path(f) for f in args.files], settings, record=Path(args.record) if args.record else None)
    log.info("%d files stored on %s", n, settings.server)
