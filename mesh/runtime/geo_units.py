"""Whether a record's geo is a registered experiment's unit: the one rule for the arm a record
is labelled with at ingest (:meth:`ingestion_svc.experiments.Experiment.arm_for`) and for the
arms an estimate and a lift test read (:mod:`causal_svc.experiment_units`).

The registry keeps units as the analyst typed them ("TX", "tx", "US-TX"); records keep
ingestion's geo keys ("US-TX"). Ingestion matched by exact equality while causal folded case,
so an experiment registered with "tx" was estimated on US-TX's records that ingest had stored
``not_in_experiment``. Here because both layers may import mesh.runtime and not each other.
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterable

import numpy as np
import pandas as pd

__all__ = ["fold", "folded_units", "geo_is_unit", "same_place", "unit_matches"]


def fold(text: str) -> str:
    """``text`` as units compare: NFC, case-folded, stripped."""
    return unicodedata.normalize("NFC", text).casefold().strip()


def folded_units(units: Iterable[str]) -> frozenset[str]:
    return frozenset(fold(u) for u in units)


def geo_is_unit(geo: str, folded: frozenset[str]) -> bool:
    """Whether ``geo`` is one of the units ``folded`` (:func:`folded_units`): spelled fully
    ("US-TX") or as its subdivision ("TX"), in any case and Unicode form ("tx", "us-tx"):
    ISO 3166 codes are case-insensitive, and a geo's name is the same place however it is
    capitalised. A country is no subdivision: "US" is not US-TX."""
    f = fold(geo)
    return f in folded or f.rsplit("-", 1)[-1] in folded


def same_place(a: str, b: str) -> bool:
    """Whether two unit spellings name one place: :func:`geo_is_unit` either way round ("TX"
    and "us-tx"; "US-TX" and "US-TX")."""
    return geo_is_unit(a, folded_units([b])) or geo_is_unit(b, folded_units([a]))


def unit_matches(values: pd.Series, units: Iterable[str]) -> pd.Series:
    """:func:`geo_is_unit` over a column of geos (a missing geo matches no unit)."""
    wanted = folded_units(units)
    # each distinct geo folded once: a panel holds a few dozen geos over many rows
    codes, geos = pd.factorize(values.astype(str))
    hit = np.array([geo_is_unit(g, wanted) for g in geos] + [False], dtype=bool)
    return pd.Series(hit[codes], index=values.index)  # code -1 (missing) reads the last
