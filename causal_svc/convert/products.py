"""AnalyzeProducts: the request checked into a question, and the product report as a
ProductAnalysisResult."""

from __future__ import annotations

import datetime as dt
import math
from dataclasses import dataclass
from statistics import NormalDist

import holidays
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from causal_svc.convert.attribution import _date_range
from causal_svc.errors import InvalidSpec
from causal_svc.product_analysis import MODEL_VERSION, ProductReport
from mesh.runtime.protoconv import require_org

__all__ = ["ProductQuestion", "product_report_to_proto", "products_question"]

MAX_CHANNELS = 20
_KINDS = {
    "halo": causal_pb.CROSS_EFFECT_KIND_HALO,
    "cannibalisation": causal_pb.CROSS_EFFECT_KIND_CANNIBALISATION,
    "none": causal_pb.CROSS_EFFECT_KIND_NONE,
}


@dataclass(frozen=True, slots=True)
class ProductQuestion:
    org_id: str
    start: dt.date | None
    end: dt.date | None
    channels: tuple[str, ...]
    alpha: float
    claim_alpha: float
    country: str


def _level(value: float, name: str, default: float) -> float:
    if value == 0:
        return default
    if not (math.isfinite(value) and 0 < value < 0.5):
        raise InvalidSpec(f"{name} must be in (0, 0.5); got {value:g}", field=name)
    return value


def products_question(request: causal_pb.AnalyzeProductsRequest) -> ProductQuestion:
    org = require_org(request.org_id)
    start, end = _date_range(request.date_range, "date_range")
    if len(request.channels) > MAX_CHANNELS:
        raise InvalidSpec(f"at most {MAX_CHANNELS} channels", field="channels")
    for i, c in enumerate(request.channels):
        if not c.strip() or len(c) > 200:
            raise InvalidSpec("a channel name is empty or too long", field=f"channels[{i}]")
    if len(set(request.channels)) != len(request.channels):
        raise InvalidSpec("a channel is named twice", field="channels")
    country = request.country_code or "US"
    if country not in holidays.list_supported_countries():
        raise InvalidSpec(
            f"{country[:8]!r} is not a supported ISO 3166-1 alpha-2 country", field="country_code"
        )
    return ProductQuestion(
        org,
        start,
        end,
        tuple(request.channels),
        _level(request.alpha, "alpha", 0.10),
        _level(request.claim_alpha, "claim_alpha", 0.05),
        country,
    )


def _interval(estimate: float, low: float, high: float, level: float) -> common_pb.Interval:
    return common_pb.Interval(estimate=estimate, lower=low, upper=high, level=level)


def _date(d: dt.date) -> common_pb.Date:
    return common_pb.Date(year=d.year, month=d.month, day=d.day)


def _finite(x: float) -> float:
    return float(x) if math.isfinite(x) else float("nan")


def product_report_to_proto(
    report: ProductReport,
    *,
    analysis_id: str,
    record_count: int,
    code_version: str,
    stage_seconds: dict[str, float],
) -> causal_pb.ProductAnalysisResult:
    panel, e = report.panel, report.effects
    level = 1.0 - e.alpha
    cur = panel.currency
    out = causal_pb.ProductAnalysisResult(
        analysis_id=analysis_id,
        currency_code=cur,
        channels=list(panel.channels),
        interval_level=level,
        claim_level=1.0 - e.claim_alpha,
        method=e.method,
        assumptions=list(report.assumptions),
        warnings=list(report.warnings),
        record_count=record_count,
        day_count=(panel.end - panel.start).days + 1,
        model_version=MODEL_VERSION,
        code_version=code_version,
    )
    out.date_range.start_date.CopyFrom(_date(panel.start))
    out.date_range.end_date.CopyFrom(_date(panel.end))
    for c in e.cells:
        cell = out.cells.add(
            channel=c.channel,
            category=c.category,
            spend=common_pb.Money(amount=c.spend, currency_code=cur),
            incremental_revenue=_interval(c.incremental_revenue, c.conf_low, c.conf_high, level),
            incremental_margin=_interval(c.incremental_margin, c.margin_low, c.margin_high, level),
            share_of_revenue=_finite(c.share_of_revenue),
            initial_roas=_finite(c.roas),
            decay=_finite(c.decay),
            significant=c.spend > 0 and (c.conf_low > 0 or c.conf_high < 0),
        )
        if c.spend > 0:
            cell.incremental_roas.CopyFrom(
                _interval(
                    c.incremental_revenue / c.spend,
                    c.conf_low / c.spend,
                    c.conf_high / c.spend,
                    level,
                )
            )
        if math.isfinite(c.half_saturation):
            cell.half_saturation = c.half_saturation
        if c.spend > 0 and math.isfinite(c.marginal_roas):
            cell.marginal_roas.CopyFrom(
                _interval(c.marginal_roas, c.marginal_low, c.marginal_high, level)
            )
    for p in e.products:
        out.product_cells.add(
            channel=p.channel,
            category=p.category,
            product_id=p.product_id,
            spend=common_pb.Money(amount=p.spend, currency_code=cur),
            incremental_revenue=_interval(p.incremental_revenue, p.conf_low, p.conf_high, level),
            significant=p.spend > 0 and (p.conf_low > 0 or p.conf_high < 0),
        )
    for q in e.pairs:
        pair = out.pairs.add(
            category=q.category,
            promoted_product_id=q.promoted,
            affected_product_id=q.affected,
            revenue_change=_interval(q.revenue, q.conf_low, q.conf_high, level),
            p_value=_finite(q.pvalue),
            promoted_lift=_finite(q.promoted_lift),
            kind=_KINDS[q.verdict],
        )
        if math.isfinite(q.share_of_promoted_lift):
            pair.share_of_promoted_lift = q.share_of_promoted_lift
    z = NormalDist().inv_cdf(0.5 + level / 2.0)
    for n in e.nets:
        out.promotion_nets.add(
            category=n.category,
            promoted_product_id=n.promoted,
            promoted_lift=_interval(n.lift, *_bounds(n.lift, n.lift_stderr, z), level),
            sibling_change=_interval(n.siblings, *_bounds(n.siblings, n.siblings_stderr, z), level),
            net_category_change=_interval(n.net, *_bounds(n.net, n.stderr, z), level),
        )
    for r in panel.categories.itertuples(index=False):
        out.categories.add(
            category=str(r.category),
            product_count=int(r.product_count),
            revenue=float(r.revenue),
            margin_rate=_finite(float(r.margin_rate)),
            refunds=float(r.refunds),
        )
    for r in panel.products.itertuples(index=False):
        out.products.add(
            product_id=str(r.product_id),
            category=str(r.category),
            title=str(r.title),
            units=int(r.units),
            revenue=float(r.revenue),
            spend=float(r.spend),
        )
    for stage, seconds in stage_seconds.items():
        out.stage_timings.add(stage=stage, seconds=seconds)
    return out


def _bounds(estimate: float, stderr: float, z: float) -> tuple[float, float]:
    return estimate - z * stderr, estimate + z * stderr
