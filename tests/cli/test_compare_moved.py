"""R42-F3: `liftos compare` says whether a channel's estimate moved beyond the other analysis's
interval (not whether two intervals overlap: always so where both lower bounds are 0), and
which days one window holds and the other does not, with their outcome and spend."""

from __future__ import annotations

import datetime as dt

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.compare import compare, lines

Triple = tuple[float, float, float]
DAY0 = dt.date(2025, 5, 1)


def _analysis(
    aid: str, first: int, roas: dict[str, Triple], records: int, incremental: Triple | None = None
) -> causal_pb.Analysis:
    """Ten days from DAY0 + ``first``: outcome 100 + the day's index, each channel spending
    10 × (index + 1) a day."""
    a = causal_pb.Analysis(analysis_id=aid)
    r = a.attribution
    r.record_count = records
    r.data_version = f"dv1:{aid}"
    days = [DAY0 + dt.timedelta(days=first + k) for k in range(10)]
    for d in days:
        r.daily.dates.add(year=d.year, month=d.month, day=d.day)
        r.daily.actual_outcome.append(100.0 + (d - DAY0).days)
    for name, t in roas.items():
        c = r.channels.add(channel=name)
        c.incremental_roas.CopyFrom(common_pb.Interval(estimate=t[0], lower=t[1], upper=t[2]))
        c.incremental_outcome.CopyFrom(common_pb.Interval(estimate=t[0] * 1e4, upper=t[2] * 1e4))
        spent = r.daily.spend.add(channel=name)
        spent.daily.extend(10.0 * ((d - DAY0).days + 1) for d in days)
    if incremental is not None:  # a channel without spend: judged on its incremental outcome
        c = r.channels.add(channel="klaviyo_sms")
        c.incremental_outcome.CopyFrom(
            common_pb.Interval(estimate=incremental[0], lower=incremental[1], upper=incremental[2])
        )
    return a


# A: last week; B: this week. meta_prospecting is R42's week 9 (2.02 -> 0.00 with both lower
# bounds at or near 0); the others pin each verdict.
A = {
    "meta_prospecting": (2.02, 0.40, 4.11),
    "google_pmax": (1.04, 0.00, 3.33),
    "tiktok": (1.00, 0.80, 1.20),
    "google_search": (2.00, 0.00, 3.00),
    "meta_retargeting": (1.00, 0.80, 1.20),
}
B = {
    "meta_prospecting": (0.00, 0.00, 1.85),
    "google_pmax": (0.00, 0.00, 2.07),
    "tiktok": (2.00, 0.00, 3.00),
    "google_search": (1.00, 0.80, 1.20),
    "meta_retargeting": (2.00, 1.50, 2.50),
}


@pytest.fixture(scope="module")
def text() -> list[str]:
    c = compare(
        _analysis("an-a", 0, A, 5_915, (5_000.0, 1_000.0, 9_000.0)),
        _analysis("an-b", 3, B, 5_888, (500.0, 0.0, 1_500.0)),
    )
    moved = {ch.channel: ch.moved for ch in c.channels}
    assert moved == {
        "meta_prospecting": "beyond both", "google_pmax": "within", "tiktok": "beyond A",
        "google_search": "beyond B", "meta_retargeting": "beyond both", "klaviyo_sms": "beyond both",
    }  # fmt: skip
    # The old verdict: meta_prospecting's intervals overlap ([0.40, 4.11] and [0, 1.85]).
    assert next(ch for ch in c.channels if ch.channel == "meta_prospecting").overlap is True
    return lines(c)


def _row(text: list[str], channel: str) -> str:
    (row,) = [x for x in text if x.startswith(f"{channel} ")]
    return row


def test_each_estimate_is_judged_against_the_others_interval(text: list[str]) -> None:
    assert _row(text, "meta_prospecting").endswith("-2.02 MOVED beyond both intervals")
    assert _row(text, "google_pmax").endswith(
        "-1.04 within each other's interval: cannot tell apart"
    )
    assert _row(text, "tiktok").endswith("+1.00 MOVED beyond A's interval")
    assert _row(text, "google_search").endswith("-1.00 MOVED: A's estimate is beyond B's interval")
    assert _row(text, "meta_retargeting").endswith(
        "+1.00 MOVED beyond both intervals, which do not overlap"
    )
    assert _row(text, "klaviyo_sms").endswith(
        "-4,500 MOVED beyond both intervals (incremental outcome)"
    )


def test_the_days_in_one_window_only_are_said_with_their_outcome_and_spend(text: list[str]) -> None:
    at = text.index(
        "days in one window only (with the restated days above, the data the two differ in):"
    )
    # A: May 1-10, B: May 4-13; outcome 100 + index, spend 10 × (index + 1) per channel.
    assert text[at + 1] == "  A only: 2025-05-01..2025-05-03 (3 days), revenue 303"
    assert text[at + 2] == "  B only: 2025-05-11..2025-05-13 (3 days), revenue 333"
    assert text[at + 3] == "  records A 5,915 -> B 5,888 (-27)"
    assert text[at + 4] == (
        "  spend on those days, A only -> B only: google_pmax 60 -> 360; google_search 60 -> "
        "360; meta_prospecting 60 -> 360; meta_retargeting 60 -> 360; tiktok 60 -> 360"
    )
    (data,) = [x for x in text if x.startswith("data: ")]
    assert data == (
        "data: DIFFERENT inputs (A dv1:an-a, B dv1:an-b): the windows differ by the days "
        "listed above"
    )


def test_the_same_window_says_no_days_apart() -> None:
    same = lines(compare(_analysis("a", 0, A, 10), _analysis("b", 0, A, 10)))
    assert not any(x.startswith("days in one window only") for x in same)
    assert all(_row(same, ch).endswith("+0.00 within each other's interval: cannot tell apart")
               for ch in A)  # fmt: skip
