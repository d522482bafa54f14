"""One org holds at most its share of a server's in-flight limit (R14-F2).

A tenant's keys used to be able to fill the whole limit (256 idle Ingest streams) and lock
every other tenant out. On a real ingestion server with a limit of 8 (a share of 2 per org):
org_b at its share is refused RESOURCE_EXHAUSTED naming the share while org_a, and the
any-org ops key past the share, are served; the slots come back when org_b's streams end."""

from __future__ import annotations

import argparse
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import grpc
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc

from ingestion_svc.app import build as ingestion_build
from mesh.runtime.auth import AuthConfig
from mesh.runtime.channels import auth_metadata
from mesh.runtime.config import (
    PeerConfig,
    ServerConfig,
    add_server_arguments,
    org_share,
    server_config_from_args,
)
from mesh.runtime.inprocess import BackgroundLoop, RunningService, private_files
from mesh.runtime.main import private_data_dir
from mesh.sdk.client import retry_delay
from tests.support import error_details

KEYS = AuthConfig.parse("key-a:org_a,key-b:org_b,key-b2:org_b,ops:*:public")
LIMIT = 8
SHARE = org_share(LIMIT)
CALENDAR = ingestion_pb.GetCalendarRequest(
    country="US",
    start_date=common_pb.Date(year=2024, month=11, day=28),
    end_date=common_pb.Date(year=2024, month=11, day=28),
)


