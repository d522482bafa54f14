"""`liftos report` of an old analysis is reproducible (audit R5-F2): re-rendered after later days
are ingested it is the same page apart from its render time (the experiment design is powered on
the analysis's own window, not on whatever memory holds by then); after a restatement inside
the window it says the data changed. Real memory, causal and surfacing servers."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from mesh.cli.commands import main
from tests.causal.attribution.records import world_mesh
from tests.surfacing import drift_world as w

_RENDERED = re.compile(r"<span>rendered \d{4}-\d\d-\d\d \d\d:\d\d UTC</span>")


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory):
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services


def _report(mesh, analysis_id: str, out: Path, monkeypatch: pytest.MonkeyPatch, capsys) -> str:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", mesh["causal"].address)
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", mesh["surfacing"].address)
    rc = main(["report", analysis_id, "--org", w.ORG, "--out", str(out), "--no-explain"])
    assert rc == 0, capsys.readouterr().err
    return out.read_text()


def _section(html: str, anchor: str) -> str:
    start = html.index(f'<section id="{anchor}">')
    return html[start : html.index("</section>", start)]


def test_an_old_analysis_renders_the_same_page_until_its_own_data_changes(
    mesh, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    analysis = w.analyze(mesh["causal"].address)
    first = _report(mesh, analysis.analysis_id, tmp_path / "first.html", monkeypatch, capsys)
    # The header states the analysis's time and the render time.
    assert re.search(r"<span>analysed \d{4}-\d\d-\d\d \d\d:\d\d UTC</span>", first)
    assert len(_RENDERED.findall(first)) == 1
    assert 'id="design"' in first and 'id="data-changed"' not in first
    # Five more weeks land after the analysis's window: the page does not move.
    w.write(mesh["memory"].address, w.records(after=w.CUT))
    later = _report(mesh, analysis.analysis_id, tmp_path / "later.html", monkeypatch, capsys)
    assert _section(later, "design") == _section(first, "design")
    assert _RENDERED.sub("", later) == _RENDERED.sub("", first)
    # A restatement of three days inside the window: the page says so, naming them.
    w.write(mesh["memory"].address, w.restated(w.RESTATED, revenue=1.05))
    restated = _report(mesh, analysis.analysis_id, tmp_path / "restated.html", monkeypatch, capsys)
    changed = _section(restated, "data-changed")
    assert "The outcome of 3 days in this analysis&#x27;s window changed since it was made " \
           "(2024-12-06..2024-12-08, +" in changed, changed  # fmt: skip
    # The model's own sections are the analysis as it was made.
    assert _section(restated, "channels") == _section(first, "channels")
