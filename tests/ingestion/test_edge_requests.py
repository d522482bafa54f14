"""Every ingestion RPC checks its request at the edge: an edge value is INVALID_ARGUMENT naming
the field (never INTERNAL), on a real ingestion server; and the pieces behind it in process
(JSON depth and size, numbers and text of any JSON type, the shared record rules)."""

from __future__ import annotations

import datetime as dt
import json
import math
from collections.abc import Callable, Iterator
from typing import Any

import grpc
import numpy as np
import pandas as pd
import pytest
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import ingestion_pb2_grpc as ingestion_grpc
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.app import build as ingestion_build
from ingestion_svc.connectors.base import Checks, numbers
from ingestion_svc.parse import MAX_DEPTH, MAX_ROW_CHARS, parse_json_rows
from mesh.runtime import protoconv, record_rules
from mesh.runtime.inprocess import running_services
from tests.ingestion.conftest import rich_error

INVALID = grpc.StatusCode.INVALID_ARGUMENT


@pytest.fixture(scope="module")
def stub(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ingestion_grpc.IngestionServiceStub]:
    with running_services(
        {"ingestion": ingestion_build}, tmp_path_factory.mktemp("edges")
    ) as services:
        yield ingestion_grpc.IngestionServiceStub(
            grpc.insecure_channel(services["ingestion"].address)
        )


def _violations(call: Callable[[], Any]) -> list[str]:
    with pytest.raises(grpc.RpcError) as err:
        call()
    code, _, violations, _ = rich_error(err.value)
    assert code == INVALID, err.value
    return [f for f, _ in violations]


def _date(y: int, m: int, d: int) -> common_pb.Date:
    return common_pb.Date(year=y, month=m, day=d)


@pytest.mark.parametrize(
    ("change", "field"),
    [
        ({"country": "USA"}, "country"),
        ({"country": "U1"}, "country"),
        ({"country": "x" * 10_000}, "country"),
        ({"subdivision": "ZZ"}, "subdivision"),
        ({"subdivision": "C/A"}, "subdivision"),
        ({"end_date": _date(2200, 12, 31)}, "end_date"),  # a range of 65,000 days
        ({"start_date": _date(2024, 2, 30)}, "start_date"),
        ({"org_id": "bad org"}, "org_id"),
    ],
)
def test_calendar_edges(stub, change: dict[str, Any], field: str) -> None:  # type: ignore[no-untyped-def]
    fields: dict[str, Any] = {
        "country": "US",
        "start_date": _date(2024, 1, 1),
        "end_date": _date(2024, 1, 5),
        **change,
    }
    request = ingestion_pb.GetCalendarRequest(**fields)
    assert field in _violations(lambda: stub.GetCalendar(request, timeout=30))


def _series(**kw: Any) -> ingestion_pb.ExternalFactorSeries:
    fields: dict[str, Any] = {
        "name": "cci",
        "type": md_pb.EXTERNAL_FACTOR_TYPE_MACRO,
        "values": [ingestion_pb.DatedValue(date=_date(2024, 1, 1), value=1.0)],
        **kw,
    }
    return ingestion_pb.ExternalFactorSeries(**fields)


@pytest.mark.parametrize(
    ("series", "field"),
    [
        (_series(values=[ingestion_pb.DatedValue(date=_date(1, 1, 1), value=1)]), "series.values[0].date"),
        (_series(values=[ingestion_pb.DatedValue(date=_date(9999, 12, 31), value=1)]), "series.values[0].date"),
        (_series(values=[ingestion_pb.DatedValue(date=_date(2024, 1, 1), value=math.nan)]), "series.values[0].value"),
        (_series(values=[ingestion_pb.DatedValue(date=_date(2024, 1, 1), value=-math.inf)]), "series.values[0].value"),
        (_series(values=[ingestion_pb.DatedValue(date=_date(2024, 1, 1), value=1e300), ingestion_pb.DatedValue(date=_date(2024, 1, 2), value=1)]), "series.values[0].value"),
        (_series(type=99), "series.type"),
        (_series(unit="u" * 1000), "series.unit"),
        (_series(values=[ingestion_pb.DatedValue(date=_date(2024, 1, 1), value=1)] * 20_001), "series.values"),
    ],
)  # fmt: skip
def test_external_factor_edges(stub, series: ingestion_pb.ExternalFactorSeries, field: str) -> None:  # type: ignore[no-untyped-def]
    request = ingestion_pb.RegisterExternalFactorRequest(org_id="acme", series=series)
    assert field in _violations(lambda: stub.RegisterExternalFactor(request, timeout=30))


