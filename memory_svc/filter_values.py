"""A filter's campaigns, channels, geos and experiment against what the org has.

A value the org has no records of is refused (UNKNOWN_FILTER_VALUE) naming the closest
values it has, except a geo spelt as ingestion reads a region: "CA", "us-ca" and "California"
are the org's "US-CA" (mesh.runtime.region_names, the rules ingest stores geos by), so
the filter reads the stored spelling. A stored geo spelt as the value, case aside, is read
alone ("ca" of an org with "CA" and "US-CA" is its "CA"); a spelling that is more than one
stored place ("ca" of an org with "US-CA" and "ES-CA"; "us-california" of one with
"US-CA" and a geo "CA" stored without a country, maybe Canada) is refused naming them.
"""

from __future__ import annotations

import dataclasses
import difflib

from memory_svc.errors import UnknownFilterValue
from memory_svc.store import RecordFilter, RecordStore
from mesh.runtime.exceptions import FieldViolation, shown
from mesh.runtime.region_names import country_of, geos_of_place, names_of_geo, place_of

__all__ = ["MAX_NEAR_SCAN", "NEAR_MATCHES", "checked_filter"]

# Values named in a refusal, closest first.
NEAR_MATCHES = 3
# difflib's similarity (0..1) a value named as near must reach.
_CUTOFF = 0.6
# Past this many values of a kind (an org's campaigns) none is named near: difflib takes
# ~50 µs a value on a busy core (5 s for 100k campaign ids), too long for a refusal.
MAX_NEAR_SCAN = 5_000
_KINDS = (("campaign_ids", "campaign"), ("channels", "channel"), ("geos", "geo"))


def checked_filter(
    store: RecordStore, org_id: str, flt: RecordFilter, prefix: str, *, allow_unknown: bool
) -> RecordFilter:
    """``flt`` with each geo the org has under another spelling read as the stored one;
    UnknownFilterValue (every bad field named, ``prefix`` before its path) for a value the
    org has no records of. ``allow_unknown``: campaigns, channels and geos are taken as
    given (a value the org lacks matches nothing), only the experiment is checked."""
    wanted: list[tuple[str, str, str]] = []  # (field, kind, value)
    for attr, kind in () if allow_unknown else _KINDS:
        wanted += [(f"{prefix}{attr}[{i}]", kind, v) for i, v in enumerate(getattr(flt, attr))]
    if flt.experiment_id:
        wanted.append((f"{prefix}experiment_id", "experiment", flt.experiment_id))
    present = store.present_nodes(org_id, [f"{kind}:{value}" for _, kind, value in wanted])
    names: dict[str, list[str]] = {}  # kind → the org's values, read once a value is missing

    def org_has(kind: str) -> list[str]:
        if kind not in names:
            names[kind] = store.node_names(org_id, kind)
        return names[kind]

    geos: list[str] = []
    violations = []
    for field, kind, value in wanted:
        if f"{kind}:{value}" in present:
            geos += [value] if kind == "geo" else []
            continue
        places = geos_of_place(value, org_has(kind)) if kind == "geo" else []
        if places and len({place_of(p) for p in places}) == 1:
            geos += places  # one place, as ingest would have stored it
            continue
        if places:
            why = f"is more than one place in org {org_id!r}: name one of {_listed(places)}"
        else:
            near = _near(value, org_has(kind), kind)
            why = f"has no records in org {org_id!r}" + (
                f"; the closest it has: {_listed(near)}" if near else ""
            )
        violations.append(FieldViolation(field, f"{kind} {shown(value)} {why}"))
    if violations:
        raise UnknownFilterValue(violations[0].description, violations=violations)
    resolved = tuple(dict.fromkeys(geos))
    if allow_unknown or resolved == flt.geos:
        return flt
    return dataclasses.replace(flt, geos=resolved)


def _near(value: str, have: list[str], kind: str) -> list[str]:
    """The org's values closest to ``value``, case aside; a geo also by its region's code
    and names ("Californa" → "US-CA")."""
    if len(have) > MAX_NEAR_SCAN:
        return []
    keys: dict[str, str] = {}
    for name in have:
        spellings = [name]
        if kind == "geo":
            spellings += [name.partition("-")[2] if country_of(name) else ""]
            spellings += names_of_geo(name)
        for spelt in spellings:
            if spelt:
                keys.setdefault(spelt.casefold(), name)
    close = difflib.get_close_matches(value.casefold(), keys, n=4 * NEAR_MATCHES, cutoff=_CUTOFF)
    return list(dict.fromkeys(keys[c] for c in close))[:NEAR_MATCHES]


def _listed(values: list[str]) -> str:
    return ", ".join(shown(v) for v in values)
