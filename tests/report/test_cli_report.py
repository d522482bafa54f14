"""`liftos report` against a real causal server: by id and --latest, opened in Chromium."""

from __future__ import annotations

import socket
from pathlib import Path

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import causal_pb2 as pb
from liftos.v1 import causal_pb2_grpc as causal_grpc

from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from mesh.cli.commands import main
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from tests.report.conftest import open_report


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory):
    builds = {"causal": causal_build, "llm": llm_build}
    with running_services(builds, tmp_path_factory.mktemp("report")) as running:
        yield running


@pytest.fixture(scope="module")
def causal(services):
    return services["causal"]


def _closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def stub(causal):
    return causal_grpc.CausalServiceStub(grpc.insecure_channel(causal.address))


def _frame(seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 1, 300)
    t = rng.binomial(1, 1 / (1 + np.exp(-x)))
    return pd.DataFrame({"sales": 3 * t + 2 * x + rng.normal(0, 1, 300), "promo": t, "x": x})


def _estimate(stub, org: str, seed: int, method: int = pb.ESTIMATION_METHOD_IPW) -> str:
    request = pb.EstimateEffectRequest(
        org_id=org, method=method, table=frame_to_table(_frame(seed)),
        roles=pb.EffectRoles(outcome="sales", treatment="promo", covariates=["x"]),
        options=pb.EstimationOptions(refutation_simulations=2, seed=1),
    )  # fmt: skip
    return stub.EstimateEffect(request).analysis_id


def test_cli_writes_the_report_by_id_and_latest(
    services, stub, browser, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    monkeypatch.setenv("LIFTOS_LLM_ADDR", services["llm"].address)
    older = _estimate(stub, "cli", 1, pb.ESTIMATION_METHOD_MATCHING)
    newest = _estimate(stub, "cli", 2)
    by_id = tmp_path / "by-id.html"
    assert main(["report", older, "--org", "cli", "--out", str(by_id), "--no-explain"]) == 0
    assert f"analysis {older}" in by_id.read_text()
    assert 'id="explanation"' not in by_id.read_text()
    latest = tmp_path / "latest.html"
    assert main(["report", "--latest", "--org", "cli", "--out", str(latest)]) == 0
    html = latest.read_text()
    assert f"analysis {newest}" in html and "Naive comparison" in html
    assert 'id="explanation"' in html and 'class="cite"' in html  # Explain's text, linked
    opened = open_report(browser, html, tmp_path / "opened.html", screenshot=False)
    assert not opened.errors and {"estimate", "overlap", "love-plot"} <= {
        f["kind"] for f in opened.figures
    }
    assert "wrote" in capsys.readouterr().out


def test_cli_writes_the_report_without_an_llm_service(
    causal, stub, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)
    monkeypatch.setenv("LIFTOS_LLM_ADDR", f"127.0.0.1:{_closed_port()}")
    analysis_id = _estimate(stub, "no-llm", 3)
    out = tmp_path / "report.html"
    assert main(["report", analysis_id, "--org", "no-llm", "--out", str(out)]) == 0
    assert 'id="explanation"' not in out.read_text()
    assert "no explanation in the report" in capsys.readouterr().err


def test_cli_says_what_is_wrong(causal, monkeypatch: pytest.MonkeyPatch, capsys) -> None:
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", causal.address)
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert main(["report", "--latest", "--org", "nobody-here"]) == 1
    assert "no analyses yet" in capsys.readouterr().err
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert main(["report", "an-missing", "--org", "cli"]) == 1
    assert "not found" in capsys.readouterr().err
    assert main(["report"]) == 2


def test_the_page_is_served_on_localhost_for_a_quick_look() -> None:
    import threading
    import urllib.request

    from mesh.cli.report import page_server

    server = page_server("<!DOCTYPE html><title>r</title><p>report</p>")
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        assert server.server_address[0] == "127.0.0.1"
        url = f"http://127.0.0.1:{server.server_port}/"
        with urllib.request.urlopen(url, timeout=5) as reply:
            assert reply.headers["Content-Type"].startswith("text/html")
            assert b"<p>report</p>" in reply.read()
    finally:
        server.shutdown()
        server.server_close()
        thread.join(5)


def test_a_report_that_cannot_be_written_leaves_the_old_one(causal, stub, tmp_path: Path) -> None:
    """A full disk (here the kernel's file-size limit, set in the child) must not truncate last
    week's report into half a page, nor end in a traceback (s20 R49-F8)."""
    import os
    import subprocess
    import sys

    analysis_id = _estimate(stub, "full-disk", 4)
    out = tmp_path / "report.html"
    out.write_text("old report, good")
    code = (
        "import resource, signal, sys\n"
        "signal.signal(signal.SIGXFSZ, signal.SIG_IGN)\n"
        "resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))\n"
        "from mesh.cli.commands import main\n"
        f"sys.exit(main(['report', {analysis_id!r}, '--org', 'full-disk', '--no-explain', "
        f"'--out', {str(out)!r}]))\n"
    )
    env = {**os.environ, "LIFTOS_CAUSAL_ADDR": causal.address}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env,
                          timeout=120, check=False)  # fmt: skip
    assert done.returncode == 1, done.stderr  # refused: a file-size limit is not a full disk
    assert "Traceback" not in done.stderr
    assert f"cannot write {out}: File too large" in done.stderr and "unchanged" in done.stderr
    assert out.read_text() == "old report, good"
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
