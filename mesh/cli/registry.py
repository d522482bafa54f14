"""``liftos experiments`` and ``liftos factors``: the registry's experiments and an org's
external series from files, so the flow the README shows needs no Python.

Experiments come as a JSON list of entries (the simulator's ``experiments.json`` is one)::

    {"experiment_id": "exp_1", "name": "…", "start_date": "2024-12-09", "end_date": "2025-01-05",
     "treatment_type": "geo_holdout", "randomization_unit": "geo", "channel": "meta_prospecting",
     "treatment_units": ["CA", …], "control_units": ["TX", …], "source": "meta",
     "campaign_ids": [], "status": "running", "pre_period_start": "2024-10-14",
     "treatment_config": {"spend_multiplier": 0.0}, "control_config": {"spend_multiplier": 1.0}}

External series come as a long CSV, one value per row: ``date,name,kind,value`` and optional
``org_id`` (rows of other orgs are skipped), ``unit``, ``geo`` and ``source`` columns (the
simulator writes ``external_factors.csv`` in this shape). Kind ``fx_rate`` is an exchange rate
named ``fx_<from>_<to>`` (``fx_eur_usd``: USD per EUR), which attribution converts a channel's
money with; registering one echoes how it is read ("1 EUR = 1.08 USD"), and a ``unit`` in the
other direction ("EUR per USD" under fx_eur_usd) is refused. A bad entry or row is refused with
its position and field before anything is sent.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import math
import os
import re
import sys
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import grpc
from liftos.v1 import marketing_data_pb2 as md_pb
from liftos.v1 import memory_pb2 as memory_pb
from liftos.v1 import memory_pb2_grpc as memory_grpc

from mesh.cli.csv_dialect import Dialect, header_problem, parse_delimiter
from mesh.cli.estimate import lift_in_words
from mesh.cli.registry_verbs import (
    add_delete_parsers,
    experiment_json,
    factor_json,
    print_json_lines,
)
from mesh.runtime.channels import sync_channel
from mesh.runtime.config import PeerConfig
from mesh.runtime.protoconv import set_date_range
from mesh.sdk.client import LiftOS, dc
from mesh.sdk.failures import RpcFailure

__all__ = [
    "FACTOR_KINDS",
    "ExperimentConflict",
    "ExternalSeries",
    "RegistryFileError",
    "add_parsers",
    "experiment_differences",
    "experiment_from_entry",
    "read_experiments",
    "read_factors",
]

T = TypeVar("T")
_EPOCH_ORDINAL = dt.date(1970, 1, 1).toordinal()

FACTOR_KINDS = (
    "macro", "competitor", "promotion", "demand", "weather", "season", "other", "fx_rate",
)  # fmt: skip
_UNITS = {"geo": "GEO", "campaign": "CAMPAIGN", "account": "ACCOUNT"}
_TYPES = {"geo_holdout": "HOLDOUT", "holdout": "HOLDOUT", "budget_increase": "BUDGET_INCREASE"}
_STATUSES = ("draft", "running", "completed", "cancelled", "analyzed")


class RegistryFileError(ValueError):
    """A registry file's entry or row that cannot be registered, with where and why."""


@dataclass
class ExternalSeries:
    """One daily series of one org, as RegisterExternalFactor takes it."""

    name: str
    kind: str
    geo: str = ""
    unit: str = ""
    source: str = ""
    values: dict[dt.date, float] = field(default_factory=dict)


def _date(text: Any, where: str) -> dc.Date:
    try:
        d = dt.date.fromisoformat(str(text))
    except ValueError:
        raise RegistryFileError(f"{where}: {text!r} is not a date (YYYY-MM-DD)") from None
    return dc.Date(year=d.year, month=d.month, day=d.day)


def _choice(value: Any, table: Mapping[str, str] | Iterable[str], where: str) -> str:
    key = str(value).lower()
    if key not in table:
        raise RegistryFileError(f"{where}: {value!r} is not one of {', '.join(table)}")
    return table[key] if isinstance(table, Mapping) else key.upper()


