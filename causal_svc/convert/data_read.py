"""What an attribution analysis read, kept with it: a fingerprint of its inputs (the data
version) and each channel's spend per day and per geo (audit s18 R33-F3, F4).

Two analyses over one window listed alike (same days, same record count) may have read
different data: restated rows, spend moved between days or geos, a revised exchange rate or
external series, a re-recorded lift test. The fingerprint tells them apart without a read: it
is computed from the panel and the lift tests the fit already holds. The spend per day and per
geo lets a later read of the window (the surfacing service's drift check) say *what* moved.

Float sums of the same rows added in another order differ in the last digits (memory sums in
the order it reads), so every value is hashed at ``DIGITS`` significant digits: a real change
of a geo-day moves far more; the same rows summed in another order land on the other side of a
rounding step only rarely (then two analyses of the same data read as different, never the
reverse).
"""

from __future__ import annotations

import dataclasses
import hashlib
from collections.abc import Iterable

import numpy as np
from liftos.v1 import causal_pb2 as causal_pb

from causal_svc.attribution.calibration import LiftTest
from causal_svc.attribution.panel import MediaPanel

__all__ = ["DIGITS", "data_version", "spend_read"]

DIGITS = 6
_PREFIX = "dv1"


def _quantised(values: np.ndarray) -> bytes:
    """``values`` at DIGITS significant digits, as bytes (mantissa and exponent per value;
    NaN and infinities as themselves)."""
    x = np.asarray(values, dtype=np.float64).ravel()
    finite = np.isfinite(x) & (x != 0.0)
    exponent = np.zeros(x.shape, dtype=np.int64)
    mantissa = np.zeros(x.shape, dtype=np.int64)
    exponent[finite] = np.floor(np.log10(np.abs(x[finite]))).astype(np.int64)
    mantissa[finite] = np.rint(x[finite] / 10.0 ** (exponent[finite] - DIGITS + 1)).astype(np.int64)
    odd = np.where(np.isfinite(x) | np.isnan(x), 0, np.sign(x)).astype(np.int64)  # ±inf
    odd[np.isnan(x)] = 2
    return mantissa.tobytes() + exponent.tobytes() + odd.tobytes()


def _text(h: hashlib.blake2b, items: Iterable[str]) -> None:
    for item in items:
        h.update(item.encode())
        h.update(b"\x00")


def data_version(panel: MediaPanel, tests: Iterable[LiftTest]) -> str:
    """The fingerprint of what the fit read: the panel's geos, days, channels, outcome, spend,
    media input, controls and national series, and each lift test's fields."""
    h = hashlib.blake2b(digest_size=8)
    _text(h, (panel.outcome_name, *panel.geos, "|", *panel.channels, "|"))
    h.update(np.asarray(panel.dates, dtype="datetime64[D]").astype(np.int64).tobytes())
    for part in (panel.outcome, panel.spend, panel.media):
        h.update(_quantised(part))
    for group in (panel.controls, panel.national):
        for name in sorted(group):
            _text(h, (name,))
            h.update(_quantised(group[name]))
    for t in sorted(tests, key=lambda t: (t.name, t.channel, str(t.start))):
        fields = dataclasses.asdict(t)
        _text(h, (f"{k}={fields[k]!r}" for k in sorted(fields) if not isinstance(fields[k], float)))
        h.update(_quantised(np.array([v for _, v in sorted(fields.items())
                                      if isinstance(v, float)])))  # fmt: skip
    return f"{_PREFIX}:{h.hexdigest()}"


def spend_read(panel: MediaPanel, out: causal_pb.DailyDecomposition) -> None:
    """Each channel's spend per date (national over the panel's geos) and per geo (over the
    window) into ``out`` (whose dates are the panel's)."""
    out.geos.extend(panel.geos)
    for i, channel in enumerate(panel.channels):
        spend = np.asarray(panel.spend[i], dtype=np.float64)  # (G, T)
        out.spend.add(channel=channel, daily=spend.sum(axis=0).tolist(),
                      by_geo=spend.sum(axis=1).tolist())  # fmt: skip
