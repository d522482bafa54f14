"""The CLI's machine-readable lists over real memory, causal and LLM servers (audit R41):

- F6: `analyses --json`'s `made` and `compare --json`'s `created` were "2026-12-07 16:42 UTC",
  so three analyses made in one minute could not be ordered or matched to analyze's
  `createTime`; now RFC 3339 to the stored microsecond, the same text GetAnalysis's
  create_time has in proto JSON;
- F7: `memory accounts` and `check-claims` had no --json (a scheduled job's freshness check
  and a claim gate had to screen-scrape "2,400" and aligned columns).
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from pathlib import Path

import grpc
import pytest
from liftos.v1 import causal_pb2 as causal_pb
from liftos.v1 import causal_pb2_grpc as causal_grpc
from liftos.v1 import llm_pb2 as llm_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from causal_svc.analyses import AnalysisStore, StoredAnalysis
from causal_svc.app import build as causal_build
from llm_svc.app import build as llm_build
from memory_svc.app import build as memory_build
from mesh.cli.commands import main
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import RunningService, running_services
from mesh.sdk import LiftOS
from tests.causal.attribution.records import write_world
from tests.llm.support import audit_attribution

ORG = "lists"
# Three analyses made within one minute (R41-F6's demo made three in one), the newest last.
MADE = {
    "an-first": dt.datetime(2026, 12, 7, 16, 42, 5, tzinfo=dt.UTC),
    "an-second": dt.datetime(2026, 12, 7, 16, 42, 31, 250_000, tzinfo=dt.UTC),
    "an-third": dt.datetime(2026, 12, 7, 16, 42, 59, 999_999, tzinfo=dt.UTC),
}
RFC3339 = {
    "an-first": "2026-12-07T16:42:05Z",
    "an-second": "2026-12-07T16:42:31.250Z",
    "an-third": "2026-12-07T16:42:59.999999Z",
}


@pytest.fixture(scope="module")
def services(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, RunningService]]:
    data_dir: Path = tmp_path_factory.mktemp("lists")
    builds = {"memory": memory_build, "causal": causal_build, "llm": llm_build}
    with running_services(builds, data_dir) as running:
        # stored as the causal service stores its own (its SQLite store, read back through
        # ListAnalyses / GetAnalysis)
        store = AnalysisStore(data_dir / "causal" / "analyses.sqlite")
        for aid, made in MADE.items():
            analysis = audit_attribution(analysis_id=aid, org_id=ORG)
            analysis.create_time.FromDatetime(made)  # the service stamps the payload too
            daily = analysis.attribution.daily  # its outcome's last days, dated (compare's read)
            for day in range(9, 9 + len(daily.actual_outcome)):
                daily.dates.add(year=2025, month=1, day=day)
            store.put(StoredAnalysis(ORG, aid, "attribution", made, analysis.SerializeToString()))
        store.close()
        memory = memory_grpc.MemoryServiceStub(grpc.insecure_channel(running["memory"].address))
        write_world(memory, sim.simulate("demo", seed=0, dirt=False, n_geos=2, days=30), ORG)
        yield running


@pytest.fixture
def peers(services: dict[str, RunningService], monkeypatch: pytest.MonkeyPatch) -> PeerConfig:
    for name in services:
        monkeypatch.setenv(f"LIFTOS_{name.upper()}_ADDR", services[name].address)
    return PeerConfig.from_env()


def _strict(text: str) -> object:
    def refuse(name: str) -> None:
        raise AssertionError(f"{name} is not JSON")

    return json.loads(text, parse_constant=refuse)


def test_analyses_and_compare_say_when_to_the_second(
    services: dict[str, RunningService], peers: PeerConfig, capsys
) -> None:
    assert main(["analyses", "--org", ORG, "--json"]) == 0
    rows = [_strict(x) for x in capsys.readouterr().out.splitlines()]
    assert [(r["analysis_id"], r["made"]) for r in rows] == [  # type: ignore[index]
        (aid, RFC3339[aid]) for aid in reversed(MADE)
    ]
    # one instant, one text: the same as GetAnalysis's create_time in proto JSON
    causal = causal_grpc.CausalServiceStub(grpc.insecure_channel(services["causal"].address))
    for aid, made in RFC3339.items():
        got = causal.GetAnalysis(causal_pb.GetAnalysisRequest(org_id=ORG, analysis_id=aid))
        assert got.analysis.create_time.ToJsonString() == made
    # ordered by the text alone (R41-F6: all three read "2026-12-07 16:42 UTC")
    parsed = [dt.datetime.fromisoformat(r["made"]) for r in rows]  # type: ignore[index]
    assert parsed == sorted(parsed, reverse=True) and len(set(parsed)) == 3
    assert parsed[-1] == MADE["an-first"]

    # the listing shows the second: three lines, three times
    assert main(["analyses", "--org", ORG]) == 0
    text = capsys.readouterr().out.splitlines()
    assert [x.split()[2:5] for x in text[1:]] == [
        ["2026-12-07", "16:42:59", "UTC"], ["2026-12-07", "16:42:31", "UTC"],
        ["2026-12-07", "16:42:05", "UTC"],
    ]  # fmt: skip

    assert main(["compare", "an-first", "an-second", "--org", ORG, "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert doc["first"]["created"] == RFC3339["an-first"]  # type: ignore[index]
    assert doc["second"]["created"] == RFC3339["an-second"]  # type: ignore[index]


def test_memory_accounts_json_is_the_table_as_data(peers: PeerConfig, capsys) -> None:
    assert main(["memory", "accounts", "--org", ORG, "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    with LiftOS(peers, org_id=ORG) as client:
        accounts = client.list_accounts()
    assert len(accounts) > 1
    assert doc["org_id"] == ORG  # type: ignore[index]
    assert doc["record_count"] == sum(a.record_count for a in accounts) > 0  # type: ignore[index]
    rows = doc["accounts"]  # type: ignore[index]
    assert [(r["account_id"], r["record_count"]) for r in rows] == [
        (a.account_id, a.record_count) for a in accounts
    ]
    for r, a in zip(rows, accounts, strict=True):
        assert (
            r["first_date"]
            == dt.date(a.first_date.year, a.first_date.month, a.first_date.day).isoformat()
        )
        assert (
            r["last_date"]
            == dt.date(a.last_date.year, a.last_date.month, a.last_date.day).isoformat()
        )
        assert r["currencies"] == list(a.currencies) and r["channels"] == list(a.channels)
    # the text names the same sources, first and last days
    assert main(["memory", "accounts", "--org", ORG]) == 0
    text = capsys.readouterr().out.splitlines()
    for r in rows:
        (line,) = [x for x in text[1:-1] if x.split()[:2] == [r["source"], r["account_id"]]]
        assert line.split()[2:5] == [f"{r['record_count']:,}", r["first_date"], r["last_date"]]


def test_check_claims_json_is_the_answer_with_strict_kept(peers: PeerConfig, capsys) -> None:
    text = "Klaviyo email drove revenue. TikTok drove a 40% lift in revenue."
    args = ["check-claims", text, "--analysis", "an-third", "--org", ORG]
    with LiftOS(peers, org_id=ORG) as client:
        claims = client.check_claims(text, ["an-third"])
    assert claims
    assert main([*args, "--json"]) == 0
    doc = _strict(capsys.readouterr().out)
    assert [
        (c["claim"], c["start"], c["end"], c["reason"], c["analysisIds"])  # type: ignore[index]
        for c in doc["claims"]  # type: ignore[index]
    ] == [(c.claim, c.start, c.end, c.reason, list(c.analysis_ids)) for c in claims]
    verdicts = [c["verdict"] for c in doc["claims"]]  # type: ignore[index]
    assert verdicts == [llm_pb.ClaimVerdict.Name(int(c.verdict)) for c in claims]
    # the text's verdict words are the same
    assert main(args) == 0
    words = [x.split()[0] for x in capsys.readouterr().out.splitlines() if not x.startswith(" ")]
    assert words == [v.removeprefix("CLAIM_VERDICT_") for v in verdicts]
    # --strict's exit holds with --json, and stdout is still the one document
    unsupported = any(v != "CLAIM_VERDICT_SUPPORTED" for v in verdicts)
    assert main([*args, "--json", "--strict"]) == (3 if unsupported else 0)
    assert _strict(capsys.readouterr().out) == doc
    # no causal claim: an empty list, not the text's sentence
    none = ["check-claims", "Revenue is correlated with TikTok.", "--analysis", "an-third"]
    assert main([*none, "--org", ORG, "--json"]) == 0
    assert _strict(capsys.readouterr().out) == {"claims": []}
