"""A registered experiment's arms, as written, against the geos the records hold.

The registry keeps the units as the analyst typed them ("TX", "US-TX", "Bayern"); the records
keep ingestion's geo keys ("US-TX", "DE-BY"). A unit that matches none of them used to drop out
of its arm without a word (R34-F8: registered 3 vs 3, estimated 3 vs 2, the estimate +54 %):
a randomised design that lost a unit is another design, so it is refused here, naming the
unit, the geos it could have been and, where one is plainly meant, the spelling to register.
Which geos a unit names is :func:`mesh.runtime.geo_units.unit_matches`, the rule ingestion
labels records' arms by too (imported here for record_tables and experiment_result). Pure: no
gRPC.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable, Mapping

import holidays
import pandas as pd

from mesh.runtime.exceptions import FailedPrecondition
from mesh.runtime.geo_units import fold, unit_matches
from mesh.runtime.quoting import shown, shown_all

UNMATCHED_REASON = "EXPERIMENT_UNIT_UNMATCHED"


@functools.cache
def _region_names(country: str) -> Mapping[str, str]:
    """The subdivision names the holidays package knows for a country, case-folded → code
    ("bayern" → "BY"); empty where it knows none."""
    try:
        calendar = holidays.country_holidays(country)
    except (NotImplementedError, KeyError):
        return {}
    aliases: Mapping[str, str] = getattr(calendar, "subdivisions_aliases", {})
    return {fold(name): code for name, code in aliases.items()}


def suggested_geo(unit: str, geos: Iterable[str]) -> str | None:
    """The one geo an unmatched unit plainly means: a region name the geo's country calls by
    that code ("Bayern" → "DE-BY"), or the same text in another case or Unicode form ("by" →
    "DE-BY", which :func:`unit_matches` matches already); None where there is none or more
    than one."""
    geos = sorted(set(geos))
    folded = fold(unit)
    same = {g for g in geos if folded in (fold(g), fold(g.rsplit("-", 1)[-1]))}
    if not same:
        for g in geos:
            country, _, code = g.partition("-")
            if code and _region_names(country).get(folded) == code:
                same.add(g)
    return same.pop() if len(same) == 1 else None


def require_arms_found(
    experiment_id: str,
    arms: Mapping[str, tuple[str, ...]],
    geos: Iterable[str],
    first: dt.date,
    last: dt.date,
) -> None:
    """Refuse an experiment whose registered units (per arm: "treatment" → units) are not all
    among ``geos``, the geos the records read from ``first`` to ``last`` hold.

    Raises
    ------
    FailedPrecondition
        Naming each unmatched unit and its arm, the geos read, the spelling that matches where
        one plainly does, and the fix (register the experiment again with units as the geos).
    """
    geo_list = sorted({g for g in geos if type(g) is str and g})
    column = pd.Series(geo_list, dtype=object)
    missing: list[str] = []
    for arm, units in arms.items():
        for unit in units:
            if not unit_matches(column, (unit,)).any():
                hint = suggested_geo(unit, geo_list)
                missing.append(
                    f"{arm} unit {shown(unit)}" + (f" (write it as {shown(hint)})" if hint else "")
                )
    if not missing:
        return
    raise FailedPrecondition(
        f"experiment {shown(experiment_id)}: {'; '.join(missing)} "
        f"{'matches' if len(missing) == 1 else 'match'} none of the {len(geo_list)} geos of "
        f"the records read ({first} to {last}: {shown_all(geo_list)}), so the arm would "
        "be estimated without it: a registered design that lost a unit is another design. "
        'A unit is a geo as the records key it ("US-TX") or its code after the country '
        '("TX"); register the experiment again under a new id with the units spelled so, or, '
        "if the unit is spelled so, check that the query's sources and dates hold its records",
        subject="records.experiment_id",
        reason=UNMATCHED_REASON,
    )
