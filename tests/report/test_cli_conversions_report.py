"""`liftos report` on a conversions attribution over a real mesh (memory holds a simulated
world, the causal service fits it): no break-even at 1, and --value-per-outcome places one at
1 / that value (R22-F3, R20-F1)."""

from __future__ import annotations

import re
from html import unescape
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import common_pb2 as common_pb

import sim
from mesh.cli.commands import main
from tests.causal.attribution.records import world_mesh
from tests.report.test_chart_text import svg_texts

ORG = "convshop"


@pytest.fixture(scope="module")
def analysis_id(tmp_path_factory: pytest.TempPathFactory):
    world = sim.simulate("demo", seed=0, dirt=False, n_geos=10)
    with world_mesh(tmp_path_factory.mktemp("mesh"), {ORG: world}) as services:
        causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
        request = causal_pb.AnalyzeAttributionRequest(
            org_id=ORG, outcome=common_pb.OUTCOME_METRIC_CONVERSIONS
        )
        result = list(causal.AnalyzeAttribution(request, timeout=180))[-1].result
        assert result.channels and result.outcome == common_pb.OUTCOME_METRIC_CONVERSIONS
        yield services, result.analysis_id


def _roas(html: str) -> tuple[list[str], str]:
    m = re.search(
        r'data-figure="roas">(<svg.*?</svg>)\s*<figcaption[^>]*>(.*?)</figcaption>', html, re.S
    )
    assert m, "no return chart"
    return svg_texts(m.group(1)), unescape(re.sub(r"<[^>]+>", "", m.group(2)))


def test_the_conversions_report_has_no_break_even_until_given_a_value(
    analysis_id, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    services, aid = analysis_id
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    out = tmp_path / "conv.html"
    args = ["report", aid, "--org", ORG, "--no-explain", "--no-plan", "--out", str(out)]
    assert main(args) == 0, capsys.readouterr().err
    texts, caption = _roas(out.read_text())
    assert "Incremental conversions per USD of spend" in texts
    assert "returns less than it costs" not in caption and "no break-even is drawn" in caption
    assert main([*args, "--value-per-outcome", "100"]) == 0, capsys.readouterr().err
    texts, caption = _roas(out.read_text())
    assert any("break-even at 0.01, one conversion worth 100 USD" in t for t in texts), texts
    assert "With one conversion worth 100 USD" in caption
