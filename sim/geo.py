"""US states (and DC) as the simulator's geos: population, time zone and each platform's key.

Populations are the 2020 census counts in millions (rounded); a geo's baseline demand and budget
scale with it. ``google_geo_target`` is the Google Ads geo-target-constant criterion id of the state
(the US-state ids run 21132-21184 in USPS-code order); every export also lists its geo keys in
``accounts.json`` (``geo_keys``), so ingestion never needs an outside table.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Geo:
    """One geo: USPS code, name, population (millions) and main IANA time zone."""

    code: str
    name: str
    population_m: float
    timezone: str

    @property
    def google_geo_target(self) -> str:
        return f"geoTargetConstants/{_GOOGLE_IDS[self.code]}"

    @property
    def tiktok_province_id(self) -> str:
        # TikTok reports provinces by numeric location id; the simulator uses its own ids,
        # listed per advertiser in accounts.json so ingestion maps them without TikTok's table.
        return str(6_252_001_000 + _CODES.index(self.code))


_STATES: tuple[tuple[str, str, float, str], ...] = (
    ("CA", "California", 39.54, "America/Los_Angeles"),
    ("TX", "Texas", 29.15, "America/Chicago"),
    ("FL", "Florida", 21.54, "America/New_York"),
    ("NY", "New York", 20.20, "America/New_York"),
    ("PA", "Pennsylvania", 13.00, "America/New_York"),
    ("IL", "Illinois", 12.81, "America/Chicago"),
    ("OH", "Ohio", 11.80, "America/New_York"),
    ("GA", "Georgia", 10.71, "America/New_York"),
    ("NC", "North Carolina", 10.44, "America/New_York"),
    ("MI", "Michigan", 10.08, "America/Detroit"),
    ("NJ", "New Jersey", 9.29, "America/New_York"),
    ("VA", "Virginia", 8.63, "America/New_York"),
    ("WA", "Washington", 7.71, "America/Los_Angeles"),
    ("AZ", "Arizona", 7.15, "America/Phoenix"),
    ("MA", "Massachusetts", 7.03, "America/New_York"),
    ("TN", "Tennessee", 6.91, "America/Chicago"),
    ("IN", "Indiana", 6.79, "America/Indiana/Indianapolis"),
    ("MD", "Maryland", 6.18, "America/New_York"),
    ("MO", "Missouri", 6.15, "America/Chicago"),
    ("WI", "Wisconsin", 5.89, "America/Chicago"),
    ("CO", "Colorado", 5.77, "America/Denver"),
    ("MN", "Minnesota", 5.71, "America/Chicago"),
    ("SC", "South Carolina", 5.12, "America/New_York"),
    ("AL", "Alabama", 5.02, "America/Chicago"),
    ("LA", "Louisiana", 4.66, "America/Chicago"),
    ("KY", "Kentucky", 4.51, "America/New_York"),
    ("OR", "Oregon", 4.24, "America/Los_Angeles"),
    ("OK", "Oklahoma", 3.96, "America/Chicago"),
    ("CT", "Connecticut", 3.61, "America/New_York"),
    ("UT", "Utah", 3.27, "America/Denver"),
    ("IA", "Iowa", 3.19, "America/Chicago"),
    ("NV", "Nevada", 3.10, "America/Los_Angeles"),
    ("AR", "Arkansas", 3.01, "America/Chicago"),
    ("MS", "Mississippi", 2.96, "America/Chicago"),
    ("KS", "Kansas", 2.94, "America/Chicago"),
    ("NM", "New Mexico", 2.12, "America/Denver"),
    ("NE", "Nebraska", 1.96, "America/Chicago"),
    ("ID", "Idaho", 1.84, "America/Boise"),
    ("WV", "West Virginia", 1.79, "America/New_York"),
    ("HI", "Hawaii", 1.46, "Pacific/Honolulu"),
    ("NH", "New Hampshire", 1.38, "America/New_York"),
    ("ME", "Maine", 1.36, "America/New_York"),
    ("RI", "Rhode Island", 1.10, "America/New_York"),
    ("MT", "Montana", 1.08, "America/Denver"),
    ("DE", "Delaware", 0.99, "America/New_York"),
    ("SD", "South Dakota", 0.89, "America/Chicago"),
    ("ND", "North Dakota", 0.78, "America/Chicago"),
    ("AK", "Alaska", 0.73, "America/Anchorage"),
    ("DC", "District of Columbia", 0.69, "America/New_York"),
    ("VT", "Vermont", 0.64, "America/New_York"),
    ("WY", "Wyoming", 0.58, "America/Denver"),
)

_CODES: tuple[str, ...] = tuple(sorted(s[0] for s in _STATES))
# Google's US-state criterion ids follow USPS-code order from 21132 (AK), skipping 21134 and 21181.
_GOOGLE_IDS: dict[str, int] = {}
_next = 21132
for _code in _CODES:
    if _next in (21134, 21181):
        _next += 1
    _GOOGLE_IDS[_code] = _next
    _next += 1

ALL_GEOS: tuple[Geo, ...] = tuple(Geo(*s) for s in _STATES)
MAX_GEOS = len(ALL_GEOS)


def select_geos(n: int) -> tuple[Geo, ...]:
    """The ``n`` most populous geos, in descending population (a deterministic choice)."""
    return ALL_GEOS[:n]
