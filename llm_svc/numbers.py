"""Numbers in prose: how the writer prints a figure, and how a claim's figures are read back.

One formatter (:func:`fmt`) for every figure the service writes, so that the grounding test can
re-derive each printed number from the fact it cites; one reader (:func:`quantities`) for the
numbers in a claim, in the formats people write them: ``12%``, ``12 percent``, ``$1,200``,
``1.2k``, ``$3.4M``, ``3.1x``, ``-2.5``, ``twelve percent``, ``between 4 and 20``, and as
German and French writers do (R34-F6): ``25.000.000 €``, ``1.234,56 EUR``, ``9,50``,
``12,5 %``, ``25 Mio. €``, ``1,2 Mrd.``, ``25 000 000 €`` (narrow or two-group spaces).

Separators: a figure that reads one way is read so ("25.000.000", "1,234,567", "9,50",
"1.234,56", "3.78"). One group of three digits after a single separator reads two ways:
"1.234" (English 1.234, German 1,234) and "1,234" (English 1,234, German 1.234). Such a figure
is read by what else the text says, in this order: its scale word (German "Mio." or English
"million"); for "2.085", a ratio or percentage under 10 ("iROAS was 2.085", "2.125x",
"1.234%") is a decimal, as a return of 2,085 times the spend is none anyone reports; the other
figures of the text (all written one way: that way); a currency written after it ("20.500 EUR":
money has two decimals, so three digits are thousands). Past those, "1,234" reads English (a
thousands comma, as English prose writes a count), and so does "1.234" unless the text shows
German or French writing (a figure written their way beside figures written the English way,
a German or French scale word, German or French words): only then is it *ambiguous*, read as
1.234 with :attr:`Quantity.ambiguous` holding 1,234, which a judge must not compare as a
confident size (s18 V2-F1: English prose writes "12.125%" and "an iROAS of 2.085").
"""

from __future__ import annotations

import enum
import math
import re
from dataclasses import dataclass

__all__ = ["Quantity", "QuantityKind", "fmt", "fmt_pct", "quantities"]


def fmt(x: float) -> str:
    """A figure as the service prints it: thousands separators above 100, two decimals above 1,
    three significant digits below (``1,234``, ``3.78``, ``0.0289``, ``-2.14``)."""
    if not math.isfinite(x):
        return "n/a"
    ax = abs(x)
    if ax >= 100:
        text = f"{x:,.0f}"
    elif ax >= 1:
        text = f"{x:,.2f}"
    elif ax == 0:
        text = "0"
    else:
        text = f"{x:.3g}"
    return "0" if text in ("-0", "-0.00") else text


def fmt_pct(fraction: float) -> str:
    """A fraction as a percentage with one decimal (``0.039`` → ``3.9%``)."""
    text = f"{100 * fraction:.1f}%"
    return "0.0%" if text == "-0.0%" else text


class QuantityKind(enum.StrEnum):
    ABSOLUTE = "absolute"  # outcome units (money, orders, per-unit figures)
    PERCENT = "percent"  # a relative change, as a fraction (12% → 0.12)
    MULTIPLE = "multiple"  # a ratio: 3.1x ROAS, "doubled" (as 2.0)


@dataclass(frozen=True, slots=True)
class Quantity:
    """A number found in text, in its kind's units, and how precisely it was written.

    ``tolerance`` is half a unit of the last digit written (``12%`` → 0.005 as a fraction), so
    a rounded figure is compared with what it may have been rounded from.
    """

    value: float
    kind: QuantityKind
    start: int
    end: int
    tolerance: float
    upper: float | None = None  # set for a range: value is its lower end
    # the currency written with it: an ISO code ("USD", "JPY"), "$" for a dollar of no stated
    # country, "¥" for yen or yuan; "" when none is written
    currency: str = ""
    # the other reading of a figure whose one separator reads two ways and nothing in the
    # text settles ("1.234": 1.234 or 1,234), in the kind's units; None when it reads one way
    ambiguous: float | None = None

    @property
    def is_range(self) -> bool:
        return self.upper is not None


