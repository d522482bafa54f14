"""``liftos search``: KSE search from the command line, over gRPC with the generated stub.

It talks to the memory service over the wire like every verb (it lived in ``memory_svc``,
which put a service under the shared floor); ``mesh.cli.commands`` registers it.
"""

from __future__ import annotations

import argparse
import datetime as dt
import os
import sys
from typing import Any, TextIO

import grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.cli.json_out import document, print_json
from mesh.cli.timeouts import add_timeout, timeout_of
from mesh.runtime.channels import sync_channel
from mesh.sdk.failures import RpcFailure

DEFAULT_ADDR = os.environ.get("LIFTOS_MEMORY_ADDR", "127.0.0.1:50052")


def register(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:  # type: ignore[type-arg]
    """Add the ``search`` verb to a ``liftos`` argparse subparsers object."""
    p = subparsers.add_parser(
        "search",
        help="similarity search over an org's records (memory service)",
        description="Search an org's causal marketing records by text, with exact filters.",
    )
    p.add_argument("query", help='free text, e.g. "black friday retargeting"')
    p.add_argument("--org", default="", help="organisation id (or LIFTOS_ORG)")
    p.add_argument("--k", type=int, default=10, help="hits to return (1..1000)")
    p.add_argument("--addr", default=DEFAULT_ADDR, help="memory service address")
    p.add_argument(
        "--base-port", type=int, default=None,
        help="a local mesh on BASE..BASE+4 (memory at BASE+1), as the other verbs take it",
    )  # fmt: skip
    p.add_argument("--source", action="append", default=[], help="meta, google_ads, … (repeat)")
    p.add_argument("--campaign", action="append", default=[], help="campaign id (repeat)")
    p.add_argument("--channel", action="append", default=[], help="channel (repeat)")
    p.add_argument("--geo", action="append", default=[], help="geo (repeat)")
    p.add_argument("--experiment", default="", help="experiment id")
    p.add_argument(
        "--group", action="append", default=[], help="treatment, control or not_in_experiment"
    )
    p.add_argument("--region", default="", help='conceptual region, e.g. "efficiency/high_roas"')
    p.add_argument("--min-quality", type=float, default=None, help="minimum quality score")
    p.add_argument("--since", type=dt.date.fromisoformat, help="first day (YYYY-MM-DD)")
    p.add_argument("--until", type=dt.date.fromisoformat, help="day after the last (YYYY-MM-DD)")
    p.add_argument("--json", action="store_true", help="the hits as one JSON document")
    add_timeout(p, default=30.0)
    p.set_defaults(func=run_search)
    return p


def search_request(args: argparse.Namespace) -> memory_pb.SearchRequest:
    from mesh.runtime.frames import enum_value  # loads pandas; every verb's parser imports us

    f = memory_pb.SearchFilter(
        sources=[enum_value("data_source", s, field="--source") for s in args.source],  # type: ignore[misc]
        campaign_ids=args.campaign,
        channels=args.channel,
        geos=args.geo,
        experiment_id=args.experiment,
        treatment_groups=[enum_value("treatment_group", g, field="--group") for g in args.group],  # type: ignore[misc]
        conceptual_region=args.region,
    )
    if args.min_quality is not None:
        f.min_quality_score = args.min_quality
    for day, field in ((args.since, "start_time"), (args.until, "end_time")):
        if day is not None:
            getattr(f.time_range, field).FromDatetime(
                dt.datetime(day.year, day.month, day.day, tzinfo=dt.UTC)
            )
    return memory_pb.SearchRequest(
        org_id=args.org, text=args.query, k=args.k, filter=f, include_records=True
    )


def format_hits(response: memory_pb.SearchResponse, out: TextIO) -> None:
    """A table: rank, score, date, campaign, channel, geo, spend, ROAS, region. The campaign,
    channel and geo columns are as wide as their longest value: a name cut at 28 characters
    printed a new campaign ("US | Prospecting | Sales #1 | Holiday") as the ended one it was
    re-issued from (R5-F8)."""
    records: list[md_pb.CausalMarketingData] = [hit.record for hit in response.hits]
    wide = {
        name: max([least, *(len(getattr(r, name)) for r in records)])
        for name, least in (("campaign_name", 28), ("channel", 18), ("geo", 6))
    }
    c, ch, g = wide["campaign_name"], wide["channel"], wide["geo"]
    header = (f"{'#':>3}  {'score':>6}  {'date':10}  {'campaign':{c}}  {'channel':{ch}}  "
              f"{'geo':{g}}  {'spend':>9}  {'roas':>5}  region")  # fmt: skip
    print(header, file=out)
    for i, (hit, r) in enumerate(zip(response.hits, records, strict=True), start=1):
        day = r.timestamp.ToDatetime(tzinfo=dt.UTC).date().isoformat()
        roas = f"{r.revenue / r.spend:5.2f}" if r.spend else "    -"
        print(
            f"{i:>3}  {hit.score:6.3f}  {day:10}  {r.campaign_name:{c}}  "
            f"{r.channel:{ch}}  {r.geo:{g}}  {r.spend:9.2f}  {roas}  {r.conceptual_space}",
            file=out,
        )
    kind = memory_pb.IndexKind.Name(response.index_kind).removeprefix("INDEX_KIND_").lower()
    print(f"{len(response.hits)} hits ({kind} index, {response.index_size} records)", file=out)


def run_search(args: argparse.Namespace, out: TextIO | None = None) -> int:
    """Call Search and print the hits; returns a process exit code. The org is ``--org``, else
    ``LIFTOS_ORG``, as every other verb reads it (R5-F10)."""
    args.org = args.org or os.environ.get("LIFTOS_ORG", "")
    if not args.org:
        print("error: --org is required (or set LIFTOS_ORG)", file=sys.stderr)
        return 2
    base = getattr(args, "base_port", None)
    addr = args.addr if base is None else f"127.0.0.1:{base + 1}"
    with sync_channel(addr) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        try:
            response = stub.Search(search_request(args), timeout=timeout_of(args))
        except grpc.RpcError as err:  # main() says it and exits by its class (mesh.cli.exits)
            raise RpcFailure.from_rpc_error(err) from None
    out = out or sys.stdout  # read at the call: a default bound at import outlives a redirect
    if getattr(args, "json", False):
        print_json(hits_json(response), file=out)
    else:
        format_hits(response, out)
    return 0


def hits_json(response: memory_pb.SearchResponse) -> dict[str, Any]:
    """The hits as the table shows them, each record whole (proto JSON, zeros kept), its day
    as YYYY-MM-DD beside the record's timestamp."""
    kind = memory_pb.IndexKind.Name(response.index_kind).removeprefix("INDEX_KIND_").lower()
    hits = [
        {"rank": i, "score": hit.score,
         "date": hit.record.timestamp.ToDatetime(tzinfo=dt.UTC).date().isoformat(),
         "record": document(hit.record)}
        for i, hit in enumerate(response.hits, start=1)
    ]  # fmt: skip
    return {"hits": hits, "index_kind": kind, "index_size": response.index_size}


__all__ = ["format_hits", "hits_json", "register", "run_search", "search_request"]