def _experiment(**kw: Any) -> md_pb.CausalExperiment:
    fields: dict[str, Any] = {
        "experiment_id": "geo-1",
        "org_id": "acme",
        "start_date": _date(2024, 11, 1),
        "end_date": _date(2024, 11, 30),
        "randomization_unit": common_pb.RANDOMIZATION_UNIT_GEO,
        "treatment_units": ["US-CA"],
        "control_units": ["US-NY"],
        **kw,
    }
    return md_pb.CausalExperiment(**fields)


@pytest.mark.parametrize(
    ("experiment", "field"),
    [
        (_experiment(treatment_share=math.nan), "experiment.treatment_share"),
        (_experiment(treatment_share=1.0), "experiment.treatment_share"),
        (_experiment(treatment_share=-0.5), "experiment.treatment_share"),
        (_experiment(randomization_unit=99), "experiment.randomization_unit"),
        (_experiment(data_sources=[common_pb.DATA_SOURCE_META, 99]), "experiment.data_sources[1]"),
        (_experiment(treatment_type=42), "experiment.treatment_type"),
        (_experiment(status=-3), "experiment.status"),
        (_experiment(start_date=_date(1, 1, 1)), "experiment.start_date"),
        (_experiment(end_date=_date(9999, 12, 31)), "experiment.end_date"),
        (_experiment(treatment_config=md_pb.TreatmentConfig(intensity=1e9)), "experiment.treatment_config.intensity"),
        (_experiment(control_config=md_pb.TreatmentConfig(spend_multiplier=-1)), "experiment.control_config.spend_multiplier"),
        (_experiment(treatment_config=md_pb.TreatmentConfig(intensity=math.inf)), "experiment.treatment_config.intensity"),
        (_experiment(statistical_power=md_pb.StatisticalPower(alpha=2.0)), "experiment.statistical_power.alpha"),
        (_experiment(statistical_power=md_pb.StatisticalPower(duration_days=-1)), "experiment.statistical_power.duration_days"),
        (_experiment(result=md_pb.ExperimentResult(lift_absolute=math.nan)), "experiment.result.lift_absolute"),
        (_experiment(hypothesis="h" * 20_000), "experiment.hypothesis"),
        (_experiment(campaign_ids=["c" * 300]), "experiment.campaign_ids[0]"),
        (_experiment(campaign_ids=["c1", "c2\x00"]), "experiment.campaign_ids[1]"),
        (_experiment(treatment_units=[f"u{i}" for i in range(10_001)]), "experiment.treatment_units"),
    ],
)  # fmt: skip
def test_experiment_edges(stub, experiment: md_pb.CausalExperiment, field: str) -> None:  # type: ignore[no-untyped-def]
    request = ingestion_pb.CreateExperimentRequest(experiment=experiment)
    assert field in _violations(lambda: stub.CreateExperiment(request, timeout=30))


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (ingestion_pb.ListExperimentsRequest(org_id="acme", page_size=-1), "page_size"),
        (ingestion_pb.ListExperimentsRequest(org_id="acme", page_token="t" * 5000), "page_token"),
        (ingestion_pb.ListExperimentsRequest(org_id="acme", active_on=_date(9999, 1, 1)), "active_on"),
    ],
)  # fmt: skip
def test_list_experiments_edges(
    stub, request_: ingestion_pb.ListExperimentsRequest, field: str
) -> None:  # type: ignore[no-untyped-def]
    assert field in _violations(lambda: stub.ListExperiments(request_, timeout=30))