def _strings(value: Any, where: str) -> list[str]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise RegistryFileError(f"{where}: must be a list of strings")
    return list(value)


def _multiplier(config: Any, where: str, default: float) -> float:
    if config is None:
        return default
    if not isinstance(config, dict):
        raise RegistryFileError(f"{where}: must be an object")
    m = config.get("spend_multiplier", default)
    if not isinstance(m, int | float) or not math.isfinite(m) or m < 0:
        raise RegistryFileError(f"{where}.spend_multiplier: {m!r} is not a number ≥ 0")
    return float(m)


def experiment_from_entry(entry: Any, org_id: str, where: str = "entry") -> dc.CausalExperiment:
    """One file entry as a registry experiment for ``org_id`` (an entry naming another org
    is refused rather than registered under the wrong one)."""
    if not isinstance(entry, dict):
        raise RegistryFileError(f"{where}: must be an object")
    for key in ("experiment_id", "start_date", "end_date"):
        if not entry.get(key):
            raise RegistryFileError(f"{where}.{key}: required")
    if entry.get("org_id", org_id) != org_id:
        raise RegistryFileError(f"{where}.org_id: {entry['org_id']!r} is not --org {org_id!r}")
    treated = _multiplier(entry.get("treatment_config"), f"{where}.treatment_config", 1.0)
    control = _multiplier(entry.get("control_config"), f"{where}.control_config", 0.0)
    status = _choice(entry.get("status", "draft"), _STATUSES, f"{where}.status")
    source = entry.get("source", "")
    sources = []
    if source:
        names = [s.name.lower() for s in dc.DataSource]
        sources = [dc.DataSource[_choice(source, names, f"{where}.source")]]
    return dc.CausalExperiment(
        experiment_id=str(entry["experiment_id"]),
        org_id=org_id,
        name=str(entry.get("name", "")),
        start_date=_date(entry["start_date"], f"{where}.start_date"),
        end_date=_date(entry["end_date"], f"{where}.end_date"),
        treatment_type=dc.TreatmentType[
            _choice(entry.get("treatment_type", "geo_holdout"), _TYPES, f"{where}.treatment_type")
        ],
        randomization_unit=dc.RandomizationUnit[
            _choice(entry.get("randomization_unit", "geo"), _UNITS, f"{where}.randomization_unit")
        ],
        treatment_units=_strings(entry.get("treatment_units", []), f"{where}.treatment_units"),
        control_units=_strings(entry.get("control_units", []), f"{where}.control_units"),
        treatment_config=dc.TreatmentConfig(spend_multiplier=treated),
        control_config=dc.TreatmentConfig(spend_multiplier=control),
        data_sources=sources,
        campaign_ids=_strings(entry.get("campaign_ids", []), f"{where}.campaign_ids"),
        channel=str(entry.get("channel", "")),
        status=dc.ExperimentStatus[status],
        # The pre-period the design powered the test on: an estimate reads it (R26-F4: dropped,
        # the estimate read one as long as the test and missed the simulator's own effect).
        pre_period_start=_date(entry["pre_period_start"], f"{where}.pre_period_start")
        if entry.get("pre_period_start")
        else None,
    )


def read_experiments(path: Path, org_id: str) -> list[dc.CausalExperiment]:
    """Every entry of a JSON list file (one object alone is a list of one)."""
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as error:
        raise RegistryFileError(f"{path}: {error}") from None
    entries = data if isinstance(data, list) else [data]
    return [experiment_from_entry(e, org_id, f"{path.name}[{i}]") for i, e in enumerate(entries)]


