"""The SDK's memory calls: the ad accounts an org's records come from, and deleting them."""

from __future__ import annotations

import datetime as dt

import liftos_dc.liftos.v1 as dc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.runtime.exceptions import InvalidInput
from mesh.sdk._base import ClientBase, _call, _date_pb, as_date


def data_source(name: str | int) -> int:
    """A DataSource number from its short name ("meta", "google_ads", …) or number."""
    if isinstance(name, int):
        return name
    try:
        return int(common_pb.DataSource.Value(f"DATA_SOURCE_{name.strip().upper()}"))
    except ValueError:
        known = ", ".join(
            n.removeprefix("DATA_SOURCE_").lower()
            for n in common_pb.DataSource.DESCRIPTOR.values_by_name
            if n != "DATA_SOURCE_UNSPECIFIED"
        )
        raise InvalidInput(f"{name!r} is not a source (one of {known})", field="source") from None


class MemoryCalls(ClientBase):
    """MemoryService's account calls (and ingestion's ledger, which a deletion must reach),
    through LiftOS."""

    def list_accounts(self, *, org_id: str | None = None) -> list[dc.AccountRecords]:
        """Per (source, account_id): the org's current records, first and last local date,
        currencies and channels, every page read."""
        out: list[dc.AccountRecords] = []
        token = ""
        while True:
            request = memory_pb.ListAccountsRequest(org_id=self._org(org_id), page_token=token)
            reply = _call(lambda: self._memory.ListAccounts(request))  # noqa: B023
            out.extend(dc.ListAccountsResponse.parse(reply.SerializeToString()).accounts)
            token = reply.next_page_token
            if not token:
                return out

    def delete_records(
        self,
        *,
        source: str | int | None = None,
        account_id: str | None = None,
        start: dt.date | str | None = None,
        end: dt.date | str | None = None,
        dry_run: bool = False,
        all_records: bool = False,
        org_id: str | None = None,
    ) -> dc.DeleteRecordsResponse:
        """Delete the org's records of a source, an account and / or local dates (both ends
        inclusive), with everything memory derived from them; ``dry_run`` counts them only.
        With no filter, ``all_records=True`` is required. After a deletion, ingestion's ledger
        forgets the org's batches (IngestionService.ForgetBatches), so an export sent again is
        written again rather than answered from the ledger. Needs a key with the
        ``records.delete`` scope."""
        org = self._org(org_id)
        request = memory_pb.DeleteRecordsRequest(
            org_id=org, dry_run=dry_run, all_records=all_records
        )
        if source is not None:
            request.source = data_source(source)  # type: ignore[assignment]
        if account_id is not None:
            request.account_id = account_id
        first, last = as_date(start, "start"), as_date(end, "end")
        if first is not None:
            request.date_range.start_date.CopyFrom(_date_pb(first))
        if last is not None:
            request.date_range.end_date.CopyFrom(_date_pb(last))
        reply = _call(lambda: self._memory.DeleteRecords(request))
        if not reply.dry_run and reply.deleted_count:
            forget = ingestion_pb.ForgetBatchesRequest(org_id=org)
            _call(lambda: self._ingestion.ForgetBatches(forget))
        return dc.DeleteRecordsResponse.parse(reply.SerializeToString())
