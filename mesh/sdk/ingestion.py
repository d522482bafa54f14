"""The SDK's ingestion calls: experiments, calendar, ingest, external factors."""

from __future__ import annotations

import collections
import datetime as dt
import decimal
import hashlib
import json
import math
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import grpc
import liftos_dc.liftos.v1 as dc
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.sdk import generic_rows
from mesh.sdk._base import (
    ClientBase,
    _date,
    _date_pb,
    as_date,
    as_number,
    choice,
    required_date,
    retry_delay,
)
from mesh.sdk.failures import InvalidArgument, RpcFailure
from mesh.sdk.generic_rows_numbers import DECIMAL_MARKS, grouped_problem, read_measures
from mesh.sdk.ingest_summary import IngestSummary, stored_before

if TYPE_CHECKING:  # pandas costs ~0.5 CPU-s to import; calendar() loads it when called
    import pandas as pd


# Read through a column mapping (the business's own outcome, a media channel's spend): keyed
# date × geo × campaign, checked whole before sending (mesh.sdk.generic_rows).
MAPPED_SOURCES = ("generic", "generic_media")


class IngestionCalls(ClientBase):
    """IngestionService, through LiftOS."""

    # -- experiments (betterproto2 dataclasses) -----------------------------------------
    def create_experiment(
        self, experiment: dc.CausalExperiment, *, allow_overlap: bool = False
    ) -> dc.CausalExperiment:
        """Register ``experiment``; ``allow_overlap``: even where one of its channel runs on
        its days and units (R26-F3; refused otherwise, FAILED_PRECONDITION)."""
        if not experiment.org_id:
            experiment.org_id = self.org_id
        request = dc.CreateExperimentRequest(experiment=experiment, allow_overlap=allow_overlap)
        return self._unary(lambda: self._ingestion_dc.create_experiment(request)).experiment  # type: ignore[return-value]

    def get_experiment(
        self, experiment_id: str, *, org_id: str | None = None
    ) -> dc.CausalExperiment:
        request = dc.GetExperimentRequest(org_id=self._org(org_id), experiment_id=experiment_id)
        return self._unary(lambda: self._ingestion_dc.get_experiment(request)).experiment  # type: ignore[return-value]

    def record_experiment_result(
        self, experiment_id: str, result: dc.ExperimentResult, *, org_id: str | None = None
    ) -> dc.CausalExperiment:
        """Store ``result`` as the registered experiment's measured result (replacing an
        earlier one); attribution is then calibrated by it. Unset ids, channel and window are
        the experiment's. Refused (INVALID_ARGUMENT naming ``result.<field>``) when it cannot
        be a lift test of the experiment; NOT_FOUND for an unknown experiment."""
        request = dc.RecordExperimentResultRequest(
            org_id=self._org(org_id), experiment_id=experiment_id, result=result
        )
        return self._unary(lambda: self._ingestion_dc.record_experiment_result(request)).experiment  # type: ignore[return-value]

    def list_experiments(
        self,
        *,
        org_id: str | None = None,
        active_on: dt.date | str | None = None,
        page_size: int = 0,
    ) -> Iterator[dc.CausalExperiment]:
        """Every experiment of the org, newest first, following page tokens; ``active_on`` (a
        date or ISO string): only those running that day."""
        day = as_date(active_on, "active_on")
        token = ""
        while True:
            request = dc.ListExperimentsRequest(
                org_id=self._org(org_id),
                page_size=page_size,
                page_token=token,
                active_on=_date(day) if day else None,
            )
            reply = self._unary(lambda r=request: self._ingestion_dc.list_experiments(r))  # type: ignore[misc]
            yield from reply.experiments
            token = reply.next_page_token
            if not token:
                return

    # -- calendar (pb2 → DataFrame) -----------------------------------------------------
    def calendar(
        self, country: str, start: dt.date | str, end: dt.date | str, *, subdivision: str = ""
    ) -> pd.DataFrame:
        """The calendar dimension as a DataFrame, one row per date; ``start`` and ``end`` are
        dates or ISO strings. ``iso_week`` is numbered within ``iso_year``, which differs from
        ``year`` around New Year (2024-12-30 is 2025 week 1; 2021-01-01 is 2020 week 53)."""
        import pandas as pd

        start, end = required_date(start, "start"), required_date(end, "end")
        request = ingestion_pb.GetCalendarRequest(
            country=country,
            start_date=_date_pb(start),
            end_date=_date_pb(end),
            subdivision=subdivision,
        )
        reply = self._unary(lambda: self._ingestion.GetCalendar(request))
        return pd.DataFrame(
            {
                "date": [dt.date(d.date.year, d.date.month, d.date.day) for d in reply.days],
                "year": [d.year for d in reply.days],
                "quarter": [d.quarter for d in reply.days],
                "month": [d.month for d in reply.days],
                "iso_year": [d.iso_year for d in reply.days],
                "iso_week": [d.week for d in reply.days],
                "day_of_week": [d.day_of_week for d in reply.days],
                "is_weekend": [d.is_weekend for d in reply.days],
                "is_holiday": [d.is_holiday for d in reply.days],
                "holiday_name": [d.holiday_name for d in reply.days],
                "season": [
                    md_pb.Season.Name(d.season).removeprefix("SEASON_").lower() for d in reply.days
                ],
                "days_to_next_holiday": [d.days_to_next_holiday for d in reply.days],
            }
        )

    # -- ingestion (pb2: bulk rows in, acks out) --------------------------------------------
    def ingest(
        self,
        source: str,
        rows: Iterable[str | Mapping[str, Any]],
        *,
        account: Mapping[str, Any],
        org_id: str | None = None,
        pulled_at: dt.datetime | None = None,
        mapping: Mapping[str, str] | None = None,
        batch_size: int = 1000,
        progress: Callable[[IngestSummary], None] | None = None,
        retries: int = 5,
        max_in_flight: int = 32,  # ≥ the service's pipeline depth (16), so it never waits on us
        sum_rows: bool = False,
        decimal: str | None = None,
        restore_replaced: bool = False,
    ) -> IngestSummary:
        """Stream raw platform rows through ``Ingest``: one batch of ``batch_size`` rows per
        message, one ack per batch.

        ``rows`` are the export's JSON lines (or dicts); ``account`` has ``account_id``,
        ``timezone``, ``currency`` and optionally ``country`` and ``geo_keys`` (an entry of
        the simulator's ``accounts.json`` works as is). Batch ids hash the batch's content
        and pull time, so ingesting the same export again with the same ``pulled_at`` and
        ``batch_size`` is answered from the server's ledger. Without ``pulled_at`` each call
        stamps the time it starts, so a re-run sends new batches: the service compares
        their rows with the stored ones and writes nothing twice (a row equal to its stored
        version, or to a version the platform has since replaced, is counted a duplicate).
        ``restore_replaced=True`` says these rows correct stored ones (the right file after
        a wrong one): content a later pull replaced is then written back when ``pulled_at``
        is later than that pull (never content the replacing export held itself). Without
        it such content is a duplicate with a ``superseded_version`` note, since a re-sent or
        restored export must not revert the restatements made since.
        When the service answers UNAVAILABLE (memory down), or RESOURCE_EXHAUSTED with a
        RetryInfo (overload), the un-acked batches are re-sent with the same ids, up to
        ``retries`` times (after the delay the server asked for, on overload). At most
        ``max_in_flight`` batches are sent ahead of their acks. ``progress`` is called after
        every ack with the running summary.

        A dict row may hold what a pandas frame's ``to_dict("records")`` gives: NaN, None,
        ``pd.NA`` and ``NaT`` go as missing values (a required field's row is refused naming
        it), dates and Timestamps as ISO text, numpy and Decimal numbers as numbers; any other
        value goes as an object that a mapped field refuses, naming it (see :func:`json_row`).
        An exception raised by ``rows`` itself ends the stream and is raised once the sent
        batches are acked. An ingest that fails part-way (that, or an RpcFailure) raises with
        what was acked before it: the exception's ``stored`` (an IngestSummary) and a note.

        A mapped source's rows (``generic``, ``generic_media`` with ``mapping``) are read
        whole first: rows sharing a date × geo × campaign (the geo as written) that differ
        raise ValueError before anything is sent, since one row per key is stored and the
        others would be lost (an order-level frame); ``sum_rows=True`` adds each key's rows
        into one instead (rejections then carry the index of the key's first row). The
        service refuses, by row, those whose differently spelled geos are one: so that it
        sees them, the rows go in day order with each day's rows in one batch (no batch holds
        more than ``batch_size`` rows, so only a larger day is split; rejections carry the
        input's row index). A geo that is
        the sum of the others on most days (a "Total" row per day) raises ValueError too.
        Rows are keyed by the day ingestion dates them on: a date-time written with its zone
        ("2024-10-26T22:30:00Z") by its day in ``account["timezone"]`` (Berlin: the 27th).

        ``decimal`` ('.' or ','): a mapped source's measures written as text are read with
        it as the decimal mark, as ``liftos ingest --decimal`` reads a CSV ("1.234,56" and
        "2.906" under ','), and sent as numbers; a value it does not read raises ValueError.
        Without it they go as written, for ingestion's rule; to be summed, a column whose '.'
        certainly groups thousands ("1.234.567") raises ValueError naming it, and one that only
        looks grouped ("2.906" beside "987") is summed as decimals with a DecimalDoubt warning
        naming the column and the fix (``decimal=','`` with a later ``pulled_at``).
        """
        _refuse_frame(rows)
        source_number = choice(common_pb.DataSource, "DATA_SOURCE_", source, "source",
                               optional=False)  # fmt: skip
        source = source.strip().lower()
        if batch_size < 1:
            raise InvalidArgument("batch_size must be positive", field="batch_size")
        keyed = source in MAPPED_SOURCES and bool(mapping)
        if sum_rows and not keyed:
            raise InvalidArgument("sum_rows is for a generic source with a mapping",
                                  field="sum_rows")  # fmt: skip
        if decimal is not None and (decimal not in DECIMAL_MARKS or not keyed):
            raise InvalidArgument(
                f"decimal={decimal!r}: give '.' or ',' (the decimal mark of a generic "
                "source's mapped measures), for a generic source with a mapping",
                field="decimal",
            )
        sent_as: list[int] | None = None
        sizes: list[int] | None = None
        if keyed:
            rows, sent_as, sizes = _keyed_rows(
                rows,
                dict(mapping or {}),
                sum_rows=sum_rows,
                size=batch_size,
                decimal=decimal,
                zone=str(account.get("timezone") or ""),
                currency=str(account.get("currency") or "").upper(),
            )
        pulled_at = pulled_at or dt.datetime.now(dt.UTC)
        template = ingestion_pb.IngestRequest(
            org_id=self._org(org_id),
            source=source_number,  # type: ignore[arg-type]
            account=_account_info(account),
            mapping=ingestion_pb.ColumnMapping(**dict(mapping or {})),
            restore_replaced=restore_replaced,
        )
        template.pulled_at.FromDatetime(pulled_at.astimezone(dt.UTC).replace(tzinfo=None))
        summary = IngestSummary()
        pending: collections.deque[ingestion_pb.IngestRequest] = collections.deque()
        batches = _batches(template, rows, batch_size, sizes)
        # Sent but not acked: at most `window` batches, so a long export is read as it is
        # sent instead of piling up in memory; the sender thread of a failed call stops.
        window = max(1, max_in_flight)
        cond = threading.Condition()
        call = [0]
        # raised by `rows` inside gRPC's request thread, which would report only "UNKNOWN:
        # Exception iterating requests!": kept, the stream ended, and raised after the acks
        broken: list[BaseException] = []

        def requests(
            resend: list[ingestion_pb.IngestRequest], mine: int
        ) -> Iterator[ingestion_pb.IngestRequest]:
            yield from resend
            while True:
                with cond:
                    while len(pending) >= window and call[0] == mine:
                        cond.wait(0.5)
                    if call[0] != mine or broken:
                        return
                    try:
                        request = next(batches, None)
                    except Exception as exc:  # the caller's rows: theirs to see, not gRPC's
                        broken.append(exc)
                        return
                    if request is None:
                        return
                    pending.append(request)
                yield request

        attempt = 0
        while True:
            try:
                for reply in self._ingestion.Ingest(requests(list(pending), call[0])):
                    with cond:
                        sent = pending.popleft()
                        cond.notify_all()
                    summary.add(reply, sent.row_offset)
                    if progress is not None:
                        progress(summary)
                if sent_as is not None:  # sent in day order, or summed
                    _renumber(summary, sent_as)
                if broken:
                    raise stored_before(broken[0], summary)
                return summary
            except grpc.RpcError as exc:
                with cond:
                    call[0] += 1
                    cond.notify_all()
                failure = RpcFailure.from_rpc_error(exc)
                overload = retry_delay(exc)
                if (
                    failure.code != grpc.StatusCode.UNAVAILABLE and overload is None
                ) or attempt >= retries:
                    raise stored_before(failure, summary) from None
                attempt += 1
                summary.retries += 1
                time.sleep(overload if overload is not None else min(0.5 * 2 ** (attempt - 1), 8.0))

    def register_external_factor(
        self,
        name: str,
        kind: str,
        values: Mapping[dt.date, float] | Mapping[str, float],
        *,
        source: str = "",
        unit: str = "",
        geo: str = "",
        org_id: str | None = None,
    ) -> int:
        """Register (or replace) a daily external series; ``kind`` is macro, competitor,
        promotion, demand, weather, season, other or fx_rate (an exchange rate named
        fx_<from>_<to>, which attribution converts money with). ``values``: day → value, the
        days as dates, Timestamps or ISO strings (a pandas Series indexed by day works).
        Returns the number of values stored."""
        dated = [
            (required_date(d, f"values[{d!r}]"), as_number(v, f"values[{d!r}]"))
            for d, v in values.items()
        ]
        request = ingestion_pb.RegisterExternalFactorRequest(
            org_id=self._org(org_id),
            series=ingestion_pb.ExternalFactorSeries(
                name=name,
                type=choice(  # type: ignore[arg-type]
                    md_pb.ExternalFactorType, "EXTERNAL_FACTOR_TYPE_", kind, "kind", optional=False
                ),
                source=source,
                unit=unit,
                geo=geo,
                values=[ingestion_pb.DatedValue(date=_date_pb(d), value=v) for d, v in dated],
            ),
        )
        return self._unary(lambda: self._ingestion.RegisterExternalFactor(request)).value_count

    def list_external_factors(
        self, *, include_values: bool = False, org_id: str | None = None
    ) -> list[ingestion_pb.ExternalFactorSeries]:
        """Every series of the org, by name then geo, following page tokens."""
        out: list[ingestion_pb.ExternalFactorSeries] = []
        request = ingestion_pb.ListExternalFactorsRequest(
            org_id=self._org(org_id), include_values=include_values
        )
        while True:
            reply = self._unary(lambda: self._ingestion.ListExternalFactors(request))
            out.extend(reply.series)
            if not reply.next_page_token:
                return out
            request.page_token = reply.next_page_token

    def delete_experiments(
        self,
        experiment_ids: Sequence[str] = (),
        *,
        all_experiments: bool = False,
        dry_run: bool = False,
        org_id: str | None = None,
    ) -> ingestion_pb.DeleteExperimentsResponse:
        """Delete these registered experiments of the org with their recorded results (or,
        with ``all_experiments=True``, every one); ``dry_run`` lists them only. Ids the org
        has not registered come back in ``not_found`` (a retry is safe). More than 1,000
        ids are sent 1,000 a call, the replies joined. Needs a key with ``records.delete``."""
        org = self._org(org_id)
        reply = ingestion_pb.DeleteExperimentsResponse()
        for part in _parts(experiment_ids, all_experiments):
            request = ingestion_pb.DeleteExperimentsRequest(
                org_id=org, experiment_ids=part, all=all_experiments, dry_run=dry_run
            )
            reply.MergeFrom(self._unary(lambda r=request: self._ingestion.DeleteExperiments(r)))  # type: ignore[misc]
        return reply

    def delete_external_factors(
        self,
        names: Sequence[str] = (),
        *,
        all_factors: bool = False,
        dry_run: bool = False,
        org_id: str | None = None,
    ) -> ingestion_pb.DeleteExternalFactorsResponse:
        """Delete these registered external series of the org, every geo of each name (or,
        with ``all_factors=True``, every series); ``dry_run`` lists them only. Names not
        registered come back in ``not_found``. Needs a key with ``records.delete``."""
        org = self._org(org_id)
        reply = ingestion_pb.DeleteExternalFactorsResponse()
        for part in _parts(names, all_factors):
            request = ingestion_pb.DeleteExternalFactorsRequest(
                org_id=org, names=part, all=all_factors, dry_run=dry_run
            )
            part_reply = self._unary(lambda r=request: self._ingestion.DeleteExternalFactors(r))  # type: ignore[misc]
            reply.deleted_names.extend(part_reply.deleted_names)
            reply.not_found.extend(part_reply.not_found)
            reply.series_count += part_reply.series_count
        return reply


