"""`liftos ingest --org ORG --source meta FILE...`: stream raw exports through the mesh.

JSON-lines files (``.ndjson``, ``.jsonl``, ``.json`` with one object per line) go as is; a
``.csv`` file is read with its header and each row sent as a JSON object (the generic source
with ``--mapping``). Prints a progress bar on a terminal and a summary: rows accepted and
written, rejected rows by reason with the first few line numbers (the file's own lines: a
CSV's header is line 1; for a Shopify page document, the element's number), restatements,
duplicates, late rows, the mean causal quality score (campaign sources: the product sources
are not scored) and the confounders detected.

A generic ``--mapping`` is checked against the files before anything is sent: a column that no
row has is a mistyped mapping, not a file of rows each missing it; and so is a file whose rows
share a date × geo × campaign and differ (an order-level export, which ``--sum-rows`` adds up:
``mesh.sdk.generic_rows``). The command fails (status 1) when rows were sent and none landed.
CSV files are read as UTF-8 (with or without the byte-order mark Excel's "CSV UTF-8" writes)
unless ``--encoding`` names another; a file that is not is refused naming the line.
"""

from __future__ import annotations

import argparse
import csv
import datetime as dt
import json
import os
import re
import sys
import time
from collections import Counter
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any, TextIO

from mesh.cli import csv_dialect
from mesh.cli.csv_dialect import Dialect, encoding_problem, header_problem, parse_delimiter, send
from mesh.cli.exits import exit_status, failure_text
from mesh.cli.ingest_hints import stale_hint, tax_note
from mesh.cli.ingest_summary_json import Position, stored_line, summary_json
from mesh.cli.json_out import dumps
from mesh.cli.progress import ProgressBar
from mesh.sdk import generic_rows
from mesh.sdk.client import IngestSummary, LiftOS
from mesh.sdk.failures import RpcFailure

# Product sources (issue 20): Shopify orders.json / products.json, product reports. Not
# scored by the causal quality score (it is defined on campaign x geo x day rows).
PRODUCT_SOURCES = ("shopify_orders", "shopify_products", "google_ads_shopping", "meta_products")
# Read through --mapping: the business's own outcome, or a media channel without a connector.
MAPPED_SOURCES = ("generic", "generic_media")
SOURCES = ("meta", "google_ads", "klaviyo", "tiktok", *MAPPED_SOURCES, *PRODUCT_SOURCES)
# Rows of a JSON-lines file looked at for a mapped column (it may be absent from some rows).
_MAPPING_SAMPLE = 1_000
# UTF-8 whether or not the file starts with a byte-order mark (Excel's "CSV UTF-8" writes one,
# which plain utf-8 would glue to the first column's name)
DEFAULT_ENCODING = "utf-8-sig"
MAPPING_FIELDS = (
    "date", "campaign_id", "campaign_name", "geo", "spend", "impressions", "clicks",
    "conversions", "revenue", "currency_code", "channel",
)  # fmt: skip


