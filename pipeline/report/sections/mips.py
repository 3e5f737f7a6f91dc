"""Patient report, maximum-intensity projections: coronal and sagittal MIPs of every timepoint on one common
SUV window, tumour VOIs outlined and numbered (:mod:`pipeline.report.mip`)."""

from __future__ import annotations

from typing import Any

import numpy as np

from ..inputs import PatientInputs
from ..mip import mip_images, suv_window
from ..render import Section, data_uri, fmt

__all__ = ["SECTION"]


def build(inputs: PatientInputs) -> dict[str, Any]:
    """``vmax`` (the common window) and its rule, the MIP PNGs per timepoint and view and their data URIs."""
    vmax, vmax_rule = suv_window((v[0] for v in inputs.volumes.values()),
                                 (inputs.config.get("report") or {}).get("mip_suv_max"))
    mip: dict[str, dict[str, bytes]] = {}
    for tp in inputs.timepoints:
        suv, geometry = inputs.volumes[tp]
        mip[tp] = mip_images(np.asarray(suv), geometry, inputs.voisets[tp], vmax=vmax, title=tp)
    return {"vmax": vmax, "vmax_text": fmt(vmax), "vmax_rule": vmax_rule, "mip": mip,
            "mip_vmax": dict.fromkeys(inputs.timepoints, vmax),
            "mip_uri": {tp: {view: data_uri(png) for view, png in images.items()} for tp, images in mip.items()}}


SECTION = Section("mips", build)
