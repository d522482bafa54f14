"""Seed state that reaches past validation: a stored attribution analysis (a simulated demo
world written to memory, its geo holdout and result in the registry) and a stored product
analysis (a simulated products world ingested through the real Ingest), and valid requests
that name them for the RPCs whose domain code only runs on such analyses (attribution,
counterfactual, planning, design, forecasting, recommendations, products, explanations).

The plain fuzz seeds (``rpcs.seeds``) hold only an effect estimate and records without a
first-party outcome: those requests stop at validation or NOT_FOUND/FAILED_PRECONDITION.
These seeds are answered OK, so a request with one to three fields replaced by edge values
reaches the code that trusts what validation let through (helper C's campaign found seven
INTERNAL classes there that the plain seeds never reached).
"""

from __future__ import annotations

import datetime as dt
import json
from dataclasses import dataclass
from typing import Any

import grpc
from google.protobuf.descriptor import FieldDescriptor
from google.protobuf.message import Message
from liftos.v1 import causal_pb2 as c
from liftos.v1 import causal_pb2_grpc, ingestion_pb2_grpc, memory_pb2_grpc
from liftos.v1 import common_pb2 as cm
from liftos.v1 import ingestion_pb2 as ing
from liftos.v1 import llm_pb2 as llm
from liftos.v1 import marketing_data_pb2 as md
from liftos.v1 import memory_pb2 as mp
from liftos.v1 import surfacing_pb2 as s

import sim
from tests.causal.attribution.records import register_holdout, write_world

ATTR_ORG = "fuzz_attr"
PROD_ORG = "fuzz_prod"
PRODUCT_SOURCES = {
    "shopify_orders": cm.DATA_SOURCE_SHOPIFY_ORDERS,
    "shopify_products": cm.DATA_SOURCE_SHOPIFY_PRODUCTS,
    "google_ads_shopping": cm.DATA_SOURCE_GOOGLE_ADS_SHOPPING,
    "meta_products": cm.DATA_SOURCE_META_PRODUCTS,
}
TIMEOUT_S = 300.0


def attribution_world() -> sim.SimResult:
    """A small demo world: 8 geos, the demo's 120 days and channels, its geo holdout."""
    return sim.simulate("demo", seed=0, dirt=False, n_geos=8)


def products_world() -> sim.SimResult:
    """A small products world (100 days, 3 geos, 3 categories), as the products tests use."""
    return sim.simulate(
        "products", seed=3, days=100, n_geos=3, products=3, product_orders_per_day=20.0
    )


def product_exports(world: sim.SimResult) -> dict[str, list[str]]:
    """The world's raw product exports as JSON lines, by source name."""
    pw = world.products
    assert pw is not None
    rows: dict[str, list[Any]] = {
        "shopify_orders": list(pw.orders),
        "shopify_products": list(pw.catalogue_json()["products"]),
        "google_ads_shopping": list(pw.report_rows("google_ads")),
        "meta_products": list(pw.report_rows("meta")),
    }
    return {k: [r if isinstance(r, str) else json.dumps(r) for r in v] for k, v in rows.items()}


def product_account(world: sim.SimResult) -> ing.AccountInfo:
    assert world.products is not None
    store = world.products.stores[0]
    return ing.AccountInfo(
        timezone=store["timezone"], currency_code=store["currency"], country_code="US"
    )


def _date(d: dt.date | str) -> cm.Date:
    d = dt.date.fromisoformat(str(d)[:10])
    return cm.Date(year=d.year, month=d.month, day=d.day)


def _range(a: dt.date | str, b: dt.date | str) -> cm.DateRange:
    return cm.DateRange(start_date=_date(a), end_date=_date(b))


@dataclass(frozen=True, slots=True)
class DeepState:
    attribution_id: str
    product_id: str
    experiment_id: str
    experiment_channel: str
    first: dt.date  # the attribution world's first and last day
    last: dt.date
    holdout: tuple[dt.date, dt.date]  # the registry experiment's window
    lift: float
    channels: tuple[str, ...]  # the attribution's channels
    product_channels: tuple[str, ...]
    product_first: dt.date
    product_last: dt.date