def add_parser(sub: argparse._SubParsersAction, common: Any) -> None:  # type: ignore[type-arg]
    p = sub.add_parser("ingest", help="stream raw platform exports through Ingest")
    p.add_argument("files", nargs="+", type=Path, help="NDJSON export(s), or CSV for generic")
    p.add_argument("--org", default="", help="organisation id (or LIFTOS_ORG)")
    p.add_argument("--source", required=True, choices=SOURCES)
    p.add_argument(
        "--accounts",
        type=Path,
        default=None,
        help="accounts.json (as the simulator writes it): the source's account is used",
    )
    p.add_argument("--account-id", default="")
    p.add_argument("--timezone", default="", help="IANA zone of the account's reporting day")
    p.add_argument("--currency", default="", help="ISO 4217 code of the account")
    p.add_argument("--country", default="", help="ISO 3166-1 country (calendar, geo prefix)")
    p.add_argument(
        "--taxes-included",
        choices=("true", "false"),
        default=None,
        help="shopify_products, generic: whether the shop's prices (generic: its revenue "
        "column) include tax (shop.json taxes_included); with true, they are stored net of "
        "--tax-rate",
    )
    p.add_argument(
        "--tax-rate",
        type=float,
        default=None,
        help="the rate a tax-inclusive shop's prices hold, e.g. 0.2 for 20%% VAT",
    )
    p.add_argument(
        "--mapping",
        default="",
        help="generic sources: FIELD=COLUMN,… with FIELD in "
        + ", ".join(MAPPING_FIELDS)
        + " (channel=NAME: the channel label every row gets, not a column; generic is the "
        "business's own orders/revenue, generic_media a media channel's spend: channel=tv)",
    )
    p.add_argument(
        "--sum-rows",
        action="store_true",
        help="generic sources: add the rows of each date × geo × campaign into one (an order- "
        "or transaction-level export; without it such a file is refused, as all but one row "
        "of each key would be replaced)",
    )
    p.add_argument(
        "--pulled-at",
        type=dt.datetime.fromisoformat,
        default=None,
        help="when the export was pulled (ISO 8601; default: the file's modification time)",
    )
    p.add_argument(
        "--restore-replaced",
        action="store_true",
        help="the files correct stored rows (the right file after a wrong one): content a "
        "later pull replaced is written back when this pull is later. Without it such rows "
        "are duplicates, as a re-sent or restored (copied) export must be",
    )
    p.add_argument(
        "--encoding",
        default=DEFAULT_ENCODING,
        help="CSV files' text encoding (default: UTF-8, with or without Excel's byte-order "
        "mark; Excel's 'CSV (Comma delimited)' on Windows is cp1252)",
    )
    p.add_argument(
        "--delimiter",
        default=",",
        type=parse_delimiter,
        help="CSV files' cell separator: ',' (default), ';' (German/French Excel), '|' or tab",
    )
    p.add_argument(
        "--decimal",
        choices=(".", ","),
        default=None,
        help="generic sources: the mapped numbers' decimal mark. ',' reads 1.234,56 and "
        "2.906 (= 2906) as German/French files write them; '.' reads 1,234.56 and takes 2.906 "
        "as a decimal. Without it numbers must be plain (1234.56), and a column whose '.' "
        "looks like a thousands separator is refused",
    )
    p.add_argument("--batch-size", type=int, default=1000)
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bar")
    common(p)
    p.set_defaults(func=run)


def parse_mapping(text: str) -> dict[str, str]:
    """``FIELD=COLUMN,…`` → {field: column}. A field given twice is refused naming both
    columns (the later silently winning turned ``revenue=Orders``, a slip for
    ``conversions=Orders``, into revenue); one column feeding two measures is warned about."""
    out: dict[str, str] = {}
    for part in filter(None, (p.strip() for p in text.split(","))):
        key, sep, value = part.partition("=")
        if not sep or key not in MAPPING_FIELDS:
            raise SystemExit(
                f"error: bad --mapping entry {part!r} (FIELD=COLUMN, FIELD in {', '.join(MAPPING_FIELDS)})"
            )
        if key in out:
            raise SystemExit(
                f"error: --mapping gives {key} twice ({key}={out[key]} and {key}={value}): "
                "map each field to one column"
            )
        out[key] = value
    measures = [f for f in generic_rows.MEASURES if f in out]
    for column in dict.fromkeys(out[f] for f in measures):
        fields = [f for f in measures if out[f] == column]
        if len(fields) > 1:
            print(
                f"warning: --mapping reads column {column} as {' and '.join(fields)}: "
                "each is given the same values",
                file=sys.stderr,
            )
    return out


# A product report's rows belong to an ad account: accounts.json lists it under the ad source.
_AD_SOURCE_OF = {"google_ads_shopping": "google_ads", "meta_products": "meta"}


def _entries(accounts: list[dict[str, Any]], source: str, account_id: str) -> list[dict[str, Any]]:
    return [
        a
        for a in accounts
        if a.get("source") == source and (not account_id or str(a.get("account_id")) == account_id)
    ]