_WORDS = {
    "zero": 0, "one": 1, "two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7,
    "eight": 8, "nine": 9, "ten": 10, "eleven": 11, "twelve": 12, "thirteen": 13,
    "fourteen": 14, "fifteen": 15, "sixteen": 16, "seventeen": 17, "eighteen": 18,
    "nineteen": 19, "twenty": 20, "thirty": 30, "forty": 40, "fifty": 50, "sixty": 60,
    "seventy": 70, "eighty": 80, "ninety": 90, "hundred": 100,
}  # fmt: skip
_SCALES = {
    "k": 1e3, "thousand": 1e3, "m": 1e6, "mm": 1e6, "million": 1e6, "bn": 1e9, "b": 1e9,
    "billion": 1e9,
}  # fmt: skip
# German and French scale words: their writer groups with "." or " " and decimals with ","
# ("1,2 Mrd." is 1.2 billion). German "Billion" (10^12) is not read: it is spelled as the
# English word, which the reader takes as 10^9.
_EUROPEAN_SCALES = {
    "tsd": 1e3, "mio": 1e6, "millionen": 1e6, "millions": 1e6, "mrd": 1e9, "md": 1e9,
    "milliarde": 1e9, "milliarden": 1e9, "milliard": 1e9, "milliards": 1e9,
}  # fmt: skip

_GAP = "[\u00a0\u2009\u202f]"  # no-break, thin and narrow no-break spaces: French grouping
_NUM = (
    r"(?:\d{1,3}(?:\.\d{3})+,\d+"  # 1.234,56
    r"|\d{1,3}(?:,\d{3})+\.\d+"  # 1,234.56
    r"|\d{1,3}(?:\.\d{3}){2,}"  # 25.000.000
    r"|\d{1,3}(?:,\d{3}){2,}"  # 1,234,567
    rf"|\d{{1,3}}(?:{_GAP}\d{{3}})+(?:[.,]\d+)?"  # 25 000 000 (typographic spaces)
    r"|\d{1,3}(?: \d{3}){2,}(?:[.,]\d+)?(?!\d)"  # 25 000 000 (plain spaces, two groups)
    r"|\d+,\d+"  # 9,50 and 1,234: read in _reading
    r"|\d+(?:\.\d+)?|\.\d+)"
)
_WORD = "|".join(sorted(_WORDS, key=len, reverse=True))
_QUANTITY = re.compile(
    r"(?P<sign>[-−–+])?\s?(?P<cur>[$€£¥])?\s?"
    rf"(?:(?P<num>{_NUM})|\b(?P<word>{_WORD})\b)"
    r"(?:\s?(?P<scale>(?:mio|mrd|md|tsd)\b\.?|(?:k|mm|m|bn|b|thousand|million|billion"
    r"|millionen|milliarden|milliarde|milliards?|millions)\b))?"
    r"(?:\s?(?P<unit>%|percent\b|per\s?cent\b|percentage points?\b|pp\b|x\b|×|times\b|-fold\b|fold\b))?",
    re.IGNORECASE,
)
_RANGE_GAP = re.compile(r"^\s*(?:to|and|-|–|—|through)\s*$", re.IGNORECASE)
_BETWEEN = re.compile(r"(?:between|from)\s*$", re.IGNORECASE)
# Multiples written as words: "doubled revenue" is a 100% increase, i.e. 2x.
_DATE = re.compile(
    r"\b\d{4}-\d{2}-\d{2}\b"
    r"|\b(?:in|since|during|until|through|of|Q[1-4]|H[12]|FY)\s*(?:19|20)\d{2}\b",
    re.IGNORECASE,
)
_MULTIPLE_WORDS = {"doubled": 2.0, "double": 2.0, "tripled": 3.0, "triple": 3.0, "halved": 0.5}
_MULTIPLE_WORD = re.compile(r"\b(" + "|".join(_MULTIPLE_WORDS) + r")\b", re.IGNORECASE)


