"""Ingest over gRPC against a real memory service: acks, replays, restatements, bad requests,
oversized batches, and a stream that is answered as it goes."""

from __future__ import annotations

import copy
import datetime as dt
import threading
import time
from collections.abc import Iterator
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

import sim
from mesh.sdk.client import LiftOS
from tests.ingestion.conftest import PULLED, dumps, peers_of, rich_error


def _account(world: sim.SimResult, source: str) -> dict[str, Any]:
    a = next(x for x in world.accounts if x["source"] == source)
    return {**a, "country": "US"}


def _request(
    world: sim.SimResult, lines: list[str], batch_id: str, **kw: Any
) -> ingestion_pb.IngestRequest:
    a = _account(world, "meta")
    pulled_at = kw.pop("pulled_at", PULLED)
    request = ingestion_pb.IngestRequest(
        org_id=kw.pop("org_id", "acme"),
        source=kw.pop("source", common_pb.DATA_SOURCE_META),
        batch_id=batch_id,
        json_rows=lines,
        account=ingestion_pb.AccountInfo(
            account_id=a["account_id"],
            timezone=a["timezone"],
            currency_code=a["currency"],
            country_code="US",
            geo_keys=a["geo_keys"],
        ),
        **kw,
    )
    request.pulled_at.FromDatetime(pulled_at.replace(tzinfo=None))
    return request


def _stubs(services) -> tuple[ingestion_grpc.IngestionServiceStub, memory_grpc.MemoryServiceStub]:  # type: ignore[no-untyped-def]
    return (
        ingestion_grpc.IngestionServiceStub(grpc.insecure_channel(services["ingestion"].address)),
        memory_grpc.MemoryServiceStub(grpc.insecure_channel(services["memory"].address)),
    )


def _scan(memory: memory_grpc.MemoryServiceStub, org: str = "acme") -> list[Any]:
    return [
        r for b in memory.Scan(memory_pb.ScanRequest(org_id=org), timeout=30) for r in b.records
    ]


def _meta_lines(world: sim.SimResult, n: int, start: int = 0) -> list[str]:
    export = world.raw["meta"]
    return [dumps(export.base_row(k)) for k in range(start, start + n)]


def test_acks_replays_and_restatements(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, memory = _stubs(services)
    lines = _meta_lines(world, 30)
    bad = copy.deepcopy(world.raw["meta"].base_row(30))
    bad["spend"] = "-1.00"
    (ack,) = ingestion.Ingest(iter([_request(world, [*lines, dumps(bad), "{oops"], "b1")]))
    assert (ack.batch_id, ack.accepted_count, ack.rejected_count) == ("b1", 30, 2)
    assert [(r.row_index, r.field, r.reason) for r in ack.rejections] == [
        (30, "spend", ingestion_pb.REJECTION_REASON_NEGATIVE_VALUE),
        (31, "$", ingestion_pb.REJECTION_REASON_MALFORMED),
    ]
    assert 0 < ack.mean_quality_score <= 1 and not ack.replayed
    stored = _scan(memory)
    assert len(stored) == 30
    # The same batch again: answered from the ledger, nothing written.
    (again,) = ingestion.Ingest(iter([_request(world, [*lines, dumps(bad), "{oops"], "b1")]))
    assert again.replayed and again.accepted_count == 30 and len(again.rejections) == 2
    # The same rows under a new batch id: duplicates of stored rows, nothing written.
    (dup,) = ingestion.Ingest(iter([_request(world, lines, "b2")]))
    assert (dup.accepted_count, dup.duplicate_count, dup.restated_count) == (30, 30, 0)
    # A re-send of one day with new numbers, later in the export: replaces, recorded.
    restated = copy.deepcopy(world.raw["meta"].base_row(3))
    restated["spend"] = "1.23"
    (re,) = ingestion.Ingest(iter([_request(world, [dumps(restated)], "b3", row_offset=100)]))
    assert (re.accepted_count, re.restated_count) == (1, 1)
    after = {r.natural_key: r for r in _scan(memory)}
    assert len(after) == 30
    rec = after[world.raw["meta"].row_key(3)]
    assert rec.spend == 1.23 and rec.causal_metadata.is_restatement
    assert rec.causal_metadata.replaced_version == int(PULLED.timestamp() * 1e6) + 3
    # Reusing a batch id for other rows is refused.
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([_request(world, lines[:3], "b1")])))
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.ALREADY_EXISTS, "BATCH_ID_REUSED")


