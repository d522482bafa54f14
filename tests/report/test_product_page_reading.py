"""R6 F12, F13, F18 on the product page (Chromium): the explanation names products by title,
so the tables and the halo chart do too, and every claimed pair's amount is on the page; a
cell whose incremental margin is below its spend says so; the page carries the analysis's
caveats and Recommend's conclusion ("no move" included), each iROAS its interval, and the heat
map says which interval its hatching is."""

from __future__ import annotations

import html as html_lib
import re
from pathlib import Path

from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import surfacing_pb2 as surfacing_pb

from mesh.report import render_report
from mesh.report._format import num
from mesh.report.products import (
    NO_MOVE,
    below_spend_cells,
    claimed_pairs,
    losing_cells,
    net_margin,
    refund_rates,
)
from tests.report.conftest import open_report
from tests.report.test_product_report import products  # noqa: F401  (the module fixture)


def _titled(products: causal_pb.Analysis) -> causal_pb.Analysis:  # noqa: F811
    """The fixture with shop titles (it keeps ids as titles), one cell spending more than the
    upper end of its margin's interval, one spending more than its margin's point only, and a
    warning."""
    a = causal_pb.Analysis()
    a.CopyFrom(products)
    for k, p in enumerate(a.products.products):
        p.title = f"{p.category.title()} Item {k}"
    cells = list(a.products.cells)
    rates = refund_rates(a.products)
    k = next(i for i, c in enumerate(cells) if c.incremental_margin.estimate > 0)
    cells[k].spend.amount = 1.5 * cells[k].incremental_margin.upper  # the interval below it
    # and one whose margin net of refunds is below its spend on the point only (R10-F6)
    j = next(i for i, c in enumerate(cells)
             if i != k and net_margin(c, rates).upper > net_margin(c, rates).estimate > 0)  # fmt: skip
    net = net_margin(cells[j], rates)
    cells[j].spend.amount = net.estimate + 0.5 * (net.upper - net.estimate)
    a.products.warnings.append("3 products have fewer than 30 orders; their cells are wide")
    return a


def _section(html: str, sid: str) -> str:
    part = html[html.index(f'<section id="{sid}"') :]
    return part[: part.index("</section>")]


def _text(html: str) -> str:
    return html_lib.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html)))


def test_the_page_names_products_by_title_and_shows_every_claimed_amount(
    products: causal_pb.Analysis,  # noqa: F811
    browser: object,
    tmp_path: Path,
) -> None:
    a = _titled(products)
    r = a.products
    html = render_report(a, recommendations=surfacing_pb.RecommendResponse())
    title = {p.product_id: p.title for p in r.products}
    pairs = claimed_pairs(r)
    assert pairs, "the fixture world claims no pair: the test would not test the table"
    cross = _text(_section(html, "cross-effects"))
    for q in pairs:
        # the amount the explanation cites, with its interval, beside the two titles
        assert f"{num(q.revenue_change.estimate)} [{num(q.revenue_change.lower)}," in cross
        assert title[q.promoted_product_id] in cross and title[q.affected_product_id] in cross
    sells = _text(_section(html, "product-cells"))
    assert any(t in sells for t in title.values())
    opened = open_report(browser, html, tmp_path / "products.html")
    assert not opened.errors, opened.errors
    assert not opened.overlaps, opened.overlaps
    # the halo chart labels its nodes with the titles (it drew the ids' last 6 digits)
    page = browser.new_page()  # type: ignore[attr-defined]
    page.goto((tmp_path / "products.html").as_uri(), wait_until="load")
    labels = page.evaluate(
        "() => [...document.querySelectorAll('figure[data-figure=\"cross-network\"] svg text')]"
        ".map(t => t.textContent.trim())"
    )
    page.close()
    assert any(lab.startswith(t[:10]) for t in title.values() for lab in labels), labels


def test_margin_below_spend_caveats_and_recommend_s_no_move_are_on_the_page(
    products: causal_pb.Analysis,  # noqa: F811
) -> None:
    a = _titled(products)
    r = a.products
    html = render_report(a, recommendations=surfacing_pb.RecommendResponse())
    lost = losing_cells(r)
    spans = [c for c in below_spend_cells(r) if c not in lost]
    assert lost and spans  # one of each: a loss shown, and a margin below spend on the point
    body = _section(html, "products").replace("<wbr>", "")
    rates = refund_rates(r)
    for c in [*lost, *spans]:
        row = next(t for t in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
                   if f">{c.channel}<" in t and f">{c.category}<" in t)  # fmt: skip
        net = net_margin(c, rates)
        said = (
            f"{c.channel} on {c.category}: incremental margin net of refunds "
            f"{net.estimate:,.0f} (90% interval {net.lower:,.0f} to {net.upper:,.0f}) against "
            f"a spend of {c.spend.amount:,.0f} USD: "
        )
        if c in lost:  # "loses money" only where the whole interval is below the spend
            assert ">below spend<" in row
            assert (
                said + "the whole interval is below the spend, so at that margin the "
                "channel loses money on the category" in _text(body)
            )
        else:  # R10-F6: the interval includes the spend: no loss claimed
            assert ">point below spend<" in row
            assert (
                said + "below the spend on the point estimate, but the interval includes "
                "the spend, so whether the channel loses money on the category is not "
                "established either way" in _text(body)
            )
    assert _text(body).count("so at that margin the channel loses money") == len(lost)
    kept = [c for c in r.cells if c not in lost and c not in spans and c.spend.amount > 0]
    for c in kept:
        row = next(t for t in re.findall(r"<tr>(.*?)</tr>", body, flags=re.S)
                   if f">{c.channel}<" in t and f">{c.category}<" in t)  # fmt: skip
        assert "below spend" not in row
    # R10-F7: why the intervals may cross zero, and that product rows need not add to a cell
    assert "may reach below zero" in _text(body) and "not held positive" in _text(body)
    assert "need not add up to it" in _text(_section(html, "product-cells"))
    # the analysis's caveats and Recommend's conclusion
    assert "fewer than 30 orders" in _text(_section(html, "product-health"))
    assert f"Recommend: {NO_MOVE}." in _text(_section(html, "product-recommendations"))
    assert 'id="product-recommendations"' not in render_report(a)  # Recommend not asked
    # iROAS with its interval, and the hatching's level
    for c in r.cells:
        i = c.incremental_roas
        if c.HasField("incremental_roas") and i.lower < i.upper:
            bounds = f"[{i.lower:.1f}, {i.upper:.1f}]".replace("-", "−")
            assert f'{num(i.estimate)}<span class="ci">{bounds}</span>' in body
    assert "hatched where the 90% interval of the incremental revenue includes zero" in html
