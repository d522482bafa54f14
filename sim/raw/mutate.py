"""Structure-aware mutations of real export lines, for fuzzing whatever reads them.

:func:`mutate` takes one clean row (a dict in a platform's native shape, as
:meth:`RawExport.base_row` renders it, or a first-party orders row from :func:`orders_rows`)
and returns one export line with one thing wrong with it, or odd but legal:

``deep_nesting``
    a field, or the whole line, wrapped in 3 to 5,000 levels of ``[`` or ``{"a":``;
``type_confusion``
    a field's value replaced by one of another JSON type (number ↔ string ↔ object ↔
    array ↔ boolean ↔ null), e.g. ``"objective": {}`` or ``"spend": true``;
``huge_number`` / ``tiny_number``
    ``1e308``, ``1e999`` (a double's infinity), 400-digit integers, ``2**63``, ``-0``,
    ``5e-324``, as JSON numbers and as numeric strings;
``bad_date``
    a date replaced by a boundary or impossible one (``0000-00-00``, ``9999-12-31``,
    ``2024-02-30``, year 1, full-width digits), its time and offset kept;
``unicode``
    right-to-left marks, NUL, an escaped lone surrogate (``"\\ud800"``), emoji, a BOM,
    combining marks, full-width digits, in a field or as a new key;
``long_string``
    a field 1,100 to 70,000 characters long;
``truncate``
    the line cut short; ``duplicate_key``: a key repeated with another value (JSON parsers
    keep the last); ``missing_key``: a field removed; ``extra_keys``: hundreds of unknown
    keys; ``not_an_object``: a line that is JSON but not an object, or empty.

Pure and seeded: the same rows and seed give the same lines. Nothing here knows which
mutant a reader should accept; a fuzzer checks that each is either read or refused alone.
"""

from __future__ import annotations

import contextlib
import copy
import json
import random
import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any

__all__ = ["KINDS", "Batch", "Mutant", "mixed_batches", "mutants", "mutate", "orders_rows", "split"]

KINDS = (
    "deep_nesting",
    "type_confusion",
    "huge_number",
    "tiny_number",
    "bad_date",
    "unicode",
    "long_string",
    "truncate",
    "duplicate_key",
    "missing_key",
    "extra_keys",
    "not_an_object",
)

# JSON text a value is replaced by, spliced into the line verbatim (json.dumps cannot write
# some of them: an escaped lone surrogate, 1e999, 5,000-deep nesting without recursion).
_HUGE = (
    "1e308",
    "-1e308",
    "1e999",
    "-1e999",
    "9" * 400,
    "-" + "9" * 400,
    str(2**63),
    str(2**64),
    str(-(2**63) - 1),
    "1e15",
    "1000000000001",
    "12345678901234567890.5",
    '"' + "9" * 400 + '"',
    '"1e308"',
    '"1e999"',
    '"-1e309"',
    '"9223372036854775808"',
)
_TINY = ("-0", "-0.0", "0.0", "5e-324", "-5e-324", "1e-320", '"-0"', '"5e-324"', "0", '"0e0"')
_OTHER_TYPES = ("{}", "[]", '{"a":1}', '[1,"x"]', "true", "false", "null", "0", '""', '"x"')
_DATES = (
    "0000-00-00",
    "9999-12-31",
    "2024-02-30",
    "0001-01-01",
    "1899-12-31",
    "1900-01-01",
    "2200-12-31",
    "2201-01-01",
    "2024-13-01",
    "2024-00-10",
    "2024-02-29",
    "２０２４-０１-０１",
    "2024-1-1",
    "",
)
_UNICODE = (
    "\u202e",  # right-to-left override
    "\u200f",  # right-to-left mark
    "\u0000",
    "\ufeff",
    "\U0001f600",
    "e\u0301",  # combining acute
    "\u200d",
    "１２３",  # full-width digits
    "\u0661\u0662",  # Arabic-Indic digits
    "\U0010ffff",
)
_SURROGATES = ("\\ud800", "\\udfff", "\\ud83d", "x\\udc00y")
_DATE = re.compile(r"\d{4}-\d{2}-\d{2}")


@dataclass(frozen=True, slots=True)
class Mutant:
    """One mutated export line: the line, the mutation, and the dotted path it touched
    (``""`` when it touched the line as a whole)."""

    line: str
    kind: str
    path: str