@pytest.fixture(scope="module")
def address(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    data = tmp_path_factory.mktemp("share")
    config = ServerConfig(
        service="ingestion", host="127.0.0.1", port=0, data_dir=data,
        peers=PeerConfig.from_env(), auth=KEYS, max_inflight=LIMIT, api_key="",
    )  # fmt: skip
    loop = BackgroundLoop()
    with private_files():
        private_data_dir(Path(data))
        running = RunningService(loop, "ingestion", ingestion_build, config)
        try:
            yield running.address
        finally:
            running.stop()
            loop.close()


class HeldStreams:
    """Ingest streams of one key that stay open, sending nothing, until released."""

    def __init__(self, channel: grpc.Channel, key: str, count: int) -> None:
        self._release = threading.Event()
        stub = ingestion_grpc.IngestionServiceStub(channel)
        md = auth_metadata(key)
        # each a call and an iterator of its replies (done() is the call's)
        self.calls: list[Any] = [
            stub.Ingest(self._nothing(), metadata=md, timeout=60) for _ in range(count)
        ]

    def _nothing(self) -> Iterator[ingestion_pb.IngestRequest]:
        self._release.wait(60)
        return
        yield ingestion_pb.IngestRequest()

    def refused(self) -> bool:
        """Whether a stream ended before release: a probe overtook it and took its slot."""
        return any(call.done() for call in self.calls)

    def release(self, *, strict: bool = True) -> None:
        self._release.set()
        for call in self.calls:
            try:
                list(call)  # an empty stream ends OK: it was admitted and held its slot
            except grpc.RpcError:
                if strict:
                    raise


class _Overtaken(Exception):
    pass


def _calendar(channel: grpc.Channel, key: str) -> grpc.RpcError | None:
    try:
        stub = ingestion_grpc.IngestionServiceStub(channel)
        assert stub.GetCalendar(CALENDAR, metadata=auth_metadata(key), timeout=10).days
    except grpc.RpcError as error:
        return error
    return None


def _until_refused(channel: grpc.Channel, key: str, held: list[HeldStreams]) -> grpc.RpcError:
    """The first refusal of ``key``'s calls once the held streams have reached the server."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if any(h.refused() for h in held):
            raise _Overtaken
        error = _calendar(channel, key)
        if error is not None:
            return error
        time.sleep(0.05)
    raise AssertionError(f"{key}'s calls were never refused")


def _hold(
    channel: grpc.Channel, holds: list[tuple[str, int]], probe: str
) -> tuple[list[HeldStreams], grpc.RpcError]:
    """Streams held per (key, count) and the first refusal of ``probe``'s calls (a few tries:
    on a loaded machine a probe can reach the server before a held stream and take its slot)."""
    for _ in range(5):
        held = [HeldStreams(channel, key, count) for key, count in holds]
        try:
            return held, _until_refused(channel, probe, held)
        except _Overtaken:
            for h in held:
                h.release(strict=False)
    raise AssertionError("the held streams were overtaken five times")


def test_an_org_at_its_share_leaves_the_others_served(address: str) -> None:
    with grpc.insecure_channel(address) as channel:
        held, error = _hold(channel, [("key-b", SHARE)], "key-b")
        try:
            assert error.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, error.details()
            assert error_details(error)[0] == "ORG_SHARE_EXHAUSTED"
            assert error.details() == (
                f"org 'org_b' has {SHARE} calls in flight, its share of this server's "
                f"{LIMIT}; retry shortly"
            )
            assert retry_delay(error) is not None
            # counted by org, not by key: org_b's other key meets the same share
            other_key = _calendar(channel, "key-b2")
            assert other_key is not None and error_details(other_key)[0] == "ORG_SHARE_EXHAUSTED"
            # the other tenant is served
            assert _calendar(channel, "key-a") is None
            # an any-org principal has no share: the ops key holds more than one and is served
            ops = HeldStreams(channel, "ops", SHARE + 1)
            try:
                assert _calendar(channel, "ops") is None
                assert _calendar(channel, "key-a") is None
            finally:
                ops.release(strict=False)
        finally:
            for h in held:
                h.release()
        # org_b's slots come back when its streams end (a moment after the client sees it)
        deadline = time.monotonic() + 10
        while (late := _calendar(channel, "key-b")) is not None:
            assert late.code() is grpc.StatusCode.RESOURCE_EXHAUSTED, late.details()
            assert time.monotonic() < deadline, "org_b's slots never came back"
            time.sleep(0.05)


def test_the_server_limit_still_binds_every_org_together(address: str) -> None:
    """Orgs each within their share, and the ops key, still meet the server's limit."""
    holds = [("key-a", SHARE), ("ops", LIMIT - 2 * SHARE), ("key-b", SHARE)]
    with grpc.insecure_channel(address) as channel:
        for _ in range(5):  # a held stream overtaken by the second probe too: hold again
            held, error = _hold(channel, holds, "key-a")
            try:
                # org_a is at its share and the server is full: the share is named first
                assert error_details(error)[0] == "ORG_SHARE_EXHAUSTED"
                full = _until_refused(channel, "ops", held)
            except _Overtaken:
                for h in held:
                    h.release(strict=False)
                continue
            try:
                assert full.code() is grpc.StatusCode.RESOURCE_EXHAUSTED
                assert error_details(full)[0] == "TOO_MANY_CALLS"
                assert full.details() == f"this server has {LIMIT} calls in flight; retry shortly"
            finally:
                for h in held:
                    h.release()
            return
    raise AssertionError("the held streams were overtaken five times")


def _parse(argv: list[str]) -> ServerConfig:
    parser = argparse.ArgumentParser()
    add_server_arguments(parser, "memory")
    return server_config_from_args(parser.parse_args(argv), "memory")


def test_the_share_is_a_quarter_by_default_and_configurable(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("LIFTOS_API_KEYS", raising=False)
    monkeypatch.delenv("LIFTOS_MAX_INFLIGHT_PER_ORG", raising=False)
    assert (org_share(256), org_share(8), org_share(2)) == (64, 2, 1)
    assert _parse(["--max-inflight", "100"]).max_inflight_per_org is None  # org_share(100)
    assert _parse(["--max-inflight-per-org", "10"]).max_inflight_per_org == 10
    monkeypatch.setenv("LIFTOS_MAX_INFLIGHT_PER_ORG", "7")
    assert _parse([]).max_inflight_per_org == 7
    with pytest.raises(SystemExit, match="between 1 and --max-inflight"):
        _parse(["--max-inflight", "4", "--max-inflight-per-org", "5"])