def read_factors(
    path: Path, org_id: str, delimiter: str = ",", decimal: str | None = None
) -> list[ExternalSeries]:
    """The org's series of a long CSV (``date,name,kind,value`` …), by (name, geo); its cells
    split at ``delimiter``, its values read with ``decimal`` as the decimal mark when given
    (``liftos ingest --delimiter/--decimal``'s rules, :mod:`mesh.cli.csv_dialect`)."""
    try:
        with path.open(newline="", encoding="utf-8") as fh:
            reader = csv.DictReader(fh, delimiter=delimiter)
            rows = list(reader)
    except (OSError, UnicodeDecodeError, csv.Error) as error:
        raise RegistryFileError(f"{path}: {error}") from None
    if (split := header_problem(path, reader.fieldnames, delimiter)) is not None:
        raise RegistryFileError(split)  # a ';' file read at ',' is one column, not four missing
    columns = set(rows[0]) if rows else set()
    missing = [c for c in ("date", "name", "kind", "value") if c not in columns]
    if missing:
        raise RegistryFileError(f"{path}: column(s) {', '.join(missing)} missing")
    dialect = Dialect(delimiter, decimal)
    series: dict[tuple[str, str], ExternalSeries] = {}
    for line, row in enumerate(rows, start=2):  # line 1 is the header
        if row.get("org_id") and row["org_id"] != org_id:
            continue
        where = f"{path.name} line {line}"
        name = (row["name"] or "").strip()
        if not name:
            raise RegistryFileError(f"{where}: name is empty")
        kind = _choice(row["kind"], FACTOR_KINDS, f"{where}: kind").lower()
        value = _factor_value(row["value"], dialect, where)
        if not math.isfinite(value):
            raise RegistryFileError(f"{where}: value {row['value']!r} is not finite")
        d = _date(row["date"], f"{where}: date")
        geo = (row.get("geo") or "").strip()
        s = series.setdefault((name, geo), ExternalSeries(name, kind, geo=geo))
        if s.kind != kind:
            raise RegistryFileError(f"{where}: {name!r} is {kind!r} here and {s.kind!r} above")
        day = dt.date(d.year, d.month, d.day)
        if day in s.values:
            raise RegistryFileError(f"{where}: {name!r} has {day} twice")
        s.values[day] = value
        s.unit = s.unit or (row.get("unit") or "")
        s.source = s.source or (row.get("source") or "")
        if kind == "fx_rate":
            _check_quote(name, s.unit, where)
    if not series:
        raise RegistryFileError(f"{path}: no rows for org {org_id!r}")
    return list(series.values())


# a ',' float() does not read: a decimal mark ("1,5", "1.234,56") or a separator ("1,234.56")
_COMMA = re.compile(r"\s*-?[\d.,]*\d,\d[\d.]*\s*")


def _factor_value(text: str | None, dialect: Dialect, where: str) -> float:
    """A factor's value: a plain number, or one written with ``--decimal``'s mark. Without
    --decimal a '.' is a decimal point: an index of 101.234 is as common in a factor file as
    a thousands separator, so '.' is never judged by the column here (unlike ingest's money)."""
    value = (text or "").strip()
    read: float | None
    if dialect.decimal is not None:
        number = dialect.number(value)
        read = None if number is None else float(number)
    else:
        try:
            read = float(value)
        except ValueError:
            read = None
    if read is None:
        mark = dialect.decimal
        if mark is not None:
            hint = f" with {mark!r} as the decimal mark (--decimal {mark!r})"
        elif _COMMA.fullmatch(value):
            hint = (
                " (a plain number, 1234.56): pass --decimal ',' where ',' is the decimal mark "
                "(1,5 or 1.234,56), --decimal '.' where it separates thousands (1,234.56)"
            )
        else:
            hint = ""
        raise RegistryFileError(f"{where}: value {text!r} is not a number{hint}")
    return read


_QUOTE = re.compile(r"\s*([A-Za-z]{3})\s+per\s+([A-Za-z]{3})\s*")


