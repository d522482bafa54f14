"""A rate's quote direction, said and checked (audit s17 R31: an fx_eur_usd of 0.93, EUR per
USD, where the name means USD per EUR, is as plausible a number as 1.08 and was applied with
no word of which way it was read). The analysis's note names the rate as "1 EUR = x USD" and
the series' own direction; a pair registered both ways whose rates are not reciprocals (one
was entered the other way round) is refused, naming both."""

from __future__ import annotations

import datetime as dt

import pandas as pd
import pytest

from mesh.runtime.aggregates import melt_campaign_geo_days
from mesh.runtime.money import (
    FxSeries,
    MixedCurrencies,
    converted_channels,
    fx_direction,
    in_one_currency,
    spend_in_outcome_currency,
)
from tests.runtime.test_money_accounts import DAY0, ROWS, _frame, _sums

# the EUR Meta account and the USD orders: one currency per pair, converted from its sums
EUR_ONLY = [r for r in ROWS if r[3] != "us1" and r[2] != "google_search"]
DAYS = [DAY0 + dt.timedelta(days=d) for d in range(3)]


def _series(name: str, value: float) -> FxSeries:
    s = FxSeries.parse(name, DAYS, [value] * len(DAYS))
    assert s is not None
    return s


def _convert(*fx: FxSeries) -> tuple[str, ...]:
    geo, camp, cg, cur = _sums(EUR_ONLY)  # campaign-geo-days long, as causal passes them
    return in_one_currency(geo, camp, melt_campaign_geo_days(cg), cur, list(fx)).notes


def test_the_note_says_1_eur_is_so_many_usd_and_how_the_series_was_read() -> None:
    (note,) = _convert(_series("fx_eur_usd", 1.08))
    assert note.endswith("; 1 EUR = 1.08 USD over the window (fx_eur_usd: USD per EUR)"), note
    # the same entered the other way round reads 0.93 here, which a reader can see is not
    # what a euro costs
    (wrong,) = _convert(_series("fx_eur_usd", 0.93))
    assert "; 1 EUR = 0.93 USD over the window" in wrong, wrong
    # a reverse series is used inverted, and says so in its own direction too
    (back,) = _convert(_series("fx_usd_eur", 0.8))
    assert back.endswith(
        "; 1 EUR = 1.25 USD over the window (fx_usd_eur, EUR per USD, inverted: its last value "
        "reads 1 USD = 0.8 EUR)"
    ), back
    (said,) = converted_channels([back])  # the plan's reading of the note is unchanged
    assert (said.channel, said.frm, said.to) == ("meta_feed", "EUR", "USD")
    assert said.rate == pytest.approx(1.25)


def test_a_pair_registered_both_ways_must_agree() -> None:
    # reciprocals within a few per cent (two sources' rates): converted with the direct one
    (note,) = _convert(_series("fx_eur_usd", 1.08), _series("fx_usd_eur", 0.93))
    assert "1 EUR = 1.08 USD" in note
    # one entered the other way round: 1.08 both ways multiply to 1.17
    with pytest.raises(MixedCurrencies) as error:
        _convert(_series("fx_eur_usd", 1.08), _series("fx_usd_eur", 1.08))
    assert (
        "meta/meta_feed is in EUR, but fx_eur_usd and fx_usd_eur are both registered and "
        "disagree: 1 EUR = 1.08 USD by fx_eur_usd but 1 EUR = 0.9259 USD by fx_usd_eur (their "
        "product is 1.17, not 1): one of them is quoted the other way round"
    ) in str(error.value)


def test_a_lift_tests_spend_note_names_the_rate() -> None:
    records = _frame(EUR_ONLY)
    out, note = spend_in_outcome_currency(records, "meta_feed", [_series("fx_eur_usd", 1.1)])
    assert note == (
        "meta_feed's EUR spend converted to USD with fx_eur_usd: 1 EUR = 1.1 USD over the test's "
        "days (fx_eur_usd: USD per EUR)"
    )
    assert isinstance(out, pd.DataFrame)
    with pytest.raises(MixedCurrencies, match="quoted the other way round"):
        spend_in_outcome_currency(
            records, "meta_feed", [_series("fx_eur_usd", 1.1), _series("fx_usd_eur", 1.1)]
        )


def test_the_registry_echo_of_a_series() -> None:
    said = fx_direction("fx_eur_usd", DAYS, [1.07, 1.09, 1.08])
    assert said == (
        "read as 1 EUR = 1.08 USD on 2024-09-03 (1.07 to 1.09 over its days); a rate quoted the "
        "other way (EUR per USD) is wrong here: register its reciprocal, or name the series "
        "fx_usd_eur"
    )
    assert fx_direction("eur_usd", DAYS, [1.08] * 3) is None
