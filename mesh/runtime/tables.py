"""pandas DataFrame ↔ ``liftos.v1.Table`` (named, typed, packed columns).

Numbers travel as packed doubles/int64s, strings as strings, datetimes as UTC microseconds,
with missing values either NaN (doubles) or listed in ``null_rows``.
"""

from __future__ import annotations

import numpy as np
import pandas as pd
from liftos.v1 import table_pb2 as table_pb

from mesh.runtime.exceptions import InvalidInput


def frame_to_table(frame: pd.DataFrame) -> table_pb.Table:
    """Encode a DataFrame; column names must be unique strings."""
    table = table_pb.Table(row_count=len(frame))
    names = [str(c) for c in frame.columns]
    if len(set(names)) != len(names):
        raise InvalidInput("column names must be unique", field="table.columns")
    for name in frame.columns:
        series = frame[name]
        column = table.columns.add(name=str(name))
        missing = series.isna().to_numpy()
        if pd.api.types.is_bool_dtype(series) and not missing.any():
            column.bools.values.extend(series.to_numpy(dtype=bool).tolist())
        elif pd.api.types.is_integer_dtype(series) and not missing.any():
            column.int64s.values.extend(series.to_numpy(dtype=np.int64).tolist())
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            column.doubles.values.extend(series.to_numpy(dtype=float, na_value=np.nan).tolist())
        elif pd.api.types.is_datetime64_any_dtype(series):
            values = (
                series.dt.tz_localize("UTC")
                if series.dt.tz is None
                else series.dt.tz_convert("UTC")
            )
            micros = (
                values.astype("datetime64[us, UTC]")
                .to_numpy(dtype="datetime64[us]")
                .astype(np.int64)
            )
            column.timestamps_micros.values.extend(np.where(missing, 0, micros).tolist())
            column.null_rows.extend(np.flatnonzero(missing).tolist())
        else:
            column.strings.values.extend(
                ["" if m else str(v) for v, m in zip(series, missing, strict=True)]
            )
            column.null_rows.extend(np.flatnonzero(missing).tolist())
    return table


def table_to_frame(table: table_pb.Table, field: str = "table") -> pd.DataFrame:
    """Decode a Table, checking every column has row_count values and names are unique."""
    data: dict[str, object] = {}
    n = table.row_count
    for i, column in enumerate(table.columns):
        where = f"{field}.columns[{i}]"
        if not column.name:
            raise InvalidInput("column name is required", field=f"{where}.name")
        if column.name in data:
            raise InvalidInput(f"duplicate column {column.name!r}", field=f"{where}.name")
        kind = column.WhichOneof("values")
        if kind is None:
            raise InvalidInput(f"column {column.name!r} has no values", field=where)
        values = getattr(column, kind).values
        if len(values) != n:
            raise InvalidInput(
                f"column {column.name!r} has {len(values)} values, row_count is {n}", field=where
            )
        nulls = np.asarray(column.null_rows, dtype=np.int64)
        if nulls.size and (nulls.min() < 0 or nulls.max() >= n):
            raise InvalidInput(
                f"column {column.name!r} null_rows out of range", field=f"{where}.null_rows"
            )
        if kind == "doubles":
            data[column.name] = np.asarray(values, dtype=float)
        elif kind == "int64s":
            arr = pd.array(np.asarray(values, dtype=np.int64), dtype="Int64")
            if nulls.size:
                arr[nulls] = pd.NA
            data[column.name] = arr if nulls.size else np.asarray(values, dtype=np.int64)
        elif kind == "bools":
            arr_b = pd.array(np.asarray(values, dtype=bool), dtype="boolean")
            if nulls.size:
                arr_b[nulls] = pd.NA
            data[column.name] = arr_b if nulls.size else np.asarray(values, dtype=bool)
        elif kind == "strings":
            s = pd.Series(list(values), dtype="string")
            if nulls.size:
                s.iloc[nulls] = pd.NA
            data[column.name] = s
        else:  # timestamps_micros
            ts = pd.to_datetime(np.asarray(values, dtype=np.int64), unit="us", utc=True)
            ts_s = pd.Series(ts)
            if nulls.size:
                ts_s.iloc[nulls] = pd.NaT
            data[column.name] = ts_s
    frame = pd.DataFrame(
        {k: (v.reset_index(drop=True) if isinstance(v, pd.Series) else v) for k, v in data.items()}
    )
    if not table.columns:
        frame = pd.DataFrame(index=range(n))
    return frame