_SYMBOLS = {"$": "$", "€": "EUR", "£": "GBP", "¥": "¥"}
_CODES = (
    "USD|EUR|GBP|JPY|CNY|RMB|CAD|AUD|NZD|CHF|SEK|NOK|DKK|INR|BRL|MXN|SGD|HKD|KRW|ZAR|PLN|CZK|"
    "HUF|TRY|ILS|AED|SAR|THB|IDR|MYR|PHP|TWD"
)
_CURRENCY_WORDS = {
    "dollar": "$", "euro": "EUR", "pound": "GBP", "sterling": "GBP", "yen": "JPY",
    "yuan": "CNY", "renminbi": "CNY", "rupee": "INR", "franc": "CHF",
}  # fmt: skip
_CODE_AFTER = re.compile(
    rf"^\s?(?:(?P<code>{_CODES})\b|(?P<symbol>[$€£¥])|(?:d[’'])?(?P<word>dollar|euro|pound|"
    r"sterling|yen|yuan|renminbi|rupee|franc)s?\b)",
    re.IGNORECASE,
)
_CODE_BEFORE = re.compile(rf"\b(?P<code>{_CODES})\s?$", re.IGNORECASE)
# a dollar sign's country written before it: "US$5M", "C$ 40k"
_DOLLAR_PREFIX = {"US": "USD", "C": "CAD", "CA": "CAD", "A": "AUD", "AU": "AUD", "NZ": "NZD",
                  "S": "SGD", "SG": "SGD", "HK": "HKD"}  # fmt: skip
_DOLLAR_BEFORE = re.compile(r"\b(?P<prefix>" + "|".join(_DOLLAR_PREFIX) + r")$")


def _currency(text: str, start: int, end: int, symbol: str | None) -> tuple[str, int]:
    """The currency written with the figure at ``start:end`` and where the figure starts once
    a dollar's country prefix ("US$") is counted in it."""
    if symbol == "$":
        m = _DOLLAR_BEFORE.search(text[:start])
        if m:
            return _DOLLAR_PREFIX[m.group("prefix")], m.start()
    if symbol:
        return _SYMBOLS[symbol], start
    after = _CODE_AFTER.match(text[end:])
    if after:
        code, symbol_after = after.group("code"), after.group("symbol")
        if symbol_after:  # "25.000.000 €", "9,50 $"
            return _SYMBOLS[symbol_after], start
        return (code.upper() if code else _CURRENCY_WORDS[after.group("word").lower()]), start
    before = _CODE_BEFORE.search(text[:start])
    return (before.group("code").upper() if before else ""), start


class _Way(enum.Enum):
    """How a text writes its figures: English (1,234.5) or German/French (1.234,5)."""

    ENGLISH = "english"
    EUROPEAN = "european"


def _one_way(num: str) -> _Way | None:
    """The way a figure's separators can only be read, or None (no separator, or one that
    reads both ways: a single "." or "," before exactly three digits and after 1-3)."""
    num = re.sub("[\u00a0\u2009\u202f ]", "", num)
    dots, commas = num.count("."), num.count(",")
    if dots and commas:
        return _Way.EUROPEAN if num.rfind(",") > num.rfind(".") else _Way.ENGLISH
    if dots + commas == 0:
        return None
    if dots + commas > 1:  # groups of three (the pattern only takes such)
        return _Way.ENGLISH if commas else _Way.EUROPEAN
    lead, _, tail = num.partition("." if dots else ",")
    if len(tail) == 3 and 1 <= len(lead) <= 3 and not (dots and lead.startswith("0")):
        return None  # "1.234", "1,234"
    # "3.78", "0.125", "1234.567": a decimal point; "9,50", "12,5": a decimal comma
    return _Way.ENGLISH if dots else _Way.EUROPEAN


def _reading(num: str, way: _Way) -> tuple[float, int]:
    """(value, decimals) of a figure read as ``way`` writes figures."""
    num = re.sub("[\u00a0\u2009\u202f ]", "", num)
    group, point = (",", ".") if way is _Way.ENGLISH else (".", ",")
    num = num.replace(group, "").replace(point, ".")
    return float(num), (len(num.split(".")[1]) if "." in num else 0)


# Words of German or French prose that English prose does not use (lower case, matched as
# written: "MIT", "IST", "Des Moines", "et al." and English "die", "hat", "den" stay English)
_EUROPEAN_WORDS = re.compile(
    r"\b(?:und|oder|bei|beim|mit|von|vom|der|dem|das|ein|eine|einen|einem|einer|ist|sind|wurde|"
    r"wurden|haben|nicht|für|über|auf|aus|nach|zum|zur|im|durch|gegenüber|Umsatz|Umsätze|"
    r"Bestellungen|Ausgaben|ou|avec|une|les|du|dans|sur|chez|sont|été|ventes|dépenses|"
    r"chiffre d'affaires)\b"
)


