"""Design matrices and effect-modifier segments for :mod:`causal_svc.estimators.dml`."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from causal_svc.errors import InvalidSpec

from .validate import numeric, role_field


@dataclass(frozen=True, slots=True)
class Segment:
    """Rows of one effect-modifier value (or quantile bin)."""

    name: str
    mask: np.ndarray  # (n,) bool


def _is_categorical(series: pd.Series) -> bool:
    return not (pd.api.types.is_numeric_dtype(series) or pd.api.types.is_bool_dtype(series))


def design_matrix(
    frame: pd.DataFrame, columns: list[str], role: str, *, drop_first: bool
) -> tuple[np.ndarray, list[str]]:
    """Numeric columns as they are, categorical ones one-hot encoded; shape (n, p).

    ``drop_first`` drops one level per categorical column, as a control set with an
    intercept-carrying learner needs; effect modifiers keep every level for the forest.
    """
    blocks: list[np.ndarray] = []
    names: list[str] = []
    for column in columns:
        series = frame[column]
        if not _is_categorical(series):
            blocks.append(numeric(frame, column, role)[:, None])
            names.append(column)
            continue
        if series.isna().any():
            raise InvalidSpec(
                f"column {column!r} (role {role}) has {int(series.isna().sum())} missing values",
                field=role_field(role),
            )
        dummies = pd.get_dummies(series.astype(str), prefix=column, drop_first=drop_first)
        if dummies.shape[1] == 0:
            continue  # one level only: carries no information
        blocks.append(dummies.to_numpy(dtype=float))
        names.extend(map(str, dummies.columns))
    if not blocks:
        raise InvalidSpec(f"role {role} yields no usable column", field=role_field(role))
    return np.hstack(blocks), names


def _label(value: object) -> str:
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)


def segments(
    frame: pd.DataFrame, modifiers: list[str], n_bins: int, max_categories: int
) -> list[Segment]:
    """Each level of a categorical modifier, or quantile bins of a numeric one."""
    out: list[Segment] = []
    for column in modifiers:
        series = frame[column]
        values = series.to_numpy()
        if _is_categorical(series) or series.nunique() <= max_categories:
            for level in sorted(pd.unique(series), key=_label):
                out.append(Segment(f"{column}={_label(level)}", values == level))
            continue
        bins = pd.qcut(series.astype(float), q=n_bins, duplicates="drop")
        for i, interval in enumerate(bins.cat.categories):
            left = "[" if i == 0 else "("
            lo = series.min() if i == 0 else interval.left
            name = f"{column} in {left}{lo:.4g}, {interval.right:.4g}]"
            out.append(Segment(name, (bins == interval).to_numpy()))
    return out
