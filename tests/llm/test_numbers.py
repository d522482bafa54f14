"""Figures in prose: the writer's formatter and the claim reader's parser."""

from __future__ import annotations

import pytest

from llm_svc.numbers import QuantityKind, fmt, fmt_pct, quantities


@pytest.mark.parametrize(
    ("value", "text"),
    [(3.7812, "3.78"), (-2.1412, "-2.14"), (1234.5, "1,234"), (0.02891, "0.0289"), (0.0, "0"),
     (-0.0001, "-0.0001"), (float("nan"), "n/a")],
)  # fmt: skip
def test_fmt(value: float, text: str) -> None:
    assert fmt(value) == text


def test_fmt_pct() -> None:
    assert fmt_pct(0.039) == "3.9%" and fmt_pct(-0.0001) == "0.0%"


@pytest.mark.parametrize(
    ("text", "value", "kind", "upper"),
    [
        ("a 12% lift", 0.12, QuantityKind.PERCENT, None),
        ("12 percent", 0.12, QuantityKind.PERCENT, None),
        ("12.5 per cent", 0.125, QuantityKind.PERCENT, None),
        ("twelve percent", 0.12, QuantityKind.PERCENT, None),
        ("$1,200", 1200.0, QuantityKind.ABSOLUTE, None),
        ("1.2k orders", 1200.0, QuantityKind.ABSOLUTE, None),
        ("$3.4M", 3.4e6, QuantityKind.ABSOLUTE, None),
        ("a 3.1x ROAS", 3.1, QuantityKind.MULTIPLE, None),
        ("2.5× return", 2.5, QuantityKind.MULTIPLE, None),
        ("doubled revenue", 2.0, QuantityKind.MULTIPLE, None),
        ("fell by -2.5", -2.5, QuantityKind.ABSOLUTE, None),
        ("between 4 and 20 percent", 0.04, QuantityKind.PERCENT, 0.2),
        ("4-20%", 0.04, QuantityKind.PERCENT, 0.2),
        ("from −2.14 to 3.08", -2.14, QuantityKind.ABSOLUTE, 3.08),
    ],
)
def test_quantities(text: str, value: float, kind: QuantityKind, upper: float | None) -> None:
    (q,) = quantities(text)
    assert q.value == pytest.approx(value) and q.kind is kind
    assert (q.upper is None) if upper is None else q.upper == pytest.approx(upper)


def test_rounding_tolerance_is_half_the_last_digit() -> None:
    assert quantities("12%")[0].tolerance == pytest.approx(0.005)
    assert quantities("3.78")[0].tolerance == pytest.approx(0.005)


def test_dates_years_and_identifiers_are_not_figures() -> None:
    assert [q.value for q in quantities("on 2024-01-31, in 2023 and Q3 2024, meta_2 sold 5")] == [5]
    assert [q.value for q in quantities("In 2024 Meta drove 2000 orders")] == [2000]


def test_spans_point_at_the_figure() -> None:
    text = "revenue rose by $1,200 overall"
    (q,) = quantities(text)
    assert text[q.start : q.end] == "$1,200"


@pytest.mark.parametrize(
    ("text", "currency"),
    [
        ("¥6,632,778", "¥"),
        ("6,632,778 JPY", "JPY"),
        ("£9.5M", "GBP"),
        ("€6.6M", "EUR"),
        ("$6.6M", "$"),
        ("US$6.6M", "USD"),
        ("USD 5 million", "USD"),
        ("5 million dollars", "$"),
        ("18 million euros", "EUR"),
        ("4.3M", ""),
        ("12%", ""),
    ],
)
def test_the_currency_written_with_a_figure(text: str, currency: str) -> None:
    (q,) = quantities(text)
    assert q.currency == currency


def test_a_range_keeps_the_currency_written_after_it() -> None:
    (q,) = quantities("9,590,492 to 26,723,906 USD")
    assert q.upper == 26_723_906 and q.currency == "USD"
