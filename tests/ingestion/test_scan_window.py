"""The history Scan reads only the instants a local day's midnight can fall on: check the
bound against every IANA zone's actual midnights (as the pipeline computes them)."""

from __future__ import annotations

import zoneinfo

import numpy as np
import pandas as pd

from ingestion_svc.pipeline import _utc_midnights
from ingestion_svc.stream import _DAY_US, _EARLIEST_OFFSET_US, _LATEST_OFFSET_US


def test_every_zones_local_midnights_fall_inside_the_scan_window() -> None:
    days = pd.date_range("1990-01-01", "2035-12-31", freq="61D").to_numpy("datetime64[us]")
    zones = sorted(zoneinfo.available_timezones())
    frame = pd.DataFrame(
        {
            "timezone": np.repeat(np.array(zones, dtype=object), len(days)),
            "local_date": np.tile(days, len(zones)),
        }
    )
    stamps, _, unknown = _utc_midnights(frame)
    assert not unknown.any()
    us = stamps.view(np.int64)
    day = frame["local_date"].to_numpy("datetime64[D]").astype(np.int64)
    offset = us - day * _DAY_US
    assert offset.min() >= -_EARLIEST_OFFSET_US, frame["timezone"].iat[int(offset.argmin())]
    assert offset.max() <= _LATEST_OFFSET_US, frame["timezone"].iat[int(offset.argmax())]
