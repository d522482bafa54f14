"""Money in several currencies, converted with the org's registered exchange rates.

Over a real mesh (memory, ingestion's registry, causal): an org whose Meta account reports
in EUR — its amounts the USD org's divided by 1.25 — and which registers ``fx_eur_usd`` = 1.25
gets the USD org's analysis (same spend, same effects) in USD, with a note saying what was
converted; without the rate it is refused naming the series to register. The rule on the
tables: daily rates, the reverse rate, stale and missing days, a pair in two currencies; and
the registry refuses a rate that says nothing it can convert."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from causal_svc.attribution import FxSeries, MixedCurrencies, in_one_currency
from mesh.runtime.status import decode_status

from .records import world_mesh, world_records

USD = "fxdollars"  # every record in USD
RATED = "fxrated"  # Meta in EUR at 1 / 1.25 of the USD amounts, fx_eur_usd = 1.25 registered
UNRATED = "fxunrated"  # the same records, no rate registered
RATE = 1.25


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _meta_in_eur(world: sim.SimResult, org: str) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, org):
        if r.data_source == common_pb.DATA_SOURCE_META:
            r.currency_code = "EUR"
            r.spend /= RATE
            r.revenue /= RATE
        yield r


def _register_rate(channel: grpc.Channel, org: str, world: sim.SimResult) -> None:
    start = dt.date.fromisoformat(world.truth["start"])
    # a weekly rate: days between take the last value (at most 7 days old)
    days = [start + dt.timedelta(days=i) for i in range(0, int(world.truth["days"]) + 7, 7)]
    ingestion_grpc.IngestionServiceStub(channel).RegisterExternalFactor(
        ingestion_pb.RegisterExternalFactorRequest(
            org_id=org,
            series=ingestion_pb.ExternalFactorSeries(
                name="fx_eur_usd", type=md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE, unit="USD per EUR",
                values=[ingestion_pb.DatedValue(
                    date=common_pb.Date(year=d.year, month=d.month, day=d.day), value=RATE,
                ) for d in days],
            ),
        ),
        timeout=30,
    )  # fmt: skip


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    extra = {RATED: _meta_in_eur(world, RATED), UNRATED: _meta_in_eur(world, UNRATED)}
    with world_mesh(tmp_path_factory.mktemp("mesh"), {USD: world}, extra=extra,
                    surfacing=True) as services:  # fmt: skip
        _register_rate(grpc.insecure_channel(services["ingestion"].address), RATED, world)
        yield services


def _analyze(mesh, org: str) -> pb.AttributionResult:
    stub = causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))
    request = pb.AnalyzeAttributionRequest(org_id=org)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def test_a_registered_rate_gives_the_one_currency_analysis(mesh) -> None:
    dollars, rated = _analyze(mesh, USD), _analyze(mesh, RATED)
    by = {c.channel: c for c in dollars.channels}
    assert {c.channel for c in rated.channels} == set(by)
    for c in rated.channels:
        assert c.spend.currency_code == "USD"
        assert c.spend.amount == pytest.approx(by[c.channel].spend.amount, rel=1e-9)
        assert c.incremental_outcome.estimate == pytest.approx(
            by[c.channel].incremental_outcome.estimate, rel=1e-4, abs=1.0
        )
    notes = [w for w in rated.warnings if "converted" in w]
    assert len(notes) == 2, rated.warnings  # meta's two channels
    assert all("EUR converted to USD with fx_eur_usd" in n for n in notes)
    assert not [w for w in dollars.warnings if "converted" in w]


def test_without_a_rate_the_refusal_names_the_series_to_register(mesh) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _analyze(mesh, UNRATED)
    err = info.value
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "fx_eur_usd" in err.details() and "liftos factors register" in err.details()
    assert decode_status(err).reason == "MIXED_CURRENCIES"


def test_surfacing_plans_with_the_history_in_the_same_currency(mesh) -> None:
    """DesignExperiment reads the history from memory's sums, as attribution does: the EUR
    org with its rate designs the USD org's test (the go-dark's spend in dollars); without
    the rate it is refused naming it, rather than adding euros to dollars."""
    stub = surfacing_grpc.SurfacingServiceStub(grpc.insecure_channel(mesh["surfacing"].address))

    def design(org: str) -> surfacing_pb.DesignExperimentResponse:
        return stub.DesignExperiment(surfacing_pb.DesignExperimentRequest(
            org_id=org, channel="meta_prospecting", duration_days=[28],
        ), timeout=120)  # fmt: skip

    dollars, rated = design(USD), design(RATED)
    spend = [p.spend_change for p in dollars.power_curve]
    assert spend and spend[0] != 0
    assert [p.spend_change for p in rated.power_curve] == pytest.approx(spend, rel=1e-9)
    with pytest.raises(grpc.RpcError) as info:
        design(UNRATED)
    assert info.value.code() is grpc.StatusCode.FAILED_PRECONDITION
    assert "fx_eur_usd" in info.value.details()


def test_the_registry_refuses_a_rate_it_cannot_use(mesh) -> None:
    stub = ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(mesh["ingestion"].address))
    day = common_pb.Date(year=2024, month=1, day=1)

    def register(name: str, value: float) -> grpc.RpcError:
        with pytest.raises(grpc.RpcError) as info:
            stub.RegisterExternalFactor(ingestion_pb.RegisterExternalFactorRequest(
                org_id=USD, series=ingestion_pb.ExternalFactorSeries(
                    name=name, type=md_pb.EXTERNAL_FACTOR_TYPE_FX_RATE,
                    values=[ingestion_pb.DatedValue(date=day, value=value)],
                ),
            ), timeout=30)  # fmt: skip
        assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
        return info.value

    for name, field in (("eur_usd", "series.name"), ("fx_eur_xyz", "series.name"),
                        ("fx_usd_usd", "series.name")):  # fmt: skip
        assert decode_status(register(name, 1.1)).fields == [field], name
    assert decode_status(register("fx_eur_usd", 0.0)).fields == ["series.values[0].value"]


# ----------------------------------------------------------------- the rule, on the tables

D0 = 19_800  # a day (days since 1970-01-01)


def _currencies(*rows: tuple[str, str, str, float, float]) -> pd.DataFrame:
    return pd.DataFrame(
        [(*r, 10) for r in rows],
        columns=["source", "channel", "currency", "spend", "revenue", "records"],
    )


def _tables(days: int = 3) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    dates = np.arange(D0, D0 + days, dtype=np.int64)
    geo = pd.DataFrame({
        "date": np.repeat(dates, 2), "geo": ["CA", "TX"] * days,
        "generic:first_party:revenue": 100.0, "meta:meta_feed:spend": 10.0,
        "meta:meta_feed:revenue": 4.0, "google_ads:google_search:spend": 7.0,
    })  # fmt: skip
    camp = pd.DataFrame({
        "date": np.concatenate([dates, dates]), "campaign_id": ["m1"] * days + ["g1"] * days,
        "source": ["meta"] * days + ["google_ads"] * days,
        "channel": ["meta_feed"] * days + ["google_search"] * days,
        "spend": 20.0, "impressions": 1.0, "conversions": 1.0, "revenue": 8.0, "records": 2,
    })  # fmt: skip
    per_campaign = pd.DataFrame({
        "date": np.repeat(dates, 2), "geo": ["CA", "TX"] * days, "source": "meta",
        "channel": "meta_feed", "campaign_id": "m1", "spend": 10.0,
    })  # fmt: skip
    return geo, camp, per_campaign


ORDERS = ("generic", "first_party", "USD", 0.0, 600.0)
META_EUR = ("meta", "meta_feed", "EUR", 60.0, 24.0)
GOOGLE = ("google_ads", "google_search", "USD", 42.0, 0.0)


def _rate(name: str, values: dict[int, float]) -> FxSeries:
    s = FxSeries.parse(name, [dt.date(1970, 1, 1) + dt.timedelta(days=d) for d in values],
                       list(values.values()))  # fmt: skip
    assert s is not None
    return s


def test_daily_rates_convert_every_table_of_the_pair_only() -> None:
    geo, camp, per_campaign = _tables()
    fx = [_rate("fx_eur_usd", {D0: 1.0, D0 + 1: 2.0, D0 + 2: 3.0})]
    out = in_one_currency(geo, camp, per_campaign, _currencies(ORDERS, META_EUR, GOOGLE), fx)
    assert out.currency == "USD"
    np.testing.assert_allclose(out.geo_days["meta:meta_feed:spend"], [10, 10, 20, 20, 30, 30])
    np.testing.assert_allclose(out.geo_days["meta:meta_feed:revenue"], [4, 4, 8, 8, 12, 12])
    np.testing.assert_array_equal(out.geo_days["google_ads:google_search:spend"], 7.0)
    np.testing.assert_array_equal(out.geo_days["generic:first_party:revenue"], 100.0)
    meta = out.campaign_days["source"].eq("meta").to_numpy()
    np.testing.assert_allclose(out.campaign_days.loc[meta, "spend"], [20, 40, 60])
    np.testing.assert_allclose(out.campaign_days.loc[meta, "revenue"], [8, 16, 24])
    np.testing.assert_array_equal(out.campaign_days.loc[~meta, "spend"], 20.0)
    assert out.campaign_geo_days is not None
    np.testing.assert_allclose(out.campaign_geo_days["spend"], [10, 10, 20, 20, 30, 30])
    assert len(out.notes) == 1 and "meta/meta_feed: EUR converted to USD" in out.notes[0]
    # the input tables are left as they were
    np.testing.assert_array_equal(geo["meta:meta_feed:spend"], 10.0)


def test_the_reverse_rate_and_a_constant() -> None:
    geo, camp, _ = _tables()
    reverse = [_rate("fx_usd_eur", {D0 - 30: 0.5})]  # one value: a constant, 1 / 0.5 = 2
    out = in_one_currency(geo, camp, None, _currencies(ORDERS, META_EUR, GOOGLE), reverse)
    np.testing.assert_allclose(out.geo_days["meta:meta_feed:spend"], 20.0)
    assert out.campaign_geo_days is None


def test_days_without_a_recent_rate_are_refused_naming_the_series() -> None:
    geo, camp, _ = _tables(days=12)
    stale = [_rate("fx_eur_usd", {D0: 1.1, D0 + 1: 1.2})]  # covers up to D0 + 8
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, None, _currencies(ORDERS, META_EUR, GOOGLE), stale)
    assert "fx_eur_usd" in str(info.value) and "7 days" in str(info.value)
    late = [_rate("fx_eur_usd", {D0 + 1: 1.1, D0 + 2: 1.2})]  # starts after the first day
    with pytest.raises(MixedCurrencies):
        in_one_currency(*_tables(days=3)[:2], None, _currencies(ORDERS, META_EUR, GOOGLE), late)


def test_without_orders_the_target_is_the_currency_with_the_most_spend() -> None:
    geo, camp, _ = _tables()
    no_orders = _currencies(META_EUR, GOOGLE)  # 60 EUR of spend against 42 USD
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, None, no_orders, [])
    assert "converts to EUR (the currency with the most spend" in str(info.value)
    assert "fx_usd_eur" in str(info.value)


def test_what_cannot_be_converted_is_refused() -> None:
    geo, camp, _ = _tables()
    fx = [_rate("fx_eur_usd", {D0: 1.1, D0 + 1: 1.1, D0 + 2: 1.1})]
    # no rate for GBP
    gbp = ("google_ads", "google_search", "GBP", 42.0, 0.0)
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, None, _currencies(ORDERS, META_EUR, gbp), fx)
    assert "fx_gbp_usd" in str(info.value) and "meta" not in str(info.value).split("but")[1]
    # one channel holding two currencies cannot be split from its sums
    both = _currencies(ORDERS, META_EUR, ("meta", "meta_feed", "USD", 5.0, 0.0), GOOGLE)
    with pytest.raises(MixedCurrencies) as info:
        in_one_currency(geo, camp, None, both, fx)
    assert "meta/meta_feed holds money in EUR and USD" in str(info.value)
    # one currency: nothing to do, whatever is registered
    same = in_one_currency(geo, camp, None, _currencies(ORDERS, GOOGLE), fx)
    assert same.currency == "USD" and same.geo_days is geo and not same.notes
