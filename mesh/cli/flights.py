"""``liftos predict --daily CHANNEL=AMOUNT@START..END``: a flighted plan (a Q4-only channel, a
launch in November) as one spend per horizon day, what PredictPerformance's ``SpendPlan.daily``
takes (R51-F6: the CLI could only spend one amount on every day of the horizon, so a planner in
October could not ask for TikTok on Nov 1 – Dec 31 only).

The horizon starts the day after the analysis's window; a channel spends the amount on every
day of its ranges (repeat the flag for more ranges) and nothing on the others.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

__all__ = ["Flight", "flights", "per_day", "plan_line"]


@dataclass(frozen=True, slots=True)
class Flight:
    """``amount`` a day on ``start``..``end`` (both included)."""

    amount: float
    start: dt.date
    end: dt.date


def _date(text: str, item: str) -> dt.date:
    try:
        return dt.date.fromisoformat(text.strip())
    except ValueError:
        raise SystemExit(
            f"error: --daily {item!r}: {text.strip()!r} is not a date (YYYY-MM-DD); write "
            "CHANNEL=AMOUNT@START..END, e.g. tiktok=17571@2024-11-01..2024-12-31"
        ) from None


def flights(items: list[str]) -> tuple[list[str], dict[str, list[Flight]]]:
    """The ``--daily`` items split: those without dates (CHANNEL=AMOUNT, every day) as given,
    and the dated ones per channel. A channel given both ways is refused."""
    plain: list[str] = []
    dated: dict[str, list[Flight]] = {}
    for item in items:
        name, sep, value = item.partition("=")
        amount, at, span = value.partition("@")
        if not at:
            plain.append(item)
            continue
        first, dots, last = span.partition("..")
        if not sep or not dots:
            raise SystemExit(
                f"error: --daily takes CHANNEL=AMOUNT or CHANNEL=AMOUNT@START..END, got {item!r}"
            )
        try:
            number = float(amount)
        except ValueError:
            raise SystemExit(f"error: --daily {item!r}: {amount!r} is not a number") from None
        flight = Flight(number, _date(first, item), _date(last, item))
        if flight.end < flight.start:
            raise SystemExit(f"error: --daily {item!r}: the range ends before it starts")
        dated.setdefault(name.strip(), []).append(flight)
    both = sorted({i.partition("=")[0].strip() for i in plain} & set(dated))
    if both:
        raise SystemExit(
            f"error: --daily gives {', '.join(both)} both an amount for every day and dated "
            "ranges; give one or the other"
        )
    return plain, dated


def per_day(channel: str, ranges: list[Flight], first: dt.date, days: int) -> list[float]:
    """One spend per horizon day (``days`` from ``first``): each range's amount on its days,
    0 elsewhere. A range outside the horizon, or two on one day, is refused naming the fix."""
    last = first + dt.timedelta(days=days - 1)
    out: list[float | None] = [None] * days
    for f in ranges:
        if f.start < first or f.end > last:
            need = (f.end - first).days + 1
            raise SystemExit(
                f"error: --daily {channel}: {f.start}..{f.end} is not inside the horizon "
                f"{first}..{last} (it starts the day after the analysis's window)"
                + (f"; --days {need} reaches {f.end}" if f.start >= first else "")
            )
        for k in range((f.start - first).days, (f.end - first).days + 1):
            if out[k] is not None:
                raise SystemExit(
                    f"error: --daily {channel}: {first + dt.timedelta(days=k)} is in two "
                    "ranges; give each day once"
                )
            out[k] = f.amount
    return [0.0 if v is None else v for v in out]


def plan_line(channel: str, ranges: list[Flight], days: int) -> str:
    """The plan asked, in words: each range's dates and amount, and the days left at 0."""
    spans = ", ".join(
        f"{f.amount:,.0f} a day on {f.start}..{f.end} ({_days((f.end - f.start).days + 1)})"
        for f in sorted(ranges, key=lambda f: f.start)
    )
    on = sum((f.end - f.start).days + 1 for f in ranges)
    return f"plan: {channel} {spans}; 0 on the horizon's other {_days(days - on)}"


def _days(n: int) -> str:
    return f"{n} day" if n == 1 else f"{n} days"
