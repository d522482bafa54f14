"""MediaPanel.rows_within: the detectors beside the model read the panel's days and geos."""

from __future__ import annotations

import numpy as np
import pandas as pd

from causal_svc.attribution.panel import MediaPanel


def _panel() -> MediaPanel:
    dates = np.arange(np.datetime64("2024-10-01"), np.datetime64("2024-10-11"))
    z = np.zeros((1, 2, dates.size))
    return MediaPanel(
        geos=("CA", "NY"), dates=dates, channels=("meta",), outcome=z[0], media=z, spend=z,
        platform_outcome=np.zeros(1), population=np.ones(2),
    )  # fmt: skip


def test_rows_outside_the_panels_days_or_geos_are_left_out() -> None:
    panel = _panel()
    first = int(np.datetime64("2024-10-01", "D").astype(np.int64))
    days = [first - 1, first, first + 9, first + 10, first + 400]
    frame = pd.DataFrame({"date": days * 2, "geo": ["CA"] * 5 + ["TX"] * 5, "x": range(10)})
    kept = panel.rows_within(frame)
    assert kept["x"].tolist() == [1, 2] and kept.index.tolist() == [0, 1]
    # a table without geos (campaign × day) is cut by day only; datetimes read as days
    national = pd.DataFrame({"date": pd.to_datetime(np.array(days, dtype="datetime64[D]")),
                             "x": range(5)})  # fmt: skip
    assert panel.rows_within(national)["x"].tolist() == [1, 2]
    inside = frame.iloc[[1, 2]].reset_index(drop=True)
    assert panel.rows_within(inside) is inside  # nothing to cut: the frame itself
