"""Analytic torso phantom of one subject: organs, lesions and their planned changes.

Coordinates are LPS mm with the torso centred on the origin: x to the patient's left,
y posterior, z superior. The body is an elliptic cylinder 300 mm long; organs are
in-plane-rotated ellipsoids (the aorta an upright cylinder); lesions are spheres or
ellipsoids placed by a seeded RNG wholly inside their host (liver or body), clear of
other organs and lesions at their largest size over both timepoints.

Lesion changes between baseline and on_treatment (``response_class``):

* ``respond``: SUV x 0.40-0.65 and all semi-axes x 0.50-0.68 (diameter down >= 32 %);
* ``stable``: SUV x 0.92-1.08 and size x 0.95-1.05;
* ``progress``: SUV x 1.25-1.60 and size x max(1.2, 1 + 5 mm / D) x 1.03-1.15
  (diameter up >= 20 % and >= 5 mm);
* ``new``: absent at baseline (exactly one subject of a cohort has one).

Benign foci (``malignant`` False) have SUV 1.4-2.6 and are stable.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ..errors import PipelineError
from .geometry import Shape, ShapeKind
from .tracers import Tracer

__all__ = ["TIMEPOINTS", "ORGAN_NAMES", "Structure", "Lesion", "Phantom", "build_phantom"]

TIMEPOINTS: tuple[str, str] = ("baseline", "on_treatment")
ORGAN_NAMES: tuple[str, ...] = ("body", "liver", "spleen", "kidney_left", "kidney_right", "aorta", "muscle",
                                "bladder")
_KIND = {"body": "body", "liver": "reference", "aorta": "reference"}
_HU = {"body": 40.0, "liver": 60.0, "spleen": 45.0, "kidney_left": 30.0, "kidney_right": 30.0, "aorta": 40.0,
       "muscle": 50.0, "bladder": 10.0}
LESION_HU = {"bone": 300.0}
_LESION_HU_DEFAULT = 35.0
RESPONSE_CLASSES = ("respond", "stable", "progress")

# Candidate centre boxes per site, (x, y, z) ranges in mm before scaling x and y.
_SITE_BOX = {
    "lung": ((-150.0, 150.0), (-90.0, 40.0), (85.0, 140.0)),
    "lymph_node": ((-50.0, 60.0), (0.0, 75.0), (-90.0, 130.0)),
    "bone": ((-140.0, 140.0), (55.0, 105.0), (-140.0, 140.0)),
    "soft_tissue": ((-160.0, 160.0), (-105.0, 100.0), (-135.0, 135.0)),
}
_MIN_SEMI_AXIS_MM = 4.5  # >= 1 voxel on the 4 mm PET grid at every timepoint
_MARGIN_MM = 3.0


@dataclass(frozen=True)
class Structure:
    """One structure as present at one timepoint.

    Attributes
    ----------
    name : str
        ``body``, an organ name or ``lesion_NN``.
    kind : str
        ``body``, ``organ``, ``reference`` or ``tumour``.
    organ : str
        Organ (for lesions the site: liver, lung, lymph_node, bone, soft_tissue).
    shape : Shape
        Geometry at this timepoint.
    suv : float
        True uniform SUVbw (g/mL).
    hu : float
        CT number (HU).
    lesion : Lesion or None
        Lesion record (lesions only).
    """

    name: str
    kind: str
    organ: str
    shape: Shape
    suv: float
    hu: float
    lesion: Lesion | None = None


@dataclass(frozen=True)
class Lesion:
    """A lesion over both timepoints.

    Attributes
    ----------
    lesion_id : str
        Identifier, equal to the structure name (``lesion_03``).
    organ : str
        Site: liver, lung, lymph_node, bone or soft_tissue.
    is_lymph_node : bool
        Whether the lesion is a lymph node (RECIST short-axis rule).
    malignant : bool
        Histology truth.
    response_class : str
        ``respond``, ``stable``, ``progress`` or ``new``.
    shapes : Mapping[str, Shape]
        Geometry per timepoint where the lesion exists.
    suvs : Mapping[str, float]
        True SUVbw per timepoint where the lesion exists.
    """

    lesion_id: str
    organ: str
    is_lymph_node: bool
    malignant: bool
    response_class: str
    shapes: Mapping[str, Shape]
    suvs: Mapping[str, float]

    def intended_change_pct(self) -> tuple[float | None, float | None]:
        """Planned SUV and longest-axial-diameter change (%) baseline -> on_treatment."""
        if "baseline" not in self.shapes:
            return None, None
        d0 = self.shapes["baseline"].axial_diameters_mm()[0]
        d1 = self.shapes["on_treatment"].axial_diameters_mm()[0]
        s0, s1 = self.suvs["baseline"], self.suvs["on_treatment"]
        return 100.0 * (s1 / s0 - 1.0), 100.0 * (d1 / d0 - 1.0)


@dataclass(frozen=True)
class Phantom:
    """Anatomy and uptake of one subject.

    Attributes
    ----------
    scale : float
        In-plane body-size factor.
    organs : Mapping[str, Shape]
        Organ shapes (unchanged between timepoints), in painting order.
    organ_suv : Mapping[str, Mapping[str, float]]
        True SUVbw per timepoint and organ.
    lesions : tuple of Lesion
        All lesions, ordered by lesion_id.
    """

    scale: float
    organs: Mapping[str, Shape]
    organ_suv: Mapping[str, Mapping[str, float]]
    lesions: tuple[Lesion, ...]

    def structures(self, timepoint: str) -> list[Structure]:
        """Structures present at ``timepoint`` in painting order (body, organs, lesions)."""
        out = [Structure(name, _KIND.get(name, "organ"), name, shape, self.organ_suv[timepoint][name], _HU[name])
               for name, shape in self.organs.items()]
        for lesion in self.lesions:
            if timepoint in lesion.shapes:
                out.append(Structure(lesion.lesion_id, "tumour", lesion.organ, lesion.shapes[timepoint],
                                     lesion.suvs[timepoint], LESION_HU.get(lesion.organ, _LESION_HU_DEFAULT),
                                     lesion))
        return out


def _organ_shapes(s: float) -> dict[str, Shape]:
    """Organ layout for in-plane scale ``s`` (LPS mm)."""
    e: ShapeKind = "ellipsoid"
    c: ShapeKind = "elliptic_cylinder"
    return {
        "body": Shape(c, (0.0, 0.0, 0.0), (180.0 * s, 120.0 * s, 150.0)),
        "liver": Shape(e, (-70.0 * s, -5.0 * s, 65.0), (85.0 * s, 65.0 * s, 60.0), 20.0),
        "spleen": Shape(e, (95.0 * s, 40.0 * s, 90.0), (45.0 * s, 28.0 * s, 50.0), -30.0),
        "kidney_left": Shape(e, (70.0 * s, 60.0 * s, -10.0), (28.0 * s, 20.0 * s, 50.0), 25.0),
        "kidney_right": Shape(e, (-70.0 * s, 60.0 * s, -25.0), (28.0 * s, 20.0 * s, 50.0), -25.0),
        "aorta": Shape(c, (22.0 * s, 46.0 * s, 20.0), (12.0, 12.0, 120.0)),
        "muscle": Shape(e, (0.0, 100.0 * s, -10.0), (55.0 * s, 17.0 * s, 110.0)),
        "bladder": Shape(e, (0.0, -25.0 * s, -122.0), (45.0 * s, 35.0 * s, 24.0)),
    }


def _xyz(values: Iterable[float]) -> tuple[float, float, float]:
    """The three values of ``values`` as an (x, y, z) tuple."""
    x, y, z = values
    return x, y, z


def _r3(value: float) -> float:
    return float(round(value, 3))


def _lesion_shape(rng: np.random.Generator, diameter_mm: float, node: bool, min_factor: float) -> Shape:
    """A lesion shape at the origin with longest axial diameter ``diameter_mm`` (before the size floor)."""
    a = diameter_mm / 2.0
    if node:
        b, c = a * rng.uniform(0.55, 0.9), a * rng.uniform(0.8, 1.2)
        b = max(b, 5.25)  # short axis >= 10.5 mm: pathological node at baseline
    elif rng.random() < 0.4:
        b = c = a
    else:
        b, c = a * rng.uniform(0.7, 1.0), a * rng.uniform(0.7, 1.1)
    floor = _MIN_SEMI_AXIS_MM / min(min_factor, 1.0)
    axes = _xyz(float(round(max(v, floor), 2)) for v in (a, b, c))
    return Shape("ellipsoid", (0.0, 0.0, 0.0), axes, float(round(rng.uniform(-90.0, 90.0), 1)))


def _plan_change(rng: np.random.Generator, response_class: str, diameter_mm: float) -> tuple[float, float]:
    """(SUV factor, size factor) for a response class."""
    if response_class == "respond":
        return rng.uniform(0.40, 0.65), rng.uniform(0.50, 0.68)
    if response_class == "progress":
        return rng.uniform(1.25, 1.60), max(1.2, 1.0 + 5.0 / diameter_mm) * rng.uniform(1.03, 1.15)
    return rng.uniform(0.92, 1.08), rng.uniform(0.95, 1.05)


def _place(rng: np.random.Generator, shape: Shape, site: str, s: float, organs: Mapping[str, Shape],
           placed: Sequence[Shape]) -> tuple[float, float, float]:
    """Find a centre for ``shape`` (its largest size) at ``site``; raise if none is found."""
    host_name = "liver" if site == "liver" else "body"
    host = organs[host_name]
    others = [shape_ for name, shape_ in organs.items() if name not in ("body", host_name)]
    if site == "liver":
        low, high = host.bounds()
        box = list(zip(low, high, strict=True))
    else:
        (x0, x1), (y0, y1), (z0, z1) = _SITE_BOX[site]
        box = [(x0 * s, x1 * s), (y0 * s, y1 * s), (z0, z1)]
    radius = max(shape.semi_axes)
    for _ in range(4000):
        centre = _xyz(float(round(rng.uniform(lo, hi), 2)) for lo, hi in box)
        candidate = Shape(shape.kind, centre, shape.semi_axes, shape.rotation_deg)
        points = candidate.inflated(_MARGIN_MM).surface_points(256)
        px, py, pz = points.T
        if not host.contains(px, py, pz).all():
            continue
        if any(o.contains(px, py, pz).any() or o.contains(*centre) for o in others):
            continue
        if any(np.linalg.norm(np.subtract(centre, p.centre)) < radius + max(p.semi_axes) + _MARGIN_MM + 1.0
               for p in placed):
            continue
        return centre
    raise PipelineError(f"could not place a {2 * radius:.0f} mm lesion at site {site!r}",
                        source="synthetic phantom", remedy="use another seed")


def build_phantom(rng: np.random.Generator, tracer: Tracer, scale: float, tendency: str,
                  new_lesion: bool) -> Phantom:
    """Build the phantom of one subject.

    Parameters
    ----------
    rng : numpy.random.Generator
        Subject-specific generator (all draws happen here, in a fixed order).
    tracer : Tracer
        Determines organ SUVs, lesion SUV range and lesion sites.
    scale : float
        In-plane body-size factor (about 0.9-1.12).
    tendency : str
        Dominant response class of this subject (respond, stable, progress).
    new_lesion : bool
        Whether a new lesion appears at on_treatment.

    Returns
    -------
    Phantom
    """
    organs = _organ_shapes(scale)
    subject_jitter = {name: rng.uniform(0.85, 1.15) for name in organs}
    organ_suv = {tp: {name: _r3(tracer.organ_suv[name] * subject_jitter[name] * rng.uniform(0.95, 1.05))
                      for name in organs} for tp in TIMEPOINTS}

    sites = list(tracer.lesion_sites)
    weights = np.array([tracer.lesion_sites[k] for k in sites])
    weights = weights / weights.sum()
    plans = []  # (site, malignant, class, suv0, shape at origin (baseline), suv factor, size factor)
    n_malignant, n_benign = int(rng.integers(1, 7)), int(rng.integers(0, 3))
    for i in range(n_malignant + n_benign + int(new_lesion)):
        malignant = i < n_malignant or i == n_malignant + n_benign
        if i == n_malignant + n_benign:
            site, response, d_range = str(rng.choice(sites, p=weights)), "new", (10.0, 20.0)
        elif malignant:
            site = str(rng.choice(sites, p=weights))
            others = [c for c in RESPONSE_CLASSES if c != tendency]
            response = tendency if rng.random() < 0.7 else str(rng.choice(others))
            d_range = {"respond": (20.0, 45.0), "stable": (10.0, 40.0), "progress": (10.0, 32.0)}[response]
        else:
            site, response, d_range = str(rng.choice(["lymph_node", "soft_tissue", "lung", "bone"])), "stable", (
                9.0, 16.0)
        node = site == "lymph_node"
        if node:
            d_range = (max(d_range[0], 15.0), min(max(d_range[1], 20.0), 35.0))
        suv0 = rng.uniform(*tracer.lesion_suv) if malignant else rng.uniform(1.4, 2.6)
        min_factor = {"respond": 0.5, "new": 1.0}.get(response, 0.95)
        shape = _lesion_shape(rng, rng.uniform(*d_range), node, min_factor)
        suv_f, size_f = _plan_change(rng, "stable" if response == "new" else response,
                                     shape.axial_diameters_mm()[0])
        plans.append((site, malignant, response, _r3(suv0), shape, suv_f, size_f))

    order = sorted(range(len(plans)), key=lambda k: -max(plans[k][4].semi_axes) * max(1.0, plans[k][6]))
    centres: dict[int, tuple[float, float, float]] = {}
    placed: list[Shape] = []
    for k in order:
        site, _, _, _, shape, _, size_f = plans[k]
        largest = shape.scaled(max(1.0, size_f))
        centres[k] = _place(rng, largest, site, scale, organs, placed)
        placed.append(Shape(largest.kind, centres[k], largest.semi_axes, largest.rotation_deg))

    n_baseline = n_malignant + n_benign
    names = rng.permutation(n_baseline)  # shuffled numbering so ids do not reveal malignancy
    lesions = []
    for k, (site, malignant, response, suv0, shape, suv_f, size_f) in enumerate(plans):
        base = Shape(shape.kind, centres[k], shape.semi_axes, shape.rotation_deg)
        number = int(names[k]) + 1 if k < n_baseline else n_baseline + 1
        if response == "new":
            shapes, suvs = {"on_treatment": base}, {"on_treatment": suv0}
        else:
            later = Shape(base.kind, base.centre, _xyz(float(round(a * size_f, 2)) for a in base.semi_axes),
                          base.rotation_deg)
            shapes, suvs = {"baseline": base, "on_treatment": later}, {"baseline": suv0,
                                                                       "on_treatment": _r3(suv0 * suv_f)}
        lesions.append(Lesion(f"lesion_{number:02d}", site, site == "lymph_node", malignant, response,
                              shapes, suvs))
    lesions.sort(key=lambda les: les.lesion_id)
    return Phantom(scale, organs, organ_suv, tuple(lesions))