def load_account(args: argparse.Namespace) -> dict[str, Any]:
    """The account from --accounts (matching the source, --org's entries when any names it,
    and --account-id when given), overridden by the explicit flags.

    An entry naming another org is refused rather than loaded into --org: an agency's client
    file under the wrong --org put one client's spend into another's analysis without a word
    (audit R31 F7), as a generic file's rows of another org are refused (wrong_account). A
    product report (google_ads_shopping, meta_products) takes its ad account's entry
    (google_ads, meta) when the file has none of its own (R25 F8)."""
    account: dict[str, Any] = {}
    if args.accounts is not None:
        org = args.org
        try:
            listed = json.loads(args.accounts.read_text(encoding="utf-8"))
        except (OSError, ValueError) as exc:  # JSON and Unicode decode errors are ValueErrors
            raise SystemExit(f"error: --accounts {args.accounts}: {exc.args[-1]}") from None
        source = args.source
        of_source = _entries(listed, source, args.account_id)
        if not of_source and source in _AD_SOURCE_OF:
            source = _AD_SOURCE_OF[args.source]
            of_source = _entries(listed, source, args.account_id)
            if of_source:
                print(f"note: {args.source} rows use their {source} account from {args.accounts}",
                      file=sys.stderr)  # fmt: skip
        # A multi-org accounts.json: the entries naming --org are its accounts. Entries naming
        # no org are candidates too (a file of one org's accounts without org ids).
        mine = [a for a in of_source if org and a.get("org_id") == org]
        unnamed = [a for a in of_source if not a.get("org_id")]
        entries = mine or unnamed or of_source
        if len(entries) == 1 and not mine and not unnamed and org:
            _refuse_other_org(args, entries[0], source)
        if len(entries) != 1:
            orgs = sorted({str(a["org_id"]) for a in entries if a.get("org_id")})
            raise SystemExit(
                f"error: {args.accounts} has {len(entries)} {args.source} accounts"
                + (f" of org {org!r}" if mine else f" (of {', '.join(orgs)})" if orgs else "")
                + (f", none of org {org!r}" if org and orgs and not mine else "")
                + ("" if args.account_id or not entries else "; pick one with --account-id")
                + ("" if entries else _no_entry_hint(args))
            )
        account = dict(entries[0])
    for key, value in (
        ("account_id", args.account_id),
        ("timezone", args.timezone),
        ("currency", args.currency),
        ("country", args.country),
    ):
        if value:
            account[key] = value
    if args.taxes_included is not None:
        account["taxes_included"] = args.taxes_included == "true"
    if args.tax_rate is not None:
        account["tax_rate"] = args.tax_rate
    if not account.get("country"):
        print(
            "warning: no --country: rows get no holiday calendar features and geos keep the "
            "platform's spelling (pass e.g. --country US)",
            file=sys.stderr,
        )
    return account


# The sources that read an account's taxes_included and tax_rate (generic: its revenue).
_TAXED_SOURCES = ("generic", "shopify_orders", "shopify_products")


def tax_problem(args: argparse.Namespace) -> str | None:
    """Why --taxes-included / --tax-rate cannot be applied: a source that does not read them
    told they hold tax (R34 F2; 'false', a rate 0 or beside 'false' pass: V1 F8), or generic
    revenue said to hold tax at no rate."""
    given = [f for f, v in (("--taxes-included", args.taxes_included == "true"), ("--tax-rate",
             bool(args.tax_rate) and args.taxes_included != "false")) if v]  # fmt: skip
    if given and args.source not in _TAXED_SOURCES:
        return (
            f"{' and '.join(given)}: --source {args.source} does not read them (only "
            f"{', '.join(_TAXED_SOURCES)} do); its amounts are stored as written, so divide "
            "them by 1 + the rate before ingesting if they hold tax"
        )
    if args.source == "generic" and args.taxes_included == "true" and args.tax_rate is None:
        return (
            "--taxes-included true: the revenue column holds tax at a rate not given; pass "
            "--tax-rate (e.g. 0.19 for 19% VAT): revenue is stored net of it"
        )
    return None


def _refuse_other_org(args: argparse.Namespace, entry: dict[str, Any], source: str) -> None:
    """Stop before anything is sent: the file's one matching entry belongs to another org."""
    raise SystemExit(
        f"error: {args.accounts}'s {source} account {str(entry.get('account_id'))!r} names org "
        f"{str(entry['org_id'])!r} (its org_id), not --org {args.org!r}: nothing was sent. "
        f"Ingest it with --org {entry['org_id']}; if the account is {args.org!r}'s (it moved, "
        f"or the file is a copy), set the entry's org_id to {args.org!r}, or give the account "
        "with --account-id, --timezone and --currency instead of --accounts"
    )


def _no_entry_hint(args: argparse.Namespace) -> str:
    """What to pass when the file lists no account of the source."""
    return (
        f"; give the account with --account-id, --timezone and --currency (and --country), "
        f"or add a {args.source!r} entry to {args.accounts}"
    )