def _check_quote(name: str, unit: str, where: str) -> None:
    """Refuse a rate whose unit says the other quote direction than its name: fx_eur_usd is
    USD per EUR, and a unit of "EUR per USD" says its values are the reciprocal."""
    m, named = _QUOTE.fullmatch(unit), re.fullmatch(r"fx_([a-z]{3})_([a-z]{3})", name)
    if m is None or named is None:
        return
    per, of = m.group(1).upper(), m.group(2).upper()
    frm, to = named.group(1).upper(), named.group(2).upper()
    if (per, of) == (frm, to):
        raise RegistryFileError(
            f"{where}: unit {unit!r} is the other quote direction from the name {name!r}, "
            f"which is {to} per {frm} (1 {frm} = x {to}): name the series "
            f"fx_{to.lower()}_{frm.lower()}, or enter {to} per {frm} (the reciprocals) with "
            f"unit '{to} per {frm}'"
        )


class ExperimentConflict(Exception):
    """Experiments of the file stored under their ids with other contents."""


def register_experiments(
    client: LiftOS,
    experiments: Iterable[dc.CausalExperiment],
    out: Callable[[str], None],
    *,
    allow_overlap: bool = False,
) -> None:
    """Create each experiment. One already stored as it is in the file is said and skipped,
    so re-running a file after a crash part-way registers the rest (audit R19 #4); one stored
    under its id with other contents is named with the fields that differ, the others are
    still registered, and :class:`ExperimentConflict` is raised at the end."""
    # usual_days needs numpy: imported here so `liftos --help` starts without it (R17-F1)
    from mesh.runtime.usual_days import ExperimentsOverlap, refuse_same_channel, registered_any

    conflicts: list[str] = []
    overlapping: list[str] = []
    # The org's experiments, drafts included, and then the file's as they are registered:
    # one of the same channel sharing days and units is not sent; others are said (R26-F3).
    known = [t for e in client.list_experiments() if (t := registered_any(_wire(e)))]
    for exp in experiments:
        test = registered_any(_wire(exp))
        said: list[str] = []
        # An id already stored is a re-run or a conflict, said below from the stored contents.
        if test is not None and all(t.experiment_id != exp.experiment_id for t in known):
            try:
                said = refuse_same_channel(test, known, allow=allow_overlap)
            except ExperimentsOverlap as error:
                overlapping.append(str(error))
                out(f"  {exp.experiment_id}: NOT registered: it overlaps a registered "
                    f"experiment of its channel ({exp.channel})")  # fmt: skip
                continue
        try:
            got = client.create_experiment(exp, allow_overlap=allow_overlap)
        except RpcFailure as error:
            if error.code != grpc.StatusCode.ALREADY_EXISTS:
                raise
            stored = client.get_experiment(exp.experiment_id, org_id=exp.org_id or None)
            differ = experiment_differences(exp, stored)
            if differ:
                conflicts.append(
                    f"{exp.experiment_id}: already registered with other contents "
                    f"({'; '.join(differ)})"
                )
                out(f"  {exp.experiment_id}: NOT registered: stored with other contents")
            else:
                out(f"  {exp.experiment_id}: already registered (identical), skipped")
            continue
        out(
            f"  {got.experiment_id}: {got.name} ({got.randomization_unit.name.lower()}, "
            f"{len(got.treatment_units)} treated / {len(got.control_units)} control units, "
            f"{_iso(got.start_date)} → {_iso(got.end_date)})"
        )
        for w in said:
            out(f"  warning: {got.experiment_id}: {w}")
        if test is not None:
            known.append(test)
    problems = [*overlapping]
    if conflicts:
        problems.append(
            "; ".join(conflicts)
            + ": an experiment's id is immutable; give the new one another experiment_id"
        )
    if problems:
        raise ExperimentConflict("; ".join(problems))


def _wire(e: dc.CausalExperiment) -> md_pb.CausalExperiment:
    return md_pb.CausalExperiment.FromString(bytes(e))


# Set by the registry, not by the file: a stored value there is no difference.
_SERVER_SET = ("createTime", "result")


