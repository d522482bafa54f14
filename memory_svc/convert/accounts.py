"""Proto ↔ domain for ListAccounts and DeleteRecords, and the stored payloads' account ids."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb

from memory_svc.accounts import AccountSummary, Deletion, DeletionFilter
from memory_svc.convert import _day_span
from memory_svc.errors import InvalidQuery
from mesh.runtime.exceptions import FieldViolation, InvalidInput
from mesh.runtime.frames import enum_name
from mesh.runtime.frames.enums import enum_value
from mesh.runtime.protoconv import date_to_proto, require_org

__all__ = [
    "DeleteQuery",
    "delete_request",
    "delete_response",
    "list_accounts_response",
    "payload_accounts",
]

_EPOCH = dt.date(1970, 1, 1)
_FILTERS = "source, account_id, date_range"


def payload_accounts(payloads: list[bytes]) -> list[str]:
    """The account_id of stored payloads (``memory_svc.accounts.DecodeAccounts``: the
    one-off fill of ``measures.account_id`` in a store from before the column)."""
    parse = md_pb.CausalMarketingData.FromString
    return [parse(p).account_id for p in payloads]


@dataclass(frozen=True, slots=True)
class DeleteQuery:
    """A checked DeleteRecords request."""

    org_id: str
    filter: DeletionFilter
    dry_run: bool


def delete_request(request: memory_pb.DeleteRecordsRequest) -> DeleteQuery:
    """The request's org and filter; InvalidInput naming the field for a bad one, for no
    filter without all_records, and for all_records beside a filter."""
    org_id = require_org(request.org_id)
    source: str | None = None
    if request.source != common_pb.DATA_SOURCE_UNSPECIFIED:
        source = enum_name("data_source", request.source)
        if source == "unknown":
            raise InvalidQuery(f"{request.source} is not a data source", field="source")
    account = request.account_id if request.HasField("account_id") else None
    start, end = _day_span(request)
    flt = DeletionFilter(source, account, start, end)
    if flt.is_empty() and not request.all_records:
        raise InvalidInput(
            f"set at least one of {_FILTERS} (the records to delete), or all_records to "
            "delete every record of the org",
            violations=[FieldViolation(f, "no filter set") for f in _FILTERS.split(", ")],
        )
    if request.all_records and not flt.is_empty():
        raise InvalidQuery(
            "all_records deletes every record of the org: unset it to delete the records the "
            f"filters ({_FILTERS}) pick, or unset the filters",
            field="all_records",
        )
    return DeleteQuery(org_id, flt, request.dry_run)


def _account(a: AccountSummary, out: memory_pb.AccountRecords) -> None:
    out.source = enum_value("data_source", a.source)  # type: ignore[assignment]
    out.account_id = a.account_id
    out.record_count = a.record_count
    out.first_date.CopyFrom(date_to_proto(_EPOCH + dt.timedelta(days=a.first_day)))
    out.last_date.CopyFrom(date_to_proto(_EPOCH + dt.timedelta(days=a.last_day)))
    out.currencies.extend(a.currencies)
    out.channels.extend(a.channels)


def list_accounts_response(
    page: list[AccountSummary], total: int, token: str
) -> memory_pb.ListAccountsResponse:
    out = memory_pb.ListAccountsResponse(record_count=total, next_page_token=token)
    for a in page:
        _account(a, out.accounts.add())
    return out


def delete_response(done: Deletion) -> memory_pb.DeleteRecordsResponse:
    out = memory_pb.DeleteRecordsResponse(
        deleted_count=len(done.removed_seqs),
        history_count=done.history_count,
        org_record_count=done.org_record_count,
        dry_run=done.dry_run,
    )
    for a in done.accounts:
        _account(a, out.accounts.add())
    return out
