"""Budget response: the day a source's budgets move together, the marketers chasing demand.

A campaign's spend moves for its own reasons — pacing drift, a budget step, the auction's
noise — and for one it shares with every other campaign of the account: budgets raised where
and when demand runs hot (Chan & Perry 2017, "Challenges and opportunities in media mix
modeling", Google: the textbook confounder of spend → sales). One series cannot tell the
two apart; the day's campaigns together can. Each row's move is its log spend against the
*median* log spend of its own previous 28 days (at least :data:`MIN_HISTORY` known): the
series' usual level, which a Black Friday or a pacing step inside the window does not drag
the way a mean does; the day's *common move* is the mean of those moves over the batch's
series of that day. Campaign pacing averages out over the series, demand does not.

A move is material at :data:`MATERIAL_LOG_MOVE` (a quarter of a day's budget, the
simulator's and our definition). The common move measures it with an error of ~0.09 in logs
(pacing the day's 3-5 campaigns of a source do not average away, and the geo-to-geo spread
of demand a national move cannot show), and more days sit just below the materiality than
just above it, so flagging at 0.25 flags more of the former than it misses of the latter.
A day is in play at :data:`FLAG_LOG_MOVE` — chosen on worlds 1-3 as the threshold whose
recall and precision fall least short of 95% / 90% — resting on at least :data:`MIN_SERIES`
series. On those worlds (bench/confounder_detection.py, rules recomputed from the records):
the single-series 7-day rule found 40% of the demand-driven rows at 23% precision, the
28-day mean at 0.25 84% at 72%, the median at 0.25 85% at 75%, the median at 0.28 83% at
84%; held out: docs/performance.md, issue 19.

What no ingest-time rule reaches: the simulator counts a row when demand moved its budget at
least 25% from demand's mean over the *whole run*, future days included, per geo
(``sim.confounders._demand_chase``; its marketers budget against that mean,
``sim.spend.plan_inputs``). A sixth to a quarter of those rows sit within 0.05 of the
threshold, so the target needs each geo-day's move to within ~0.02: an oracle that knew the
truth's own quantity, future mean included, up to an error of 0.03 finds 92-96% at 91-93%
precision, up to 0.07 (less than this detector's ~0.09) 81-86% at 79-82%, each at its best
threshold (``bench/confounder_detection.py --budget-ceiling``).
"""

from __future__ import annotations

import numpy as np

__all__ = ["FLAG_LOG_MOVE", "MATERIAL_LOG_MOVE", "MIN_HISTORY", "MIN_SERIES", "common_move"]

MATERIAL_LOG_MOVE = 0.25
# The common move that flags a day: material plus a margin for its measurement error.
FLAG_LOG_MOVE = 0.28
# Days of the series' own spend history a row's move needs.
MIN_HISTORY = 7
# Series a day's common move needs: fewer and one campaign's pacing step reads as demand.
MIN_SERIES = 5


def row_moves(cube: np.ndarray) -> np.ndarray:
    """Per row, log spend today minus the median log spend of its previous 28 days (NaN
    where today's spend is not positive or fewer than :data:`MIN_HISTORY` days had spend)."""
    spend = cube[:, :, 0]
    with np.errstate(divide="ignore", invalid="ignore"):
        logs = np.where(spend > 0, np.log(np.where(spend > 0, spend, 1.0)), np.nan)
    past = logs[:, 1:]
    known = np.isfinite(past).sum(axis=1)
    enough = (known >= MIN_HISTORY) & np.isfinite(logs[:, 0])
    base = np.full(logs.shape[0], np.nan)
    if enough.any():
        # NaN sorts last: the median of each row's known days, without nanmedian's warnings
        ordered = np.sort(past[enough], axis=1)
        k = known[enough]
        rows = np.arange(k.size)
        base[enough] = 0.5 * (ordered[rows, (k - 1) // 2] + ordered[rows, k // 2])
    return np.where(enough, logs[:, 0] - base, np.nan)


def common_move(days: np.ndarray, cube: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(the day's common log move on each row, the number of series it rests on); NaN
    where the day has fewer than :data:`MIN_SERIES` series with a move."""
    n = days.size
    move = row_moves(cube)
    if n == 0:
        return np.full(0, np.nan), np.zeros(0, dtype=np.int64)
    day_code = np.unique(days, return_inverse=True)[1].ravel()
    ok = np.isfinite(move)
    sums = np.bincount(day_code[ok], weights=move[ok], minlength=day_code.max() + 1)
    counts = np.bincount(day_code[ok], minlength=day_code.max() + 1)
    count = counts[day_code]
    with np.errstate(invalid="ignore", divide="ignore"):
        mean = sums[day_code] / count
    out = np.where(count >= MIN_SERIES, mean, np.nan)
    return out, count
