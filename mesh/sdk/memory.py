"""The SDK's memory calls: the ad accounts an org's records come from, and deleting them."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import liftos_dc.liftos.v1 as dc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import memory_pb2 as memory_pb

from mesh.sdk._base import ClientBase, _date_pb, as_date, choice
from mesh.sdk.failures import RpcFailure


def data_source(name: str | int) -> int:
    """A DataSource number from its short name ("meta", "google_ads", …) or number."""
    if isinstance(name, int):
        return name
    return choice(common_pb.DataSource, "DATA_SOURCE_", name, "source", optional=False)


@dataclass
class LedgerNotForgotten(RpcFailure):
    """Memory deleted the records (``deleted``: its reply), but ingestion's ledger was not
    told (ForgetBatches failed: the code and message are its): an export sent again would be
    answered from the ledger and never written. Running the delete again forgets them: it
    calls ForgetBatches also when nothing is left to delete."""

    deleted: dc.DeleteRecordsResponse | None = None

    def __str__(self) -> str:
        count = self.deleted.deleted_count if self.deleted is not None else 0
        return (
            f"{count:,} records deleted, but ingestion's ledger was NOT told to forget the "
            f"org's batches (ForgetBatches: {super().__str__()}): an export sent again would "
            "be answered from the ledger, not written. Run the same delete again (liftos "
            "memory delete … --yes, or delete_records): it tells the ledger even when nothing "
            "is left to delete"
        )


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
            reply = self._unary(lambda: self._memory.ListAccounts(request))  # noqa: B023
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
        With no filter, ``all_records=True`` is required. After every deletion (0 records
        included: the ledger may not have been told after an earlier one), ingestion's ledger
        forgets the org's batches (IngestionService.ForgetBatches, idempotent), so an export
        sent again is written again rather than answered from the ledger; when that call fails
        :class:`LedgerNotForgotten` is raised, carrying memory's reply. Needs a key with the
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
        try:
            reply = self._unary(lambda: self._memory.DeleteRecords(request))
        except RpcFailure as failure:
            if dry_run or failure.reason != "ORG_NOT_FOUND":
                raise
            # nothing left of the org, as after a delete whose ForgetBatches failed: tell the
            # ledger all the same, and say so with memory's answer
            self._forget(org, dc.DeleteRecordsResponse())
            failure.message += (
                "; ingestion's ledger was told to forget the org's batches all the same, so "
                "an export sent again is written again"
            )
            raise
        deleted = dc.DeleteRecordsResponse.parse(reply.SerializeToString())
        if not reply.dry_run:
            self._forget(org, deleted)
        return deleted

    def _forget(self, org: str, deleted: dc.DeleteRecordsResponse) -> None:
        """IngestionService.ForgetBatches after memory's ``deleted`` reply; its failure as
        :class:`LedgerNotForgotten`, carrying the reply."""
        forget = ingestion_pb.ForgetBatchesRequest(org_id=org)
        try:
            self._unary(lambda: self._ingestion.ForgetBatches(forget))
        except RpcFailure as failure:
            raise LedgerNotForgotten(
                failure.code, failure.message, failure.reason, failure.field_violations,
                request_id=failure.request_id, deleted=deleted,
            ) from failure  # fmt: skip