# Ids or names one delete call takes (the RPCs' bound).
_DELETE_PART = 1000


def _parts(names: Sequence[str], every: bool) -> list[list[str]]:
    """The names in calls' worth (one empty part with ``every``, or with none: the server
    names what is missing)."""
    listed = list(names)
    if every or not listed:
        return [listed]
    return [listed[k : k + _DELETE_PART] for k in range(0, len(listed), _DELETE_PART)]


def _keyed_rows(
    rows: Iterable[str | Mapping[str, Any]],
    mapping: dict[str, str],
    *,
    sum_rows: bool,
    size: int,
    decimal: str | None = None,
    zone: str = "",
    currency: str = "",
) -> tuple[list[str], list[int], list[int]]:
    """A mapped source's rows as JSON text (text measures read by ``decimal`` when given),
    refused (ValueError) when rows of a key differ, or each key's rows summed with
    ``sum_rows`` (refused when a column's '.' groups thousands and no ``decimal`` says so);
    keyed by their day in ``zone``; in day order, each day's rows in one batch (the service
    compares a key's rows within a batch, after mapping the geo: "NY" and "New York" far
    apart in the input would otherwise restate each other); and each sent row's index in
    the input, and the batches' sizes (at most ``size`` unless a day has more)."""
    texts = [(i, row_text(r, i)) for i, r in enumerate(rows)]
    if decimal is not None:
        texts = list(read_measures(texts, mapping, decimal))
    elif sum_rows and (problem := grouped_problem(texts, mapping, currency)) is not None:
        raise InvalidArgument(problem, field="rows")
    if sum_rows:
        texts = list(generic_rows.summed(texts, mapping, zone))
    elif (clash := generic_rows.conflict(texts, mapping, zone)) is not None:
        raise InvalidArgument(clash.text("rows", flag="sum_rows=True"), field="rows")
    if (total := generic_rows.total_geo(texts, mapping, zone)) is not None:
        raise InvalidArgument(total.text("rows").replace("line", "row"), field="rows")
    days = [generic_rows.day_of(text, mapping, zone) for _, text in texts]
    order = sorted(range(len(texts)), key=days.__getitem__)  # stable: input order in a day
    return (
        [texts[k][1] for k in order],
        [texts[k][0] for k in order],
        _day_chunks([days[k] for k in order], size),
    )


