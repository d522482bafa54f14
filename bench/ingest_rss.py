"""Peak RSS of a 10M-row ingest: the stream never holds the whole set (target ≤ 2 GiB).

One Meta insights stream of ``--rows`` lines goes through what Ingest does per batch — JSON
parse, connector, UTC normalisation, validation, the stream's dedupe/restatement history —
1,000 lines at a time, the records built and dropped as a sink would after the ack. The lines
are the simulator's ``large`` world (56 days × 200 campaigns × 50 states) replayed with their
dates moved on by 56 days per pass, so the stream is 10M distinct (campaign, region, day)
rows over years, as a long backfill is: the history keeps ``KEEP_DAYS`` behind the newest day
and must stay flat however long the stream runs.

Prints the peak RSS against the process's RSS before the first row (its reference: the
interpreter, libraries and the base world's lines held to replay), RSS at each tenth of the
stream (flat is streaming; growing is the stream held), and rows/s.

What it leaves out: gRPC and memory. Memory's footprint at 10M records is issue 21's (its
index and caches); a 10M-row ingest through a real memory would take hours at its write rate.

Run: ``PYTHONPATH=.:gen python bench/ingest_rss.py [--rows 10000000]``
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import re
import resource
import sys
import time
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "gen")]

from bench._figures import figure  # noqa: E402

BATCH = 1000
BASE_DAYS = 56
TARGET_MB = 2048.0
_DATE = re.compile(r'"date_(?:start|stop)": "(\d{4}-\d{2}-\d{2})"')


def rss_mb() -> float:
    """Current resident set (VmRSS), MB."""
    text = Path("/proc/self/status").read_text()
    found = re.search(r"VmRSS:\s+(\d+) kB", text)
    return int(found.group(1)) / 1024.0 if found else float("nan")


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def base_lines() -> tuple[list[str], dict]:  # type: ignore[type-arg]
    import sim

    result = sim.simulate("large", seed=0, days=BASE_DAYS)
    account = next(a for a in result.accounts if a["source"] == "meta")
    return [json.dumps(row) for row in result.raw["meta"]], account


def replayed(lines: list[str], rows: int) -> Iterator[str]:
    """``rows`` lines: the base lines, pass after pass, dates moved on by BASE_DAYS a pass."""
    sent, k = 0, 0
    while True:
        shift = dt.timedelta(days=BASE_DAYS * k)
        moved: dict[str, str] = {}

        def move(m: re.Match[str], shift: dt.timedelta = shift, moved: dict = moved) -> str:  # type: ignore[type-arg]
            day = m.group(1)
            if day not in moved:
                moved[day] = (dt.date.fromisoformat(day) + shift).isoformat()
            return m.group(0).replace(day, moved[day])

        for line in lines:
            if sent == rows:
                return
            yield _DATE.sub(move, line) if k else line
            sent += 1
        k += 1


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--rows", type=int, default=10_000_000)
    args = p.parse_args()

    from ingestion_svc.external_factors import FactorTable
    from ingestion_svc.history import StreamHistory
    from ingestion_svc.parse import parse_json_rows
    from ingestion_svc.pipeline import finish, prepare
    from ingestion_svc.raw_batch import Account, RawBatch

    lines, a = base_lines()
    passes = -(-args.rows // len(lines))
    last = dt.date(2023, 1, 1) + dt.timedelta(days=BASE_DAYS * passes + 1)
    pulled = dt.datetime.combine(last, dt.time(9), dt.UTC)
    account = Account(a["account_id"], a["timezone"], a["currency"], "US", a.get("geo_keys", {}))
    history = StreamHistory()
    before = rss_mb()
    print(f"{len(lines):,} base lines × {passes} passes → {args.rows:,} rows; RSS before the "
          f"stream {before:,.0f} MB")  # fmt: skip
    rows = written = rejected = 0
    checkpoints: list[tuple[int, float]] = []
    step = max(args.rows // 10, BATCH)
    chunk: list[str] = []
    t0 = time.perf_counter()

    def run(chunk: list[str], offset: int) -> None:
        nonlocal written, rejected
        parsed, raw, bad = parse_json_rows(chunk)
        batch = RawBatch("bench", "meta", f"b{offset}", parsed, raw, account, pulled, offset,
                         parse_rejections=bad)  # fmt: skip
        result = finish(prepare(batch), history, [], FactorTable.empty(), pulled)
        history.add(result.history_rows)
        written += len(result.records)
        rejected += len(result.rejections)

    for line in replayed(lines, args.rows):
        chunk.append(line)
        if len(chunk) == BATCH:
            run(chunk, rows)
            rows += len(chunk)
            chunk = []
            if rows % step < BATCH:
                checkpoints.append((rows, rss_mb()))
                print(f"  {rows:>12,} rows  RSS {checkpoints[-1][1]:7,.0f} MB  "
                      f"{rows / (time.perf_counter() - t0):8,.0f} rows/s", flush=True)  # fmt: skip
    if chunk:
        run(chunk, rows)
        rows += len(chunk)
    seconds = time.perf_counter() - t0
    peak = peak_rss_mb()
    growth = checkpoints[-1][1] - checkpoints[0][1] if len(checkpoints) > 1 else 0.0
    print(f"{rows:,} rows in {seconds:.0f} s ({rows / seconds:,.0f} rows/s): {written:,} records, "
          f"{rejected:,} rejected; history holds {len(history):,} rows")  # fmt: skip
    print(f"peak RSS {peak:,.0f} MB (target ≤ {TARGET_MB:,.0f}); before the stream {before:,.0f} "
          f"MB; from the first to the last tenth RSS moved {growth:+,.0f} MB")  # fmt: skip
    figure(f"peak RSS, {rows / 1e6:g}M-row ingest (in process)", peak, "MB",
           reference="RSS before the first row", reference_value=before,
           target=f"≤ {TARGET_MB:,.0f} MB", met=peak <= TARGET_MB,
           note=f"RSS moved {growth:+,.0f} MB from the first tenth to the last")  # fmt: skip
    figure(f"ingest transform rate, {rows / 1e6:g}M-row stream", rows / seconds, "rows/s")


if __name__ == "__main__":
    main()
