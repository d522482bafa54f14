"""Enum numbers ↔ the short lower-case names frames hold (``DATA_SOURCE_META`` → ``"meta"``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import pandas as pd
from liftos.v1 import common_pb2 as common_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from mesh.runtime.exceptions import InvalidInput


def _enum_table(enum: Any, prefix: str) -> tuple[np.ndarray, dict[str, int]]:
    items = enum.items()
    top = max(v for _, v in items)
    names = np.array(["unknown"] * (top + 2), dtype=object)
    lookup: dict[str, int] = {}
    for full, value in items:
        short = full.removeprefix(prefix).lower()
        names[value] = short
        lookup[short] = value
    return names, lookup


ENUMS: dict[str, tuple[np.ndarray, dict[str, int]]] = {
    "data_source": _enum_table(common_pb.DataSource, "DATA_SOURCE_"),
    "campaign_objective": _enum_table(md_pb.CampaignObjective, "CAMPAIGN_OBJECTIVE_"),
    "treatment_group": _enum_table(md_pb.TreatmentGroup, "TREATMENT_GROUP_"),
    "randomization_unit": _enum_table(common_pb.RandomizationUnit, "RANDOMIZATION_UNIT_"),
    "day_of_week": _enum_table(md_pb.DayOfWeek, "DAY_OF_WEEK_"),
    "season": _enum_table(md_pb.Season, "SEASON_"),
    "confounder_type": _enum_table(md_pb.ConfounderType, "CONFOUNDER_TYPE_"),
    "external_factor_type": _enum_table(md_pb.ExternalFactorType, "EXTERNAL_FACTOR_TYPE_"),
    "outcome_metric": _enum_table(common_pb.OutcomeMetric, "OUTCOME_METRIC_"),
}


def enum_name(enum: str, value: int) -> str:
    """Short lower-case name of an enum value (``enum_name("data_source", 1) == "meta"``)."""
    names = ENUMS[enum][0]
    return str(names[value]) if 0 <= value < len(names) else "unknown"


def enum_value(enum: str, name: str, *, field: str | None = None) -> int:
    """Enum number for a short name; InvalidInput naming ``field`` when unknown."""
    lookup = ENUMS[enum][1]
    if not name:
        return 0
    try:
        return lookup[name]
    except KeyError:
        raise _unknown(enum, name, field or enum) from None


def _unknown(enum: str, name: str, field: str) -> InvalidInput:
    names = ", ".join(sorted(ENUMS[enum][1]))
    return InvalidInput(f"{name!r} is not a {enum} (one of {names})", field=field)


def enum_codes(enum: str, values: Sequence[int]) -> np.ndarray:
    """Enum numbers as indexes into the name table, out of range → the "unknown" slot."""
    codes = np.array(values, dtype=np.int64)
    top = len(ENUMS[enum][0]) - 1
    return np.where((codes >= 0) & (codes < top), codes, top)


def enum_names(enum: str, values: Sequence[int]) -> np.ndarray:
    """Enum numbers → their short names (object array); out of range → "unknown"."""
    return ENUMS[enum][0][enum_codes(enum, values)]


def enum_numbers(frame: pd.DataFrame, column: str, enum: str, n: int) -> list[int]:
    """Enum numbers for short names ("" / NaN → 0); an unknown name raises InvalidInput
    naming the first row that has it."""
    if column not in frame.columns:
        return [0] * n
    lookup = ENUMS[enum][1]
    values = frame[column].tolist()
    table: dict[Any, int] = {}
    try:
        distinct = list(dict.fromkeys(values))
    except TypeError:  # unhashable cells (lists…): none of them is a name
        values = [v if isinstance(v, str) else "" for v in values]
        distinct = list(dict.fromkeys(values))
    for v in distinct:
        if not isinstance(v, str) or not v:
            continue
        code = lookup.get(v)
        if code is None:
            raise _unknown(enum, v, f"{column}[{values.index(v)}]")
        table[v] = code
    return [table.get(v, 0) for v in values]