def experiment_differences(sent: dc.CausalExperiment, stored: dc.CausalExperiment) -> list[str]:
    """'field: file X, stored Y' for each field the file's experiment gives differently from
    the stored one (server-set fields and the org aside)."""
    want = sent.to_dict(include_default_values=True)
    have = stored.to_dict(include_default_values=True)
    out = []
    for name in sorted(set(want) | set(have)):
        if name in _SERVER_SET or name == "orgId":
            continue
        a, b = want.get(name), have.get(name)
        if a != b:
            out.append(f"{name}: file {_short(a)}, stored {_short(b)}")
    return out


def _short(value: Any) -> str:
    text = json.dumps(value, sort_keys=True, default=str)
    return text if len(text) <= 80 else text[:77] + "..."


def register_factors(
    client: LiftOS, series: Iterable[ExternalSeries], out: Callable[[str], None]
) -> None:
    for s in series:
        n = client.register_external_factor(
            s.name, s.kind, s.values, source=s.source, unit=s.unit, geo=s.geo
        )
        where = f" ({s.geo})" if s.geo else ""
        day = _weekly(list(s.values))
        if day:
            # analyses carry a weekly series over its weeks (attribution.with_external_series)
            out(f"  {s.name + where:<22} {s.kind:<11} {n} weekly values (every date a {day}): "
                "analyses carry each value over the six days after its date")  # fmt: skip
        else:
            out(f"  {s.name + where:<22} {s.kind:<11} {n} daily values")
        if s.kind == "fx_rate":
            _echo_fx(s, out)


def _echo_fx(s: ExternalSeries, out: Callable[[str], None]) -> None:
    """The rate's quote direction in words (audit s17 R31: 0.93 EUR per USD under
    fx_eur_usd, USD per EUR, was applied silently: both are plausible numbers)."""
    from mesh.runtime.money import fx_direction  # here: every verb's parser imports this module

    days = sorted(s.values)
    said = fx_direction(s.name, days, [s.values[d] for d in days])
    out(f"    {said}" if said else f"    {s.name} is not named fx_<from>_<to> (ISO codes, "
        "lower case: fx_eur_usd is USD per EUR): no analysis converts with it")  # fmt: skip


def _weekly(days: list[dt.date]) -> str:
    """The weekday of a series an analysis reads as weekly (:mod:`mesh.runtime.cadence`), or ""."""
    import numpy as np  # here: every verb's parser imports this module

    from mesh.runtime.cadence import weekly_series

    return weekly_series(np.array([d.toordinal() - _EPOCH_ORDINAL for d in days], np.int64))


def _iso(d: dc.Date | None) -> str:
    if d is None:
        return "?"
    return f"{d.year:04d}-{d.month:02d}-{d.day:02d}"


def _print(line: str) -> None:
    print(line)


def _register_file(
    args: argparse.Namespace,
    peers: PeerConfig,
    read: Callable[[Path, str], list[T]],
    send: Callable[[LiftOS, list[T], Callable[[str], None]], None],
) -> int:
    """Read the whole file first (a bad entry is refused before anything is sent), then send."""
    org = _org(args)
    try:
        entries = read(args.file, org)
    except RegistryFileError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    with LiftOS(peers, org_id=org) as client:
        try:
            send(client, entries, _print)
        except ExperimentConflict as error:
            print(f"error: {error}", file=sys.stderr)
            return 2
    return 0


def cmd_experiments_create(args: argparse.Namespace, peers: PeerConfig) -> int:
    def send(
        client: LiftOS, entries: list[dc.CausalExperiment], out: Callable[[str], None]
    ) -> None:
        register_experiments(client, entries, out, allow_overlap=args.allow_overlap)

    return _register_file(args, peers, read_experiments, send)


def cmd_experiments_list(args: argparse.Namespace, peers: PeerConfig) -> int:
    with LiftOS(peers, org_id=_org(args)) as client:
        if args.json:
            print_json_lines(experiment_json(e) for e in client.list_experiments())
            return 0
        for e in client.list_experiments():
            print(
                f"{e.experiment_id:<24} {e.status.name.lower():<10} {e.channel or '-':<20} "
                f"{_iso(e.start_date)} → {_iso(e.end_date)}"
            )
    return 0


