"""Geo sizes: resident population in millions for the geos the attribution model knows.

The Hill curve acts on per-capita input (Meridian scales media by population the same way), so
one curve serves a state of 0.6M and one of 39M. US states and DC: 2020 census counts, rounded
to 10,000 (public data, U.S. Census Bureau, "2020 Census Apportionment Results"). A geo is named
by its USPS code, with or without the country prefix ("TX", "US-TX").
"""

from __future__ import annotations

__all__ = ["geo_population"]

_US_STATES: dict[str, float] = {
    "CA": 39.54,  # California
    "TX": 29.15,  # Texas
    "FL": 21.54,  # Florida
    "NY": 20.20,  # New York
    "PA": 13.00,  # Pennsylvania
    "IL": 12.81,  # Illinois
    "OH": 11.80,  # Ohio
    "GA": 10.71,  # Georgia
    "NC": 10.44,  # North Carolina
    "MI": 10.08,  # Michigan
    "NJ": 9.29,  # New Jersey
    "VA": 8.63,  # Virginia
    "WA": 7.71,  # Washington
    "AZ": 7.15,  # Arizona
    "MA": 7.03,  # Massachusetts
    "TN": 6.91,  # Tennessee
    "IN": 6.79,  # Indiana
    "MD": 6.18,  # Maryland
    "MO": 6.15,  # Missouri
    "WI": 5.89,  # Wisconsin
    "CO": 5.77,  # Colorado
    "MN": 5.71,  # Minnesota
    "SC": 5.12,  # South Carolina
    "AL": 5.02,  # Alabama
    "LA": 4.66,  # Louisiana
    "KY": 4.51,  # Kentucky
    "OR": 4.24,  # Oregon
    "OK": 3.96,  # Oklahoma
    "CT": 3.61,  # Connecticut
    "UT": 3.27,  # Utah
    "IA": 3.19,  # Iowa
    "NV": 3.10,  # Nevada
    "AR": 3.01,  # Arkansas
    "MS": 2.96,  # Mississippi
    "KS": 2.94,  # Kansas
    "NM": 2.12,  # New Mexico
    "NE": 1.96,  # Nebraska
    "ID": 1.84,  # Idaho
    "WV": 1.79,  # West Virginia
    "HI": 1.46,  # Hawaii
    "NH": 1.38,  # New Hampshire
    "ME": 1.36,  # Maine
    "RI": 1.10,  # Rhode Island
    "MT": 1.08,  # Montana
    "DE": 0.99,  # Delaware
    "SD": 0.89,  # South Dakota
    "ND": 0.78,  # North Dakota
    "AK": 0.73,  # Alaska
    "DC": 0.69,  # District of Columbia
    "VT": 0.64,  # Vermont
    "WY": 0.58,  # Wyoming
}


def geo_population(geo: str) -> float | None:
    """Population in millions, or None for a geo with no figure."""
    code = geo.strip().upper()
    if code.startswith("US-"):
        code = code[3:]
    return _US_STATES.get(code)
