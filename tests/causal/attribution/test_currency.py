"""The one currency an attribution's amounts are in, over a real mesh (memory, ingestion's
registry, causal, surfacing) and the CLI: an org whose Meta account reports in EUR and whose
orders are in USD and which registered no exchange rate is refused with FAILED_PRECONDITION
naming both currencies, where EUR is and the rate to register (test_fx_conversion.py: with one); a one-currency org gets that currency on every Money of the result (and on
OptimizeBudget's budget, and in `liftos analyze`'s table); records that name no currency go
with the org's one known currency. The rule itself on memory's currencies table: which money
counts, unknown currencies, the message."""

from __future__ import annotations

import json
from collections.abc import Iterator

import grpc
import pandas as pd
import pytest
from google.protobuf.message import Message
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb
from liftos.v1 import surfacing_pb2_grpc as surfacing_grpc

import sim
from causal_svc.attribution import MixedCurrencies, analysis_currency
from mesh.cli.commands import main
from mesh.runtime.status import decode_status

from .records import world_mesh, world_records

USD = "dollarshop"  # every record in USD
MIXED = "eurometa"  # Meta's account reports in EUR, the orders are in USD
BLANK = "blankmeta"  # Meta's records name no currency (stored before currencies were kept)


@pytest.fixture(scope="module")
def world() -> sim.SimResult:
    return sim.simulate("demo", seed=0, dirt=False, n_geos=10)


def _with_meta_currency(
    world: sim.SimResult, org: str, code: str
) -> Iterator[md_pb.CausalMarketingData]:
    for r in world_records(world, org):
        if r.data_source == common_pb.DATA_SOURCE_META:
            r.currency_code = code
        yield r


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory, world: sim.SimResult):
    extra = {MIXED: _with_meta_currency(world, MIXED, "EUR"),
             BLANK: _with_meta_currency(world, BLANK, "")}  # fmt: skip
    with world_mesh(tmp_path_factory.mktemp("mesh"), {USD: world}, surfacing=True,
                    extra=extra) as services:  # fmt: skip
        yield services


@pytest.fixture(scope="module")
def stub(mesh) -> causal_grpc.CausalServiceStub:
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(mesh["causal"].address))


def _analyze(stub: causal_grpc.CausalServiceStub, org: str) -> pb.AttributionResult:
    request = pb.AnalyzeAttributionRequest(org_id=org)
    return list(stub.AnalyzeAttribution(request, timeout=300))[-1].result


def _monies(message: Message, path: str = "") -> Iterator[tuple[str, common_pb.Money]]:
    """Every Money set anywhere in ``message``, with its path."""
    for field, value in message.ListFields():
        if field.message_type is None or field.message_type.GetOptions().map_entry:
            continue
        items = [value] if isinstance(value, Message) else list(value)
        for i, item in enumerate(items):
            where = f"{path}{field.name}[{i}]."
            if isinstance(item, common_pb.Money):
                yield where.rstrip("."), item
            else:
                yield from _monies(item, where)


@pytest.fixture(scope="module")
def dollars(stub) -> pb.AttributionResult:
    return _analyze(stub, USD)


def test_one_currency_is_on_every_money_of_the_result(dollars: pb.AttributionResult) -> None:
    monies = list(_monies(dollars))
    assert dollars.channels and dollars.campaigns
    # channels' and campaigns' spend at least, each of them
    assert len(monies) >= len(dollars.channels) + len(dollars.campaigns)
    assert {m.currency_code for _, m in monies} == {"USD"}, [p for p, m in monies
                                                          if m.currency_code != "USD"]  # fmt: skip


def test_two_currencies_are_refused_naming_both_and_where(stub) -> None:
    with pytest.raises(grpc.RpcError) as info:
        _analyze(stub, MIXED)
    err = info.value
    assert err.code() is grpc.StatusCode.FAILED_PRECONDITION, err.details()
    message = err.details()
    assert "EUR" in message and "USD" in message
    # converted to the orders' currency, but nothing says at what rate: each EUR pair named
    problems = message[message.index(" but ") :]
    assert "converts to USD" in message
    assert "meta/" in problems and "generic" not in problems and "google_ads" not in problems
    assert problems.count("is in EUR and no rate to USD is registered") == sum(
        c.startswith("meta") for c in ("meta_prospecting", "meta_retargeting")
    )
    assert "fx_eur_usd" in problems and "liftos factors register" in problems
    status = decode_status(err)
    assert status.reason == "MIXED_CURRENCIES"
    assert [(t, s) for t, s, _ in status.preconditions] == [("MIXED_CURRENCIES", "currency_code")]


