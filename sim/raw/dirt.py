"""Dirt, as real exports have it, injected into a clean :class:`RawExport` and listed exactly.

Each dirty line of ``<source>.ndjson`` gets one entry in the truth file's ``dirty_rows``::

    {"source": "meta", "index": 1234,              # 0-based line number in <source>.ndjson
     "row_key": "meta|<account>|<campaign or message id>|<region>|<date>",
     "kind": "negative_spend", "action": "fix",
     "field": "spend",                               # dotted path in the row, or null
     "dirty_value": "-12.34", "clean_value": "12.34",
     "original_index": null,                          # the line holding the kept record
     "detail": "..."}

``action`` says what a correct ingester does with the line:

- ``drop``: the line holds no record of its own — ``duplicate`` (exact copy of
  ``original_index``), ``superseded`` (a preliminary version the platform later re-sent; the
  re-sent line is ``original_index``), ``malformed_json`` (a truncated copy of
  ``original_index``, not valid JSON, written verbatim), ``future_date`` (a row dated after
  the export was taken).
- ``fix``: the line is the record's only copy but one field is wrong; setting ``field`` to
  ``clean_value`` (deleting it when ``clean_value`` is null) gives the clean row —
  ``missing_id``, ``negative_spend``, ``clicks_exceed_impressions``, ``bad_number``,
  ``unknown_currency``, ``timezone_shift``.
- ``keep``: the values are right but the line is out of place — ``out_of_order`` (arrives
  one to three days of rows late), ``late`` (appended after the whole export), ``restated``
  (the platform's re-send of a day, after its ``superseded`` preliminary line; it wins).

Every line not listed is clean: it renders exactly its panel row, and unlisted lines are in
non-decreasing date order. A line carries at most one kind.
"""

from __future__ import annotations

import json
from datetime import date, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import numpy as np

from .export import RawExport, dumps
from .shapes import DELETE, PATHS, get_path, set_path

_ALL = (
    "duplicate",
    "restated",
    "out_of_order",
    "late",
    "missing_id",
    "negative_spend",
    "clicks_exceed_impressions",
    "bad_number",
    "malformed_json",
    "future_date",
    "unknown_currency",
    "timezone_shift",
)
KINDS: dict[str, tuple[str, ...]] = {
    "meta": tuple(k for k in _ALL if k != "timezone_shift"),
    "google_ads": tuple(k for k in _ALL if k != "timezone_shift"),
    "tiktok": _ALL,
    "klaviyo": tuple(
        k
        for k in _ALL
        if k not in ("timezone_shift", "unknown_currency", "clicks_exceed_impressions")
    ),
}
ACTIONS = {
    "duplicate": "drop",
    "superseded": "drop",
    "malformed_json": "drop",
    "future_date": "drop",
    "missing_id": "fix",
    "negative_spend": "fix",
    "clicks_exceed_impressions": "fix",
    "bad_number": "fix",
    "unknown_currency": "fix",
    "timezone_shift": "fix",
    "out_of_order": "keep",
    "late": "keep",
    "restated": "keep",
}


def _eligible(export: RawExport, kind: str) -> np.ndarray:
    num = export.numeric
    n = export.n_base
    if kind in ("negative_spend", "bad_number") and export.source != "klaviyo":
        return num["spend"] > 0
    if kind == "negative_spend":  # Klaviyo: only SMS rows carry a spend
        return num["spend"] > 0
    if kind == "clicks_exceed_impressions":
        return num["impressions"] > 0
    if kind in ("out_of_order", "restated"):  # must have a later day to move behind
        return export.day < export.day.max()
    return np.ones(n, dtype=bool)


def _bad_number(source: str, value: Any, k: int) -> str:
    if source == "klaviyo":
        return f"{int(value):,}" if k % 2 else f"{int(value)} "
    if source == "google_ads":
        return f"{int(value):,}"
    x = float(value)
    return (f"${x:.2f}", f"{x:,.2f} USD", f"{x:.2f}".replace(".", ","))[k % 3]


