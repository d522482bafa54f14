"""OptimizeBudget's campaign bounds: a campaign's bounds as asked, folded into its channel's
bounds, and the campaigns' current spend the channel's optimum is split in proportion to."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from mesh.runtime.exceptions import FieldViolation
from surfacing_svc.campaigns import CampaignSpend
from surfacing_svc.curves import HillCurve
from surfacing_svc.errors import InfeasibleConstraints, InvalidRequest
from surfacing_svc.optimizer import ChannelBounds

__all__ = ["CampaignBoundRequest", "campaign_bounds", "tighter"]


@dataclass(frozen=True, slots=True)
class CampaignBoundRequest:
    """A campaign's bounds as asked (campaign_constraints[i])."""

    campaign_id: str
    field: str
    min_spend: float | None = None
    max_spend: float | None = None
    min_ratio: float | None = None
    max_ratio: float | None = None


def tighter(
    current: float, min_spend: float | None, max_spend: float | None,
    min_ratio: float | None, max_ratio: float | None,
) -> tuple[float | None, float | None]:  # fmt: skip
    """Absolute and relative bounds as one absolute pair (the tighter of each side)."""
    lows = [v for v in (min_spend, None if min_ratio is None else min_ratio * current)
            if v is not None]  # fmt: skip
    highs = [v for v in (max_spend, None if max_ratio is None else max_ratio * current)
             if v is not None]  # fmt: skip
    return (max(lows) if lows else None), (min(highs) if highs else None)


def campaign_bounds(
    requests: Sequence[CampaignBoundRequest],
    campaigns: Sequence[CampaignSpend],
    curves: Sequence[HillCurve],
    bounds: list[ChannelBounds],
    scale: float,
) -> tuple[
    list[ChannelBounds], dict[str, list[tuple[CampaignSpend, float, float | None, float | None]]]
]:
    """Campaign bounds folded into their channels' bounds (the campaigns' minimums sum to a
    floor; their maximums, when every campaign of the channel has one, to a ceiling), and per
    constrained channel its campaigns with their current spend and bounds over the horizon.

    Raises InfeasibleConstraints naming every field of a conflict: a campaign's minimum above
    its maximum, or campaigns that need more (less) than the channel's own bound allows.
    """
    if not requests:
        return bounds, {}
    by_id = {c.campaign_id: c for c in campaigns}
    planned = {c.channel: c for c in curves}
    asked: dict[str, tuple[CampaignBoundRequest, float | None, float | None]] = {}
    for r in requests:
        c = by_id.get(r.campaign_id)
        if c is None:
            raise InvalidRequest(
                f"the analysis reports no campaign {r.campaign_id!r} with spend; "
                + _campaigns_text(campaigns),
                field=f"{r.field}.campaign_id",
            )
        if r.campaign_id in asked:
            raise InvalidRequest(f"campaign {r.campaign_id!r} has more than one constraint",
                                 field=f"{r.field}.campaign_id")  # fmt: skip
        if c.channel not in planned:
            raise InvalidRequest(
                f"campaign {r.campaign_id!r} belongs to {c.channel!r}, which is not planned "
                "(no spend; constraints[].cost_per_input prices it)",
                field=f"{r.field}.campaign_id",
            )
        lo, hi = tighter(c.spend * scale, r.min_spend, r.max_spend, r.min_ratio, r.max_ratio)
        if lo is not None and hi is not None and lo > hi:
            raise InfeasibleConstraints(
                f"campaign {r.campaign_id!r}: minimum spend {lo:,.2f} exceeds its maximum "
                f"{hi:,.2f}",
                field=r.field,
            )
        asked[r.campaign_id] = (r, lo, hi)
    channels = {by_id[k].channel for k in asked}
    named = {b.channel: b for b in bounds}
    per_campaign: dict[str, list[tuple[CampaignSpend, float, float | None, float | None]]] = {}
    out = [b for b in bounds if b.channel not in channels]
    for name in sorted(channels):
        rows: list[tuple[CampaignSpend, float, float | None, float | None]] = []
        for c in campaigns:
            if c.channel == name:
                _, c_lo, c_hi = asked.get(c.campaign_id, (None, None, None))
                rows.append((c, c.spend * scale, c_lo, c_hi))
        fields = [asked[c.campaign_id][0].field for c, *_ in rows if c.campaign_id in asked]
        floor = sum(r[2] or 0.0 for r in rows)
        highs = [r[3] for r in rows]
        ceiling = sum(h for h in highs if h is not None) if None not in highs else None
        own = named.get(name, ChannelBounds(name))
        curve = planned[name]
        if not curve.identified:  # held at its current spend, whatever the bounds
            own = ChannelBounds(name, curve.reference_spend, curve.reference_spend,
                                field=f"the held channel {name!r}")  # fmt: skip
        lo = max(v for v in (own.lower, floor) if v is not None)
        his = [v for v in (own.upper, ceiling) if v is not None]
        hi = min(his) if his else None
        if hi is not None and lo > hi * (1 + 1e-12):
            conflict = [*fields] + ([own.field] if own.field.startswith(("constraints", "max"))
                                    else [])  # fmt: skip
            raise InfeasibleConstraints(
                f"{name}: its campaigns' bounds need {floor:,.2f}"
                + (f" to {ceiling:,.2f}" if ceiling is not None else " or more")
                + f", but {own.field} allows {own.lower or 0.0:,.2f} to "
                + (f"{own.upper:,.2f}" if own.upper is not None else "any amount"),
                violations=[FieldViolation(f, "conflicting bounds") for f in conflict],
            )
        if curve.identified:
            out.append(ChannelBounds(name, lo, hi,
                                     field=own.field if name in named else fields[0]))  # fmt: skip
        per_campaign[name] = rows
    return out, per_campaign


# An unknown campaign's refusal lists the campaigns (ids are platform numbers a planner cannot
# guess, R29-F4); an org with hundreds is listed in part.
_LISTED = 40


def _campaigns_text(campaigns: Sequence[CampaignSpend]) -> str:
    """The campaigns a bound can name, by id with their channel, largest spend first."""
    if not campaigns:
        return "it reports no campaign with spend (the analysis was run without campaign ids)"
    ranked = sorted(campaigns, key=lambda c: (-c.spend, c.campaign_id))
    shown = ", ".join(f"{c.campaign_id} ({c.channel})" for c in ranked[:_LISTED])
    more = len(ranked) - _LISTED
    return f"it has: {shown}" + (f" and {more} more (liftos analyze --campaigns lists them)"
                                  if more > 0 else "")  # fmt: skip
