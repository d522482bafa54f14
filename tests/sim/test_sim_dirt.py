"""Every dirty line of the written exports is in the truth's list, and nothing clean is.

The exports are read back from disk with a small independent reader per platform that knows
only the documented shapes and ``accounts.json``; it is not the simulator's code.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import pytest

import sim

ISO = {"USD", "EUR", "CAD", "GBP"}
MONEY = re.compile(r"^\d+\.\d{2}$")
DIGITS = re.compile(r"^\d+$")
SOURCES = ("meta", "google_ads", "klaviyo", "tiktok")


def _get(row: dict[str, Any], path: str) -> Any:
    cur: Any = row
    for p in path.split("."):
        if not isinstance(cur, dict) or p not in cur:
            return None
        cur = cur[p]
    return cur


def _set(row: dict[str, Any], path: str, value: Any) -> None:
    parts = path.split(".")
    cur = row
    for p in parts[:-1]:
        cur = cur[p]
    if value is None:
        cur.pop(parts[-1], None)
    else:
        cur[parts[-1]] = value


class Reader:
    """Reads one export line into (row_key, date, spend, impressions, clicks) + problems."""

    def __init__(self, accounts: list[dict[str, Any]], last_day: str) -> None:
        self.geo = {(a["source"], a["account_id"]): a["geo_keys"] for a in accounts}
        self.segment = {
            seg: (a["account_id"], region)
            for a in accounts
            if a["source"] == "klaviyo"
            for seg, region in a["geo_keys"].items()
        }
        self.last_day = last_day

    def read(
        self, source: str, row: dict[str, Any]
    ) -> tuple[str | None, dict[str, Any], list[str]]:
        bad: list[str] = []
        if source == "meta":
            acct, ident, day = row["account_id"], row.get("campaign_id"), row["date_start"]
            region = self.geo[("meta", acct)].get(row["region"])
            spend, imps, clicks = row["spend"], row["impressions"], row["clicks"]
            currency = row["account_currency"]
        elif source == "google_ads":
            acct, ident = row["customer"]["id"], row["campaign"].get("id")
            day = row["segments"]["date"]
            region = self.geo[("google_ads", acct)].get(row["segments"]["geoTargetRegion"])
            m = row["metrics"]
            micros = m.get("costMicros", "0")
            if not re.fullmatch(r"\d+", str(micros)) or int(micros) % 10_000:
                bad.append("costMicros")
                spend = "x"
            else:
                spend = f"{int(micros) / 1e6:.2f}"
            imps, clicks = m.get("impressions", "0"), m.get("clicks", "0")
            currency = row["customer"]["currencyCode"]
        elif source == "tiktok":
            acct, ident = row["advertiser_id"], row["dimensions"]["campaign_id"]
            stamp = row["dimensions"]["stat_time_day"]
            if not stamp.endswith(" 00:00:00"):
                bad.append("stat_time_day")
            day = stamp[:10]
            region = self.geo[("tiktok", acct)].get(row["dimensions"]["province_id"])
            m = row["metrics"]
            spend, imps, clicks, currency = m["spend"], m["impressions"], m["clicks"], m["currency"]
        else:
            a = row["attributes"]
            seg = row["relationships"]["segments"]["data"][0]["id"]
            acct, region = self.segment[seg]
            ident = (
                a["groupings"].get("campaign_message_id")
                if a["groupings"].get("campaign_id")
                else None
            )
            day = a["timeframe"]["start"][:10]
            st = a["statistics"]
            sp = st.get("text_message_spend", 0.0)
            spend = f"{sp:.2f}" if isinstance(sp, float) and sp >= 0 else "x"
            imps = st["recipients"]
            clicks = st["clicks_unique"]
            if not isinstance(imps, int):
                bad.append("recipients")
                imps = "x"
            currency = "USD"
        if not ident:
            bad.append("id")
        if not MONEY.match(str(spend)):
            bad.append("spend")
        if not DIGITS.match(str(imps)) or not DIGITS.match(str(clicks)):
            bad.append("number")
        elif source != "klaviyo" and int(clicks) > int(imps):
            bad.append("clicks>impressions")
        if currency not in ISO:
            bad.append("currency")
        if day > self.last_day:
            bad.append("future")
        key = f"{source}|{acct}|{ident}|{region}|{day}" if ident else None
        vals = {"date": day, "spend": spend, "impressions": imps, "clicks": clicks}
        return key, vals, bad


@pytest.fixture(scope="module")
def exports(demo: sim.SimResult, demo_dir: Path):  # type: ignore[no-untyped-def]
    accounts = json.loads((demo_dir / "accounts.json").read_text())
    truth = json.loads((demo_dir / "truth.json").read_text())
    reader = Reader(accounts, truth["dates"][-1])
    lines = {s: (demo_dir / f"{s}.ndjson").read_text().splitlines() for s in SOURCES}
    listed = {(d["source"], d["index"]): d for d in truth["dirty_rows"]}
    return reader, lines, listed, truth


def _panel_values(demo: sim.SimResult) -> dict[str, dict[str, Any]]:
    p = demo.panel
    out = {}
    for key, spend, imps, clicks, sends in zip(
        p["row_key"], p["spend"], p["impressions"], p["clicks"], p["sends"], strict=True
    ):
        out[key] = {
            "spend": f"{spend:.2f}",
            "impressions": int(sends or imps),
            "clicks": int(clicks),
        }
    return out


def test_every_dirt_kind_is_present(exports) -> None:  # type: ignore[no-untyped-def]
    _, _, listed, _ = exports
    kinds = {d["kind"] for d in listed.values()}
    assert kinds == {
        "duplicate",
        "superseded",
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
    }


def test_listed_and_clean_lines_partition_the_exports(demo: sim.SimResult, exports) -> None:  # type: ignore[no-untyped-def]
    reader, lines, listed, _ = exports
    panel = _panel_values(demo)
    seen: dict[str, int] = {}
    for source in SOURCES:
        last_clean_day = ""
        max_day = ""
        for k, text in enumerate(lines[source]):
            entry = listed.get((source, k))
            try:
                row = json.loads(text)
            except json.JSONDecodeError:
                assert entry is not None and entry["kind"] == "malformed_json", (source, k)
                continue
            key, vals, bad = reader.read(source, row)
            if entry is None:
                # Clean: valid, in date order, and exactly its panel row.
                assert not bad, (source, k, bad)
                assert vals["date"] >= last_clean_day, (source, k)
                last_clean_day = vals["date"]
                assert key in panel, (source, k, key)
                want = panel[key]
                assert vals["spend"] == want["spend"], (source, k)
                assert int(vals["impressions"]) == want["impressions"], (source, k)
                assert int(vals["clicks"]) == want["clicks"], (source, k)
                seen[key] = seen.get(key, 0) + 1
            else:
                action = entry["action"]
                if action == "fix":
                    assert bad, (source, k, entry["kind"])  # the reader sees the fault
                    assert _get(row, entry["field"]) == entry["dirty_value"]
                    _set(row, entry["field"], entry["clean_value"])
                    key, vals, bad = reader.read(source, row)
                    assert not bad, (source, k, entry["kind"], bad)
                    assert key == entry["row_key"]
                    seen[key] = seen.get(key, 0) + 1
                elif action == "keep":
                    assert not bad and key == entry["row_key"]
                    assert vals["date"] < max_day or entry["kind"] == "restated"
                    seen[key] = seen.get(key, 0) + 1
                else:  # drop
                    assert key is None or key == entry["row_key"] or bad
                    if entry["kind"] == "future_date":
                        assert "future" in bad
            if key is not None and not bad:
                max_day = max(max_day, vals["date"])
    # Every panel row is recovered exactly once from the kept and fixed lines.
    assert seen.keys() == panel.keys()
    assert set(seen.values()) == {1}


def test_drop_lines_point_at_their_kept_copy(exports) -> None:  # type: ignore[no-untyped-def]
    reader, lines, listed, _ = exports
    for (source, k), entry in listed.items():
        if entry["kind"] in ("duplicate", "malformed_json", "superseded"):
            orig = entry["original_index"]
            assert (source, orig) not in listed or listed[(source, orig)]["kind"] == "restated"
            key, _, _ = reader.read(source, json.loads(lines[source][orig]))
            assert key == entry["row_key"]
            if entry["kind"] == "duplicate":
                assert lines[source][k] == lines[source][orig]
            if entry["kind"] == "malformed_json":
                assert lines[source][orig].startswith(lines[source][k])