def ingest_products(channel: grpc.Channel, world: sim.SimResult, org: str) -> None:
    ingestion = ingestion_pb2_grpc.IngestionServiceStub(channel)
    account = product_account(world)
    for name, lines in product_exports(world).items():
        batches = (
            ing.IngestRequest(org_id=org, source=PRODUCT_SOURCES[name],  # type: ignore[arg-type]
                              batch_id=f"seed-{name}-{i}", json_rows=lines[i : i + 500],
                              account=account, row_offset=i)
            for i in range(0, len(lines), 500)
        )  # fmt: skip
        for ack in ingestion.Ingest(batches, timeout=TIMEOUT_S):
            assert ack.accepted_count > 0, (name, ack)


def deep_state(channels: dict[str, grpc.Channel]) -> DeepState:
    """Write both worlds to the running mesh and store one analysis of each."""
    world = attribution_world()
    write_world(memory_pb2_grpc.MemoryServiceStub(channels["memory"]), world, ATTR_ORG)
    experiment_id, experiment_channel, lift = register_holdout(
        channels["ingestion"], world, ATTR_ORG
    )
    causal = causal_pb2_grpc.CausalServiceStub(channels["causal"])
    events = causal.AnalyzeAttribution(
        c.AnalyzeAttributionRequest(org_id=ATTR_ORG), timeout=TIMEOUT_S
    )
    attribution = list(events)[-1].result
    products = products_world()
    ingest_products(channels["ingestion"], products, PROD_ORG)
    events = causal.AnalyzeProducts(c.AnalyzeProductsRequest(org_id=PROD_ORG), timeout=TIMEOUT_S)
    product = list(events)[-1].result
    e = world.experiments[0]
    return DeepState(
        attribution_id=attribution.analysis_id,
        product_id=product.analysis_id,
        experiment_id=experiment_id,
        experiment_channel=experiment_channel,
        first=dt.date.fromisoformat(str(world.dates[0])[:10]),
        last=dt.date.fromisoformat(str(world.dates[-1])[:10]),
        holdout=(
            dt.date.fromisoformat(str(e["start_date"])[:10]),
            dt.date.fromisoformat(str(e["end_date"])[:10]),
        ),
        lift=lift,
        channels=tuple(ch.channel for ch in attribution.channels),
        product_channels=tuple(product.channels),
        product_first=dt.date.fromisoformat(str(products.dates[0])[:10]),
        product_last=dt.date.fromisoformat(str(products.dates[-1])[:10]),
    )


