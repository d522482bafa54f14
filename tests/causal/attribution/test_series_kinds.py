"""A registered series stands for its DAG node by the kind the org gave it, whatever its name:
'consumer_confidence' registered as macro is the macro index adjusted for, not a confounder
the data lacks (the report said both)."""

from __future__ import annotations

import numpy as np

from causal_svc.attribution import ModelSpec
from causal_svc.attribution.panel import MediaPanel
from causal_svc.attribution.stages import describe


def _panel(national: dict[str, np.ndarray]) -> MediaPanel:
    dates = np.arange(np.datetime64("2024-10-01"), np.datetime64("2024-10-11"))
    z = np.zeros((1, 2, dates.size))
    return MediaPanel(
        geos=("CA", "NY"), dates=dates, channels=("meta",), outcome=z[0], media=z, spend=z,
        platform_outcome=np.zeros(1), population=np.ones(2), national=national,
    )  # fmt: skip


def test_a_series_counts_by_its_registered_kind() -> None:
    series = {"consumer_confidence": np.ones(10), "share_of_voice": np.ones(10)}
    kinds = {"consumer_confidence": "macro", "share_of_voice": "competitor"}
    by_kind = describe(_panel(series), ModelSpec(), kinds)
    assert {"macro_index", "competitor_activity"} <= set(by_kind.confounders)
    assert not {"macro_index", "competitor_activity"} & set(by_kind.unobserved)
    # without kinds (a panel built from frames), only a word in the name says it
    unnamed = describe(_panel(series), ModelSpec())
    assert {"macro_index", "competitor_activity"} <= set(unnamed.unobserved)
    named = describe(_panel({"macro_index": np.ones(10)}), ModelSpec())
    assert "macro_index" in named.confounders
    # a kind that is no DAG node (weather) stands for nothing, even with a telling name
    weather = describe(
        _panel({"promo_weather": np.ones(10)}), ModelSpec(), {"promo_weather": "weather"}
    )
    assert "promotion" in weather.unobserved