def cmd_experiments_record(args: argparse.Namespace, peers: PeerConfig) -> int:
    """A lift test run outside LiftOS (GeoLift, a platform's conversion lift, Robyn's lift
    table) as a registered experiment's result, which attribution then calibrates by."""
    if not (math.isfinite(args.lift_se) and args.lift_se > 0):
        print("error: --lift-se must be a positive number: the test's standard error",
              file=sys.stderr)  # fmt: skip
        return 2
    result = dc.ExperimentResult(
        channel=args.channel,
        lift_absolute=args.lift,
        lift_std_error=args.lift_se,
        spend_delta=args.spend_delta,
        spend_baseline=args.spend_baseline,
        metric=dc.OutcomeMetric.from_string(args.metric.upper()),
        treatment_unit_count=args.treatment_units,
        control_unit_count=args.control_units,
    )
    with LiftOS(peers, org_id=_org(args)) as client:
        e = client.record_experiment_result(args.experiment_id, result)
    stored = e.result
    window = stored.window if stored is not None and stored.window is not None else None
    first = _day(window.start_date if window else e.start_date)
    last = _day(window.end_date if window else e.end_date)
    print(f"{e.experiment_id}: {e.channel} {first} → {last}: "
          + lift_in_words(args.lift, args.lift_se, args.spend_delta, spend=0.0,
                          baseline=args.spend_baseline, metric=args.metric)
          + (f"; {len(e.treatment_units)} treated geos" if e.treatment_units else
             "; no treated geos registered: analyses read the spend change as a share of the "
             "channel's spend in every geo"))  # fmt: skip
    if note := _rows_after(peers, _org(args), first, last):
        print(f"warning: {note}", file=sys.stderr)
    return 0


def _day(d: dc.Date | None) -> dt.date:
    assert d is not None
    return dt.date(d.year, d.month, d.day)


def _rows_after(peers: PeerConfig, org: str, first: dt.date, last: dt.date) -> str:
    """A warning when the org holds no row on or after the test's first day (R5-F7: a result
    for 2025-01-20..03-02 was recorded against data ending 2025-01-12, silently). Accepted all
    the same — the test ran, its rows may come later — but no analysis can be calibrated by
    it until they do. "" when rows reach the window, or memory cannot say."""
    with sync_channel(peers.memory) as channel:
        stub = memory_grpc.MemoryServiceStub(channel)
        from mesh.runtime.tables import table_to_frame  # loads pandas

        def days(start: dt.date | None, end: dt.date | None) -> list[int]:
            request = memory_pb.AggregateRecordsRequest(org_id=org, measures=["spend"])
            set_date_range(request.date_range, start, end)
            try:
                reply = stub.AggregateRecords(request, timeout=30)
            except grpc.RpcError:  # NOT_FOUND: no rows at all; anything else: cannot say
                return []
            return [int(d) for d in table_to_frame(reply.geo_days).get("date", [])]

        if days(first, None):
            return ""
        before = days(None, first - dt.timedelta(days=1))
        newest = (f"its newest row is {dt.date(1970, 1, 1) + dt.timedelta(days=max(before))}"
                  if before else "it holds no rows yet")  # fmt: skip
    return (
        f"org {org!r} holds no row on or after the test's window {first}..{last} "
        f"({newest}): recorded, but no analysis can be calibrated by it until rows of its "
        "window are ingested"
    )


def cmd_factors_register(args: argparse.Namespace, peers: PeerConfig) -> int:
    def read(path: Path, org: str) -> list[ExternalSeries]:
        return read_factors(path, org, parse_delimiter(args.delimiter), args.decimal)

    return _register_file(args, peers, read, register_factors)


def cmd_factors_list(args: argparse.Namespace, peers: PeerConfig) -> int:
    with LiftOS(peers, org_id=_org(args)) as client:
        if args.json:
            listed = client.list_external_factors(include_values=True)
            print_json_lines(factor_json(s) for s in listed)
            return 0
        for s in client.list_external_factors():
            kind = (
                md_pb.ExternalFactorType.Name(s.type).removeprefix("EXTERNAL_FACTOR_TYPE_").lower()
            )
            print(f"{s.name:<24} {kind:<11} {s.geo or 'national':<10} {s.unit}")
    return 0