def deep_seeds(st: DeepState) -> dict[str, list[Message]]:
    """Valid requests per RPC name naming the stored analyses (each answered OK on the seed
    state; the fuzzer then replaces fields of them)."""
    aid, pid, org = st.attribution_id, st.product_id, ATTR_ORG
    ch = list(st.channels)
    unpaid = "klaviyo_email" if "klaviyo_email" in ch else ch[-1]  # sends, no spend
    paid = [x for x in ch if x != unpaid] or ch
    lift = md.ExperimentResult(
        experiment_id="fuzz-lift", channel=st.experiment_channel,
        window=_range(*st.holdout), lift_absolute=st.lift, lift_std_error=st.lift / 3,
        spend_baseline=800.0, spend_delta=-800.0, treatment_unit_count=4, control_unit_count=4,
    )  # fmt: skip
    whole = _range(st.first, st.last)
    month = _range(st.last - dt.timedelta(days=30), st.last)
    budget = cm.Money(amount=1e5, currency_code="USD")
    first_p, last_p = st.product_first, st.product_last
    return {
        "CausalService.AnalyzeAttribution": [
            c.AnalyzeAttributionRequest(org_id=org, outcome=cm.OUTCOME_METRIC_REVENUE),
            c.AnalyzeAttributionRequest(
                org_id=org, calibration=[lift], date_range=whole, holdout_days=14
            ),
            # A window ending inside the registry's experiment: the registry's lift test
            # reaches past the analysed days (C's finding 1 was INTERNAL here).
            c.AnalyzeAttributionRequest(
                org_id=org, date_range=_range(st.first, st.holdout[0] + dt.timedelta(days=7))
            ),
            c.AnalyzeAttributionRequest(
                org_id=org, channels=[st.experiment_channel, paid[0]], calibration=[lift]
            ),
        ],
        "CausalService.Counterfactual": [
            c.CounterfactualRequest(
                org_id=org,
                analysis_id=aid,
                changes=[c.SpendChange(channel=paid[0], multiplier=0.5)],
            ),
            c.CounterfactualRequest(
                org_id=org,
                analysis_id=aid,
                future_days=28,
                changes=[c.SpendChange(channel=paid[-1], spend=1e4)],
            ),
            c.CounterfactualRequest(
                org_id=org,
                analysis_id=aid,
                reference_period=month,
                alpha=0.1,
                changes=[
                    c.SpendChange(channel=paid[0], multiplier=2.0),
                    c.SpendChange(channel=ch[-1], multiplier=0.0),
                ],
            ),
        ],
        "CausalService.GetAnalysis": [
            c.GetAnalysisRequest(org_id=org, analysis_id=aid),
            c.GetAnalysisRequest(org_id=PROD_ORG, analysis_id=pid),
        ],
        "CausalService.EstimateEffect": [
            c.EstimateEffectRequest(
                org_id=org,
                method=c.ESTIMATION_METHOD_AUTO,
                roles=c.EffectRoles(
                    outcome="revenue", treatment="treated_post", unit="geo", time="date"
                ),
                records=c.RecordQuery(
                    experiment_id=st.experiment_id, aggregation=c.AGGREGATION_LEVEL_GEO_DAY
                ),
                options=c.EstimationOptions(skip_refutation=True),
            ),
            c.EstimateEffectRequest(
                org_id=org,
                method=c.ESTIMATION_METHOD_DID,
                roles=c.EffectRoles(
                    outcome="revenue", treatment="treated_post", unit="geo", time="date"
                ),
                records=c.RecordQuery(
                    experiment_id=st.experiment_id, channels=[st.experiment_channel, "first_party"]
                ),
                options=c.EstimationOptions(refutation_simulations=3, seed=1),
            ),
        ],
        "CausalService.AnalyzeProducts": [
            c.AnalyzeProductsRequest(org_id=PROD_ORG),
            c.AnalyzeProductsRequest(
                org_id=PROD_ORG,
                channels=list(st.product_channels[:1]),
                alpha=0.2,
                claim_alpha=0.1,
                date_range=_range(first_p, last_p),
            ),
        ],
        "MemoryService.AggregateProducts": [
            mp.AggregateProductsRequest(org_id=PROD_ORG),
            mp.AggregateProductsRequest(
                org_id=PROD_ORG, date_range=_range(first_p + dt.timedelta(days=10), last_p)
            ),
        ],
        "SurfacingService.OptimizeBudget": [
            s.OptimizeBudgetRequest(org_id=org, analysis_id=aid, total_budget=budget),
            s.OptimizeBudgetRequest(
                org_id=org, analysis_id=aid, target_marginal_roas=1.0, horizon_days=28
            ),
            s.OptimizeBudgetRequest(
                org_id=org,
                analysis_id=aid,
                profit_margin=0.4,
                horizon_days=30,
                max_change=0.5,
                risk_aversion=2.0,
                alpha=0.2,  # budget: ~1x
                total_budget=cm.Money(amount=4e5, currency_code="USD"),
                constraints=[
                    s.ChannelConstraint(channel=paid[0], min_ratio=0.5, max_ratio=2.0),
                    s.ChannelConstraint(channel=unpaid, cost_per_input=0.01),
                ],
            ),
        ],
        "SurfacingService.PredictPerformance": [
            s.PredictPerformanceRequest(org_id=org, analysis_id=aid, horizon_days=28),
            s.PredictPerformanceRequest(
                org_id=org,
                analysis_id=aid,
                horizon_days=60,
                fan_levels=[0.5, 0.9],
                plan=[
                    s.SpendPlan(channel=paid[0], multiplier=2.0),
                    s.SpendPlan(channel=paid[-1], daily_spend=100.0),
                ],
            ),
        ],
        "SurfacingService.DesignExperiment": [
            s.DesignExperimentRequest(org_id=org, channel=paid[0]),
            s.DesignExperimentRequest(
                org_id=org,
                channel=paid[-1],
                analysis_id=aid,
                duration_days=[14, 28],
                treatment_share=0.5,
                cells=[
                    s.DesignCell(treatment_type=1),
                    s.DesignCell(treatment_type=2, spend_multiplier=2.0),
                ],
            ),
            s.DesignExperimentRequest(
                org_id=org,
                channel=paid[0],
                treatment_type=2,
                spend_multiplier=1.5,
                budget=budget,
                minimum_detectable_lift=0.05,
                history=whole,
                pre_period_days=35,
                expected_roas=2.0,
            ),
        ],
        "SurfacingService.Recommend": [
            s.RecommendRequest(org_id=org, analysis_ids=[aid], max_results=5),
            s.RecommendRequest(org_id=PROD_ORG, analysis_ids=[pid]),
        ],
        "LlmService.CheckClaims": [
            llm.CheckClaimsRequest(
                org_id=org,
                analysis_ids=[aid],
                text=f"{paid[0]} caused a 2.1x ROAS; {paid[-1]} drove 15% of revenue.",
            ),
        ],
        "LlmService.Explain": [
            llm.ExplainRequest(org_id=org, analysis_id=aid, question=f"Why did {paid[0]} do well?"),
            llm.ExplainRequest(org_id=PROD_ORG, analysis_id=pid, question="Which product?"),
        ],
    }


