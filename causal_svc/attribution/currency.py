"""The one currency an attribution's amounts are in: :mod:`mesh.runtime.money`, shared with
surfacing, which converts the history it plans with the same way."""

from mesh.runtime.money import (
    Converted,
    FxSeries,
    MixedCurrencies,
    analysis_currency,
    fx_series,
    in_one_currency,
)

__all__ = [
    "Converted",
    "FxSeries",
    "MixedCurrencies",
    "analysis_currency",
    "fx_series",
    "in_one_currency",
]