def read_rows(path: Path, encoding: str = DEFAULT_ENCODING) -> Iterator[str]:
    """The file's rows as JSON text, one per line (CSV rows become JSON objects)."""
    return (row for _, row in numbered_rows(path, encoding))


def csv_records(
    path: Path, encoding: str = DEFAULT_ENCODING, delimiter: str = ","
) -> Iterator[tuple[int, dict[str, Any]]]:
    """(line, row) of a CSV file's records: the line where the record starts (a quoted field
    may span lines, and the user looks for the record where it starts)."""
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        for row in reader:
            breaks = sum(len(_LINE_BREAK.findall(v)) for v in _texts(row))
            yield reader.line_num - breaks, row


_LINE_BREAK = re.compile("\r\n|\r|\n")


def _texts(row: dict[Any, Any]) -> Iterator[str]:
    """A DictReader row's text: its values, and those of the cells past the header (a list
    under the key None)."""
    for value in row.values():
        if isinstance(value, str):
            yield value
        elif isinstance(value, list):
            yield from (v for v in value if isinstance(v, str))


def numbered_rows(
    path: Path, encoding: str = DEFAULT_ENCODING, dialect: Dialect | None = None
) -> Iterator[tuple[int, str]]:
    """(where, JSON text) of the file's rows: ``where`` is the row's line in the file (1-based;
    a CSV's header is line 1, blank lines are skipped but counted; a CSV record over several
    lines: its first), or the element's number (1-based) in a Shopify page document. A CSV is
    read as ``encoding`` text (checked first by :func:`encoding_problem`), its cells split and
    its measures read as ``dialect`` says (:class:`mesh.cli.csv_dialect.Dialect`)."""
    if path.suffix.lower() == ".csv":
        dialect = dialect or Dialect()
        dialect = dialect.dated(csv_records(path, encoding, dialect.delimiter))
        for where, row in csv_records(path, encoding, dialect.delimiter):
            yield where, json.dumps(dialect.read(row), separators=(",", ":"))
        return
    if is_page(path) and (page := _admin_page(path)) is not None:
        yield from enumerate(page, start=1)
        return
    with path.open(encoding="utf-8", errors="replace") as handle:
        for number, line in enumerate(handle, start=1):
            line = line.rstrip("\n")
            if line.strip():
                yield number, line


def is_page(path: Path) -> bool:
    """Whether the file may be a Shopify page document (``.json`` starting with ``{``: read
    whole by :func:`_admin_page`, which tells)."""
    if path.suffix.lower() != ".json":
        return False
    with path.open(encoding="utf-8", errors="replace") as handle:
        return handle.read(1) == "{"


def mapping_problem(
    path: Path, mapping: dict[str, str], encoding: str = DEFAULT_ENCODING, delimiter: str = ","
) -> str | None:
    """Why ``mapping`` cannot be meant for the file: a CSV split at another separator than
    ``delimiter`` (its header one column with ';' in it), a mapped column its CSV header
    lacks, or that none of its first rows has (JSON lines; ``a.b`` is a nested field); None
    when every mapped column is there."""
    if path.suffix.lower() == ".csv":
        with path.open(newline="", encoding=encoding) as handle:
            header = next(csv.reader(handle, delimiter=delimiter), [])
        if (split := header_problem(path, header, delimiter)) is not None:
            return split
        columns: set[str] = set(header)
        shown = ", ".join(header)
    else:
        columns = set()
        for _, text in zip(range(_MAPPING_SAMPLE), read_rows(path), strict=False):
            try:
                row = json.loads(text)
            except ValueError:
                continue  # a broken line is that line's rejection, not the mapping's
            columns |= {c for c in mapping.values() if _has_path(row, c)}
        shown = ""
    # `channel` is the label every row gets (ColumnMapping.channel), not a column to find
    absent = [
        f"{field}={col}"
        for field, col in mapping.items()
        if field != "channel" and col not in columns
    ]
    if not absent:
        return None
    where = f" (its columns: {shown})" if shown else f" in its first {_MAPPING_SAMPLE:,} rows"
    return f"--mapping {', '.join(absent)}: {path} has no such column{where}"