# Values that mean something to the domain code: the data's edges and a step past them, the
# stored ids, the analysis' channels, horizons and counts at their documented limits. The
# generic strategies (proto_strategies) rarely draw a valid date one day past the data or a
# channel the analysis has twice; these are where the INTERNALs were.
_DOUBLES = (
    0.0, -0.0, 5e-324, 1e-300, 1e-150, 1e-12, 1e-3, 0.05, 0.5, 0.999, 0.9999999, 1.0, 1.5, 2.0,
    100.0, 101.0, 1e6, 1e12, 1e13, 1e14, 1e300, 1.7976931348623157e308, -1.0, -1e6,
    float("nan"), float("inf"), float("-inf"),
)  # fmt: skip
_INTS = (0, 1, 2, 6, 7, 13, 14, 27, 28, 29, 35, 89, 90, 91, 119, 120, 121, 176, 182, 183,
         200, 201, 365, 366, 1000, 10**6, -1, -7, 2**31 - 1)  # fmt: skip


def _date_pool(st_: DeepState) -> list[cm.Date]:
    days = [st_.first, st_.last, *st_.holdout, st_.product_first, st_.product_last]
    near = [d + dt.timedelta(days=k) for d in days for k in (-60, -7, -1, 1, 7, 60)]
    far = [dt.date(1900, 1, 1), dt.date(1970, 1, 1), dt.date(2200, 12, 31), dt.date(9999, 12, 31)]
    out = [_date(d) for d in (*days, *near, *far)]
    return [*out, cm.Date(year=2025, month=2, day=30), cm.Date(year=2024, month=13, day=1),
            cm.Date(), cm.Date(year=-1, month=1, day=1)]  # fmt: skip


def _window_pool(st_: DeepState) -> list[cm.DateRange]:
    """Windows against the attribution's days: inside, straddling either edge, wholly
    outside, ending a day past the data or inside the registry experiment."""
    one = dt.timedelta(days=1)
    starts = [st_.first - 60 * one, st_.first - one, st_.first, st_.holdout[0], st_.last - 30 * one,
              st_.last, st_.last + one, dt.date(1900, 1, 1)]  # fmt: skip
    ends = [st_.first, st_.holdout[0] + 7 * one, st_.last - one, st_.last, st_.last + one,
            st_.last + 7 * one, st_.last + 60 * one, dt.date(2200, 12, 31)]  # fmt: skip
    return [_range(a, b) for a in starts for b in ends]