def test_list_experiments_page_size_above_the_maximum_is_lowered(stub) -> None:  # type: ignore[no-untyped-def]
    request = ingestion_pb.ListExperimentsRequest(org_id="acme", page_size=2**31 - 1)
    assert stub.ListExperiments(request, timeout=30).next_page_token == ""


def _ingest(**kw: Any) -> ingestion_pb.IngestRequest:
    account = kw.pop("account", {})
    fields: dict[str, Any] = {
        "org_id": "acme",
        "source": common_pb.DATA_SOURCE_META,
        "batch_id": "b1",
        "json_rows": ["{}"],
        "account": ingestion_pb.AccountInfo(
            **{"timezone": "America/New_York", "currency_code": "USD", **account}
        ),
        **kw,
    }
    return ingestion_pb.IngestRequest(**fields)


@pytest.mark.parametrize(
    ("request_", "field"),
    [
        (_ingest(batch_id="b" * 257), "batch_id"),
        (_ingest(batch_id="b\x00\n1"), "batch_id"),
        (_ingest(source=-1), "source"),
        (_ingest(account={"timezone": "Z" * 100_000}), "account.timezone"),
        (_ingest(account={"timezone": "../../etc/passwd"}), "account.timezone"),
        (_ingest(account={"account_id": "a" * 1000}), "account.account_id"),
        (_ingest(account={"account_id": "act_1\x00"}), "account.account_id"),
        (_ingest(account={"currency_code": "€" * 300}), "account.currency_code"),
        (_ingest(account={"geo_keys": {"k" * 300: "CA"}}), "account.geo_keys["),
        (_ingest(mapping=ingestion_pb.ColumnMapping(date="d" * 300)), "mapping.date"),
    ],
)  # fmt: skip
def test_ingest_request_edges(stub, request_: ingestion_pb.IngestRequest, field: str) -> None:  # type: ignore[no-untyped-def]
    fields = _violations(lambda: list(stub.Ingest(iter([request_]), timeout=30)))
    assert any(f.startswith(field) for f in fields), fields


# ------------------------------------------------------------------------- in process


def test_json_depth_is_bounded_without_recursion() -> None:
    ok = '{"a":' + "[" * (MAX_DEPTH - 1) + "]" * (MAX_DEPTH - 1) + "}"
    deep = '{"a":' + "[" * MAX_DEPTH + "]" * MAX_DEPTH + "}"
    in_strings = json.dumps({"s": "[" * 10_000})  # brackets inside a string are text
    rows, _, rejected = parse_json_rows([ok, deep, in_strings, "[" * 100_000, "{" * 3])
    assert rows[0] is not None
    assert rows[2] == {"s": "[" * 10_000}
    assert [(r.row_index, r.field, r.reason) for r in rejected] == [
        (1, "$", "malformed"),
        (3, "$", "malformed"),
        (4, "$", "malformed"),
    ]
    assert "nested more than 20" in rejected[0].message


def test_row_size_and_lone_surrogates_are_the_rows_rejection() -> None:
    big = json.dumps({"campaign_name": "x" * MAX_ROW_CHARS})
    rows, raw, rejected = parse_json_rows(
        [big, '{"a":"\\ud800"}', '{"a":"\\ud83d\\ude00"}', '{"a":"\ud800"}']
    )
    assert rows[2] == {"a": "\U0001f600"}  # an escaped surrogate pair is one emoji
    assert [r.row_index for r in rejected] == [0, 1, 3]
    assert all(r.field == "$" and r.reason == "malformed" for r in rejected)
    assert len(raw) == 4


