"""A lazy, list-like raw export of one source: rows are rendered on access, so a 7M-row world
does not hold 7M Python dicts.

``RawExport`` is a ``Sequence``: ``len``, indexing, slicing-free iteration, ``list(export)``.
Element ``k`` is the ``k``-th line of ``<source>.ndjson``: a dict in the platform's native
shape, or a ``str`` for a deliberately malformed line (written verbatim).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from .lazy import LazyLines
from .shapes import RENDERERS

# Numeric columns every export carries, one value per base row.
NUMERIC = (
    "spend",
    "impressions",
    "clicks",
    "conversions",
    "revenue",
    "click_1d",
    "click_7d",
    "view_1d",
    "sends",
    "delivered",
    "opens",
)


@dataclass(slots=True)
class CampaignTable:
    """Per-campaign attributes of one source's export (index = campaign code)."""

    org_id: list[str]
    account_id: list[str]
    account_name: list[str]
    currency: list[str]
    timezone: list[str]
    campaign_id: list[str]
    campaign_name: list[str]
    objective: list[str]
    message_ids: list[dict[str, str] | None]  # Klaviyo: region -> campaign_message_id


@dataclass(slots=True)
class RawExport(LazyLines):
    """The rows of one source, in export order, dirt included (see :mod:`sim.raw.dirt`)."""

    source: str
    campaigns: CampaignTable
    geo_codes: list[str]
    geo_keys: dict[str, list[str]]  # org_id -> native geo key per geo index
    dates: list[str]
    day_bounds: dict[str, list[tuple[str, str]]]  # timezone -> (start, end) per day (Klaviyo)
    camp: np.ndarray  # (n,) campaign code per base row
    geo: np.ndarray
    day: np.ndarray
    numeric: dict[str, np.ndarray]
    seq: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    extras: list[dict[str, Any] | str] = field(default_factory=list)
    overrides: dict[int, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.seq.size == 0 and self.camp.size:
            self.seq = np.arange(self.camp.size, dtype=np.int64)

    @property
    def n_base(self) -> int:
        return int(self.camp.size)

    def values(self, i: int) -> dict[str, Any]:
        """The plain values of base row ``i`` (clean), which a renderer turns into a row."""
        c = int(self.camp[i])
        g = int(self.geo[i])
        d = int(self.day[i])
        ct = self.campaigns
        region = self.geo_codes[g]
        v: dict[str, Any] = {
            "org_id": ct.org_id[c],
            "account_id": ct.account_id[c],
            "account_name": ct.account_name[c],
            "currency": ct.currency[c],
            "timezone": ct.timezone[c],
            "campaign_id": ct.campaign_id[c],
            "campaign_name": ct.campaign_name[c],
            "objective": ct.objective[c],
            "region": region,
            "geo_key": self.geo_keys[ct.org_id[c]][g],
            "date": self.dates[d],
            "day_index": d,
        }
        for name, col in self.numeric.items():
            x = col[i]
            v[name] = float(x) if col.dtype.kind == "f" else int(x)
        msgs = ct.message_ids[c]
        v["message_id"] = msgs[region] if msgs else ""
        if self.source == "klaviyo":
            v["day_start"], v["day_end"] = self.day_bounds[ct.timezone[c]][d]
        return v

    def render(self, v: dict[str, Any]) -> dict[str, Any]:
        return RENDERERS[self.source](v)

    def base_row(self, i: int) -> dict[str, Any]:
        """Base row ``i`` rendered clean (no dirt)."""
        return self.render(self.values(i))

    def row_key(self, i: int) -> str:
        """Stable key of base row ``i``: ``source|account_id|campaign_or_message_id|region|date``."""
        v = self.values(i)
        ident = v["message_id"] or v["campaign_id"]
        return f"{self.source}|{v['account_id']}|{ident}|{v['region']}|{v['date']}"

    def __len__(self) -> int:
        return int(self.seq.size)

    def line(self, k: int) -> dict[str, Any] | str:
        ref = int(self.seq[k])
        if ref < 0:
            return self.extras[-ref - 1]
        if ref in self.overrides:
            return self.overrides[ref]
        return self.base_row(ref)

    def base_of(self, k: int) -> int | None:
        """The base row behind export line ``k`` (None for an extra line)."""
        ref = int(self.seq[k])
        return ref if ref >= 0 else None

    def lines(self) -> Iterator[str]:
        """Export lines as written to ``<source>.ndjson`` (no trailing newline)."""
        for row in self:
            yield row if isinstance(row, str) else dumps(row)


def dumps(row: dict[str, Any]) -> str:
    """The one JSON encoding every writer uses (compact, key order as built)."""
    return json.dumps(row, separators=(",", ":"), ensure_ascii=False)