def _day_chunks(days: list[str], size: int) -> list[int]:
    """Batch sizes over rows sorted by day: a batch ends where a day would overflow it, and
    only a day of more than ``size`` rows is split (its rows may then meet in two batches)."""
    out: list[int] = []
    current = i = 0
    while i < len(days):
        j = i
        while j < len(days) and days[j] == days[i]:
            j += 1
        run = j - i
        if current and current + run > size:
            out.append(current)
            current = 0
        while run > size:
            out.append(size)
            run -= size
        current += run
        i = j
    if current:
        out.append(current)
    return out


def _renumber(summary: IngestSummary, sent_as: list[int]) -> None:
    """Rejections and notes carry the input's row index instead of the sent row's."""

    def at(i: int) -> int:
        return sent_as[i] if 0 <= i < len(sent_as) else i

    summary.rejections = [(at(i), f, r, m) for i, f, r, m in summary.rejections]
    summary.notes = [(at(i), f, k, m) for i, f, k, m in summary.notes]


def _account_info(account: Mapping[str, Any]) -> ingestion_pb.AccountInfo:
    info = ingestion_pb.AccountInfo(
        account_id=str(account.get("account_id", "")),
        timezone=str(account.get("timezone", "")),
        currency_code=str(account.get("currency_code", account.get("currency", ""))),
        country_code=str(account.get("country_code", account.get("country", ""))),
        geo_keys={str(k): str(v) for k, v in dict(account.get("geo_keys") or {}).items()},
    )
    # set only when the account says: unset is "not said", not false / 0
    if account.get("taxes_included") is not None:
        info.taxes_included = bool(account["taxes_included"])
    if account.get("tax_rate") is not None:
        info.tax_rate = float(account["tax_rate"])
    return info


