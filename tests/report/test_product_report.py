"""The product report's sections on a product analysis made in process (simulated world → the
estimator → the wire message AnalyzeProducts stores), opened in the report tests' Chromium:
each channel × category cell shows its next unit's return (``marginal_roas``) with the
interval ``liftos products`` shows and Recommend decides moves on."""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from threadpoolctl import threadpool_limits

import sim
from causal_svc.convert.products import product_report_to_proto
from causal_svc.product_analysis import ProductPanel, analyse
from mesh.report import render_report
from mesh.report._format import num
from sim.products import PRODUCT_CHANNELS
from tests.report.conftest import open_report


@pytest.fixture(scope="module")
def products() -> causal_pb.Analysis:
    r = sim.simulate("products", seed=3, days=120, n_geos=3, products=3,
                     product_orders_per_day=40.0, dirt=False)  # fmt: skip
    assert r.products is not None
    frame = r.products.panel
    spend = frame[[f"spend_{c}" for c in PRODUCT_CHANNELS]].sum(axis=1)
    cats = frame.assign(cogs=frame["cost"] * frame["units"]).groupby("category")
    categories = cats.agg(product_count=("product_id", "nunique"), revenue=("revenue", "sum"),
                          cogs=("cogs", "sum")).reset_index()  # fmt: skip
    categories["margin_rate"] = 1.0 - categories.pop("cogs") / categories["revenue"]
    categories["refunds"] = 0.0
    per = frame.assign(spend=spend).groupby(["product_id", "category"])
    prods = per.agg(units=("units", "sum"), revenue=("revenue", "sum"),
                    spend=("spend", "sum")).reset_index()  # fmt: skip
    prods.insert(2, "title", prods["product_id"])
    dates = frame["date"]
    panel = ProductPanel(frame, PRODUCT_CHANNELS, "USD", dates.min().date(), dates.max().date(),
                         categories, prods)  # fmt: skip
    # statsmodels warns of a negative HAC variance in a pair equation of this world (a pair's
    # interval; the cells this module reads are not affected)
    with threadpool_limits(1), warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)
        report = analyse(panel, alpha=0.10, claim_alpha=0.05, country="US")
    result = product_report_to_proto(report, analysis_id="an-products", record_count=len(frame),
                                     code_version="test", stage_seconds={})  # fmt: skip
    return causal_pb.Analysis(analysis_id="an-products", org_id="org_001",
                              kind=causal_pb.ANALYSIS_KIND_PRODUCTS, products=result)  # fmt: skip


def _cell_rows(html: str) -> list[str]:
    section = html[html.index('<section id="products"') :]
    section = section[: section.index("</section>")]
    return re.findall(r"<tr>(.*?)</tr>", section.replace("<wbr>", ""), flags=re.S)


def _last(row: str) -> str:
    """The text of a table row's last cell (the mROAS column), its bounds' line break a space."""
    cell = re.findall(r"<td[^>]*>(.*?)</td>", row)[-1]
    return re.sub(r"<[^>]+>", "", cell.replace('<span class="ci">', " "))


def test_each_cell_shows_its_next_unit_s_return_with_its_interval(
    products: causal_pb.Analysis, browser: object, tmp_path: Path
) -> None:
    html = render_report(products)
    r = products.products
    assert "mROAS [90%]" in html and "mROAS: the revenue of the next unit" in html
    rows = _cell_rows(html)
    spent = [c for c in r.cells if c.spend.amount > 0]
    assert spent and all(c.HasField("marginal_roas") for c in spent)
    for c in r.cells:
        (row,) = [t for t in rows if f">{c.channel}<" in t and f">{c.category}<" in t]
        if c.HasField("marginal_roas"):
            m = c.marginal_roas
            assert m.lower <= m.estimate <= m.upper
            assert _last(row) == f"{num(m.estimate)} [{num(m.lower)}, {num(m.upper)}]"
        else:  # no spend in the cell: nothing to return
            assert _last(row) == "–"
    opened = open_report(browser, html, tmp_path / "products.html")
    assert not opened.errors, opened.errors
    assert not opened.overlaps, opened.overlaps
    assert [f["kind"] for f in opened.figures] == ["product-heat-map", "cross-network"]
    assert "next unit of a channel's spend on the category" in opened.text
    # the cell table fits the page: its last column (mROAS) is not scrolled out of sight
    page = browser.new_page(viewport={"width": 1000, "height": 1400})  # type: ignore[attr-defined]
    page.goto((tmp_path / "products.html").as_uri(), wait_until="load")
    box = page.evaluate("""() => { const d = document.querySelector('#products .scroll');
                                   return [d.scrollWidth, d.clientWidth]; }""")
    page.close()
    assert box[0] <= box[1] + 1, box


def test_an_analysis_without_the_marginal_shows_a_dash(products: causal_pb.Analysis) -> None:
    """An analysis stored before ``marginal_roas`` existed still renders; its cells say "–"."""
    old = causal_pb.Analysis()
    old.CopyFrom(products)
    for c in old.products.cells:
        c.ClearField("marginal_roas")
    rows = _cell_rows(render_report(old))
    for c in old.products.cells:
        (row,) = [t for t in rows if f">{c.channel}<" in t and f">{c.category}<" in t]
        assert _last(row) == "–", row
