"""Numbers, names and HTML escaping shared by the report's sections."""

from __future__ import annotations

import html
import math
import re


def esc(text: object) -> str:
    return html.escape(str(text), quote=True)


# A run of right-to-left script (Hebrew, Arabic, Syriac, Thaana, N'Ko and their presentation
# forms), spaces and marks inside it included.
_R = "\u0590-\u08ff\ufb1d-\ufdff\ufe70-\ufefc\U00010800-\U00010fff\U0001e800-\U0001efff"
_RTL_RUN = re.compile(f"[{_R}](?:[{_R}\\s\u200c\u200d]*[{_R}])?")


def prose(text: object) -> str:
    """:func:`esc` for running text (not attributes): each right-to-left run isolated in
    ``<bdi>``, so a figure after an Arabic or Hebrew name stays after it ("tiktok 24%, <name>
    95%" was shown as "95% <name>": R22-F10)."""
    return _RTL_RUN.sub(lambda m: f"<bdi>{m.group(0)}</bdi>", esc(text))


def num(x: float | None, *, signed: bool = False) -> str:
    """A number as a reader wants it: thousands separated, 3 significant digits when small."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "–"
    if math.isinf(x):
        return "∞" if x > 0 else "−∞"
    sign = "+" if signed and x > 0 else ""
    ax = abs(x)
    if ax >= 100:
        text = f"{x:,.0f}"
    elif ax >= 1:
        text = f"{x:,.2f}"
    elif ax == 0:
        text = "0"
    else:
        text = f"{x:.3g}"
    return sign + text.replace("-", "−")


def pvalue(p: float | None) -> str:
    if p is None or math.isnan(p):
        return "–"
    return "< 0.001" if p < 0.001 else f"{p:.3f}"


def enum_name(value_name: str, prefix: str) -> str:
    """``ESTIMATION_METHOD_SYNTHETIC_CONTROL`` → ``synthetic control``."""
    return value_name.removeprefix(prefix).replace("_", " ").lower()


def money(x: float, currency: str) -> str:
    return f"{num(x)} {currency}".strip()


# The estimand's words, as mesh.runtime.estimand has them (the import floors keep the report on
# wire messages; tests/report/test_estimand_words.py holds the two equal).
_ESTIMAND_NAMES = {
    "ate": "average treatment effect (ATE)",
    "att": "average treatment effect on the treated (ATT)",
    "late": "local average treatment effect (LATE)",
    "cate": "conditional average treatment effect (CATE)",
}


_CADENCES = ("hour", "day", "week", "month", "quarter", "year")
_GENERIC_TIMES = frozenset({"date", "ds", "dt", "time", "timestamp", "period", "t", "datetime"})


def _period_word(time: str) -> str:
    name = time.strip()
    cadence = next((c for c in _CADENCES if c in name.lower()), "")
    return cadence or ("period" if name.lower() in _GENERIC_TIMES else name)


def estimand_words(estimand: str, unit: str = "", time: str = "") -> str:
    """``average treatment effect (ATE) per geo-day`` (see mesh.runtime.estimand)."""
    name = _ESTIMAND_NAMES.get(estimand.lower().removeprefix("estimand_"), "effect")
    unit, time = unit.strip(), _period_word(time)
    per = f"{unit}-{time}" if unit and time else unit
    return f"{name} per {per}" if per else name


def interval_text(i: object) -> str:
    """``estimate (lower to upper, 90%)``: an interval always says its level (unset: omitted)."""
    level = float(getattr(i, "level", 0.0) or 0.0)
    at = f", {level:.0%}" if 0 < level < 1 else ""
    return f"{num(i.estimate)} ({num(i.lower)} to {num(i.upper)}{at})"  # type: ignore[attr-defined]


def interval_cell(i: object) -> str:
    """:func:`interval_text` for a table cell (HTML): the bounds on a line of their own under the
    estimate, so a table of nine such columns fits the page's width."""
    text = interval_text(i)
    head, _, bounds = text.partition(" (")
    return f'{head}<span class="ci">({esc(bounds)}</span>'