def add_parsers(
    sub: argparse._SubParsersAction[argparse.ArgumentParser],
    mesh_arguments: Callable[[argparse.ArgumentParser], None],
) -> None:
    exp = sub.add_parser(
        "experiments",
        help="the experiment registry: create from a file, list, record a result, delete",
    )
    verbs = exp.add_subparsers(dest="action", required=True)
    c = verbs.add_parser("create", help="register every experiment of a JSON file")
    c.add_argument("file", type=Path, help="a JSON list of experiments (see `liftos simulate`)")
    c.add_argument(
        "--allow-overlap",
        action="store_true",
        help="register an experiment even where one of its channel already runs on its days "
        "and geos (a past test registered again under another id); said, not refused",
    )
    c.set_defaults(func=cmd_experiments_create)
    ls = verbs.add_parser("list", help="the org's experiments, newest first")
    ls.set_defaults(func=cmd_experiments_list)
    experiment_verbs = verbs
    rec = verbs.add_parser(
        "record", help="record a lift test run outside LiftOS as a registered experiment's result"
    )
    rec.add_argument("experiment_id", help="a registered experiment (its channel and window)")
    rec.add_argument(
        "--lift",
        type=float,
        required=True,
        help="incremental outcome over the window in the treated cell (liftAbs)",
    )
    rec.add_argument("--lift-se", type=float, required=True, help="its standard error")
    rec.add_argument(
        "--channel",
        default="",
        help="the channel the test changed, where the experiment registers none (else its own)",
    )
    rec.add_argument(
        "--spend-delta",
        type=float,
        required=True,
        help="the spend change the test caused (negative for a go-dark)",
    )
    rec.add_argument(
        "--spend-baseline",
        type=float,
        default=0.0,
        help="business-as-usual spend in the treated cell before the change",
    )
    rec.add_argument("--metric", choices=("revenue", "conversions"), default="revenue")
    rec.add_argument("--treatment-units", type=int, default=0, help="treated geos, counted")
    rec.add_argument("--control-units", type=int, default=0, help="control geos, counted")
    rec.set_defaults(func=cmd_experiments_record)  # fmt: skip
    fac = sub.add_parser(
        "factors", help="an org's external series: register from a CSV, list, delete"
    )
    verbs = fac.add_subparsers(dest="action", required=True)
    r = verbs.add_parser(
        "register", help="register (or replace) every series of a long CSV: date,name,kind,value"
    )
    r.add_argument("file", type=Path)
    r.add_argument(
        "--delimiter",
        default=",",
        help="the character between the file's cells: ',' (default), ';' (German/French "
        "Excel's CSV), '|' or tab",
    )
    r.add_argument(
        "--decimal",
        choices=(".", ","),
        default=None,
        help="the values' decimal mark: ',' reads 1,5 and 1.234,56; '.' reads 1,234.56. "
        "Without it values are plain numbers (1234.56)",
    )
    r.set_defaults(func=cmd_factors_register)
    fl = verbs.add_parser("list", help="the org's series")
    fl.set_defaults(func=cmd_factors_list)
    for listing in (ls, fl):
        listing.add_argument(
            "--json", action="store_true", help="one JSON object per line (null: no number)"
        )
    deletes = add_delete_parsers(experiment_verbs, verbs)
    for p in (c, ls, rec, r, fl, *deletes):
        p.add_argument("--org", default="", help="organisation id (or LIFTOS_ORG)")
        mesh_arguments(p)


def _org(args: argparse.Namespace) -> str:
    """--org, else LIFTOS_ORG; registering under a default org by accident is refused."""
    org = str(args.org or os.environ.get("LIFTOS_ORG", ""))
    if not org:
        raise SystemExit("error: --org is required (or set LIFTOS_ORG)")
    return org
