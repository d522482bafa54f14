"""A region is one geo however it is spelled (audit s18 R34 F4): for a German account "Bayern"
was stored "DE-Bayern" beside "DE-BY", a hyphenated Land ("Baden-Württemberg") lost its
country (any '-' was taken for an ISO prefix), and Meta's English "Bavaria" became one more
geo. Now names map to ISO 3166-2 codes, only "XX-YYY" carries its own country, and a name
Germany does not have is refused naming the codes and geo_keys."""

from __future__ import annotations

import json

from ingestion_svc import connectors
from ingestion_svc.connectors.regions import same_place
from ingestion_svc.raw_batch import Account, ColumnMap
from tests.ingestion.conftest import raw_batch

MAPPING = ColumnMap(date="day", geo="region", revenue="rev")


def _geos(country: str, regions: list[str]) -> tuple[list[str], list[tuple[int, str]]]:
    rows = [{"day": f"2024-10-{i + 1:02d}", "region": r, "rev": "1"} for i, r in enumerate(regions)]
    account = Account("shop", "Europe/Berlin", "EUR", country)
    out = connectors.normalise(
        raw_batch("generic", [json.dumps(r) for r in rows], account, mapping=MAPPING)
    )
    return out.frame["geo"].tolist(), [(r.row_index, r.message) for r in out.rejections]


def test_german_codes_names_and_hyphenated_names_are_one_geo_each() -> None:
    written = ["BY", "DE-BY", "Bayern", "BAYERN", "Baden-Württemberg", "Nordrhein-Westfalen", "be"]
    geos, refused = _geos("DE", written)
    assert geos == ["DE-BY"] * 4 + ["DE-BW", "DE-NW", "DE-BE"]
    assert refused == []


def test_an_english_name_germany_does_not_have_is_refused_with_its_codes() -> None:
    geos, refused = _geos("DE", ["Bavaria", "BY"])
    assert geos == ["DE-BY"]
    ((row, message),) = refused
    assert row == 0 and message.startswith("geo 'Bavaria' is not a subdivision of DE")
    assert "BB, BE, BW, BY" in message and "geo_keys" in message
    assert "Augsburg" not in message  # the package's city, no ISO code


def test_a_hyphenated_name_elsewhere_gets_its_country() -> None:
    geos, refused = _geos("FR", ["Île-de-France", "FR-IDF", "Bretagne", "IDF"])
    assert geos == ["FR-Île-de-France", "FR-IDF", "FR-Bretagne", "FR-IDF"] and refused == []


def test_a_geo_stored_as_a_name_is_the_place_of_its_code() -> None:
    """What ingestion.history matches a re-sent row's stored record by."""
    assert same_place("BR-BAHIA") == same_place("BR-BA") == "br-ba"
    assert same_place("DE-Bayern") == same_place("de-by")
    assert same_place("US-Atlantis") == "us-atlantis"