def _batches(
    template: ingestion_pb.IngestRequest,
    rows: Iterable[str | Mapping[str, Any]],
    size: int,
    sizes: list[int] | None = None,
) -> Iterator[ingestion_pb.IngestRequest]:
    """Requests of ``size`` rows (of ``sizes[k]`` rows for the k-th, when given); the batch
    id hashes the template and the rows."""
    base = hashlib.sha256(template.SerializeToString(deterministic=True))
    chunk: list[str] = []
    offset = 0
    wanted = iter(sizes or ())
    target = next(wanted, size)

    def request() -> ingestion_pb.IngestRequest:
        digest = base.copy()
        for line in chunk:
            digest.update(line.encode())
            digest.update(b"\n")
        out = ingestion_pb.IngestRequest()
        out.CopyFrom(template)
        out.batch_id = f"b-{digest.hexdigest()[:32]}"
        out.row_offset = offset
        out.json_rows.extend(chunk)
        return out

    for row in rows:
        chunk.append(row_text(row, offset + len(chunk)))
        if len(chunk) == target:
            yield request()
            offset += len(chunk)
            chunk = []
            target = next(wanted, size)
    if chunk:
        yield request()


def row_text(row: object, index: int) -> str:
    """One row of ``ingest`` as the JSON text sent: a JSON line as is, a mapping by
    :func:`json_row`. Anything else (a tuple from ``df.itertuples()`` or ``df.iterrows()``)
    is InvalidArgument naming what to pass: it went as a JSON array, every row refused
    "malformed: row is not a JSON object" (R45-F6)."""
    if isinstance(row, str):
        return row
    if isinstance(row, Mapping):
        return json_row(row)
    raise InvalidArgument(
        f"rows[{index}] is a {type(row).__name__}, not a row: each row is a dict (column → "
        "value) or a JSON line; for a pandas frame pass df.to_dict('records') (not "
        "df.itertuples() or df.iterrows())",
        field="rows",
    )