def inject(
    export: RawExport, rng: np.random.Generator, rate: float, min_per_kind: int, end: date
) -> list[dict[str, Any]]:
    """Add dirt to ``export`` in place (its ``seq``, ``extras``, ``overrides``); return the
    dirty-row entries, sorted by export index."""
    n = export.n_base
    if n == 0 or (rate <= 0 and min_per_kind <= 0):
        return []
    n_days = max(1, int(export.day.max()) + 1)
    per_day = max(1, n // n_days)
    present = _present_days(export)
    pool = rng.permutation(n)
    used = np.zeros(n, dtype=bool)
    keys = np.arange(n, dtype=np.float64)
    items: list[tuple[float, int]] = []  # (key, ref<0) for extras
    marks: list[tuple[str, int, int, dict[str, Any]]] = []  # kind, base, extra, info
    cursor = 0
    for kind in KINDS[export.source]:
        want = max(min_per_kind, round(rate * n))
        ok = _eligible(export, kind)
        chosen: list[int] = []
        while len(chosen) < want and cursor < n:
            i = int(pool[cursor])
            cursor += 1
            if used[i]:
                continue
            if ok[i]:
                chosen.append(i)
                used[i] = True
        for j, i in enumerate(chosen):
            _apply(export, kind, i, j, rng, per_day, n, end, keys, items, marks, present)
    # Order: base rows by key, extras at theirs; ties keep insertion order (stable sort).
    all_keys = np.concatenate([keys, np.array([k for k, _ in items], dtype=np.float64)])
    refs = np.concatenate(
        [np.arange(n, dtype=np.int64), np.array([r for _, r in items], dtype=np.int64)]
    )
    order = np.argsort(all_keys, kind="stable")
    export.seq = refs[order]
    position = np.empty(refs.size, dtype=np.int64)
    position[order] = np.arange(refs.size)
    pos_base = position[:n]
    pos_extra = position[n:]

    def where(ref: int) -> int:
        return int(pos_extra[-ref - 1]) if ref < 0 else int(pos_base[ref])

    entries = []
    for kind, base, ref, info in marks:
        original = info.pop("original", None)
        entries.append(
            {
                "source": export.source,
                "index": where(ref),
                "row_key": export.row_key(base),
                "kind": kind,
                "action": ACTIONS[kind],
                "field": info.get("field"),
                "dirty_value": info.get("dirty_value"),
                "clean_value": info.get("clean_value"),
                "original_index": None if original is None else where(original),
                "detail": info["detail"],
            }
        )
    entries.sort(key=lambda e: e["index"])
    return entries


def _apply(
    export: RawExport,
    kind: str,
    i: int,
    j: int,
    rng: np.random.Generator,
    per_day: int,
    n: int,
    end: date,
    keys: np.ndarray,
    items: list[tuple[float, int]],
    marks: list[Any],
    present: np.ndarray,
) -> None:
    src = export.source
    paths = PATHS[src]

    def extra(row: dict[str, Any] | str, key: float) -> int:
        export.extras.append(row)
        ref = -len(export.extras)
        items.append((key, ref))
        return ref

    clean = export.base_row(i)
    if kind == "duplicate":
        ref = extra(clean, i + per_day * float(rng.uniform(0, 3)) + 0.3)
        marks.append((kind, i, ref, {"original": i, "detail": "exact copy of another line"}))
    elif kind == "restated":
        v = export.values(i)
        conv = v["conversions"]
        pre = dict(v)
        pre["conversions"] = (
            float(np.floor(conv * 0.6 * 100) / 100)
            if src == "google_ads"
            else float(np.floor(conv * 0.6))
        )
        pre["revenue"] = round(v["revenue"] * 0.6, 2)
        pre["spend"] = round(v["spend"] * 0.97, 2)
        pre["impressions"] = int(v["impressions"] * 0.97)
        pre["clicks"] = min(int(v["clicks"] * 0.97), pre["impressions"] or int(v["clicks"]))
        pre["view_1d"] = min(v["view_1d"], int(pre["conversions"]))
        pre["click_7d"] = int(pre["conversions"]) - pre["view_1d"]
        pre["click_1d"] = min(v["click_1d"], pre["click_7d"])
        ref = extra(export.render(pre), i - 0.25)
        keys[i] = _after_day(export, present, i, int(rng.integers(2, 8)))
        marks.append(
            (
                "superseded",
                i,
                ref,
                {
                    "original": i,
                    "detail": "preliminary numbers; the platform re-sent this day later",
                },
            )
        )
        marks.append(
            (
                "restated",
                i,
                i,
                {
                    "original": ref,
                    "detail": "re-sent day with final numbers; supersedes original_index",
                },
            )
        )
    elif kind == "out_of_order":
        keys[i] = _after_day(export, present, i, int(rng.integers(1, 4)))
        marks.append((kind, i, i, {"detail": "arrives among rows of a later day"}))
    elif kind == "late":
        keys[i] = n + 10 + j
        marks.append((kind, i, i, {"detail": "arrives after the rest of the export"}))
    elif kind == "malformed_json":
        text = dumps(clean)
        ref = extra(text[: max(1, len(text) * 2 // 3)], i - 0.3)
        marks.append(
            (
                kind,
                i,
                ref,
                {"original": i, "detail": "truncated write of the next copy of this row; not JSON"},
            )
        )
    elif kind == "future_date":
        v = export.values(i)
        fut = date.fromisoformat(v["date"]) + timedelta(days=400)
        shifted = dict(v, date=fut.isoformat())
        if src == "klaviyo":
            off = v["day_start"][19:]
            shifted["day_start"] = f"{fut.isoformat()}T00:00:00{off}"
            shifted["day_end"] = f"{(fut + timedelta(days=1)).isoformat()}T00:00:00{off}"
        ref = extra(export.render(shifted), n + 1000 + j)
        marks.append(
            (
                kind,
                i,
                ref,
                {
                    "field": paths["date"],
                    "detail": f"dated {fut.isoformat()}, after the export's last day {end.isoformat()}",
                },
            )
        )
    else:
        row = json.loads(dumps(clean))  # a private deep copy
        info = _fix_kind(src, kind, row, clean, export, i, j, rng)
        export.overrides[i] = row
        marks.append((kind, i, i, info))


def _after_day(export: RawExport, present: np.ndarray, i: int, days: int) -> float:
    """A key placing base row ``i`` after every row dated up to ``days`` later days with rows
    (``present``: the sorted distinct days; Klaviyo does not send every day)."""
    j = min(int(np.searchsorted(present, export.day[i], side="right")) + days - 1, present.size - 1)
    return float(np.searchsorted(export.day, present[j], side="right")) - 0.75


def _present_days(export: RawExport) -> np.ndarray:
    # export.day is sorted, so the distinct days are where it changes.
    day = export.day
    return day[np.concatenate([[True], day[1:] != day[:-1]])]


def _fix_kind(
    src: str,
    kind: str,
    row: dict[str, Any],
    clean: dict[str, Any],
    export: RawExport,
    i: int,
    j: int,
    rng: np.random.Generator,
) -> dict[str, Any]:
    paths = PATHS[src]
    if kind == "missing_id":
        path = paths["campaign_id"]
        old = get_path(clean, path)
        set_path(row, path, None if src == "tiktok" else DELETE)
        return {
            "field": path,
            "dirty_value": None,
            "clean_value": old,
            "detail": "campaign id missing; the name still identifies it",
        }
    if kind == "negative_spend":
        path = paths["spend"]
        old = get_path(clean, path)
        new: Any = -old if isinstance(old, float) else "-" + old
        set_path(row, path, new)
        return {
            "field": path,
            "dirty_value": new,
            "clean_value": old,
            "detail": "spend reported with a negative sign",
        }
    if kind == "clicks_exceed_impressions":
        imps = int(export.numeric["impressions"][i])
        clicks = imps + 1 + int(rng.integers(0, max(1, imps)))
        path = paths["clicks"]
        old = get_path(clean, path) if src != "google_ads" else clean["metrics"].get("clicks")
        set_path(row, path, str(clicks))
        return {
            "field": path,
            "dirty_value": str(clicks),
            "clean_value": old,
            "detail": f"clicks ({clicks}) exceed impressions ({imps})",
        }
    if kind == "bad_number":
        path = paths["impressions"] if src == "klaviyo" else paths["spend"]
        old = get_path(clean, path)
        raw = int(old) if src in ("klaviyo", "google_ads") else old
        new = _bad_number(src, raw, j)
        set_path(row, path, new)
        return {
            "field": path,
            "dirty_value": new,
            "clean_value": old,
            "detail": "number written as a formatted string",
        }
    if kind == "unknown_currency":
        path = paths["currency"]
        old = get_path(clean, path)
        set_path(row, path, "US$")
        return {
            "field": path,
            "dirty_value": "US$",
            "clean_value": old,
            "detail": "currency is not an ISO 4217 code",
        }
    if kind == "timezone_shift":
        path = paths["date"]
        old = get_path(clean, path)
        tz = ZoneInfo(export.campaigns.timezone[int(export.camp[i])])
        local = datetime.fromisoformat(old).replace(tzinfo=tz)
        utc = local.astimezone(ZoneInfo("UTC")).strftime("%Y-%m-%d %H:%M:%S")
        set_path(row, path, utc)
        return {
            "field": path,
            "dirty_value": utc,
            "clean_value": old,
            "detail": f"day start given in UTC, not the advertiser's zone {tz.key}",
        }
    raise ValueError(kind)