BAD_REQUESTS = [
    ({"org_id": ""}, ["org_id"]),
    ({"source": common_pb.DATA_SOURCE_UNSPECIFIED}, ["source"]),
    ({"source": 99}, ["source"]),
    ({"batch_id": ""}, ["batch_id"]),
    ({"timezone": ""}, ["account.timezone"]),
    ({"timezone": "Mars/Olympus"}, ["account.timezone"]),
    ({"currency": "US$"}, ["account.currency_code"]),
    ({"country": "XX"}, ["account.country_code"]),
    (
        {"org_id": "", "batch_id": "", "timezone": "Nope/Nope"},
        ["org_id", "batch_id", "account.timezone"],
    ),
    ({"source": common_pb.DATA_SOURCE_GENERIC}, ["mapping.date"]),
]


@pytest.mark.parametrize(("change", "fields"), BAD_REQUESTS)
def test_malformed_requests_are_invalid_argument_with_field_violations(
    services,
    world: sim.SimResult,
    change: dict[str, Any],
    fields: list[str],  # type: ignore[no-untyped-def]
) -> None:
    ingestion, _ = _stubs(services)
    request = _request(world, _meta_lines(world, 2), "ok")
    for key, value in change.items():
        if key in ("timezone", "country"):
            setattr(request.account, key if key == "timezone" else "country_code", value)
        elif key == "currency":
            request.account.currency_code = value
        else:
            setattr(request, key, value)
    good = _request(world, _meta_lines(world, 2, 50), "first")
    with pytest.raises(grpc.RpcError) as err:
        for ack in ingestion.Ingest(iter([good, request]), timeout=30):
            assert ack.batch_id == "first"  # the good batch before it is still acked
    code, reason, violations, _ = rich_error(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and reason == "INVALID_INGEST_REQUEST"
    assert [f for f, _ in violations] == fields


def test_oversized_batch_is_resource_exhausted(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    ingestion, _memory = _stubs(services)
    line = _meta_lines(world, 1)[0]
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([_request(world, [line] * 10_001, "big")]), timeout=60))
    code, reason, _, _ = rich_error(err.value)
    assert (code, reason) == (grpc.StatusCode.RESOURCE_EXHAUSTED, "BATCH_TOO_LARGE")
    assert "at most 10000" in err.value.details()