def _paths(value: Any, prefix: tuple[Any, ...] = ()) -> Iterator[tuple[Any, ...]]:
    """Every path (keys and list indexes) into ``value``, parents before children."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield (*prefix, k)
            yield from _paths(v, (*prefix, k))
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield (*prefix, i)
            yield from _paths(v, (*prefix, i))


def _get(row: Any, path: tuple[Any, ...]) -> Any:
    for p in path:
        row = row[p]
    return row


def _dotted(path: tuple[Any, ...]) -> str:
    return ".".join(str(p) for p in path)


class _Splice:
    """Builds a line with raw JSON text at marked places."""

    def __init__(self) -> None:
        self.texts: list[str] = []

    def mark(self, text: str) -> str:
        self.texts.append(text)
        return f"\ue000SPLICE{len(self.texts) - 1}\ue000"

    def dumps(self, row: Any) -> str:
        line = json.dumps(row, separators=(",", ":"), ensure_ascii=False)
        for i, text in enumerate(self.texts):
            line = line.replace(f'"\ue000SPLICE{i}\ue000"', text)
        return line


def _set(row: Any, path: tuple[Any, ...], value: Any) -> None:
    if path:
        _get(row, path[:-1])[path[-1]] = value


def mutate(row: dict[str, Any], rng: random.Random, kind: str | None = None) -> Mutant:
    """One mutant of ``row`` (left unchanged): of ``kind``, or of a kind drawn by ``rng``."""
    kind = kind or rng.choice(KINDS)
    out = copy.deepcopy(row)
    paths = list(_paths(out))
    leaves = [p for p in paths if not isinstance(_get(out, p), dict | list)]
    splice = _Splice()
    path: tuple[Any, ...] = ()
    if kind == "deep_nesting":
        depth = rng.choice((3, 19, 20, 21, 25, 40, 100, 999, 5000))
        opener, closer = rng.choice((("[", "]"), ('{"a":', "}")))
        if rng.random() < 0.3 or not paths:
            inner = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
            return Mutant(opener * depth + inner + closer * depth, kind, "")
        path = rng.choice(paths)
        inner = json.dumps(_get(out, path), separators=(",", ":"), ensure_ascii=False)
        _set(out, path, splice.mark(opener * depth + inner + closer * depth))
    elif kind in ("type_confusion", "huge_number", "tiny_number"):
        pool = {"type_confusion": _OTHER_TYPES, "huge_number": _HUGE, "tiny_number": _TINY}[kind]
        path = rng.choice(leaves if kind != "type_confusion" else paths) if paths else ()
        value = _get(out, path) if path else None
        text = rng.choice(pool)
        if kind == "type_confusion" and isinstance(value, str) and rng.random() < 0.3:
            with contextlib.suppress(ValueError):  # a numeric string as the number itself
                text = json.dumps(json.loads(value))
        _set(out, path, splice.mark(text))
    elif kind == "bad_date":
        dated = [p for p in leaves if isinstance(_get(out, p), str) and _DATE.search(_get(out, p))]
        path = rng.choice(dated or leaves)
        value = str(_get(out, path))
        _set(out, path, _DATE.sub(rng.choice(_DATES), value, count=1))
    elif kind == "unicode":
        strings = [p for p in leaves if isinstance(_get(out, p), str)]
        if rng.random() < 0.25:  # an escaped lone surrogate: only JSON text can hold one
            path = rng.choice(strings or leaves)
            text = json.dumps(str(_get(out, path)), ensure_ascii=False)
            _set(out, path, splice.mark(text[:-1] + rng.choice(_SURROGATES) + '"'))
        elif rng.random() < 0.2:
            key = rng.choice(_UNICODE) + "key"
            out[key] = rng.choice(_UNICODE) * rng.randint(1, 50)
            path = (key,)
        else:
            path = rng.choice(strings or leaves)
            value = str(_get(out, path))
            cut = rng.randint(0, len(value))
            _set(out, path, value[:cut] + rng.choice(_UNICODE) + value[cut:])
    elif kind == "long_string":
        path = rng.choice(leaves)
        _set(
            out,
            path,
            str(_get(out, path)) + rng.choice("x9é\u202e") * rng.choice((1_100, 2_000, 70_000)),
        )
    elif kind == "truncate":
        line = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
        return Mutant(line[: rng.randint(0, max(len(line) - 1, 0))], kind, "")
    elif kind == "duplicate_key":
        key = rng.choice(list(out)) if out else "k"
        text = rng.choice(_OTHER_TYPES + _HUGE[:4])
        line = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
        return Mutant("{" + json.dumps(key) + ":" + text + "," + line[1:], kind, key)
    elif kind == "missing_key":
        path = rng.choice(paths)
        parent = _get(out, path[:-1])
        if isinstance(parent, dict):
            del parent[path[-1]]
        else:
            parent.pop(path[-1])
    elif kind == "extra_keys":
        for k in range(rng.choice((10, 500))):
            out[f"extra_{k}"] = rng.choice((k, str(k), None, [k], {"k": k}))
        path = ("extra_0",)
    else:  # not_an_object
        line = json.dumps(out, separators=(",", ":"), ensure_ascii=False)
        text = rng.choice(
            ("[" + line + "]", "null", "42", '"row"', "", "   ", "[]", "{}x", line + line)
        )
        return Mutant(text, kind, "")
    return Mutant(splice.dumps(out), kind, _dotted(path))


def mutants(rows: Iterable[dict[str, Any]], seed: int) -> Iterator[Mutant]:
    """One mutant of each row, kinds drawn in turn from a generator seeded with ``seed``."""
    rng = random.Random(seed)
    for row in rows:
        yield mutate(row, rng)


def orders_rows(outcomes: Any) -> list[dict[str, str]]:
    """First-party orders rows as the ``orders.csv`` of :func:`sim.io.write` reads back:
    every value a string (``outcomes`` is :attr:`SimResult.outcomes`)."""
    dates = outcomes["date"].dt.strftime("%Y-%m-%d").tolist()
    return [
        {
            "org_id": str(org),
            "date": d,
            "region": str(region),
            "orders": str(n),
            "revenue": f"{rev:.2f}",
            "currency": str(cur),
        }
        for org, d, region, n, rev, cur in zip(
            outcomes["org_id"].tolist(),
            dates,
            outcomes["region"].tolist(),
            outcomes["orders"].tolist(),
            outcomes["revenue"].tolist(),
            outcomes["currency"].tolist(),
            strict=True,
        )
    ]


@dataclass(frozen=True, slots=True)
class Batch:
    """Export lines with mutants among clean ones: ``mutants[k]`` is line k's mutation, or
    None where line k is the clean row ``good[k]`` (an index into the clean rows given)."""

    lines: list[str]
    mutants: list[Mutant | None]
    good: list[int | None]


def split(groups: Iterable[Any]) -> tuple[list[int], list[int]]:
    """Row indexes in two halves with no group in common (``groups[i]`` is row i's campaign,
    or region): rows to keep clean and rows to mutate, so that no mutant can carry the
    natural key of a clean row (a mutated date can name another row's day)."""
    values = list(groups)
    distinct = sorted(set(values), key=str)
    keep = set(distinct[: max(1, len(distinct) // 2)])
    clean = [i for i, g in enumerate(values) if g in keep]
    mutable = [i for i, g in enumerate(values) if g not in keep]
    return clean, mutable


def mixed_batches(
    clean: list[dict[str, Any]],
    mutable: list[dict[str, Any]],
    seed: int,
    *,
    batches: int,
    mutated: int,
    good: int,
) -> list[Batch]:
    """``batches`` batches of ``mutated`` mutants (of rows of ``mutable``, drawn with
    replacement) and ``good`` clean rows (each of ``clean`` at most once, in order),
    shuffled together."""
    rng = random.Random(seed)
    if batches * good > len(clean):
        raise ValueError(f"{batches} x {good} clean rows asked, {len(clean)} given")
    out = []
    for b in range(batches):
        picked: list[tuple[str, Mutant | None, int | None]] = [
            (m.line, m, None) for m in (mutate(rng.choice(mutable), rng) for _ in range(mutated))
        ]
        for k in range(b * good, (b + 1) * good):
            picked.append(
                (json.dumps(clean[k], separators=(",", ":"), ensure_ascii=False), None, k)
            )
        rng.shuffle(picked)
        out.append(Batch([p[0] for p in picked], [p[1] for p in picked], [p[2] for p in picked]))
    return out