def test_records_naming_no_currency_go_with_the_one_known(stub) -> None:
    r = _analyze(stub, BLANK)
    assert {m.currency_code for _, m in _monies(r)} == {"USD"}
    assert any(c.channel.startswith("meta") for c in r.channels)


def test_optimize_budget_carries_the_analysis_currency(mesh, dollars) -> None:
    surfacing = surfacing_grpc.SurfacingServiceStub(
        grpc.insecure_channel(mesh["surfacing"].address)
    )
    total = sum(c.spend.amount for c in dollars.channels)
    reply = surfacing.OptimizeBudget(surfacing_pb.OptimizeBudgetRequest(
        org_id=USD, analysis_id=dollars.analysis_id,
        total_budget=common_pb.Money(amount=total, currency_code="USD"),
    ), timeout=120)  # fmt: skip
    assert reply.total_budget.currency_code == "USD"
    assert {m.currency_code for _, m in _monies(reply)} == {"USD"}
    # a budget in another currency would be planned as if it were dollars: refused
    with pytest.raises(grpc.RpcError) as info:
        surfacing.OptimizeBudget(surfacing_pb.OptimizeBudgetRequest(
            org_id=USD, analysis_id=dollars.analysis_id,
            total_budget=common_pb.Money(amount=total, currency_code="EUR"),
        ), timeout=120)  # fmt: skip
    assert info.value.code() is grpc.StatusCode.INVALID_ARGUMENT
    assert decode_status(info.value).fields == ["total_budget.currency_code"]
    assert "EUR" in info.value.details() and "USD" in info.value.details()


def test_liftos_analyze_prints_the_currency(mesh, monkeypatch, capsys) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    assert main(["analyze", "--org", USD, "--campaigns"]) == 0
    out = capsys.readouterr().out
    assert "amounts in USD" in out
    header = next(line for line in out.splitlines() if line.startswith("channel "))
    assert "spend USD" in header
    campaign_header = next(line for line in out.splitlines() if line.startswith("campaign "))
    assert "spend USD" in campaign_header
    assert main(["analyze", "--org", USD, "--json"]) == 0
    shown = json.loads(capsys.readouterr().out)
    assert {c["spend"]["currencyCode"] for c in shown["channels"]} == {"USD"}


# ----------------------------------------------------------------- the rule, on the table


def _table(*rows: tuple[str, str, str, float, float, int]) -> pd.DataFrame:
    return pd.DataFrame(rows, columns=["source", "channel", "currency", "spend", "revenue",
                                       "records"])  # fmt: skip


def test_the_rule_on_memory_s_currencies_table() -> None:
    orders = ("generic", "first_party", "USD", 0.0, 5e5, 300)
    meta_eur = ("meta", "meta_feed", "EUR", 2e4, 1e4, 300)
    google = ("google_ads", "google_search", "USD", 1e4, 3e3, 300)
    assert analysis_currency(_table(orders, google)) == "USD"
    assert analysis_currency(_table()) == ""  # a memory that does not say
    with pytest.raises(MixedCurrencies) as info:
        analysis_currency(_table(orders, meta_eur, google))
    assert "2 currencies (EUR, USD)" in str(info.value)
    # only the asked channels' money counts (the orders always do)
    assert analysis_currency(_table(orders, meta_eur, google), channels=("google_search",)) == "USD"
    with pytest.raises(MixedCurrencies):
        analysis_currency(_table(orders, meta_eur, google), channels=("meta_feed",))
    # rows with no money in them do not count; revenue counts only when it is the outcome
    silent = ("klaviyo", "klaviyo_email", "GBP", 0.0, 0.0, 40)
    assert analysis_currency(_table(orders, google, silent)) == "USD"
    claims = ("tiktok", "tiktok_feed", "GBP", 0.0, 900.0, 40)
    assert analysis_currency(_table(google, claims), outcome="conversions") == "USD"
    with pytest.raises(MixedCurrencies):
        analysis_currency(_table(google, claims), outcome="revenue")
    # unknown: the one known currency, else refused with the others and named as unknown
    blank = ("meta", "meta_feed", "", 2e4, 0.0, 300)
    assert analysis_currency(_table(orders, blank)) == "USD"
    assert analysis_currency(_table(blank)) == ""
    with pytest.raises(MixedCurrencies) as info:
        analysis_currency(_table(orders, blank, ("tiktok", "tiktok_feed", "EUR", 5e3, 0.0, 10)))
    assert "no currency" in str(info.value) and "meta/meta_feed" in str(info.value)
