"""Index labels for :class:`~causal_svc.estimators.result.Series`: ISO dates or plain numbers."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable

import numpy as np
import pandas as pd


def time_label(value: object) -> str:
    """One time value as a string: ``2024-03-01`` for a midnight date, ISO otherwise, else str."""
    if isinstance(value, (pd.Timestamp, dt.datetime, dt.date, np.datetime64)):
        stamp = pd.Timestamp(value)
        if stamp == stamp.normalize():
            return stamp.date().isoformat()
        return stamp.isoformat()
    if isinstance(value, (np.integer, np.floating)):
        return str(value.item())
    return str(value)


def time_labels(values: Iterable[object]) -> tuple[str, ...]:
    return tuple(time_label(v) for v in values)
