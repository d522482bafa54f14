"""pandas DataFrame ↔ ``liftos.v1.Table`` (named, typed, packed columns).

Numbers travel as packed doubles/int64s, strings as strings, datetimes as UTC microseconds,
with missing values either NaN (doubles) or listed in ``null_rows``. An object column of
numbers (``decimal.Decimal``: what ``pd.read_sql`` gives for NUMERIC) travels as doubles, and
one of dates or datetimes (SQL DATE: ``datetime.date``) as timestamps, as ingest reads them;
they went as their text, which the estimators refused as "got string" (R45-F2).
"""

from __future__ import annotations

import datetime as dt
import decimal
import numbers

import numpy as np
import pandas as pd
from liftos.v1 import table_pb2 as table_pb

from mesh.runtime.exceptions import InvalidInput

INT64_MAX = int(np.iinfo(np.int64).max)


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
            if pd.api.types.is_unsigned_integer_dtype(series) and len(series):
                _fits_int64(series, str(name))
            column.int64s.values.extend(series.to_numpy(dtype=np.int64).tolist())
        elif pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series):
            column.doubles.values.extend(series.to_numpy(dtype=float, na_value=np.nan).tolist())
        elif pd.api.types.is_datetime64_any_dtype(series):
            _put_times(column, series, missing)
        elif (kind := _object_kind(series[~missing])) == "number":
            column.doubles.values.extend(
                [np.nan if m else float(v) for v, m in zip(series, missing, strict=True)]
            )
        elif kind == "time":
            _put_times(column, pd.to_datetime(series, utc=True), missing)
        else:
            column.strings.values.extend(
                ["" if m else str(v) for v, m in zip(series, missing, strict=True)]
            )
            column.null_rows.extend(np.flatnonzero(missing).tolist())
    return table


def _put_times(column: table_pb.Column, series: pd.Series, missing: np.ndarray) -> None:
    """A datetime column as UTC microseconds; a naive time is taken as UTC."""
    values = series.dt.tz_localize("UTC") if series.dt.tz is None else series.dt.tz_convert("UTC")
    micros = values.astype("datetime64[us, UTC]").to_numpy(dtype="datetime64[us]").astype(np.int64)
    column.timestamps_micros.values.extend(np.where(missing, 0, micros).tolist())
    column.null_rows.extend(np.flatnonzero(missing).tolist())


def _object_kind(present: pd.Series) -> str | None:
    """ "number" when every present value of an object column is a number (Decimal, int,
    float, numpy scalars; not bool), "time" when every one is a date or datetime, else None
    (sent as text)."""
    if not len(present) or present.dtype != object:
        return None
    values = present.tolist()
    if all(
        isinstance(v, numbers.Real | decimal.Decimal) and not isinstance(v, bool) for v in values
    ):
        return "number"
    if all(isinstance(v, dt.date) for v in values):
        return "time"
    return None


def _fits_int64(series: pd.Series, name: str) -> None:
    """Refuse an unsigned column with a value past int64 (a cast would wrap it negative)."""
    top = int(series.max())
    if top > INT64_MAX:
        raise InvalidInput(
            f"column {name!r} holds {top}, above the largest integer a table carries "
            f"(2**63 - 1): convert it with astype(float) (approximate) or astype(str) if it "
            "is an id",
            field=f"table.columns[{name!r}]",
        )


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