def org_column_problem(
    path: Path, org: str, encoding: str = DEFAULT_ENCODING, delimiter: str = ","
) -> str | None:
    """Why a generic CSV cannot be meant for ``org``: it has an ``org_id`` column (ingestion
    rejects each row naming another org) and no row names ``org``. None otherwise."""
    if path.suffix.lower() != ".csv" or not org:
        return None
    with path.open(newline="", encoding=encoding) as handle:
        reader = csv.DictReader(handle, delimiter=delimiter)
        if "org_id" not in (reader.fieldnames or ()):
            return None
        named = {(row.get("org_id") or "").strip() for row in reader} - {""}
    if not named or org in named:
        return None
    shown = ", ".join(sorted(named)[:5]) + (" …" if len(named) > 5 else "")
    return (f"every row of {path} names org_id {shown}, not {org!r}: each would be rejected "
            f"(wrong_account). Ingest it with --org {sorted(named)[0]}, or drop its org_id "
            f"column to load its rows into {org!r}")  # fmt: skip


def _has_path(row: Any, path: str) -> bool:
    for part in path.split("."):
        if type(row) is not dict or part not in row:
            return False
        row = row[part]
    return True


def _admin_page(path: Path) -> list[str] | None:
    """A Shopify Admin API page (``{"products": [...]}`` or ``{"orders": [...]}``, one JSON
    document, as products.json is) as one row per element; None for anything else."""
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except ValueError:
        return None  # JSON lines, or broken: read line by line, each line judged alone
    rows = next((doc[k] for k in ("products", "orders") if isinstance(doc.get(k), list)), None)
    if rows is None or len(doc) != 1:
        return None
    return [json.dumps(r, separators=(",", ":")) for r in rows]


def count_rows(path: Path) -> int:
    with path.open("rb") as handle:
        n = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    return max(n - 1, 0) if path.suffix.lower() == ".csv" else n


# IngestNote kinds about a batch as a whole (its rows were stored as sent): printed apart
# from the parts of rows left out.
BATCH_NOTES = frozenset({"timezone_mismatch"})


def _note_line(summary: IngestSummary, kind: str, count: int, position: Position) -> str:
    notes = [n for n in summary.notes if n[2] == kind]
    first = ", ".join(str(n[0]) for n in notes[:3])
    said = f" ({notes[0][1]}): {notes[0][3]}" if notes else ""
    example = f"   e.g. {position} {first}{said}" if notes else ""
    return f"  {kind:<26} {count:>7,}{example}"


def render(
    summary: IngestSummary, seconds: float, *, scored: bool = True, position: Position = "line"
) -> str:
    """The summary as text (``scored``, ``position``: as in :func:`summary_json`)."""
    lines = [
        f"rows        {summary.rows:,} in {summary.batches:,} batches, {seconds:.1f}s "
        f"({summary.rows / max(seconds, 1e-9):,.0f} rows/s)",
        f"accepted    {summary.accepted:,}  (written {summary.written:,}, duplicates "
        f"{summary.duplicates:,}, superseded {summary.superseded:,}, restatements "
        f"{summary.restated:,})",
        f"rejected    {summary.rejected:,}",
    ]
    for reason, count in summary.rejected_by_reason.most_common():
        rows = [r for r in summary.rejections if r[2] == reason]
        first = ", ".join(str(r[0]) for r in rows[:3])
        said = f": {rows[0][3]}" if rows and rows[0][3] else ""
        example = f"   e.g. {position} {first}{said}" if rows else ""
        lines.append(f"  {reason:<26} {count:>7,}{example}")
    if summary.unlisted:
        lines.append(
            f"  ({summary.unlisted:,} of them counted by the acks by field and reason, "
            "not listed one by one)"
        )
    parts = Counter({k: n for k, n in summary.notes_by_kind.items() if k not in BATCH_NOTES})
    checks = Counter({k: n for k, n in summary.notes_by_kind.items() if k in BATCH_NOTES})
    if parts:
        lines.append(f"left out    {sum(parts.values()):,} parts of accepted rows "
                     "(stored without them)")  # fmt: skip
    for kind, count in parts.most_common():
        lines.append(_note_line(summary, kind, count, position))
    if checks:  # about a whole batch, which was stored: nothing of it is left out
        lines.append(f"check       {sum(checks.values()):,} batch notes (rows stored as sent)")
    for kind, count in checks.most_common():
        lines.append(_note_line(summary, kind, count, position))
    lines.append(f"arrival     out of order {summary.out_of_order:,}, late {summary.late:,}")
    if summary.replayed_batches:  # stored by the run acked for them: not written by this one
        lines.append(f"replayed    {summary.replayed_batches:,} batches already acked "
                     f"({summary.replayed_rows:,} rows, answered from the ledger)")  # fmt: skip
    if scored:
        lines.append(f"quality     mean causal quality score {summary.mean_quality:.3f}")
    else:
        lines.append("quality     n/a (the causal quality score is for campaign sources)")
    if summary.confounders:
        lines.append("confounders " + ", ".join(
            f"{name} ({count:,} rows)" for name, count in summary.confounders.most_common()
        ))  # fmt: skip
    return "\n".join(lines)


