"""The CLI's machine-readable side over real memory, ingestion, causal and surfacing servers
(s19 R41): every ``--json`` document is strict JSON with its zero-valued fields and no "NaN"
string, carries the currency its amounts are in, and a failed call exits by its class with its
ErrorInfo reason on stderr (README, "Exit statuses" and "Machine-readable output")."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest

from mesh.cli import exits
from mesh.cli.commands import main
from mesh.sdk.client import dc
from tests.causal.attribution.records import world_mesh
from tests.ports import free_port_block
from tests.surfacing import drift_world as w

NON_FINITE = ("NaN", "Infinity", "-Infinity")


def _strict(text: str) -> Any:
    """json.loads that refuses the NaN/Infinity literals Python's json accepts by default."""

    def refuse(literal: str) -> None:
        raise AssertionError(f"non-JSON literal {literal} in the output")

    return json.loads(text, parse_constant=refuse)


def _walk(doc: Any, path: str = "") -> Iterator[tuple[str, Any]]:
    yield path, doc
    if isinstance(doc, dict):
        for k, v in doc.items():
            yield from _walk(v, f"{path}.{k}")
    elif isinstance(doc, list):
        for i, v in enumerate(doc):
            yield from _walk(v, f"{path}[{i}]")


def _checked(doc: Any) -> Any:
    """``doc`` after asserting no number is written as a string and no interval lacks a bound."""
    for path, v in _walk(doc):
        assert v not in NON_FINITE, f"{path} is the string {v!r}"
        if (
            isinstance(v, dict)
            and "level" in v
            and set(v) <= {"estimate", "lower", "upper", "level"}
        ):
            assert set(v) == {"estimate", "lower", "upper", "level"}, f"{path} lacks a key: {v}"
    return doc


@pytest.fixture(scope="module")
def mesh(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[dict[str, Any], Any]]:
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}, surfacing=True) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        yield services, w.analyze(services["causal"].address)


@pytest.fixture
def env(mesh: tuple[dict[str, Any], Any], monkeypatch: pytest.MonkeyPatch) -> Any:
    services, analysis = mesh
    for name, service in services.items():
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", service.address)
    monkeypatch.setenv("LIFTOS_ORG", w.ORG)
    return analysis


def _json(capsys: pytest.CaptureFixture[str], *argv: str) -> Any:
    assert main([*argv, "--json"]) == exits.OK, capsys.readouterr().err
    return _checked(_strict(capsys.readouterr().out))


