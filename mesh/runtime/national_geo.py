"""Which media geo stands for the whole country of an org's outcome geos: the rule the
attribution panel spreads national media by (causal_svc.attribution.coverage) and the drift
check compares it by (surfacing_svc.data_drift), so the two never read a TV file apart."""

from __future__ import annotations

from collections.abc import Collection

__all__ = ["is_national"]


def is_national(geo: str, outcome_geos: Collection[str]) -> bool:
    """A media geo that stands for the whole country of the outcome's geos: empty (a file
    without a geo column ingested without ``--country``) or the country code every outcome
    geo is a subdivision of (``US`` beside ``US-CA``, ``US-NY``; an outcome geo "", orders
    without an address, is no subdivision and is passed over)."""
    if geo in outcome_geos:
        return False
    named = [str(g) for g in outcome_geos if g]
    return geo == "" or (bool(named) and all(g.startswith(f"{geo}-") for g in named))