def test_acks_flow_while_the_client_is_still_sending(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    """The first ack arrives before the last batch is sent, and a client that waits for
    each ack before sending the next batch is served (no whole-stream buffering)."""
    ingestion, _ = _stubs(services)
    acked = [threading.Event() for _ in range(4)]

    def lock_step() -> Iterator[ingestion_pb.IngestRequest]:
        for i in range(4):
            if i:
                assert acked[i - 1].wait(20), f"no ack for batch {i - 1} before batch {i} was sent"
            yield _request(world, _meta_lines(world, 5, 5 * i), f"s{i}", row_offset=5 * i)

    seen = []
    for i, ack in enumerate(ingestion.Ingest(lock_step(), timeout=60)):
        seen.append(ack.batch_id)
        acked[i].set()
    assert seen == ["s0", "s1", "s2", "s3"]


def test_sdk_ingest_summary_and_rerun_replays(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    lines = [*_meta_lines(world, 250), "not json"]
    with LiftOS(peers_of(services), org_id="sdk") as client:
        progress = []
        first = client.ingest(
            "meta", lines, account=_account(world, "meta"), pulled_at=PULLED,
            batch_size=100, progress=lambda s: progress.append(s.rows),
        )  # fmt: skip
        assert progress == [100, 200, 251]
        assert (first.batches, first.accepted, first.rejected, first.written) == (3, 250, 1, 250)
        assert first.rejected_by_reason == {"malformed": 1}
        assert first.rejections[0][:3] == (250, "$", "malformed")  # line in the input
        again = client.ingest(
            "meta", lines, account=_account(world, "meta"), pulled_at=PULLED, batch_size=100
        )
        # a re-run is answered from the ledger: its rows were written by the first run (s20
        # R49-F6: they are counted apart, not as written again)
        # (rows of the batches, the malformed line among them)
        assert again.replayed_batches == 3 and again.replayed_rows == 251 and again.written == 0
        later = client.ingest(
            "meta", lines, account=_account(world, "meta"),
            pulled_at=PULLED + dt.timedelta(days=1), batch_size=100,
        )  # fmt: skip
        # A later pull of identical rows: new batches, but every row a duplicate.
        assert later.replayed_batches == 0 and later.duplicates == 250 and later.written == 0


def test_a_new_stream_reads_the_campaigns_stored_history(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    """Lags of a later stream come from memory (Scan), not from the stream that wrote them."""
    export = world.raw["tiktok"]
    series = export.row_key(0).rsplit("|", 1)[0]
    clean = sorted(
        (export.row_key(i).rsplit("|", 1)[1], i)
        for i in range(export.n_base)
        if i not in export.overrides and export.row_key(i).startswith(series + "|")
    )[:40]
    spend = {
        dt.date.fromisoformat(day): float(export.base_row(i)["metrics"]["spend"])
        for day, i in clean
    }
    rows = [dumps(export.base_row(i)) for _, i in clean]
    account = _account(world, "tiktok")
    with LiftOS(peers_of(services), org_id="hist") as client:
        client.ingest("tiktok", rows[:30], account=account, pulled_at=PULLED)
        client.ingest(
            "tiktok", rows[30:], account=account, pulled_at=PULLED + dt.timedelta(hours=1)
        )
    _, memory = _stubs(services)
    stored = {
        dt.date(r.local_date.year, r.local_date.month, r.local_date.day): r
        for r in _scan(memory, "hist")
    }
    assert len(stored) == 40
    for day, _ in clean[30:]:  # written by the second stream
        d = dt.date.fromisoformat(day)
        lf = stored[d].lag_features
        for k in (1, 7, 14, 28):
            back = spend.get(d - dt.timedelta(days=k))
            if back is None:
                assert not lf.HasField(f"spend_lag_{k}")
            else:
                assert getattr(lf, f"spend_lag_{k}") == back, (day, k)
        assert lf.history_days == sum(d - dt.timedelta(days=k) in spend for k in range(1, 29))
    assert stored[dt.date.fromisoformat(clean[-1][0])].lag_features.history_days >= 28 - 2


def test_sdk_timeout_bounds_unary_calls_not_an_ingest_stream(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """The SDK's default deadline is per unary call: an ingest that streams for longer than
    it (here: a slow consumer of the acks) still completes."""
    lines = _meta_lines(world, 40, 400)
    with LiftOS(peers_of(services), org_id="slow", timeout=0.5) as client:
        summary = client.ingest(
            "meta", lines, account=_account(world, "meta"), pulled_at=PULLED,
            batch_size=10, max_in_flight=1, progress=lambda _: time.sleep(0.3),
        )  # fmt: skip
    assert (summary.batches, summary.written) == (4, 40)


def test_a_cancelled_ingest_leaves_no_half_batch_and_a_retry_completes(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """The client hangs up after the first ack while later batches are in flight to memory:
    ingestion cancels its WriteStream, memory stays up, and re-sending every batch with the
    same ids stores each row once (acked batches replay from the ledger)."""
    ingestion, memory = _stubs(services)
    batches = [
        _request(world, _meta_lines(world, 40, 40 * i), f"c{i}", row_offset=40 * i)
        for i in range(6)
    ]
    call = ingestion.Ingest(iter(batches), timeout=60)
    first = next(call)
    assert first.batch_id == "c0"
    call.cancel()
    with pytest.raises(grpc.RpcError) as err:
        list(call)
    assert err.value.code() == grpc.StatusCode.CANCELLED  # type: ignore[attr-defined]

    acks = list(ingestion.Ingest(iter(batches), timeout=60))
    assert [a.batch_id for a in acks] == [f"c{i}" for i in range(6)]
    assert acks[0].replayed
    stored = _scan(memory)
    assert len(stored) == len({r.natural_key for r in stored}) == 240
    # the service keeps serving new streams
    more = list(
        ingestion.Ingest(iter([_request(world, _meta_lines(world, 5, 240), "c6")]), timeout=60)
    )
    assert more[0].accepted_count == 5


def test_late_rows_read_their_own_series_history_from_memory(
    services, world: sim.SimResult
) -> None:  # type: ignore[no-untyped-def]
    """A late row's lags come from a Scan of its own (campaign, geo) series; a late row of
    the same campaign and days in another geo, in a later batch, gets its own."""
    export = world.raw["tiktok"]
    by_series: dict[str, dict[str, int]] = {}
    for i in range(export.n_base):
        if i not in export.overrides:
            series, day = export.row_key(i).rsplit("|", 1)
            by_series.setdefault(series, {})[day] = i
    days = sorted({d for rows in by_series.values() for d in rows})[:71]
    whole = [s for s, rows in by_series.items() if all(d in rows for d in days)]
    campaign = next(c for c in {s.rsplit("|", 1)[0] for s in whole} if sum(
        s.startswith(c + "|") for s in whole) >= 2)  # fmt: skip
    s1, s2 = [s for s in whole if s.startswith(campaign + "|")][:2]
    late, last = days[40], days[70]

    def line(series: str, day: str) -> str:
        return dumps(export.base_row(by_series[series][day]))

    account = _account(world, "tiktok")
    with LiftOS(peers_of(services), org_id="late") as client:
        # one stream writes days 0..69 of both series, except the late day
        client.ingest(
            "tiktok",
            [line(s, d) for d in days[:70] for s in (s1, s2) if d != late],
            account=account,
            pulled_at=PULLED,
        )
        # a new stream starts at day 70 (its history then covers days 42 on), then gets
        # the late day of s1, then the same day of s2, one batch each
        summary = client.ingest(
            "tiktok",
            [line(s1, last), line(s2, last), line(s1, late), line(s2, late)],
            account=account,
            pulled_at=PULLED + dt.timedelta(hours=1),
            batch_size=1,
        )
    assert summary.accepted == 4
    _, memory = _stubs(services)
    stored = {r.natural_key: r for r in _scan(memory, "late")}
    for series in (s1, s2):
        record = stored[f"{series}|{late}"]
        lf = record.lag_features
        day = dt.date.fromisoformat(late)
        for k in (1, 7, 14, 28):
            back = (day - dt.timedelta(days=k)).isoformat()
            want = float(export.base_row(by_series[series][back])["metrics"]["spend"])
            assert getattr(lf, f"spend_lag_{k}") == want, (series, k)
        assert lf.history_days == 28, series


def test_a_pull_after_the_servers_clock_names_both_clocks(services, world: sim.SimResult) -> None:  # type: ignore[no-untyped-def]
    """A server whose clock is behind (restored from a snapshot) refused fresh exports as "in
    the future": the refusal names the server's time, the gap and the check (s20 R49-F5)."""
    ingestion, _ = _stubs(services)
    ahead = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=2, minutes=5)
    request = _request(world, _meta_lines(world, 2), "clock", pulled_at=ahead)
    with pytest.raises(grpc.RpcError) as err:
        list(ingestion.Ingest(iter([request]), timeout=30))
    code, reason, violations, _ = rich_error(err.value)
    assert code == grpc.StatusCode.INVALID_ARGUMENT and reason == "INVALID_INGEST_REQUEST"
    [(field, text)] = violations
    assert field == "pulled_at"
    assert f"pulled_at {ahead:%Y-%m-%dT%H:%M:%SZ} is 2 h " in text, text
    assert "after this ingestion server's clock (" in text and "60 min allowed" in text
    assert "the server's clock is behind" in text
