"""Conceptual spaces (Gärdenfors 2000): quality dimensions, prototype regions, assignment.

Each space has a few quality dimensions, each with a transform to standardised units and a
salience weight; a region is the Voronoi cell of its prototype, so a record belongs to the
region whose prototype is nearest in the weighted standardised metric (Gärdenfors,
*Conceptual Spaces*, MIT Press 2000, ch. 3–4: regions from prototypes by a Voronoi
tessellation). Prototypes are written in the dimension's natural unit (ROAS 4.0, spend 300)
and transformed like the data, so they read as what they mean. Circular dimensions (season)
use the distance around the circle.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from memory_svc.features import CausalProfile

__all__ = [
    "PRIMARY_SPACE",
    "SPACES",
    "ConceptualSpaceSpec",
    "QualityDimensionSpec",
    "RegionSpec",
    "SpaceAssignment",
    "assign_all",
    "region_keys",
]


@dataclass(frozen=True, slots=True)
class QualityDimensionSpec:
    """One dimension: ``standardised = (transform(x) - centre) / scale``, weighted by salience."""

    name: str
    description: str
    transform: str = "identity"  # identity | log1p
    centre: float = 0.0
    scale: float = 1.0
    salience: float = 1.0
    period: float | None = None  # circular dimension with this period (in natural units)

    def standardise(self, x: np.ndarray) -> np.ndarray:
        t = np.log1p(np.clip(x, 0.0, None)) if self.transform == "log1p" else x.astype(float)
        return (t - self.centre) / self.scale


@dataclass(frozen=True, slots=True)
class RegionSpec:
    """A region: its prototype (natural units, one per dimension) and meaning."""

    name: str
    prototype: tuple[float, ...]
    description: str


@dataclass(frozen=True, slots=True)
class ConceptualSpaceSpec:
    """A named space: dimensions, regions, and how to read a record's coordinates."""

    name: str
    description: str
    dimensions: tuple[QualityDimensionSpec, ...]
    regions: tuple[RegionSpec, ...]
    coordinates: Callable[[CausalProfile], np.ndarray]  # (n, d) natural units

    def distances(self, coords: np.ndarray) -> np.ndarray:
        """(n, regions) weighted distances in standardised coordinates."""
        protos = np.array([r.prototype for r in self.regions], dtype=float)  # (r, d)
        total = np.zeros((len(coords), len(self.regions)))
        for j, dim in enumerate(self.dimensions):
            if dim.period is not None:
                diff = np.abs(coords[:, j, None] - protos[None, :, j]) % dim.period
                diff = np.minimum(diff, dim.period - diff) / dim.scale
            else:
                diff = dim.standardise(coords[:, j])[:, None] - dim.standardise(protos[:, j])[None]
            total += (dim.salience * diff) ** 2
        return np.sqrt(total)


@dataclass(frozen=True, slots=True)
class SpaceAssignment:
    """Nearest-prototype assignment of n records in one space."""

    space: str
    region: np.ndarray  # (n,) object array of region names
    distance: np.ndarray  # (n,) float


def _efficiency(p: CausalProfile) -> np.ndarray:
    return np.column_stack([p.roas, p.cpa])


def _scale(p: CausalProfile) -> np.ndarray:
    return np.column_stack([p.spend, p.impressions])


def _timing(p: CausalProfile) -> np.ndarray:
    return np.column_stack([p.season, (p.weekday >= 6).astype(float)])


def _treatment(p: CausalProfile) -> np.ndarray:
    return np.column_stack([p.assignment, p.intensity])