def ingest_files(
    client: LiftOS,
    source: str,
    files: Sequence[Path],
    account: dict[str, Any],
    *,
    mapping: dict[str, str] | None = None,
    pulled_at: dt.datetime | None = None,
    batch_size: int = 1000,
    progress: bool = True,
    label: str | None = None,
    stream: TextIO | None = None,
    file_lines: bool = False,
    sum_rows: bool = False,
    encoding: str = DEFAULT_ENCODING,
    dialect: Dialect | None = None,
    restore_replaced: bool = False,
) -> tuple[IngestSummary, float]:
    """Ingest each file in turn (one stream per file); returns the combined summary. Its
    rejections carry the row's index in its file's stream (from 0), or with ``file_lines``
    its place in the file as :func:`numbered_rows` gives it (what a person opens).
    ``sum_rows``: each date × geo × campaign's rows go as one (generic, with ``mapping``);
    ``encoding``, ``dialect``: how the CSV files are written; ``restore_replaced``: the
    files correct stored rows (IngestRequest.restore_replaced)."""
    total = IngestSummary()
    start = time.monotonic()
    for path in files:
        when = pulled_at or dt.datetime.fromtimestamp(path.stat().st_mtime, dt.UTC)
        bar = ProgressBar(label or path.name, count_rows(path), stream or sys.stderr, progress)
        where: list[int] = []

        def rows(path: Path = path, where: list[int] = where) -> Iterator[str]:
            for number, row in numbered_rows(path, encoding, dialect):
                where.append(number)
                yield row

        try:
            summary = send(client, path, dialect)(
                source,
                rows(),
                account=account,
                pulled_at=when,
                mapping=mapping,
                batch_size=batch_size,
                progress=bar.update,
                sum_rows=sum_rows,  # the SDK sums, and numbers rejections by the row read
                restore_replaced=restore_replaced,
            )
        except Exception as exc:  # the files before this one were stored whole
            if isinstance(stored := getattr(exc, "stored", None), IngestSummary):
                total.merge(stored)
                exc.stored = total  # type: ignore[attr-defined]
            raise
        finally:
            bar.close()
        if file_lines:  # the stream numbers rows from 0 as sent; the reader knows the file
            summary.rejections = [
                (where[i] if 0 <= i < len(where) else i + 1, field, reason, message)
                for i, field, reason, message in summary.rejections
            ]
            summary.notes = [
                (where[i] if 0 <= i < len(where) else i + 1, field, kind, message)
                for i, field, kind, message in summary.notes
            ]
        total.merge(summary)
    return total, time.monotonic() - start


