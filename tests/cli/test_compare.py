"""`liftos compare A B` over real memory and causal servers: last week's analysis beside the same
window re-run after a pull restated three of its days (audit R5-F5)."""

from __future__ import annotations

import json
import re

import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import common_pb2 as common_pb

from mesh.cli.commands import main
from mesh.cli.compare import compare, lines
from tests.causal.attribution.records import world_mesh
from tests.surfacing import drift_world as w


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory):
    """The mesh, and the analysis before and after the restatement."""
    with world_mesh(tmp_path_factory.mktemp("mesh"), {}) as services:
        w.write(services["memory"].address, w.records(until=w.CUT))
        before = w.analyze(services["causal"].address)
        w.write(services["memory"].address,
                w.restated(w.RESTATED, revenue=1.05, channel="meta_prospecting", spend=1.10))  # fmt: skip
        after = w.analyze(services["causal"].address)
        yield services, before, after


def test_compare_names_the_restated_days_and_each_channels_move(
    pair, monkeypatch: pytest.MonkeyPatch, capsys
) -> None:
    services, before, after = pair
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    a, b = before.analysis_id, after.analysis_id
    assert main(["compare", a, b, "--org", w.ORG]) == 0
    text = capsys.readouterr().out
    size = 0.05 * w.first_party_revenue(w.RESTATED)
    assert f"A {a}: 2024-09-15..2024-12-08 (85 days), {before.record_count:,} records" in text
    assert f"B {b}: 2024-09-15..2024-12-08 (85 days), {after.record_count:,} records" in text
    assert ("3 day(s) of the overlap read another outcome (restated or late rows): "
            f"2024-12-06..2024-12-08, +{size:,.0f} in all") in text  # fmt: skip
    spend = {c.channel: (c.spend.amount, 0.0) for c in before.channels}
    for c in after.channels:
        spend[c.channel] = (spend[c.channel][0], c.spend.amount)
    (line,) = [x for x in text.splitlines() if x.startswith("meta_prospecting ")]
    then, now = spend["meta_prospecting"]
    assert f"{then:,.0f} -> {now:,.0f}" in line and now > then
    assert f"data: DIFFERENT inputs (A {before.data_version}, B {after.data_version})" in text
    assert "lift tests used: none in either" in text

    assert main(["compare", a, b, "--org", w.ORG, "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [d["date"] for d in data["restated"]] == [str(d) for d in w.RESTATED]
    assert sum(d["second"] - d["first"] for d in data["restated"]) == pytest.approx(size)
    channels = {c["channel"]: c for c in data["channels"]}
    assert set(channels) == {c.channel for c in before.channels}
    for c in after.channels:  # each channel's estimate in B, beside A's
        assert channels[c.channel]["incremental"][1][0] == pytest.approx(
            c.incremental_outcome.estimate
        )
    assert channels["meta_prospecting"]["spend"] == pytest.approx([then, now])


def test_compare_refuses_what_is_not_an_attribution(pair, monkeypatch, capsys) -> None:
    services, before, _ = pair
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    # refused (mesh.cli.exits; 2 before s19 R41-F1)
    assert main(["compare", before.analysis_id, "an-missing", "--org", w.ORG]) == 1
    err = capsys.readouterr().err
    assert "an-missing" in err
    assert re.search(r"\(request id [\w.-]+\)", err), err  # rid= in the services' logs


def _analysis(aid: str, roas: tuple[float, float, float]) -> causal_pb.Analysis:
    a = causal_pb.Analysis(analysis_id=aid)
    r = a.attribution
    r.daily.dates.add(year=2024, month=1, day=1)
    r.daily.actual_outcome.append(100.0)
    c = r.channels.add(channel="tiktok")
    c.incremental_roas.CopyFrom(common_pb.Interval(estimate=roas[0], lower=roas[1], upper=roas[2]))
    c.incremental_outcome.CopyFrom(common_pb.Interval(estimate=roas[0] * 10))
    return a


def test_intervals_that_do_not_overlap_are_said() -> None:
    moved = compare(_analysis("a", (1.0, 0.8, 1.2)), _analysis("b", (2.0, 1.5, 2.5)))
    (tiktok,) = moved.channels
    assert tiktok.overlap is False and moved.restated == ()
    assert lines(moved)[-1].endswith("MOVED beyond both intervals, which do not overlap")
    assert (
        compare(_analysis("a", (1.0, 0.8, 1.6)), _analysis("b", (2.0, 1.5, 2.5)))
        .channels[0]
        .overlap
    )


def test_analyses_lists_both_runs_with_their_window_and_records(pair, monkeypatch, capsys) -> None:
    # Last week's analysis is found by its window and made time, not by an id remembered from a
    # terminal (R5-F5): the two runs over the same window read the same records.
    services, before, after = pair
    monkeypatch.setenv("LIFTOS_CAUSAL_ADDR", services["causal"].address)
    assert main(["analyses", "--org", w.ORG]) == 0
    text = capsys.readouterr().out.splitlines()
    assert text[0].split() == ["analysis", "kind", "made", "window", "records", "data", "about"]
    newest, older = text[1].split(), text[2].split()
    assert (newest[0], older[0]) == (after.analysis_id, before.analysis_id)  # newest first
    # the same window, read before and after a restatement: their data versions tell them apart
    assert after.data_version != before.data_version
    for row, result in ((newest, after), (older, before)):
        assert row[1] == "attribution"
        assert "2024-09-15..2024-12-08" in row and f"{result.record_count:,}" in row
        assert result.data_version.startswith("dv1:")
        assert result.data_version.partition(":")[2][:8] in row
        assert row[-2:] == ["outcome:", "revenue"]  # a conversions run would read apart (R10-F14)
    assert main(["analyses", "--org", w.ORG, "--limit", "1", "--json"]) == 0
    (line,) = capsys.readouterr().out.splitlines()
    assert json.loads(line) | {"made": ""} == {
        "analysis_id": after.analysis_id, "kind": "attribution", "made": "",
        "start": "2024-09-15", "end": "2024-12-08", "records": after.record_count,
        "data": after.data_version, "about": "outcome: revenue",
    }  # fmt: skip
    for kind in ("estimate", "effect_estimate"):  # the name the listing prints works too
        assert main(["analyses", "--org", w.ORG, "--kind", kind]) == 0
        assert capsys.readouterr().out.strip() == "no stored analyses"


def test_analyses_in_other_currencies_are_not_compared() -> None:
    """R10-F12: amounts in EUR beside amounts in USD are no restatement and no move."""
    a, b = _analysis("a", (1.0, 0.8, 1.2)), _analysis("b", (2.0, 1.5, 2.5))
    b.attribution.daily.actual_outcome[0] = 92.0  # the same day, in EUR
    for analysis, code in ((a, "USD"), (b, "EUR")):
        analysis.attribution.channels[0].spend.CopyFrom(
            common_pb.Money(amount=10.0, currency_code=code)
        )
    moved = compare(a, b)
    assert moved.mismatch == (
        "a reads amounts in USD and b in EUR: their revenue figures are in different currencies "
        "and are not compared"
    )
    assert moved.restated == () and moved.channels[0].overlap is None
    text = lines(moved)
    assert text[0].startswith("NOT COMPARABLE: a reads amounts in USD and b in EUR")
    assert not any("DO NOT OVERLAP" in x or "restated" in x for x in text)
    same = compare(a, _analysis("c", (2.0, 1.5, 2.5)))  # no currency named: comparable
    assert same.mismatch == "" and same.channels[0].overlap is False


def test_a_re_recorded_lift_test_and_a_changed_input_are_said() -> None:
    """R33-F2: the same rows, another lift-test result: compare said "every day of the overlap
    read the same outcome" and equal spends beside a doubled iROAS, and never the test."""
    a, b = _analysis("a", (1.74, 0.75, 2.73)), _analysis("b", (3.41, 0.98, 5.84))
    for analysis, lift, se, version in ((a, 673_556.5, 218_491.9, "dv1:aaaa"),
                                        (b, -1_300_000.0, 200_000.0, "dv1:bbbb")):  # fmt: skip
        analysis.attribution.calibration.add(
            experiment_id="exp_001", channel="tiktok", measured_lift=lift, measured_std_error=se
        )
        analysis.attribution.data_version = version
    text = lines(compare(a, b))
    assert "every day of the overlap read the same outcome in both" in text
    assert "lift tests used:" in text
    assert "  exp_001 (tiktok): 673,556 ± 218,492 -> -1,300,000 ± 200,000  DIFFERS" in text
    (data,) = [x for x in text if x.startswith("data: ")]
    assert data == "data: DIFFERENT inputs (A dv1:aaaa, B dv1:bbbb)"
    # the same test and rows, a changed external series: only the fingerprint can say it
    b.attribution.calibration[0].measured_lift = 673_556.5
    b.attribution.calibration[0].measured_std_error = 218_491.9
    text = lines(compare(a, b))
    assert "  exp_001 (tiktok): 673,556 ± 218,492 -> 673,556 ± 218,492" in text
    (data,) = [x for x in text if x.startswith("data: ")]
    assert data.startswith("data: DIFFERENT inputs (A dv1:aaaa, B dv1:bbbb): every outcome day, "
                           "channel total and lift test is the same, so an external series")  # fmt: skip
    b.attribution.data_version = "dv1:aaaa"
    assert "data: the same inputs in both (dv1:aaaa)" in lines(compare(a, b))
