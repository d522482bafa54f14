"""A figure with its interval, read off draws (posterior or bootstrap) of the figure."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

__all__ = ["Interval"]


@dataclass(frozen=True, slots=True)
class Interval:
    """A point estimate and an equal-tailed interval of coverage ``level``."""

    estimate: float
    lower: float
    upper: float
    level: float

    @staticmethod
    def from_draws(draws: np.ndarray, level: float) -> Interval:
        """Mean of the draws and their central ``level`` quantile interval."""
        values = np.asarray(draws, dtype=np.float64).ravel()
        tail = (1.0 - level) / 2.0
        lo, hi = np.quantile(values, [tail, 1.0 - tail])
        return Interval(float(values.mean()), float(lo), float(hi), level)

    @staticmethod
    def exact(value: float, level: float) -> Interval:
        """A figure known without uncertainty."""
        return Interval(value, value, value, level)

    def text(self, fmt: str = "{:+,.0f}") -> str:
        """``estimate [lower, upper] (level)`` in words."""
        f = fmt.format
        return f"{f(self.estimate)} [{f(self.lower)}, {f(self.upper)}] ({self.level:.0%})"

    def __mul__(self, factor: float) -> Interval:
        lo, hi = sorted((self.lower * factor, self.upper * factor))
        return Interval(self.estimate * factor, lo, hi, self.level)
