"""`mesh.sdk.to_frame`: a result as a DataFrame that keeps zeros and int64 as numbers (R45-F1).
The obvious ``pd.json_normalize([c.to_dict() for c in r.channels])`` held NaN for every 0
(proto3 JSON leaves defaults out: an unestablished channel's lower bound, a zero estimate) and
int64 as text. The estimate and the analysis list come from real causal, memory and ingestion
servers."""

from __future__ import annotations

import datetime as dt
import math
import subprocess
import sys
from collections.abc import Iterator

import liftos_dc.liftos.v1 as dc
import numpy as np
import pandas as pd
import pytest

from causal_svc.app import build as causal_build
from ingestion_svc.app import build as ingestion_build
from memory_svc.app import build as memory_build
from mesh.runtime.config import PeerConfig
from mesh.runtime.inprocess import running_services
from mesh.sdk import LiftOS, to_frame


@pytest.fixture(scope="module")
def client(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LiftOS]:
    builds = {"memory": memory_build, "ingestion": ingestion_build, "causal": causal_build}
    with running_services(builds, tmp_path_factory.mktemp("mesh")) as services:
        peers = PeerConfig.from_env().with_overrides(**{s: r.address for s, r in services.items()})
        with LiftOS(peers, org_id="frames") as lo:
            yield lo


def _panel() -> pd.DataFrame:
    rng = np.random.default_rng(0)
    df = pd.DataFrame([(f"g{u:02d}", d) for u in range(10) for d in range(20)],
                      columns=["geo", "day"])  # fmt: skip
    df["treated_post"] = ((df.geo < "g05") & (df.day >= 10)).astype(int)
    df["revenue"] = 1000 + 50 * df.treated_post + rng.normal(0, 10, len(df))
    return df


def test_a_served_estimate_and_its_listing_as_frames(client: LiftOS) -> None:
    panel = _panel()
    reply = client.estimate(panel, method="did", outcome="revenue", treatment="treated_post",
                            unit="geo", time="day", skip_refutation=True)  # fmt: skip
    assert isinstance(reply.estimate.to_dict()["n"], str)  # proto3 JSON's int64: the old idiom
    frame = to_frame(reply.estimate)
    assert len(frame) == 1
    assert frame.loc[0, "n"] == len(panel) and pd.api.types.is_integer_dtype(frame["n"])
    assert math.isclose(frame.loc[0, "point_estimate"], reply.estimate.point_estimate)
    assert frame.loc[0, "method"] == "ESTIMATION_METHOD_DID"
    listed = to_frame(client.list_analyses(kind="effect_estimate"))
    assert listed["analysis_id"].tolist() == [reply.analysis_id]
    assert listed.loc[0, "kind"] == "ANALYSIS_KIND_EFFECT_ESTIMATE"


def test_zeros_stay_numbers_and_dates_are_dates() -> None:
    channels = [
        dc.ChannelAttribution(channel="tiktok", spend=dc.Money(amount=0.0),
                              incremental_roas=dc.Interval(estimate=0.0, lower=0.0, upper=2.4)),
        dc.ChannelAttribution(channel="pmax", spend=dc.Money(amount=9.5),
                              incremental_roas=dc.Interval(estimate=4.0, lower=1.0, upper=7.0)),
        dc.ChannelAttribution(channel="unset"),  # no interval: NaN, not a column of None
    ]  # fmt: skip
    old = pd.json_normalize([c.to_dict() for c in channels])
    assert math.isnan(old.loc[0, "incrementalRoas.lower"])  # what a notebook got
    frame = to_frame(channels)
    assert frame["incremental_roas.lower"].tolist()[:2] == [0.0, 1.0]
    assert frame["incremental_roas.estimate"].iloc[:2].mean() == 2.0
    assert frame["spend.amount"].tolist()[:2] == [0.0, 9.5]
    assert math.isnan(frame.loc[2, "incremental_roas.lower"])
    assert "incremental_roas" not in frame.columns
    summary = dc.AnalysisSummary(
        analysis_id="an-1", record_count=30800,
        date_range=dc.DateRange(start_date=dc.Date(year=2024, month=9, day=15),
                                end_date=dc.Date(year=2024, month=12, day=31)),
    )  # fmt: skip
    row = to_frame([summary]).iloc[0]
    assert row["record_count"] == 30800 and not isinstance(row["record_count"], str)
    assert row["date_range.start_date"] == dt.date(2024, 9, 15)
    assert to_frame([dc.Interval(estimate=float("nan"))])["estimate"].isna().all()


def test_importing_the_sdk_does_not_load_pandas() -> None:
    code = "import sys, mesh.sdk; print('pandas' in sys.modules)"
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60, check=True)  # fmt: skip
    assert run.stdout.strip() == "False"
