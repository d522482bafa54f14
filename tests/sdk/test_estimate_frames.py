"""`estimate(frame)` with the column types `pd.read_sql` gives (R45-F2), against real causal,
memory and ingestion servers: a Decimal outcome (SQL NUMERIC) and a `datetime.date` time column
(SQL DATE) went as text and were refused "must be numeric, got string"; they now estimate as
their float/datetime64 twins do. A uint64 column past int64 is refused naming it; it wrapped to
negative numbers."""

from __future__ import annotations

import decimal
from collections.abc import Iterator

import numpy as np
import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.runtime.tables import frame_to_table
from mesh.sdk import InvalidArgument, LiftOS, RpcFailure


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiftOS]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        peers = PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})
        with LiftOS(peers, org_id="tables") as lo:
            yield lo


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame([(f"g{u:02d}", d) for u in range(20) for d in range(40)],
                      columns=["geo", "d"])  # fmt: skip
    df["day"] = pd.Timestamp("2024-03-01") + pd.to_timedelta(df.d, unit="D")
    df["treated_post"] = ((df.geo < "g10") & (df.d >= 20)).astype(int)
    df["revenue"] = (1000 + 50 * df.treated_post + rng.normal(0, 10, len(df))).round(2)
    return df.drop(columns="d")


def _effect(client: LiftOS, frame: pd.DataFrame) -> tuple[float, float, float, int]:
    e = client.estimate(frame, method="did", outcome="revenue", treatment="treated_post",
                        unit="geo", time="day", skip_refutation=True).estimate  # fmt: skip
    return round(e.point_estimate, 9), round(e.ci_lower, 9), round(e.ci_upper, 9), e.n


def test_decimal_outcomes_and_date_objects_estimate_as_their_twins(client: LiftOS) -> None:
    panel = _panel()
    baseline = _effect(client, panel)
    assert 45 < baseline[0] < 55 and baseline[3] == len(panel)
    as_decimal = panel.assign(revenue=[decimal.Decimal(str(v)) for v in panel.revenue])
    assert as_decimal.revenue.dtype == object
    assert _effect(client, as_decimal) == baseline
    as_dates = panel.assign(day=panel.day.dt.date)
    assert as_dates.day.dtype == object
    assert _effect(client, as_dates) == baseline


def test_a_missing_decimal_is_still_named_by_the_server(client: LiftOS) -> None:
    panel = _panel()
    cells: list[object] = [decimal.Decimal(str(v)) for v in panel.revenue]
    cells[5] = None
    with pytest.raises(RpcFailure) as info:
        _effect(client, panel.assign(revenue=cells))
    assert "revenue" in info.value.message and "missing" in info.value.message


def test_an_unsigned_column_past_int64_is_refused_by_name(client: LiftOS) -> None:
    panel = _panel().assign(big=np.full(800, 2**64 - 1, dtype="uint64"))
    with pytest.raises(InvalidArgument, match="column 'big' holds 18446744073709551615"):
        _effect(client, panel)
    small = frame_to_table(pd.DataFrame({"x": np.array([2**63 - 1, 5], dtype="uint64")}))
    assert list(small.columns[0].int64s.values) == [2**63 - 1, 5]