@pytest.mark.parametrize(
    ("values", "invalid"),
    [
        ([1, 2.5, int("9" * 400)], [False, False, False]),  # overflow: read as inf, not raised
        (["1", "9" * 400, "1e999", "-0"], [False, False, False, False]),
        ([True, {}, [], "１２", "1,5"], [True, True, True, True, True]),
    ],
)
def test_numbers_take_any_json_type(values: list[Any], invalid: list[bool]) -> None:
    parsed = numbers(values)
    assert parsed.invalid.tolist() == invalid


def test_number_checks_apply_the_record_rules() -> None:
    rows: list[dict[str, Any] | None] = [{}] * 6
    checks = Checks(rows)
    values = [1.0, int("9" * 400), "1e13", "-2", "5e-324", "1000000000000"]
    out = checks.number(numbers(values), "spend", required=True, rule="spend")
    got = {r.row_index: (r.reason, r.message) for r in checks.rejections}
    assert set(got) == {1, 2, 3, 4}
    assert got[1][0] == "invalid_number" and "finite" in got[1][1]
    assert got[2][0] == "invalid_number" and "at most 1e12" in got[2][1]
    assert got[3][0] == "negative_value"
    assert got[4][0] == "invalid_number" and "at least 1e-06" in got[4][1]
    assert out[[0, 5]].tolist() == [1.0, 1e12]


def test_text_fields_refuse_objects_arrays_booleans_and_long_text() -> None:
    checks = Checks([{}] * 6)
    out = checks.text(["a", 12, {}, [1], False, "x" * 5000], "campaign_id")
    assert out.tolist() == ["a", "12", None, None, None, None]
    assert [(r.row_index, r.reason) for r in checks.rejections] == [
        (2, "malformed"),
        (3, "malformed"),
        (4, "malformed"),
        (5, "malformed"),
    ]
    assert "JSON object" in checks.rejections[0].message


def test_the_record_rules_range_is_the_runtimes() -> None:
    assert (record_rules.MIN_DATE, record_rules.MAX_DATE) == (
        protoconv.MIN_DATE,
        protoconv.MAX_DATE,
    )


def test_record_rules_name_each_breach() -> None:
    frame = pd.DataFrame(
        {
            "id": ["a", "b", "c", "d"],
            "org_id": ["o"] * 4,
            "timestamp": pd.DatetimeIndex(
                ["2024-01-01", "1800-01-01", "2024-01-01", "2024-01-01"]
            ).tz_localize(dt.UTC),
            "data_source": ["meta"] * 4,
            "spend": [1.0, 1.0, 2e12, 1e-9],
            "revenue": [0.0, 0.0, 0.0, 0.0],
            "conversions": [0.0, 0.0, 0.0, np.inf],
            "impressions": np.array([1, 1, 1, 1], dtype=np.int64),
            "clicks": np.array([0, 0, 0, -1], dtype=np.int64),
            "treatment_intensity": [0.0] * 4,
            "data_quality_score": [0.5, 0.5, 1.5, 0.5],
            "version": np.array([1, 1, 1, 1], dtype=np.int64),
        }
    )
    found = record_rules.violations(frame, "o", 20)
    assert [(i, f) for i, f, _ in found] == [
        (1, "timestamp"),
        (2, "data_quality_score"),
        (2, "spend"),
        (3, "clicks"),
        (3, "conversions"),
        (3, "spend"),
    ]


def test_history_scans_get_the_callers_remaining_time() -> None:
    """An Ingest whose caller set a deadline passes what is left of it to each history scan
    (MemoryClient.scan's timeout); without one, the client's own timeout applies."""
    import time

    from ingestion_svc.stream import IngestStream, StreamDeps

    deps = StreamDeps(None, None, None, None, None)  # type: ignore[arg-type]
    assert IngestStream(deps, None)._time_left() is None
    left = IngestStream(deps, time.monotonic() + 30)._time_left()
    assert left is not None and 0 < left <= 30
    assert IngestStream(deps, time.monotonic() - 1)._time_left() == 0.001


