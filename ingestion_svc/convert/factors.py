"""External factor series ↔ proto."""

from __future__ import annotations

import datetime as dt
import math
import unicodedata

from liftos.v1 import ingestion_pb2 as ingestion_pb
from liftos.v1 import marketing_data_pb2 as md_pb

from ingestion_svc.convert.text import text_bound
from ingestion_svc.currencies import ISO_4217
from ingestion_svc.external_factors import MAX_VALUES as MAX_FACTOR_VALUES
from ingestion_svc.external_factors import FactorSeries
from mesh.runtime.exceptions import FieldViolation, InvalidInput
from mesh.runtime.frames import enum_name, enum_value
from mesh.runtime.money import FX_KIND, FX_NAME
from mesh.runtime.protoconv import (
    collect,
    date_from_proto,
    date_to_proto,
    enum_from_proto,
    require_org,
)


def factor_series_from_proto(
    request: ingestion_pb.RegisterExternalFactorRequest,
) -> tuple[str, FactorSeries]:
    violations: list[FieldViolation] = []
    try:
        require_org(request.org_id)
    except InvalidInput as exc:
        violations.extend(exc.violations)
    s = request.series
    try:
        enum_from_proto(s.type, md_pb.ExternalFactorType.DESCRIPTOR, "series.type")
    except InvalidInput as exc:
        violations.extend(exc.violations)
    for name in ("source", "unit", "geo"):
        text_bound(getattr(s, name), f"series.{name}", violations)
    if len(s.values) > MAX_FACTOR_VALUES:  # before reading them one by one
        violations.append(
            FieldViolation(
                "series.values", f"{len(s.values):,} values; at most {MAX_FACTOR_VALUES:,}"
            )
        )
        collect(violations)
    values: list[tuple[dt.date, float]] = []
    for i, v in enumerate(s.values):
        if not math.isfinite(v.value):
            violations.append(
                FieldViolation(f"series.values[{i}].value", f"value {v.value} is not finite")
            )
        try:
            day = date_from_proto(v.date, f"series.values[{i}].date")
        except InvalidInput as exc:
            violations.extend(exc.violations)
            continue
        assert day is not None
        values.append((day, v.value))
        if len(violations) >= 20:
            break
    kind = enum_name("external_factor_type", s.type)
    if kind == FX_KIND:
        _check_fx(s.name, values, violations)
    collect(violations)
    return request.org_id, FactorSeries(
        name=s.name,
        type="" if kind == "unspecified" else kind,
        source=s.source,
        unit=s.unit,
        # NFC as the records' geos are (base.nfc): an NFD 'São Paulo' would miss its rows
        geo=unicodedata.normalize("NFC", s.geo),
        values=tuple(values),
    )


def _check_fx(
    name: str, values: list[tuple[dt.date, float]], violations: list[FieldViolation]
) -> None:
    """An exchange rate must say what it converts (fx_<from>_<to>, ISO 4217) and be a price:
    attribution multiplies a channel's money by it."""
    m = FX_NAME.fullmatch(name)
    if m is None:
        violations.append(FieldViolation(
            "series.name", f"an FX_RATE series is named fx_<from>_<to> in lower-case ISO 4217 "
            f"codes (fx_eur_usd: USD per EUR), not {name[:80]!r}",
        ))  # fmt: skip
    else:
        codes = [c.upper() for c in m.groups()]
        unknown = [c for c in codes if c not in ISO_4217]
        if unknown or codes[0] == codes[1]:
            why = f"{', '.join(unknown)} not ISO 4217" if unknown else "the same currency twice"
            violations.append(FieldViolation("series.name", f"{name}: {why}"))
    for i, (_, v) in enumerate(values):
        if not v > 0:
            violations.append(FieldViolation(
                f"series.values[{i}].value", f"an exchange rate is above 0, not {v}"
            ))  # fmt: skip
            break


def factor_series_to_proto(series: FactorSeries) -> ingestion_pb.ExternalFactorSeries:
    return ingestion_pb.ExternalFactorSeries(
        name=series.name,
        type=md_pb.ExternalFactorType.ValueType(enum_value("external_factor_type", series.type)),
        source=series.source,
        unit=series.unit,
        geo=series.geo,
        values=[ingestion_pb.DatedValue(date=date_to_proto(d), value=v) for d, v in series.values],
    )