def test_every_json_document_is_strict_keeps_zeros_and_states_its_currency(
    env: Any, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    a = env.analysis_id
    cut = env.channels[0].channel
    plan = _json(capsys, "optimize", a, "--budget", "500000")
    # before: every zero-valued field was left out (proto3 JSON): an unbounded channel's
    # minSpend 0, a channel planned to 0 its optimalSpend, an interval's 0 lower bound
    every = set(dc.ChannelAllocation().to_dict(include_default_values=True))
    assert {"optimalSpend", "minSpend", "note", "campaigns"} <= every
    assert all(set(row) == every for row in plan["allocations"])
    top = set(dc.OptimizeBudgetResponse().to_dict(include_default_values=True))
    assert set(plan) == top | {"analysisId", "currencyCode"}
    assert plan["currencyCode"] == "USD" and plan["analysisId"] == a
    for argv in (
        ("predict", a, "--days", "7"),
        ("recommend", a, "--no-design"),
        ("counterfactual", a, "--set", f"{cut}=0"),
        ("analyze", "--start", str(w.START), "--end", str(w.CUT), "--identification", "national"),
    ):
        doc = _json(capsys, *argv)
        assert doc["currencyCode"] == "USD", argv  # before: no currency anywhere (R41-F5)
    made = dt.datetime.fromisoformat(doc["createTime"])  # RFC 3339, to the microsecond
    assert made.tzinfo is not None and made.year >= 2024

    days = _json(capsys, "calendar", "--country", "US", "--start", "2024-11-25", "--end",
                 "2024-11-30")  # fmt: skip
    assert [d["date"] for d in days["days"]] == [f"2024-11-{d}" for d in range(25, 31)]

    frame = pd.DataFrame({"t": np.arange(200) % 2, "y": np.random.default_rng(0).normal(size=200)})
    frame.to_csv(tmp_path / "ab.csv", index=False)
    est = _json(capsys, "estimate", str(tmp_path / "ab.csv"), "--method", "difference_in_means",
                "--outcome", "y", "--treatment", "t", "--no-checks", "--timeout", "120")  # fmt: skip
    assert est["method"] == "difference_in_means" and est["n"] == 200


def test_search_and_status_answer_json(
    mesh: tuple[dict[str, Any], Any], env: Any, capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    services, _ = mesh
    found = _json(capsys, "search", "prospecting", "--addr", services["memory"].address)
    assert found["index_size"] > 0 and all(h["record"]["orgId"] == w.ORG for h in found["hits"])
    monkeypatch.setenv("LIFTOS_LLM_ADDR", "127.0.0.1:1")  # world_mesh runs no llm service
    assert main(["status", "--json"]) == exits.RETRY
    status = _checked(_strict(capsys.readouterr().out))
    states = {s["service"]: s["state"] for s in status["services"]}
    assert status["serving"] is False and states.pop("llm") == "UNREACHABLE"
    assert set(states.values()) == {"SERVING"}


def test_a_call_out_of_time_gets_one_hint_whichever_verb_ran_it(
    env: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    """The surfacing verbs (predict, recommend) and the others (counterfactual) say how long
    they waited and how to wait longer in the same words, from mesh.cli.exits (s19 closing:
    two wordings, the surfacing one inside the service's message)."""
    a, cut = env.analysis_id, env.channels[0].channel
    hints = {}
    for argv in (["predict", a, "--days", "28"], ["counterfactual", a, "--set", f"{cut}=0"],
                 ["recommend", a]):  # fmt: skip
        assert main([*argv, "--timeout", "0.001"]) == exits.DEADLINE
        lines = capsys.readouterr().err.splitlines()
        (at,) = [i for i, x in enumerate(lines) if x.startswith("error")]
        # The client's timer or the server's deadline check may stop the call first; either
        # words are fine here, the hint below is what must be one.
        assert lines[at].startswith("error: DEADLINE_EXCEEDED: "), lines
        hints[argv[0]] = lines[at + 1]
    same = (
        "  (no answer within 0.001 s; give it more time with --timeout SECONDS, e.g. --timeout 300"
    )
    assert hints["predict"] == hints["counterfactual"] == same + ")", hints
    assert hints["recommend"] == same + ", or skip the proposed experiments with --no-design)"


def test_a_failed_call_exits_by_its_class_with_its_reason(
    env: Any, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    a, cut = env.analysis_id, env.channels[0].channel
    # refused: a bad id (before: 2, argparse's status, and no reason)
    assert main(["counterfactual", "an-doesnotexist", "--set", f"{cut}=0", "--json"]) == 1
    err = capsys.readouterr().err
    assert "\nerror [ANALYSIS_NOT_FOUND]: NOT_FOUND: analysis 'an-doesnotexist'" in err, err
    assert main(["optimize", a, "--budget", "-5", "--json"]) == exits.REFUSED
    assert "INVALID_ARGUMENT" in capsys.readouterr().err
    # deadline: the CLI's --timeout, named in the message
    assert main(["predict", a, "--days", "28", "--timeout", "0.001", "--json"]) == exits.DEADLINE
    assert "--timeout SECONDS" in capsys.readouterr().err
    # retry: the service is not there
    monkeypatch.setenv("LIFTOS_SURFACING_ADDR", f"127.0.0.1:{free_port_block(1)}")
    assert main(["recommend", a, "--json", "--timeout", "5"]) == exits.RETRY
    assert "UNAVAILABLE" in capsys.readouterr().err
    # usage: argparse's own status, unchanged
    with pytest.raises(SystemExit) as usage:
        main(["recommend", a, "--jsn"])
    assert usage.value.code == exits.USAGE