def test_a_whole_column_step_that_raises_costs_only_its_row(
    world, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    """The safety net behind the column checks: should a connector raise on some row (a bug),
    the batch is prepared row by row and only that row is rejected."""
    from ingestion_svc import connectors, pipeline
    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from tests.ingestion.conftest import PULLED, account_of, dumps, raw_batch

    real = connectors.normalise

    def fragile(batch):  # type: ignore[no-untyped-def]
        if any(r is not None and r.get("campaign_name") == "boom" for r in batch.rows):
            raise ZeroDivisionError("a column step broke")
        return real(batch)

    monkeypatch.setattr(connectors, "normalise", fragile)
    rows = [world.raw["meta"].base_row(k) for k in range(6)]
    rows[2]["campaign_name"] = "boom"
    batch = raw_batch("meta", [dumps(r) for r in rows], account_of(world, "meta"))
    prepared = pipeline.prepare(batch)
    result = pipeline.finish(prepared, StreamHistory(), [], FactorTable.empty(), PULLED)
    assert [(r.row_index, r.field, r.reason) for r in result.rejections] == [(2, "$", "malformed")]
    assert "ZeroDivisionError" in result.rejections[0].message
    assert result.accepted == len(result.records) == 5
    assert "row by row" in caplog.text


def test_records_memory_would_refuse_are_rejected_not_sent(world) -> None:  # type: ignore[no-untyped-def]
    """An experiment stored before its doses were bounded (intensity 1e9) would make records
    memory refuses, failing the batch there: the rows it touches are rejected instead."""
    from ingestion_svc import pipeline
    from ingestion_svc.experiments import Experiment
    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from tests.ingestion.conftest import PULLED, account_of, dumps, raw_batch

    rows = [world.raw["meta"].base_row(k) for k in range(20)]
    batch = raw_batch("meta", [dumps(r) for r in rows], account_of(world, "meta"))
    prepared = pipeline.prepare(batch)
    geo = prepared.rows["geo"].iloc[0]
    legacy = Experiment(
        org_id="acme", experiment_id="old", start_date=dt.date(2024, 1, 1),
        end_date=dt.date(2025, 12, 31), randomization_unit="RANDOMIZATION_UNIT_GEO",
        treatment_units=(geo,), control_units=("US-ZZ",), treatment_intensity=1e9,
    )  # fmt: skip
    result = pipeline.finish(prepared, StreamHistory(), [legacy], FactorTable.empty(), PULLED)
    treated = set(prepared.rows.loc[prepared.rows["geo"] == geo, "row"].tolist())
    assert treated and {r.row_index for r in result.rejections} == treated
    assert {(r.field, r.reason) for r in result.rejections} == {
        ("treatment_intensity", "invalid_number")
    }
    assert result.accepted == len(result.records) == len(history := result.history_rows)
    assert len(history) == 20 - len(treated)
    assert not record_rules.violations(result.records, "acme", 5)


def test_a_time_zone_with_a_nul_is_its_rows_rejection_only(world) -> None:  # type: ignore[no-untyped-def]
    """Found by bench/fuzz_rows.py: numpy compared "America/New_York\\x00" equal to every
    New York row, rejecting all of them and leaving the NUL row without a timestamp (memory
    then refused the batch)."""
    from ingestion_svc import pipeline
    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from tests.ingestion.conftest import PULLED, account_of, dumps, raw_batch

    rows = [world.raw["google_ads"].base_row(k) for k in range(8)]
    rows[3]["customer"]["timeZone"] += "\x00"
    batch = raw_batch("google_ads", [dumps(r) for r in rows], account_of(world, "google_ads"))
    result = pipeline.finish(
        pipeline.prepare(batch), StreamHistory(), [], FactorTable.empty(), PULLED
    )
    # the connector refuses the NUL itself now (a row's text holds no control characters),
    # before the zone is compared: still this row's rejection alone
    assert [(r.row_index, r.field, r.reason) for r in result.rejections] == [
        (3, "customer.timeZone", "malformed")
    ]
    assert result.accepted == len(result.records) == 7
    assert not record_rules.violations(result.records, "acme", 5)