def _text_way(matches: list[re.Match[str]]) -> tuple[_Way | None, bool]:
    """The way the text's figures are written, when those that read one way all agree, and
    whether the text shows German or French writing at all (a figure or scale word written
    their way, or their words)."""
    ways = {_one_way(m.group("num")) for m in matches if m.group("num") is not None}
    scales = {(m.group("scale") or "").lower().rstrip(".") for m in matches}
    if scales & set(_EUROPEAN_SCALES):
        ways.add(_Way.EUROPEAN)
    ways.discard(None)
    european = _Way.EUROPEAN in ways or bool(matches and _EUROPEAN_WORDS.search(matches[0].string))
    return (ways.pop() if len(ways) == 1 else None), european


# A return on spend written before its figure ("iROAS was 2.085", "ROAS of 2.085") with no
# other figure between, or after it ("a 2.085 iROAS")
_RATIO_BEFORE = re.compile(r"(?:\b[im]?-?roas\b|\breturn on (?:ad )?spend\b)[^\d]{0,40}$", re.I)
_RATIO_AFTER = re.compile(r"^\s?(?:incremental\s+|average\s+)?[im]?-?roas\b", re.I)


def _a_ratio(m: re.Match[str]) -> bool:
    """Whether the figure of ``m`` is a percentage, a multiple or a return on spend."""
    return bool(
        m.group("unit")
        or _RATIO_BEFORE.search(m.string[: m.start()])
        or _RATIO_AFTER.match(m.string[m.end() :])
    )


# Money around a figure: a currency sign before it ("$2.500"), or revenue, spend, sales or a
# currency word after it ("2.500 in incremental revenue", "2.500 dollars")
_MONEY_BEFORE = re.compile(r"[$€£¥]\s?$")
_MONEY_AFTER = re.compile(
    r"^\s?(?:[a-z]+\s+){0,3}?(?:revenue|sales|spend|profit|dollars?|euros?|pounds?)\b", re.I
)


def _money(m: re.Match[str]) -> bool:
    """Whether the figure of ``m`` is an amount of money (see _MONEY_BEFORE/_AFTER)."""
    if m.group("unit"):  # a percentage or a multiple, whatever follows it
        return False
    return bool(
        m.group("cur")
        or _MONEY_BEFORE.search(m.string[: m.start()])
        or _MONEY_AFTER.match(m.string[m.end() :])
    )


def _read(
    m: re.Match[str], num: str, text_way: _Way | None, european: bool
) -> tuple[float, int, float | None]:
    """(value, decimals, the other reading or None) of a written figure (see the module's
    "Separators"); ``european``: the text shows German or French writing."""
    way = _one_way(num)
    if way is not None or not re.search("[.,]", num):
        return (*_reading(num, way or _Way.ENGLISH), None)
    scale = (m.group("scale") or "").lower().rstrip(".")
    if scale:
        way = _Way.EUROPEAN if scale in _EUROPEAN_SCALES else _Way.ENGLISH
    elif "." in num and _a_ratio(m) and _reading(num, _Way.ENGLISH)[0] < 10:
        # "iROAS was 2.085", "2.125x", "1.234%": read as thousands, a return of 2,085 times
        # the spend or a 1,234% change; a ratio under 10 written to three decimals is a decimal
        way = _Way.ENGLISH
    elif text_way is not None:
        way = text_way
    elif _CODE_AFTER.match(m.string[m.end() :]) or "," in num:
        # "20.500 EUR": money has two decimals; "1,234" alone: English prose's count
        way = _Way.ENGLISH if "," in num else _Way.EUROPEAN
    elif not european and not _money(m):
        # nothing in the text is written the German or French way; money aside: English
        # money has two decimals, so "$2.500" or "2.500 in revenue" may well be 2,500
        way = _Way.ENGLISH
    if way is not None:
        return (*_reading(num, way), None)
    value, decimals = _reading(num, _Way.ENGLISH)
    return value, decimals, _reading(num, _Way.EUROPEAN)[0]