def _domain_value(
    field: FieldDescriptor, st_: DeepState, strategies: Any
) -> Any:  # a SearchStrategy or None
    """A strategy of domain values for ``field`` (what :func:`proto_strategies.assign` takes),
    or None where the generic one is all there is."""
    hs = strategies
    dates = _date_pool(st_)
    channel_names = [*st_.channels, *st_.product_channels, "", "unknown_channel",
                     st_.channels[0].upper(), f" {st_.channels[0]}"]  # fmt: skip
    ids = [st_.attribution_id, st_.product_id, "an-missing", "", st_.experiment_id]
    m = field.message_type
    one: Any = None
    if m is not None and m.full_name == "liftos.v1.Date":
        one = hs.sampled_from(dates)
    elif m is not None and m.full_name == "liftos.v1.DateRange":
        one = hs.sampled_from(_window_pool(st_)) | hs.tuples(
            hs.sampled_from(dates), hs.sampled_from(dates)
        ).map(lambda p: cm.DateRange(start_date=p[0], end_date=p[1]))
    elif field.type == FieldDescriptor.TYPE_STRING and "channel" in field.name:
        one = hs.sampled_from(channel_names)
    elif field.type == FieldDescriptor.TYPE_STRING and field.name.endswith(
        ("analysis_id", "analysis_ids", "experiment_id")
    ):
        one = hs.sampled_from(ids)
    elif field.type in (FieldDescriptor.TYPE_DOUBLE, FieldDescriptor.TYPE_FLOAT):
        one = hs.sampled_from(_DOUBLES) | hs.sampled_from((st_.lift, -st_.lift, st_.lift * 1e6))
    elif field.type in (FieldDescriptor.TYPE_INT32, FieldDescriptor.TYPE_INT64,
                        FieldDescriptor.TYPE_UINT32, FieldDescriptor.TYPE_UINT64):  # fmt: skip
        one = hs.sampled_from([i for i in _INTS if i >= 0 or field.type in (5, 3)])
    if one is None:
        return None
    if field.is_repeated:
        return hs.lists(one, max_size=4)
    return one


def deep_requests(seeds: list[Message], st_: DeepState) -> Any:
    """Requests for the deep seeds: mostly a seed with one to three fields set to domain
    values (or a repeated message's first element repeated, 2 to 201 times), the rest the
    generic mix of :func:`proto_strategies.requests`."""
    from hypothesis import strategies as hs

    from tests.fuzz.proto_strategies import assign, field_paths, field_strategy, requests

    descriptor = seeds[0].DESCRIPTOR
    paths = [p for p in field_paths(descriptor) if p[-1].name != "org_id"]
    # Fields with domain values (windows, channels, ids, numbers) and repeated entries are
    # drawn three times as often as any path: there the generic values seldom land.
    typed = [p for p in paths if _domain_value(p[-1], st_, hs) is not None or p[-1].is_repeated]
    pick = hs.sampled_from(typed or paths)
    weighted = hs.integers(0, 3).flatmap(lambda k: hs.sampled_from(paths) if k == 0 else pick)
    cls = type(seeds[0])

    def _target(message: Message, path: tuple[FieldDescriptor, ...]) -> Any:
        for field in path[:-1]:
            if field.is_repeated:
                items = getattr(message, field.name)
                message = items[0] if len(items) else items.add()
            else:
                message = getattr(message, field.name)
        return message

    @hs.composite
    def mutate(draw: Any) -> Message:
        out = cls()
        out.CopyFrom(draw(hs.sampled_from(seeds)))
        for path in draw(hs.lists(weighted, min_size=1, max_size=3)):
            field = path[-1]
            target = _target(out, path)
            items = getattr(target, field.name)
            repeated_message = field.is_repeated and field.message_type is not None
            if repeated_message and len(items) and draw(hs.booleans()):
                # the same entry again: duplicates, and counts at their limits
                first = type(items[0])()
                first.CopyFrom(items[0])
                for _ in range(draw(hs.sampled_from((1, 2, 199, 200)))):
                    items.add().CopyFrom(first)
                continue
            strategy = _domain_value(field, st_, hs)
            value = draw(strategy if strategy is not None else field_strategy(field, 2))
            assign(target, field, value)
        return out

    kinds = [mutate()] * 6 + [requests(seeds)] * 2
    return hs.integers(0, len(kinds) - 1).flatmap(lambda k: kinds[k])