SPACES: tuple[ConceptualSpaceSpec, ...] = (
    ConceptualSpaceSpec(
        "efficiency",
        "How efficiently spend turns into outcomes (platform-attributed, not causal).",
        (
            QualityDimensionSpec(
                "roas", "revenue / spend; log1p, scale 0.5; 0 when spend is 0", "log1p", 0, 0.5
            ),
            QualityDimensionSpec(
                "cpa",
                "spend / conversions (spend when none); log1p, scale 1.0, salience 0.5",
                "log1p",
                0,
                1.0,
                0.5,
            ),
        ),
        (
            RegionSpec("high_roas", (4.0, 20.0), "returns four times spend or more"),
            RegionSpec("profitable", (2.0, 40.0), "returns about twice spend"),
            RegionSpec("break_even", (1.0, 60.0), "returns about what it spends"),
            RegionSpec("unprofitable", (0.3, 120.0), "returns well under spend"),
            RegionSpec("no_spend", (0.0, 0.0), "no spend (paused or go-dark)"),
        ),
        _efficiency,
    ),
    ConceptualSpaceSpec(
        "scale",
        "How big the row is: spend and reach.",
        (
            QualityDimensionSpec("spend", "spend in account currency; log1p", "log1p"),
            QualityDimensionSpec("reach", "impressions; log1p", "log1p"),
        ),
        (
            RegionSpec("dark", (0.0, 0.0), "nothing spent or served"),
            RegionSpec("small", (20.0, 2_000.0), "tens a day, thousands of impressions"),
            RegionSpec("medium", (300.0, 30_000.0), "hundreds a day, tens of thousands"),
            RegionSpec("large", (5_000.0, 500_000.0), "thousands a day, hundreds of thousands"),
        ),
        _scale,
    ),
    ConceptualSpaceSpec(
        "timing",
        "When the row happened: season and part of the week.",
        (
            QualityDimensionSpec(
                "season", "1 winter … 4 autumn, circular (period 4)", period=4.0, salience=2.0
            ),
            QualityDimensionSpec("weekend", "1 on Saturday/Sunday, else 0"),
        ),
        tuple(
            RegionSpec(
                f"{season}_{part}",
                (float(s), float(w)),
                f"{season} {'weekend' if w else 'weekday'}s",
            )
            for s, season in enumerate(("winter", "spring", "summer", "autumn"), start=1)
            for w, part in ((0, "weekday"), (1, "weekend"))
        ),
        _timing,
    ),
    ConceptualSpaceSpec(
        "treatment",
        "Experimental assignment and dose.",
        (
            QualityDimensionSpec(
                "assignment", "+1 treatment, -1 control, 0 observational; salience 4", salience=4.0
            ),
            QualityDimensionSpec("intensity", "treatment_intensity clipped to [0, 3]"),
        ),
        (
            RegionSpec("control", (-1.0, 0.0), "control arm of an experiment"),
            RegionSpec("observational", (0.0, 0.0), "not in an experiment"),
            RegionSpec("treatment_reduced", (1.0, 0.5), "treated at reduced dose"),
            RegionSpec("treatment_full", (1.0, 1.0), "treated at full dose"),
            RegionSpec("treatment_increased", (1.0, 2.0), "treated at increased dose"),
        ),
        _treatment,
    ),
)

PRIMARY_SPACE = "efficiency"
_BY_NAME = {s.name: s for s in SPACES}


def region_keys() -> frozenset[str]:
    """Every ``"space/region"`` key the spaces define."""
    return frozenset(f"{s.name}/{r.name}" for s in SPACES for r in s.regions)


def assign(space: ConceptualSpaceSpec, profile: CausalProfile) -> SpaceAssignment:
    """Nearest prototype for each record (ties go to the region listed first)."""
    d = space.distances(space.coordinates(profile))
    best = d.argmin(axis=1) if len(d) else np.zeros(0, dtype=int)
    names = np.array([r.name for r in space.regions], dtype=object)
    return SpaceAssignment(space.name, names[best], d[np.arange(len(d)), best])


def assign_all(profile: CausalProfile) -> list[SpaceAssignment]:
    """Assignments in every space, in :data:`SPACES` order (the primary space first)."""
    return [assign(space, profile) for space in SPACES]


def space(name: str) -> ConceptualSpaceSpec:
    return _BY_NAME[name]