def _parse(
    m: re.Match[str], text_way: _Way | None = None, european: bool = False
) -> Quantity | None:
    num, word = m.group("num"), m.group("word")
    if num is None and word is None:
        return None
    other: float | None = None
    if num is not None:
        value, decimals, other = _read(m, num, text_way, european)
        step = 10.0**-decimals
    else:
        value, step = float(_WORDS[word.lower()]), 1.0
    scale = m.group("scale")
    if scale:
        key = scale.lower().rstrip(".")
        factor = _SCALES.get(key) or _EUROPEAN_SCALES[key]
        value, step = value * factor, step * factor
        other = other * factor if other is not None else None
    unit = (m.group("unit") or "").lower().replace(" ", "")
    sign = m.group("sign")
    if (
        sign
        and sign in "-−–"
        and (m.start("sign") == 0 or not m.string[m.start("sign") - 1].isalnum())
    ):
        value = -value
        other = -other if other is not None else None
    if unit == "%" or unit.startswith(("percent", "pp")):
        kind, value, step = QuantityKind.PERCENT, value / 100, step / 100
        other = other / 100 if other is not None else None
    elif unit:
        kind = QuantityKind.MULTIPLE
    else:
        kind = QuantityKind.ABSOLUTE
    if word is not None and kind is QuantityKind.ABSOLUTE and not scale:
        return None  # "one of", "two channels": a bare number word is not a figure
    start = m.start("sign") if sign else (m.start("cur") if m.group("cur") else m.start())
    while start < m.end() and m.string[start].isspace():
        start += 1
    currency = ""
    if kind is QuantityKind.ABSOLUTE:
        currency, start = _currency(m.string, start, m.end(), m.group("cur"))
    code = {"RMB": "CNY"}.get(currency, currency)
    return Quantity(value, kind, start, m.end(), step / 2, currency=code, ambiguous=other)


def quantities(text: str) -> list[Quantity]:
    """Every figure in ``text``, ranges ("between 4 and 20%", "1.0 to 6.5") joined into one.

    A range's unit is the unit written after either end ("4-20%" is a percentage range).
    Dates and years (``2024-01-31``) are skipped; so are ordinals like "Q3".
    """
    found: list[Quantity] = []
    text = _DATE.sub(lambda d: "D" * len(d.group()), text)  # same length: spans stay valid
    matches = list(_QUANTITY.finditer(text))
    way, european = _text_way(matches)
    for m in matches:
        q = _parse(m, way, european)
        if q is None:
            continue
        signed = text[q.start] in "-−–+"
        if (
            q.start > 0
            and not signed
            and (text[q.start - 1].isalnum() or text[q.start - 1] in "_.")
        ):
            continue  # part of a word or identifier: "Q3", "h2", "meta_2", "v1.2"
        found.append(q)
    for m in _MULTIPLE_WORD.finditer(text):
        value = _MULTIPLE_WORDS[m.group(1).lower()]
        found.append(Quantity(value, QuantityKind.MULTIPLE, m.start(), m.end(), 0.0))
    found.sort(key=lambda q: q.start)
    return _join_ranges(text, found)


def _join_ranges(text: str, found: list[Quantity]) -> list[Quantity]:
    out: list[Quantity] = []
    i = 0
    while i < len(found):
        q = found[i]
        if i + 1 < len(found):
            r = found[i + 1]
            gap = text[q.end : r.start]
            dash = gap == "" and text[r.start] in "-–—"  # "4-20": r's sign is the dash
            if _RANGE_GAP.match(gap) or dash:
                hi = abs(r.value) if dash else r.value
                kind, lo = r.kind, q.value
                if q.kind is QuantityKind.ABSOLUTE and r.kind is QuantityKind.PERCENT:
                    lo = q.value / 100  # "4 to 20%": the unit is written once
                elif q.kind is not r.kind and r.kind is QuantityKind.ABSOLUTE:
                    kind, hi = q.kind, (hi / 100 if q.kind is QuantityKind.PERCENT else hi)
                if gap.strip().lower() != "and" or _BETWEEN.search(text[: q.start]):
                    out.append(
                        Quantity(
                            min(lo, hi), kind, q.start, r.end, max(q.tolerance, r.tolerance),
                            upper=max(lo, hi), currency=q.currency or r.currency,
                            # an end that reads two ways leaves the range so: its other
                            # reading is the end's ("between 1.234 and 2.5")
                            ambiguous=q.ambiguous if q.ambiguous is not None else r.ambiguous,
                        )
                    )  # fmt: skip
                    i += 2
                    continue
        out.append(q)
        i += 1
    return out