def run(args: argparse.Namespace, peers: Any) -> int:
    # LIFTOS_ORG stands in for --org as on every other verb (R12-F4: a required --org made the
    # README's `export LIFTOS_ORG` not reach ingest); rows are never stored under a guessed org
    args.org = args.org or os.environ.get("LIFTOS_ORG", "")
    if not args.org:
        print("error: --org is required (or set LIFTOS_ORG)", file=sys.stderr)
        return 2
    missing = [str(f) for f in args.files if not f.exists()]
    if missing:
        print(f"error: {', '.join(missing)} not found", file=sys.stderr)
        return 2
    for path in args.files:
        if (problem := encoding_problem(path, args.encoding)) is not None:
            print(f"error: {problem}", file=sys.stderr)
            return 2
    account = load_account(args)
    if (problem := tax_problem(args)) is not None:
        print(f"error: {problem}", file=sys.stderr)
        return 2
    mapping = parse_mapping(args.mapping) if args.mapping else None
    if args.decimal and (args.source not in MAPPED_SOURCES or not mapping):
        print("error: --decimal is for a generic source's --mapping", file=sys.stderr)
        return 2
    dialect = Dialect.of(mapping, args.delimiter, args.decimal, account.get("timezone", ""))
    doubts: list[str] = []  # columns read as decimals that may group thousands: said last
    if mapping and args.source in MAPPED_SOURCES:
        for path in args.files:
            problem = mapping_problem(path, mapping, args.encoding, args.delimiter)
            csv_file = path.suffix.lower() == ".csv"
            # JSON lines sent as written are judged as a CSV is (V3 F4); summed or read with
            # --decimal, the SDK judges them (csv_dialect.send)
            if problem is None and (csv_file or not (args.sum_rows or args.decimal)):
                records = (csv_records(path, args.encoding, args.delimiter) if csv_file
                           else csv_dialect.json_records(numbered_rows(path, args.encoding)))  # fmt: skip
                problem, doubted = dialect.judge(path, records, account.get("currency", ""))
                doubts += doubted
            if problem is not None:
                print(f"error: {problem}", file=sys.stderr)
                return 2
    if mapping and args.source == "generic" and ({"spend", "impressions"} & mapping.keys()):
        print("warning: --source generic holds the business's own outcome (orders, revenue); "
              "spend or impressions mapped here are not read as media. A media channel's file "
              "goes with --source generic_media --mapping …,channel=NAME", file=sys.stderr)  # fmt: skip
    if args.sum_rows and (args.source not in MAPPED_SOURCES or not mapping):
        print("error: --sum-rows is for a generic source with a --mapping", file=sys.stderr)
        return 2
    if args.sum_rows and mapping and any("." in c for f, c in mapping.items() if f != "channel"):
        print("error: --sum-rows adds top-level columns (a CSV's, or flat JSON rows'), not "
              "nested fields", file=sys.stderr)  # fmt: skip
        return 2
    if mapping and args.source in MAPPED_SOURCES and not args.sum_rows:
        for path in args.files:
            clash = generic_rows.conflict(numbered_rows(path, args.encoding, dialect), mapping)
            if clash is not None:
                print(f"error: {clash.text(path)}", file=sys.stderr)
                return 2
    if mapping and args.source in MAPPED_SOURCES:
        for path in args.files:
            total = generic_rows.total_geo(numbered_rows(path, args.encoding, dialect), mapping)
            if total is not None:
                print(f"error: {total.text(path)}", file=sys.stderr)
                return 2
    if args.source in MAPPED_SOURCES:
        for path in args.files:
            if (
                problem := org_column_problem(path, args.org, args.encoding, args.delimiter)
            ) is not None:
                print(f"error: {problem}", file=sys.stderr)
                return 2
    pulled_at = args.pulled_at
    if pulled_at is not None and pulled_at.tzinfo is None:
        pulled_at = pulled_at.replace(tzinfo=dt.UTC)
    with LiftOS(peers, org_id=args.org) as client:
        try:
            summary, seconds = ingest_files(
                client,
                args.source,
                args.files,
                account,
                mapping=mapping,
                pulled_at=pulled_at,
                batch_size=args.batch_size,
                progress=not args.quiet and not args.json,
                file_lines=True,
                sum_rows=args.sum_rows,
                encoding=args.encoding,
                dialect=dialect,
                restore_replaced=args.restore_replaced,
            )
        except RpcFailure as failure:  # its error, then what was stored before it
            print(failure_text(failure, args), file=sys.stderr)
            if isinstance(stored := getattr(failure, "stored", None), IngestSummary):
                print(stored_line(stored, len(args.files)), file=sys.stderr)
            return exit_status(failure)
    scored = args.source not in PRODUCT_SOURCES
    pages = all(is_page(f) and _admin_page(f) is not None for f in args.files)
    position: Position = "element" if pages else "line"
    if args.json:
        print(dumps(summary_json(summary, seconds, scored=scored, position=position)))
    else:
        print(render(summary, seconds, scored=scored, position=position))
    print("".join(f"warning: {d}\n" for d in doubts), end="", file=sys.stderr)
    if (stale := summary.rejected_by_reason.get("stale_version", 0)) and args.pulled_at is None:
        print(stale_hint(stale, args.files), file=sys.stderr)
    if args.source == "generic" and account.get("taxes_included") and summary.accepted:
        print(tax_note(float(account["tax_rate"]), summary.written), file=sys.stderr)
    if summary.rows and not summary.accepted:
        print(f"error: every one of the {summary.rows:,} rows was rejected; nothing landed",
              file=sys.stderr)  # fmt: skip
        return 1
    return 0