def _refuse_frame(rows: object) -> None:
    """A DataFrame iterates its column names, which went as rows (each "not valid JSON", the
    summary counting columns as rows): refused naming what to pass (R45-F6)."""
    kind = type(rows)
    if kind.__module__.split(".")[0] == "pandas" and kind.__name__ in ("DataFrame", "Series"):
        raise InvalidArgument(
            f"rows is a pandas {kind.__name__}: pass its rows as dicts, df.to_dict('records')",
            field="rows",
        )


def json_row(row: Mapping[str, Any]) -> str:
    """``row`` as compact JSON text, as the service reads it. What JSON has no value for is
    written so that the row's refusal names the column instead of failing the call: NaN, inf,
    None, ``pd.NA``, ``NaT`` → null (a missing value); dates and datetimes (``pd.Timestamp``)
    → ISO text (a local date-time's day is its date; one with a zone is refused as such);
    numpy scalars and Decimals → numbers; anything else → ``{"unsupported": "<type>: <repr>"}``,
    an object that a mapped field refuses by name (an unmapped column is not read)."""
    try:
        return json.dumps(row, separators=(",", ":"), allow_nan=False)
    except (TypeError, ValueError):
        return json.dumps(_plain(row), separators=(",", ":"), allow_nan=False)


def _plain(value: Any) -> Any:
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, Mapping):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    if _missing(value):
        return None
    if type(value).__name__ == "datetime64":  # its .item() is an int at ns resolution
        return str(value)
    if isinstance(value, dt.date):  # datetime and pd.Timestamp too
        return value.isoformat()
    if isinstance(value, decimal.Decimal):
        return str(value)  # exact, and a number string the service reads as one
    item = getattr(value, "item", None)
    if callable(item) and type(value).__module__ == "numpy":
        return _plain(item())
    shown = repr(value)
    shown = shown if len(shown) <= 60 else shown[:60] + "…"
    return {"unsupported": f"{type(value).__name__}: {shown}"}


def _missing(value: Any) -> bool:
    """NaN-like: a value unequal to itself (NaT, numpy NaN), or ``pd.NA``, whose comparison
    has no truth value."""
    try:
        return bool(value != value)
    except (TypeError, ValueError):
        return type(value).__name__ == "NAType"
